package failover

import (
	"strings"
	"testing"
	"time"

	"github.com/gomha/gomha/topology"
)

func TestRunningUpdates(t *testing.T) {
	sec := time.Second
	tests := []struct {
		name    string
		why     string
		threads []Thread
		trxs    []Trx
		want    []string // substrings, one per expected finding
	}{
		{name: "long update", why: "a write statement running past the limit would hold read_only=ON back",
			threads: []Thread{{ID: 7, User: "app", Command: "Query", Time: 2 * sec, Info: "UPDATE t SET a=1"}},
			want:    []string{"thread 7"}},
		{name: "short update", why: "writes shorter than the limit are normal traffic",
			threads: []Thread{{ID: 7, Command: "Query", Time: 300 * time.Millisecond, Info: "UPDATE t SET a=1"}}},
		{name: "long select", why: "MHA ignores SELECT and SHOW, even behind a comment",
			threads: []Thread{{ID: 7, Command: "Query", Time: 9 * sec, Info: "/* report */ select sleep(9)"},
				{ID: 8, Command: "Query", Time: 9 * sec, Info: "SHOW PROCESSLIST"}}},
		{name: "idle and replication", why: "sleeping connections, binlog dump and system threads are not updates",
			threads: []Thread{{ID: 1, Command: "Sleep", Time: 99 * sec}, {ID: 2, Command: "Binlog Dump GTID", Time: 99 * sec},
				{ID: 3, User: "system user", Command: "Slave_SQL", Time: 99 * sec, Info: "INSERT"},
				{ID: 4, User: "event_scheduler", Command: "Daemon", Time: 99 * sec}}},
		{name: "own statement", why: "gomha's own statements are never counted",
			threads: []Thread{{ID: 5, Command: "Query", Time: 5 * sec, Info: "/* gomha */ SET GLOBAL read_only=ON"}}},
		{name: "open write transaction", why: "an idle transaction holding modified rows is a long write lock",
			trxs: []Trx{{ID: "42", ThreadID: 9, Age: 2 * sec, RowsModified: 3}}, want: []string{"transaction 42 of thread 9"}},
		{name: "young or read-only transaction", why: "young writers and read-only snapshots hold no long write locks",
			trxs: []Trx{{ID: "43", Age: 0, RowsModified: 3}, {ID: "44", Age: 60 * sec}}},
		{name: "age at the limit", why: "whole-second ages read 1 s for a transaction started a millisecond before a second ticked",
			trxs: []Trx{{ID: "45", Age: sec, RowsModified: 1}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := RunningUpdates(tc.threads, tc.trxs, sec)
			if len(got) != len(tc.want) {
				t.Fatalf("%s: got %q, want %d findings", tc.why, got, len(tc.want))
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("%s: finding %q does not name %q", tc.why, got[i], w)
				}
			}
		})
	}
}

func TestLongQueries(t *testing.T) {
	tests := []struct {
		name    string
		why     string
		threads []Thread
		want    int
	}{
		{name: "long select", why: "on the new master any client statement counts, reads too (MHA's running_seconds_limit)",
			threads: []Thread{{ID: 3, Command: "Query", Time: 11 * time.Second, Info: "SELECT SLEEP(100)"}}, want: 1},
		{name: "short", why: "statements under the limit are fine",
			threads: []Thread{{ID: 3, Command: "Query", Time: 9 * time.Second, Info: "SELECT 1"}}},
		{name: "replication threads", why: "the new master's own SQL thread may show a long time",
			threads: []Thread{{ID: 3, User: "system user", Command: "Slave_SQL", Time: time.Hour}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := LongQueries(tc.threads, 10*time.Second); len(got) != tc.want {
				t.Errorf("%s: got %q, want %d", tc.why, got, tc.want)
			}
		})
	}
}

func TestLagProblem(t *testing.T) {
	n := func(v int64) *int64 { return &v }
	tests := []struct {
		name string
		why  string
		st   *topology.Status
		want string
	}{
		{name: "in time", why: "lag equal to the limit is accepted, as in MHA",
			st: &topology.Status{Replica: &topology.Replica{SecondsBehindMaster: n(1)}}},
		{name: "behind", why: "the catch-up would keep writes blocked too long",
			st: &topology.Status{Replica: &topology.Replica{SecondsBehindMaster: n(3)}}, want: "3 s behind"},
		{name: "null", why: "an unknown lag is not a small lag",
			st: &topology.Status{Replica: &topology.Replica{}}, want: "NULL"},
		{name: "not a replica", why: "only a replica of the master can take over",
			st: &topology.Status{}, want: "not a replica"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := LagProblem(tc.st, time.Second)
			if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Errorf("%s: got %q, want %q", tc.why, got, tc.want)
			}
		})
	}
}

func TestOpenWrites(t *testing.T) {
	// Why: after read_only=ON only the transactions open at that moment are
	// waited for; one that ended (or a new one) must not extend the wait.
	before := OpenWrites([]Trx{{ID: "1", RowsModified: 1}, {ID: "2"}, {ID: "3", RowsModified: 5}})
	if len(before) != 2 {
		t.Fatalf("OpenWrites kept %v, want ids 1 and 3", before)
	}
	left := stillOpen(before, []Trx{{ID: "3", RowsModified: 6}, {ID: "9", RowsModified: 1}})
	if len(left) != 1 || left[0].ID != "3" {
		t.Fatalf("stillOpen = %v, want only id 3", left)
	}
}
