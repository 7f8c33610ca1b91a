package sandbox

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestPickMaster(t *testing.T) {
	const h1, h2, h3 = "127.0.0.1", "127.0.0.2", "127.0.0.3"
	master := func(a string) masterProbe { return masterProbe{Addr: a} }
	replica := func(a, of string) masterProbe {
		return masterProbe{Addr: a, Replica: true, MasterAddr: of, ReadOnly: true}
	}
	down := func(a string) masterProbe { return masterProbe{Addr: a, Err: errors.New("connection refused")} }
	readOnly := func(a string) masterProbe { return masterProbe{Addr: a, ReadOnly: true} }
	cases := []struct {
		why     string
		probes  []masterProbe
		current string
		failed  bool
		want    string
	}{
		{"steady state: the master in use stays", []masterProbe{master(h1), replica(h2, h1), replica(h3, h1)}, h1, false, h1},
		{"after a failure the promoted replica is found", []masterProbe{down(h1), master(h2), replica(h3, h1)}, h1, true, h2},
		{"mid-failover: nothing writable yet, keep looking", []masterProbe{down(h1), readOnly(h2), replica(h3, h1)}, h1, true, ""},
		{"a replica that was made writable is still a replica", []masterProbe{down(h1), {Addr: h2, Replica: true, MasterAddr: h1}}, h1, true, ""},
		{"a transient failure on a healthy master returns to it", []masterProbe{master(h1), replica(h2, h1)}, h1, true, h1},
		{"a stale old master back writable loses to the followed one", []masterProbe{master(h1), master(h2), replica(h3, h2)}, "", true, h2},
		{"stale: replicas moved away from the master in use, writer follows them", []masterProbe{master(h1), master(h2), replica(h3, h2)}, h1, false, h2},
		{"two writable masters nobody follows: no reason to move", []masterProbe{master(h1), master(h2)}, h1, false, h1},
		{"current did not answer the stale check: no decision on partial data", []masterProbe{master(h2), replica(h3, h2)}, h1, false, h1},
		{"current turned read-only: left to the failing write, not the stale check", []masterProbe{readOnly(h1), master(h2)}, h1, false, h1},
		{"first pick without current: host order breaks ties", []masterProbe{master(h1), master(h2)}, "", true, h1},
		{"a replica's follower count comes from answering hosts only", []masterProbe{master(h1), master(h2), down(h3)}, h2, true, h2},
	}
	for _, tc := range cases {
		if got := pickMaster(tc.probes, tc.current, tc.failed); got != tc.want {
			t.Errorf("%s: pickMaster = %q, want %q", tc.why, got, tc.want)
		}
	}
}

func TestWriterReport(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	acks := []Ack{
		{1, "a", at(0)}, {2, "a", at(5)}, {3, "a", at(10)},
		{5, "b", at(400)}, {6, "b", at(405)},
	}
	cases := []struct {
		why          string
		rec          writerRecord
		stopped      time.Time
		wantDowntime time.Duration
		wantSwitches int
	}{
		{"one failover: downtime is the gap across the switch",
			writerRecord{acks: acks, unknown: []int64{4}, errors: 3, lastErrAt: at(300)}, at(500), 390 * time.Millisecond, 1},
		{"still failing when stopped: the open gap counts",
			writerRecord{acks: acks, errors: 4, lastErrAt: at(406)}, at(1405), 1000 * time.Millisecond, 1},
		{"no acknowledgement at all: no downtime can be measured",
			writerRecord{errors: 2, lastErrAt: at(3)}, at(50), 0, 0},
	}
	for _, tc := range cases {
		r := buildReport(tc.rec, "gomha_test.writes", t0, tc.stopped)
		if r.Downtime != tc.wantDowntime || len(r.Switches) != tc.wantSwitches {
			t.Errorf("%s: downtime %v switches %d, want %v and %d", tc.why, r.Downtime, len(r.Switches), tc.wantDowntime, tc.wantSwitches)
		}
		if len(r.Acked) != len(tc.rec.acks) || r.Errors != tc.rec.errors {
			t.Errorf("%s: %d acked %d errors, want %d and %d", tc.why, len(r.Acked), r.Errors, len(tc.rec.acks), tc.rec.errors)
		}
	}

	r := buildReport(writerRecord{acks: acks}, "gomha_test.writes", t0, at(500))
	want := Switch{From: "a", To: "b", LastAckOld: at(10), FirstAckNew: at(400), Downtime: 390 * time.Millisecond}
	if !reflect.DeepEqual(r.Switches, []Switch{want}) {
		t.Errorf("switches %+v, want %+v", r.Switches, want)
	}
	if !reflect.DeepEqual(r.ByHost, map[string]int{"a": 3, "b": 2}) || !reflect.DeepEqual(r.Acked, []int64{1, 2, 3, 5, 6}) {
		t.Errorf("ByHost %v Acked %v", r.ByHost, r.Acked)
	}
	first, ok := r.FirstAck("b")
	if !ok || r.AckedOnAfter("a", first) != 0 || r.AckedOnAfter("a", at(4)) != 2 {
		t.Errorf("FirstAck(b)=%v,%v AckedOnAfter(a, first b)=%d AckedOnAfter(a, 4ms)=%d",
			first, ok, r.AckedOnAfter("a", first), r.AckedOnAfter("a", at(4)))
	}
	// A write taken by the old master after the new one took some: the
	// split-brain a failover test must catch.
	late := append(append([]Ack{}, acks...), Ack{7, "a", at(410)})
	r = buildReport(writerRecord{acks: late}, "gomha_test.writes", t0, at(500))
	if first, _ := r.FirstAck("b"); r.AckedOnAfter("a", first) != 1 || len(r.Switches) != 2 {
		t.Errorf("late write on old master: AckedOnAfter=%d switches=%d, want 1 and 2", r.AckedOnAfter("a", first), len(r.Switches))
	}
	if last, ok := r.LastAck("a"); !ok || !last.Equal(at(410)) {
		t.Errorf("LastAck(a) = %v %v, want 410ms", last, ok)
	}
}

func TestSplitTable(t *testing.T) {
	cases := []struct {
		why, in, schema, table string
		bad                    bool
	}{
		{"the default table", "gomha_test.writes", "gomha_test", "writes", false},
		{"a bare name lives in the test database", "w2", TestDatabase, "w2", false},
		{"names are spliced into SQL: no quoting characters", "gomha_test.`x`", "", "", true},
		{"no injection through the schema", "a;DROP.t", "", "", true},
		{"an empty table name", "gomha_test.", "", "", true},
	}
	for _, tc := range cases {
		s, tb, err := splitTable(tc.in)
		if (err != nil) != tc.bad || s != tc.schema || tb != tc.table {
			t.Errorf("%s: splitTable(%q) = %q, %q, %v", tc.why, tc.in, s, tb, err)
		}
	}
}

func TestNewWriterOptions(t *testing.T) {
	c := &Cluster{Hosts: []Host{{Name: "host1", Addr: "127.0.0.1", Port: 3306}}}
	cases := []struct {
		why  string
		in   time.Duration
		want time.Duration
	}{
		{"zero value takes the default pause", 0, defaultWriteInterval},
		{"negative means as fast as possible", -1, 0},
		{"an explicit pause is kept", 20 * time.Millisecond, 20 * time.Millisecond},
	}
	for _, tc := range cases {
		w, err := newWriter(c, WriterOptions{Interval: tc.in})
		if err != nil {
			t.Fatal(err)
		}
		w.closeDBs()
		if w.interval != tc.want || w.rows != 1 || w.name != "gomha_test.writes" {
			t.Errorf("%s: interval %v rows %d table %s", tc.why, w.interval, w.rows, w.name)
		}
	}
	w, err := newWriter(c, WriterOptions{RowsPerTrx: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer w.closeDBs()
	q, args := w.insertSQL("127.0.0.1", []int64{7, 8, 9})
	if strings.Count(q, "(?, ?, ?, ?)") != 3 || len(args) != 12 || args[0] != int64(7) || args[2] != "127.0.0.1" {
		t.Errorf("insertSQL: %s %v", q, args)
	}
	if !strings.Contains(q, "/* gomha writer */") {
		t.Errorf("insertSQL must carry the gomha comment: %s", q)
	}
}
