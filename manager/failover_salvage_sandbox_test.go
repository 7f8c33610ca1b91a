package manager_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gomha/gomha/failover"
	"github.com/gomha/gomha/manager"
)

// Salvage takes what exists (issue 8, item 3): rows written in numbered
// groups while replicas are cut off, so that each group's fate is known.

const marksTable = "gomha_test.marks"

// writeGroup inserts n rows of group g on the master, one transaction each.
func (s *scenario) writeGroup(g string, n int) {
	s.t.Helper()
	stmts := []string{"CREATE TABLE IF NOT EXISTS " + marksTable + " (id INT AUTO_INCREMENT PRIMARY KEY, grp CHAR(1) NOT NULL)"}
	for range n {
		stmts = append(stmts, "INSERT INTO "+marksTable+" (grp) VALUES ('"+g+"')")
	}
	s.exec("host1", stmts...)
}

// groupCount counts the rows of group g on host.
func (s *scenario) groupCount(host, g string) int {
	return int(s.queryInt(host, "SELECT COUNT(*) FROM "+marksTable+" WHERE grp = ?", g))
}

// wantGroups checks each group's row count on each host.
func (s *scenario) wantGroups(want map[string]int, hosts ...string) {
	s.t.Helper()
	for _, h := range hosts {
		for g, n := range want {
			if got := s.groupCount(h, g); got != n {
				s.t.Errorf("%s: group %s has %d rows, want %d", h, g, got, n)
			}
		}
	}
}

// readPos is host's Master_Log_File:Read_Master_Log_Pos.
func (s *scenario) readPos(host string) string {
	st := s.slaveStatus(host)
	return st["Master_Log_File"] + ":" + st["Read_Master_Log_Pos"]
}

// TestFailoverLatestBinlogPurgedSandbox: the binlog file holding what
// every replica lacks was purged on the dead master before it died. The
// later files are still salvaged, and the report names the exact range
// that is gone and for whom.
func TestFailoverLatestBinlogPurgedSandbox(t *testing.T) {
	bothModes(t, func(t *testing.T, gtid bool) {
		s := newScenario(t, gtid, "")
		s.writeGroup("A", 20)
		s.waitReceived("host2")
		s.waitReceived("host3")
		s.exec("host2", "STOP SLAVE IO_THREAD")
		s.exec("host3", "STOP SLAVE IO_THREAD")
		from := s.readPos("host2")
		s.writeGroup("B", 20)
		s.exec("host1", "FLUSH BINARY LOGS")
		s.writeGroup("C", 20)
		s.exec("host1", "PURGE BINARY LOGS TO 'mysql-bin.000002'")
		s.kill("host1")
		rep, err := s.failover("host1", manager.FailoverOptions{})
		if err != nil {
			t.Fatalf("failover: %v", err)
		}
		wantRange := from + " to mysql-bin.000002:4"
		if rep.Lost.Nothing || rep.Lost.Range != wantRange || !strings.Contains(rep.Lost.Why, "purged") {
			t.Errorf("lost %+v, want the range %s named as purged", rep.Lost, wantRange)
		}
		if !strings.Contains(rep.String(), wantRange) {
			t.Errorf("the report does not name %s:\n%s", wantRange, rep)
		}
		s.verify("host2", "host1")
		s.wantGroups(map[string]int{"A": 20, "B": 0, "C": 20}, "host2", "host3")
	})
}

// purgeRelayLogs makes host drop the relay logs it has applied, as
// relay_log_purge=1 (MariaDB's default) does, and checks the first one is
// gone.
func (s *scenario) purgeRelayLogs(host string) {
	s.t.Helper()
	h, err := s.c.Host(host)
	if err != nil {
		s.t.Fatal(err)
	}
	index := filepath.Join(h.DataDir, "relay-bin.index")
	before, err := os.ReadFile(index)
	if err != nil {
		s.t.Fatal(err)
	}
	old := strings.Fields(string(before))
	s.exec(host, "SET GLOBAL relay_log_purge=1")
	// A relay log is purged when the SQL thread leaves it, one rotation
	// after it was written to last.
	s.waitFor("the applied relay logs of "+host+" to be purged", 10*time.Second, func() bool {
		s.exec(host, "FLUSH RELAY LOGS")
		after, err := os.ReadFile(index)
		if err != nil {
			return false
		}
		for _, f := range old {
			if strings.Contains(string(after), f) {
				return false
			}
		}
		return true
	})
}

// lagBeyondRelayLogs leaves host3 behind by groups B and C while host2's
// relay logs hold only C (relay_log_purge dropped B's as applied).
func (s *scenario) lagBeyondRelayLogs() {
	s.t.Helper()
	s.writeGroup("A", 20)
	s.waitReceived("host3")
	s.exec("host3", "STOP SLAVE IO_THREAD")
	s.writeGroup("B", 20)
	s.waitReceived("host2")
	s.purgeRelayLogs("host2")
	s.writeGroup("C", 20)
	s.waitReceived("host2")
}

// TestFailoverRelayLogsPurgedSandbox: host3 lags behind what the latest
// replica's relay logs still hold (they were purged as applied). With the
// dead master's host reachable, host3 gets its whole gap from the dead
// master's binlog (file mode) or by GTID from the new master.
func TestFailoverRelayLogsPurgedSandbox(t *testing.T) {
	bothModes(t, func(t *testing.T, gtid bool) {
		s := newScenario(t, gtid, "")
		s.lagBeyondRelayLogs()
		s.exec("host2", "STOP SLAVE IO_THREAD")
		s.writeGroup("D", 20)
		s.kill("host1")
		if _, err := s.failover("host1", manager.FailoverOptions{}); err != nil {
			t.Fatalf("failover: %v", err)
		}
		s.verify("host2", "host1")
		s.wantGroups(map[string]int{"A": 20, "B": 20, "C": 20, "D": 20}, "host2", "host3")
	})
}

// TestFailoverReplicaUnrecoverableSandbox: the same, but the dead master's
// host is gone too. In file/position mode nothing holds host3's gap any
// more: it must not be repointed with a hole in its data; the report names
// it and what it lacks, and the exit code is MHA's 10. By GTID, host3
// fetches its gap from the new master's binlog.
func TestFailoverReplicaUnrecoverableSandbox(t *testing.T) {
	bothModes(t, func(t *testing.T, gtid bool) {
		s := newScenario(t, gtid, "")
		s.lagBeyondRelayLogs()
		s.killHost("host1")
		rep, err := s.failover("host1", manager.FailoverOptions{})
		if gtid {
			if err != nil {
				t.Fatalf("failover: %v", err)
			}
			s.verify("host2", "host1")
			s.wantGroups(map[string]int{"A": 20, "B": 20, "C": 20}, "host2", "host3")
			return
		}
		var pe *failover.PartialError
		if !errors.As(err, &pe) || manager.ExitCode(err) != manager.ExitFailoverPartial {
			t.Fatalf("failover: %v, want exit code %d naming host3", err, manager.ExitFailoverPartial)
		}
		named := false
		for _, e := range rep.Replicas {
			if e.Server == s.key("host3").String() && e.Role == "failed" && strings.Contains(e.Error, "lacks") && e.Next != "" {
				named = true
			}
		}
		if !named {
			t.Errorf("host3 is not named with what it lacks and how to finish: %+v", rep.Replicas)
		}
		if st := s.slaveStatus("host3"); st["Master_Host"] == s.key("host2").Host {
			t.Errorf("host3 was repointed at the new master with a gap in its data")
		}
		s.wantGroups(map[string]int{"A": 20, "B": 20, "C": 20}, "host2")
	})
}
