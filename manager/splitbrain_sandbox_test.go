package manager_test

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gomha/gomha/failover"
	"github.com/gomha/gomha/manager"
)

// One writer, always (issue 9): a deposed master stays deposed, a frozen
// master is replaced and stopped for good, writes made on a replica stop a
// file/position failover.

// runManager starts gomha manager (not Once) on the scenario's cluster and
// returns the channel of its failover reports; it is stopped at cleanup.
func (s *scenario) runManager(opts manager.ManagerOptions) <-chan *failover.Report {
	s.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	reports := make(chan *failover.Report, 4)
	done := make(chan error, 1)
	opts.OnFailover = func(r *failover.Report, err error) { reports <- r }
	go func() { done <- manager.RunManager(ctx, s.cfg, opts) }()
	s.t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			s.t.Errorf("manager did not stop")
		}
	})
	s.waitFor("the manager to watch the master", 30*time.Second, func() bool {
		st, err := manager.ReadStatus(s.cfg.ManagerWorkdir, s.cfg.App, 0)
		return err == nil && st.Code == manager.StatusPingOK
	})
	return reports
}

func (s *scenario) nextReport(reports <-chan *failover.Report, limit time.Duration) *failover.Report {
	s.t.Helper()
	select {
	case r := <-reports:
		s.t.Logf("report:\n%s", r)
		return r
	case <-time.After(limit):
		s.t.Fatalf("no failover within %s", limit)
	}
	return nil
}

// readOnly reports whether host answers and is read-only.
func (s *scenario) readOnly(host string) (answers, ro bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	db, err := s.c.DB(ctx, host)
	if err != nil {
		return false, false
	}
	defer db.Close()
	var v int
	if err := db.QueryRowContext(ctx, "SELECT @@read_only").Scan(&v); err != nil {
		return false, false
	}
	return true, v == 1
}

// TestDeposedMasterStaysDeposedSandbox: the old master's mysqld is
// restarted 3 s after the failover, as a supervisor would; it comes up
// writable (nothing in its my.cnf says otherwise) and must be read-only
// again within one ping_interval, and shown as deposed.
func TestDeposedMasterStaysDeposedSandbox(t *testing.T) {
	s := newScenario(t, true, "")
	s.startWriter(50)
	reports := s.runManager(manager.ManagerOptions{})
	s.kill("host1")
	if r := s.nextReport(reports, time.Minute); !r.Succeeded || r.NewMaster != s.key("host2").String() {
		t.Fatalf("failover: succeeded=%v new master %s", r.Succeeded, r.NewMaster)
	}
	time.Sleep(3 * time.Second)
	if err := s.c.StartMysqld(context.Background(), "host1"); err != nil {
		t.Fatal(err)
	}
	var firstAnswer time.Time
	s.waitFor("the old master to be fenced", 20*time.Second, func() bool {
		answers, ro := s.readOnly("host1")
		if answers && firstAnswer.IsZero() {
			firstAnswer = time.Now()
		}
		return answers && ro
	})
	writable := time.Since(firstAnswer)
	t.Logf("the restarted old master was writable for at most %s", writable.Round(time.Millisecond))
	if writable > 1500*time.Millisecond {
		t.Errorf("the old master stayed writable %s after it came back, more than one ping_interval (1 s)", writable)
	}
	sh := manager.BuildShow(context.Background(), s.cfg, time.Second)
	deposed := false
	for _, srv := range sh.Servers {
		if srv.Key == s.key("host1").String() && srv.Role == "deposed" {
			deposed = true
		}
	}
	if !deposed || len(sh.Deposed) != 1 || !strings.HasPrefix(sh.Deposed[0].State, "fenced") {
		t.Errorf("show does not present host1 as a fenced deposed master: %+v\n%s", sh.Deposed, sh.Text())
	}
	s.verify("host2", "host1")
}

// TestFrozenMasterSandbox: the master's mysqld is frozen (SIGSTOP): its
// kernel still accepts connections, the replicas' IO threads still say Yes.
// The manager must fail over within a few seconds (not wait out the
// freeze), and when the process would resume, the old master must be dead
// (killed over SSH) or read-only.
func TestFrozenMasterSandbox(t *testing.T) {
	s := newScenario(t, true, "")
	s.startWriter(50)
	reports := s.runManager(manager.ManagerOptions{})
	pids, err := s.c.PIDs("host1")
	if err != nil {
		t.Fatal(err)
	}
	frozenAt := time.Now()
	if err := syscall.Kill(pids.Mysqld, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	s.noteReceivedFrozen()
	r := s.nextReport(reports, time.Minute)
	took := r.Finished.Sub(frozenAt)
	t.Logf("failover finished %s after the freeze", took.Round(time.Millisecond))
	if !r.Succeeded || took > 10*time.Second {
		t.Errorf("failover succeeded=%v after %s, want a success within 10 s of the freeze", r.Succeeded, took)
	}
	if r.Fencing == nil || !r.Fencing.Fenced || !strings.Contains(r.Fencing.String(), "killed") {
		t.Errorf("the frozen master was not killed over SSH: %v", r.Fencing)
	}
	_ = syscall.Kill(pids.Mysqld, syscall.SIGCONT) // resume it, as a woken process
	time.Sleep(500 * time.Millisecond)
	if answers, ro := s.readOnly("host1"); answers && !ro {
		t.Errorf("the old master answers writable after it resumed")
	}
	s.verify("host2", "host1")
}

// noteReceivedFrozen marks every write acknowledged so far as received by a
// replica: a frozen master acknowledges nothing more, and the writer's
// in-flight commit is an unknown outcome.
func (s *scenario) noteReceivedFrozen() {
	s.lostTail = s.c.Hosts[0].Addr
	s.received = nil // VerifyAcked counts every acknowledged write
}

// TestFailoverErrantWritesSandbox: a write made directly on a replica (its
// own binlog, its own server_id) stops the failover before anything is
// changed, in file/position mode as in GTID mode: promoted, it would serve
// data nobody else has; repointed, it would keep it alone.
func TestFailoverErrantWritesSandbox(t *testing.T) {
	bothModes(t, func(t *testing.T, gtid bool) {
		s := newScenario(t, gtid, "")
		s.writeGroup("A", 5)
		s.waitReceived("host3")
		s.exec("host3", "INSERT INTO "+marksTable+" (grp) VALUES ('X')")
		s.kill("host1")
		_, err := s.failover("host1", manager.FailoverOptions{})
		if !errors.Is(err, failover.ErrErrantTransactions) || !strings.Contains(err.Error(), s.key("host3").String()) {
			t.Fatalf("failover: %v, want errant transactions on host3", err)
		}
		if st := s.slaveStatus("host2"); st["Slave_IO_Running"] == "No" {
			t.Errorf("host2's IO thread was stopped: the refusal must come before anything is changed")
		}
	})
}
