package coord

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseJournal(t *testing.T) {
	a := `{"time":"2026-05-04T15:04:05Z","pid":1,"host":"m","step":"failover","server":"127.0.0.11:3306"}` + "\n"
	b := `{"time":"2026-05-04T15:04:06Z","pid":1,"host":"m","step":"apply","data":{"gtid":"0-1-5"}}` + "\n"
	cases := []struct {
		why      string
		data     string
		steps    []string
		torn     bool
		wantErr  bool
		wantData string
	}{
		{"an empty journal: created, nothing recorded yet", "", nil, false, false, ""},
		{"whole lines are all read, with their data", a + b, []string{"failover", "apply"}, false, false, "0-1-5"},
		{"a crash mid-write leaves a last line with no newline", a + b[:20], []string{"failover"}, true, false, ""},
		{"a crash can leave a garbled last line that has its newline", a + "{\"ti\x00\x00\n", []string{"failover"}, true, false, ""},
		{"a bad line before the last is no crash artefact: refuse rather than guess", a + "garbage\n" + b, nil, false, true, ""},
	}
	for _, c := range cases {
		entries, good, err := parseJournal([]byte(c.data))
		if (err != nil) != c.wantErr {
			t.Errorf("%s: err = %v", c.why, err)
			continue
		}
		var steps []string
		for _, e := range entries {
			steps = append(steps, e.Step)
		}
		if !reflect.DeepEqual(steps, c.steps) || (good < len(c.data)) != c.torn && !c.wantErr {
			t.Errorf("%s: steps %v torn=%v, want %v torn=%v", c.why, steps, good < len(c.data), c.steps, c.torn)
		}
		if c.wantData != "" && entries[len(entries)-1].Data["gtid"] != c.wantData {
			t.Errorf("%s: data %v", c.why, entries[len(entries)-1].Data)
		}
	}
}

func TestSummary(t *testing.T) {
	at := func(s int) time.Time { return time.Date(2026, 5, 4, 15, 4, s, 0, time.UTC) }
	start := Entry{Time: at(0), PID: 4242, Host: "mgr1", Step: "failover", Server: "127.0.0.11:3306"}
	cases := []struct {
		why     string
		entries []Entry
		want    string
	}{
		{"nothing to say about an empty journal", nil, "empty journal"},
		{"the brief's example: the last recorded step and the server it acted on",
			[]Entry{start, {Time: at(5), PID: 4242, Host: "mgr1", Step: "apply", Server: "127.0.0.12:3306"}},
			`failover of 127.0.0.11:3306 by pid 4242 on mgr1, interrupted after "apply 127.0.0.12:3306" at 15:04:05 on 2026-05-04`},
		{"a run killed before its first step says so",
			[]Entry{start},
			"failover of 127.0.0.11:3306 by pid 4242 on mgr1, interrupted before its first step, started at 15:04:00 on 2026-05-04"},
		{"a run already resumed by another process names both",
			[]Entry{start, {Time: at(9), PID: 77, Host: "mgr2", Step: "repoint"}},
			`failover of 127.0.0.11:3306 by pid 4242 on mgr1, resumed by pid 77 on mgr2, interrupted after "repoint" at 15:04:09 on 2026-05-04`},
		{"free-form text cannot break the line",
			[]Entry{start, {Time: at(1), PID: 4242, Host: "mgr1", Step: "fence\nold master"}},
			`failover of 127.0.0.11:3306 by pid 4242 on mgr1, interrupted after "fence old master" at 15:04:01 on 2026-05-04`},
	}
	for _, c := range cases {
		if got := Summary(c.entries); got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.why, got, c.want)
		}
	}
}

func TestJournalLifecycle(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "work") // OpenJournal creates manager_workdir
	if entries, torn, err := ReadJournal(dir, "app1"); entries != nil || torn || err != nil {
		t.Fatalf("no journal: %v %v %v, want nil, false, nil", entries, torn, err)
	}
	j, err := OpenJournal(dir, "app1")
	if err != nil {
		t.Fatal(err)
	}
	steps := []Entry{
		{Step: "failover", Server: "127.0.0.11:3306", Detail: "master dead"},
		{Step: "fence", Server: "127.0.0.11:3306"},
		{Step: "apply", Server: "127.0.0.12:3306", Data: map[string]string{"from": "0-1-10", "to": "0-1-12"}},
	}
	for _, e := range steps[:2] {
		if err := j.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	// Killed here: the file is never closed. The next run is refused.
	_, err = OpenJournal(dir, "app1")
	if !errors.Is(err, ErrJournalExists) || !strings.Contains(err.Error(), `interrupted after "fence 127.0.0.11:3306"`) {
		t.Fatalf("second OpenJournal: %v, want ErrJournalExists with a summary", err)
	}
	// A crash in the middle of the next write leaves a torn line.
	f, _ := os.OpenFile(JournalPath(dir, "app1"), os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(`{"time":"2026-05-04T15:04:05Z","step":"ap`)
	f.Close()
	entries, torn, err := ReadJournal(dir, "app1")
	if err != nil || !torn || len(entries) != 2 {
		t.Fatalf("ReadJournal = %d entries, torn=%v, %v; want 2, torn", len(entries), torn, err)
	}
	if entries[0].PID != os.Getpid() || entries[0].Host == "" || entries[0].Time.IsZero() || entries[0].Detail != "master dead" {
		t.Errorf("Append did not fill pid, host and time, or lost the detail: %+v", entries[0])
	}
	j2, entries, err := Resume(dir, "app1")
	if err != nil || len(entries) != 2 || !strings.HasPrefix(string(j2.TornTail()), `{"time"`) {
		t.Fatalf("Resume = %d entries, torn %q, %v", len(entries), j2.TornTail(), err)
	}
	if err := j2.Append(steps[2]); err != nil {
		t.Fatal(err)
	}
	j2.Close()
	entries, torn, err = ReadJournal(dir, "app1")
	if err != nil || torn || len(entries) != 3 || entries[2].Data["to"] != "0-1-12" {
		t.Fatalf("after Resume and Append: %+v torn=%v %v; want the torn line gone and 3 entries", entries, torn, err)
	}
	if err := Finish(dir, "app1"); err != nil {
		t.Fatal(err)
	}
	if entries, _, err := ReadJournal(dir, "app1"); entries != nil || err != nil {
		t.Fatalf("after Finish the journal is still read: %v %v", entries, err)
	}
	if err := Finish(dir, "app1"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Finish with no journal: %v, want fs.ErrNotExist", err)
	}
	if _, _, err := Resume(dir, "app1"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Resume with no journal: %v, want fs.ErrNotExist", err)
	}
	j3, err := OpenJournal(dir, "app1")
	if err != nil {
		t.Fatalf("after Finish a new failover must start: %v", err)
	}
	j3.Close()
}

// TestFinishKeepsFiveNewest: finished journals are the audit trail of past
// failovers, but must not pile up; another app's files are not touched.
func TestFinishKeepsFiveNewest(t *testing.T) {
	dir := t.TempDir()
	old := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	var made []string
	for i := range 7 {
		name := fmt.Sprintf("app1.failover.journal.%s.done", old.Add(time.Duration(i)*time.Hour).Format(doneStamp))
		made = append(made, name)
		os.WriteFile(filepath.Join(dir, name), nil, 0o644)
	}
	others := []string{
		"app2.failover.journal." + old.Format(doneStamp) + ".done",
		"app1.failover.journal.x.failover.journal." + old.Format(doneStamp) + ".done", // app "app1.failover.journal.x"
		"app1.failover.journal.notes.done",
	}
	for _, name := range others {
		os.WriteFile(filepath.Join(dir, name), nil, 0o644)
	}
	j, err := OpenJournal(dir, "app1")
	if err != nil {
		t.Fatal(err)
	}
	j.Close()
	if err := Finish(dir, "app1"); err != nil {
		t.Fatal(err)
	}
	des, _ := os.ReadDir(dir)
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	for _, gone := range made[:3] {
		if slices.Contains(names, gone) {
			t.Errorf("%s should have been removed (only 5 kept)", gone)
		}
	}
	for _, kept := range append(made[3:], others...) {
		if !slices.Contains(names, kept) {
			t.Errorf("%s was removed", kept)
		}
	}
	if len(names) != 5+len(others) {
		t.Errorf("files left: %v", names)
	}
}
