package manager_test

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gomha/gomha/coord"
	"github.com/gomha/gomha/failover"
	"github.com/gomha/gomha/manager"
	"github.com/gomha/gomha/node"
	"github.com/gomha/gomha/sandbox"
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
	// The manager records what it did just after doing it: read show until
	// it says so (bounded).
	var sh *manager.Show
	shown := func() bool {
		sh = manager.BuildShow(context.Background(), s.cfg, time.Second)
		deposed := false
		for _, srv := range sh.Servers {
			if srv.Key == s.key("host1").String() && srv.Role == "deposed" {
				deposed = true
			}
		}
		return deposed && len(sh.Deposed) == 1 && strings.HasPrefix(sh.Deposed[0].State, "fenced")
	}
	deadline := time.Now().Add(5 * time.Second)
	for !shown() && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if !shown() {
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
	// The replicas' IO threads still say Yes: their silence (no heartbeat
	// nor event for two heartbeat periods) is what confirms the death.
	if r.Detection == nil {
		t.Fatalf("no detection in the report")
	}
	silent := 0
	for _, e := range r.Detection.Evidence {
		if strings.HasPrefix(e, "replica ") {
			silent++
			if !strings.Contains(e, "no heartbeat nor event") {
				t.Errorf("replica evidence %q: want its silence", e)
			}
		}
	}
	if silent == 0 {
		t.Errorf("no replica in the detection evidence: %q", r.Detection.Evidence)
	}
	_ = syscall.Kill(pids.Mysqld, syscall.SIGCONT) // resume it, as a woken process
	time.Sleep(500 * time.Millisecond)
	if answers, ro := s.readOnly("host1"); answers && !ro {
		t.Errorf("the old master answers writable after it resumed")
	}
	s.verify("host2", "host1")
}

// TestSilentMasterSandbox: the master's host goes silent (every packet to
// and from it dropped, as a host that loses its power or its network): the
// replicas' IO threads still say Yes. The manager confirms the silence
// with the replicas' heartbeats or port probes, fails over without waiting
// on the host, and loses no write that a replica received.
func TestSilentMasterSandbox(t *testing.T) {
	s := newScenario(t, true, "")
	s.startWriter(50)
	reports := s.runManager(manager.ManagerOptions{})
	s.noteReceived()
	s.lostTail = s.c.Hosts[0].Addr
	if err := s.c.Isolate(context.Background(), "host1"); err != nil {
		t.Fatal(err)
	}
	r := s.nextReport(reports, time.Minute)
	t.Logf("detection: %s", r.Detection.Reason)
	for _, ev := range r.Detection.Evidence {
		t.Logf("  %s", ev)
	}
	if !r.Succeeded || !strings.Contains(r.Detection.Reason, "timed out") {
		t.Errorf("failover succeeded=%v, reason %q: want a success on a master that timed out", r.Succeeded, r.Detection.Reason)
	}
	if r.Fencing == nil || r.Fencing.Fenced {
		t.Errorf("fencing %v: an unreachable host cannot be fenced, and the report must say so", r.Fencing)
	}
	if err := s.c.Heal(context.Background(), "host1"); err != nil {
		t.Fatal(err)
	}
	// Back on the network, the old master is deposed by the manager.
	s.waitFor("the manager to set the old master read-only", 10*time.Second, func() bool {
		answers, ro := s.readOnly("host1")
		return answers && ro
	})
	promoted := ""
	for _, h := range s.c.Hosts {
		if s.key(h.Name).String() == r.NewMaster {
			promoted = h.Name
		}
	}
	s.verify(promoted, "host1")
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
		// Applied, not only received: an insert racing the applier takes
		// the id the master gave a row of group A (error 1062).
		s.waitFor("host3 to apply group A", 10*time.Second, func() bool {
			return s.queryInt("host3", "SELECT COUNT(*) FROM "+marksTable+" WHERE grp = 'A'") == 5
		})
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

// TestPartitionNoFailoverSandbox: the master and host3 on one side of a
// partition, the manager and host2 on the other. host2 lost the master and
// host3 cannot be asked: one of two configured replicas is no majority, so
// no failover, although host3 has ignore_fail=1 (before the quorum rule the
// manager failed over and the old master kept taking writes).
func TestPartitionNoFailoverSandbox(t *testing.T) {
	const mgr = "127.0.0.2"
	s := newScenarioConf(t, true, "", map[string]string{"server3": "ignore_fail=1"},
		func(o *sandbox.Options) { o.ExtraMyCnf = append(o.ExtraMyCnf, "slave_net_timeout=4") })
	s.startWriter(50)
	reports := s.runManager(manager.ManagerOptions{LocalAddr: mgr})
	ctx := context.Background()
	for _, h := range []string{"host1", "host3"} {
		if err := s.c.IsolateFrom(ctx, h, mgr); err != nil {
			t.Fatal(err)
		}
	}
	for _, h := range []string{"host1", "host3"} {
		if err := s.c.Cut(ctx, "host2", h); err != nil {
			t.Fatal(err)
		}
	}
	acked := s.w.Acked()
	select {
	case r := <-reports:
		t.Fatalf("failed over during the partition:\n%s", r)
	case <-time.After(10 * time.Second):
	}
	v, ok, err := manager.ReadView(s.cfg.ManagerWorkdir, s.cfg.App)
	if err != nil || !ok || v.State != "no quorum" {
		t.Errorf("the manager's view during the partition: %+v (ok %v, %v), want no quorum", v, ok, err)
	}
	if s.w.Acked() < acked+100 {
		t.Errorf("the writer on the old master stalled during the partition (%d acks)", s.w.Acked()-acked)
	}
	t.Logf("during the partition: %s: %s", v.State, v.Reason)
	for _, h := range []string{"host1", "host2", "host3"} {
		if err := s.c.Heal(ctx, h); err != nil {
			t.Fatal(err)
		}
	}
	s.waitFor("the manager to see the master healthy again", 30*time.Second, func() bool {
		v, ok, _ := manager.ReadView(s.cfg.ManagerWorkdir, s.cfg.App)
		return ok && v.State == "healthy"
	})
	// host2's IO thread retries on its own schedule (a connect that timed
	// out during the partition); the manager is not the one to hurry it.
	s.waitFor("the replicas to replicate again", 30*time.Second, func() bool {
		for _, h := range []string{"host2", "host3"} {
			if s.row(h, "SHOW SLAVE STATUS")["Slave_IO_Running"] != "Yes" {
				return false
			}
		}
		return true
	})
	s.verify("host1")
}

// TestManagerCutOffSSHRefusedSandbox: the replicas' hosts refuse SSH
// (their sshd died after the manager started), then the manager alone is
// cut off from the master, which the replicas still replicate from. No
// failover: a replica host the manager cannot reach over SSH is no "port
// refused" from there (the scale bench's simulator once read the pool's
// refused dial as the master's port refused, two votes for a dead master).
func TestManagerCutOffSSHRefusedSandbox(t *testing.T) {
	const mgr = "127.0.0.2"
	s := newScenario(t, true, "")
	// MariaDB's default heartbeat (slave_net_timeout/2, 30 s): too slow to
	// tell a silent master, so the manager probes the master's port from
	// the replicas' hosts.
	for _, h := range []string{"host2", "host3"} {
		s.exec(h, "STOP SLAVE", "CHANGE MASTER TO MASTER_HEARTBEAT_PERIOD=30", "START SLAVE")
	}
	s.startWriter(50)
	reports := s.runManager(manager.ManagerOptions{LocalAddr: mgr})
	ctx := context.Background()
	for _, h := range []string{"host2", "host3"} {
		if err := s.c.KillSSHD(ctx, h); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, h := range []string{"host2", "host3"} {
			if err := s.c.StartHost(context.Background(), h); err != nil {
				t.Errorf("start sshd on %s again: %v", h, err)
			}
		}
	})
	time.Sleep(2 * time.Second) // the pool notices its connections are gone
	if err := s.c.IsolateFrom(ctx, "host1", mgr); err != nil {
		t.Fatal(err)
	}
	acked := s.w.Acked()
	select {
	case r := <-reports:
		t.Fatalf("failed over a master its replicas still replicate from:\n%s", r)
	case <-time.After(10 * time.Second):
	}
	if s.w.Acked() < acked+100 {
		t.Errorf("the writer on the master stalled while the manager was cut off (%d acks)", s.w.Acked()-acked)
	}
	v, ok, err := manager.ReadView(s.cfg.ManagerWorkdir, s.cfg.App)
	if err != nil || !ok || v.State == "healthy" || v.State == "dead" {
		t.Errorf("the manager's view while cut off: %+v (ok %v, %v), want neither healthy nor dead", v, ok, err)
	}
	t.Logf("while cut off, replicas' sshd down: %s: %s", v.State, v.Reason)
	if err := s.c.Heal(ctx, "host1"); err != nil {
		t.Fatal(err)
	}
	s.waitFor("the manager to see the master healthy again", 30*time.Second, func() bool {
		v, ok, _ := manager.ReadView(s.cfg.ManagerWorkdir, s.cfg.App)
		return ok && v.State == "healthy"
	})
	s.verify("host1")
}

// TestTwoActorsSandbox: while the manager's own failover applies the dead
// master's salvaged tail, a manual failover is refused with one line naming
// the holder, from the same host (lock file) and from another one (another
// manager_workdir: the lock on the servers); nothing is applied twice.
func TestTwoActorsSandbox(t *testing.T) {
	s := newScenarioConf(t, true, "", map[string]string{"server2": "candidate_master=1"}, withFormat("MIXED", onceConf...))
	k := s.startCounter()
	s.waitCount(k, 50)
	reports := s.runManager(manager.ManagerOptions{})
	s.exec("host2", "STOP SLAVE IO_THREAD")
	s.exec("host3", "STOP SLAVE IO_THREAD")
	s.waitCount(k, 3000)
	before := s.counterValue("host2")
	s.kill("host1")
	s.waitFor("the manager's apply to be under way", 60*time.Second, func() bool {
		n := s.counterValue("host2")
		return n > before+50 && n < before+2500
	})
	_, err := s.failover("host1", manager.FailoverOptions{})
	if !errors.Is(err, coord.ErrHeld) || !strings.Contains(err.Error(), "failover by pid") {
		t.Errorf("a manual failover during the manager's: %v, want refused naming the holder", err)
	}
	other := *s.cfg
	other.ManagerWorkdir = t.TempDir()
	_, err = manager.RunFailover(context.Background(), &other, manager.FailoverOptions{Dead: s.key("host1")})
	if !errors.Is(err, coord.ErrHeld) || !strings.Contains(err.Error(), "127.0.0.14") {
		t.Errorf("a failover from another manager_workdir: %v, want refused by a server's lock", err)
	}
	t.Logf("refused: %v", err)
	if r := s.nextReport(reports, time.Minute); !r.Succeeded {
		t.Fatalf("the manager's failover did not succeed: %s", r.Error)
	}
	s.verify("host2", "host1")
	s.checkCounter(k, "host2", "host3")
}

// TestSwitchInterruptedSandbox: SIGINT to a switchover after the old master
// stopped taking writes and before the promotion: it finishes, one master
// takes writes (the new one), nothing is lost.
func TestSwitchInterruptedSandbox(t *testing.T) {
	s := newScenario(t, true, "")
	s.startWriter(50)
	ctx := context.Background()
	conn := s.conn("host1")
	s.writeGroup("A", 1)
	for _, q := range []string{"BEGIN", "INSERT INTO " + marksTable + " (grp) VALUES ('O')"} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	p := s.startProcess("switch", "GOMHA_TEST_NEW="+s.key("host2").Host)
	s.waitFor("the old master to stop taking writes", 20*time.Second, func() bool {
		_, ro := s.readOnly("host1")
		return ro
	})
	p.signal(syscall.SIGINT)
	if code := p.wait(time.Minute); code != 0 {
		t.Fatalf("the interrupted switchover exited %d, want 0 (finished)", code)
	}
	if _, ro := s.readOnly("host1"); !ro {
		t.Errorf("the old master is writable after the switch")
	}
	s.verify("host2", "host1")
}

// TestDeposedMasterRejoinsSandbox: with rejoin_old_master=1 an old master
// that comes back holding nothing the new master lacks becomes its replica
// and catches up; the failover's fencing verdict shows until then.
func TestDeposedMasterRejoinsSandbox(t *testing.T) {
	s := newScenario(t, true, "rejoin_old_master=1")
	s.startWriter(50)
	reports := s.runManager(manager.ManagerOptions{})
	s.kill("host1")
	if r := s.nextReport(reports, time.Minute); !r.Succeeded {
		t.Fatalf("failover: %s", r.Error)
	}
	// The manager records the deposed master once it watches again, just
	// after the failover's report.
	s.waitFor("show to give the failover's fencing of the old master", 20*time.Second, func() bool {
		sh := manager.BuildShow(context.Background(), s.cfg, time.Second)
		return len(sh.Deposed) == 1 && strings.Contains(sh.Deposed[0].State, "kill over SSH")
	})
	if err := s.c.StartMysqld(context.Background(), "host1"); err != nil {
		t.Fatal(err)
	}
	s.waitFor("the old master to replicate from the new one", 20*time.Second, func() bool {
		answers, ro := s.readOnly("host1")
		if !answers || !ro {
			return false
		}
		db, err := s.c.DB(context.Background(), "host1")
		if err != nil {
			return false
		}
		defer db.Close()
		rows, err := node.QueryMaps(context.Background(), db, "SHOW SLAVE STATUS")
		if err != nil || len(rows) != 1 {
			return false
		}
		st := rows[0]
		return st["Master_Host"] == s.key("host2").Host && st["Slave_IO_Running"] == "Yes" && st["Slave_SQL_Running"] == "Yes"
	})
	s.verify("host2")
}
