package manager_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomha/gomha/manager"
	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/sandbox"
)

// Nothing is applied twice: a counter incremented by a statement that is
// not idempotent (UPDATE ... SET n=n+1, logged as a statement in MIXED
// format) must end equal to the number of acknowledged increments on every
// survivor (issue 8, item 2).

const counterTable = "gomha_test.counters"

// counter increments one row on the master until it fails (the master
// died) or is stopped, and counts the acknowledged increments.
type counter struct {
	mu      sync.Mutex
	acked   int
	unknown int // the last increment's outcome when the master died
	stop    chan struct{}
	done    chan struct{}
}

func (s *scenario) startCounter() *counter {
	s.t.Helper()
	s.exec("host1", "CREATE TABLE IF NOT EXISTS "+counterTable+" (id INT PRIMARY KEY, n BIGINT NOT NULL) ENGINE=InnoDB",
		"INSERT INTO "+counterTable+" VALUES (1, 0)")
	db, err := s.c.DB(context.Background(), "host1")
	if err != nil {
		s.t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	k := &counter{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(k.done)
		defer db.Close()
		for {
			select {
			case <-k.stop:
				return
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_, err := db.ExecContext(ctx, "UPDATE "+counterTable+" SET n = n + 1 WHERE id = 1")
			cancel()
			k.mu.Lock()
			if err != nil {
				k.unknown = 1
				k.mu.Unlock()
				return
			}
			k.acked++
			k.mu.Unlock()
		}
	}()
	s.t.Cleanup(k.finish)
	return k
}

func (k *counter) n() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.acked
}

func (k *counter) finish() {
	select {
	case <-k.stop:
	default:
		close(k.stop)
	}
	<-k.done
}

// waitCount waits until the counter acknowledged n more increments.
func (s *scenario) waitCount(k *counter, n int) {
	s.t.Helper()
	want := k.n() + n
	deadline := time.Now().Add(60 * time.Second)
	for k.n() < want {
		if time.Now().After(deadline) {
			s.t.Fatalf("counter stuck at %d, want %d", k.n(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// counterValue reads the counter on host.
// deadMasterAhead stops host3's IO thread, then host2's 3,000 increments
// later, and kills host1's mysqld: the dead master holds increments no
// replica received, for a failover to salvage and apply to host2 (the
// candidate). It returns host2's counter at the kill.
func (s *scenario) deadMasterAhead(k *counter) int {
	s.t.Helper()
	s.exec("host3", "STOP SLAVE IO_THREAD")
	s.waitCount(k, 50)
	s.exec("host2", "STOP SLAVE IO_THREAD")
	s.waitCount(k, 3000)
	s.kill("host1")
	return s.counterValue("host2")
}

// waitHalfApplied waits until the failover is half-way through applying
// the salvaged increments to host2 (before: host2's counter at the kill).
func (s *scenario) waitHalfApplied(before int) {
	s.t.Helper()
	s.waitFor("the new master to be half-way through the salvaged increments", 60*time.Second, func() bool {
		n := s.counterValue("host2")
		return n > before+100 && n < before+2000
	})
}

func (s *scenario) counterValue(host string) int {
	return int(s.queryInt(host, "SELECT n FROM "+counterTable+" WHERE id = 1"))
}

// checkCounter: every survivor holds every acknowledged increment, once.
func (s *scenario) checkCounter(k *counter, hosts ...string) {
	s.t.Helper()
	<-k.done
	for _, h := range hosts {
		got := s.counterValue(h)
		if got < k.acked || got > k.acked+k.unknown {
			s.t.Errorf("%s: counter %d, want %d acknowledged increments (+%d of unknown outcome)", h, got, k.acked, k.unknown)
		}
	}
	s.t.Logf("counter: %d acknowledged increments", k.acked)
}

var onceConf = []string{"gtid_strict_mode=OFF"}

// TestFailoverNothingTwiceSandbox: replicas at three different states (one
// lagging, one with its SQL thread behind what it received) and the dead
// master's binlog tail salvaged: the relay-log differences, the replicas'
// own relay logs and the salvaged tail must not overlap on any server.
func TestFailoverNothingTwiceSandbox(t *testing.T) {
	bothModes(t, func(t *testing.T, gtid bool) {
		s := newScenarioConf(t, gtid, "", nil, withFormat("MIXED", onceConf...))
		k := s.startCounter()
		s.waitCount(k, 50)
		s.exec("host3", "STOP SLAVE IO_THREAD")
		s.waitCount(k, 100)
		s.exec("host2", "STOP SLAVE SQL_THREAD")
		s.waitCount(k, 100)
		s.exec("host2", "STOP SLAVE IO_THREAD")
		s.waitCount(k, 100)
		s.kill("host1")
		if _, err := s.failover("host1", manager.FailoverOptions{}); err != nil {
			t.Fatalf("failover: %v", err)
		}
		s.verify("host2", "host1")
		s.checkCounter(k, "host2", "host3")
	})
}

func withFormat(format string, extra ...string) func(*sandbox.Options) {
	return func(o *sandbox.Options) { o.BinlogFormat, o.ExtraMyCnf = format, append(o.ExtraMyCnf, extra...) }
}

// TestFailoverRerunAfterKillSandbox: the failover is killed (SIGKILL, as
// when the manager's host reboots) while it applies the salvaged tail to the
// new master: in GTID mode the manager that detected the death, in file
// mode a manual failover. A new failover is refused, naming the command that
// finishes it; gomha failover --resume starts from what each server has and
// applies the rest exactly once.
func TestFailoverRerunAfterKillSandbox(t *testing.T) {
	bothModes(t, func(t *testing.T, gtid bool) {
		s := newScenarioConf(t, gtid, "", map[string]string{"server2": "candidate_master=1"}, withFormat("MIXED", onceConf...))
		k := s.startCounter()
		s.waitCount(k, 50)
		var helper *gomhaProcess
		if gtid {
			helper = s.startProcess("manager")
			s.waitFor("the manager to watch the master", 30*time.Second, func() bool {
				st, err := manager.ReadStatus(s.cfg.ManagerWorkdir, s.cfg.App, 0)
				return err == nil && st.Code == manager.StatusPingOK
			})
		}
		before := s.deadMasterAhead(k)
		if !gtid {
			helper = s.startFailoverProcess("host1")
		}
		s.waitHalfApplied(before)
		helper.kill()
		t.Logf("killed the failover with the counter at %d on host2 (%d before, %d acknowledged)", s.counterValue("host2"), before, k.n())
		if _, err := s.failover("host1", manager.FailoverOptions{}); !errors.Is(err, manager.ErrInterrupted) {
			t.Fatalf("a new failover while the killed one's journal is there: %v, want ErrInterrupted", err)
		}
		rep, err := s.failover("host1", manager.FailoverOptions{Resume: true})
		if err != nil {
			t.Fatalf("failover --resume: %v", err)
		}
		if rep.NewMaster != s.key("host2").String() {
			t.Errorf("the second run promoted %s, want host2", rep.NewMaster)
		}
		s.verify("host2", "host1")
		s.checkCounter(k, "host2", "host3")
	})
}

// waitFor polls cond until it holds.
func (s *scenario) waitFor(what string, limit time.Duration, cond func() bool) {
	s.t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			s.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestFailoverPurgedBinlogSandbox: the binlog the lagging replica would
// need was purged on the dead master; what the latest replica lacks is
// still in the binlogs that exist and must be salvaged.
func TestFailoverPurgedBinlogSandbox(t *testing.T) {
	bothModes(t, func(t *testing.T, gtid bool) {
		s := newScenario(t, gtid, "")
		s.startWriter(50)
		s.lag(30, "host3")
		s.exec("host1", "FLUSH BINARY LOGS")
		s.lag(30, "host2")
		s.lag(30)
		s.exec("host1", "PURGE BINARY LOGS TO 'mysql-bin.000002'")
		s.kill("host1")
		rep, err := s.failover("host1", manager.FailoverOptions{})
		if err != nil {
			t.Fatalf("failover: %v", err)
		}
		if len(rep.Salvaged) == 0 || !rep.Lost.Nothing {
			t.Errorf("salvaged %d transactions, lost %+v: the tail host2 lacks was in mysql-bin.000002", len(rep.Salvaged), rep.Lost)
		}
		s.verify("host2", "host1")
	})
}

// TestFailoverRelayWaitTimeoutSandbox: a replica applies what it received
// more slowly than relay_wait_timeout allows (here a delayed replica,
// MASTER_DELAY=6): the failover stops before promoting anything and says
// where every server stands and what finishes the job; running that once
// the replica has caught up completes with nothing lost.
func TestFailoverRelayWaitTimeoutSandbox(t *testing.T) {
	s := newScenario(t, true, "relay_wait_timeout=2")
	s.exec("host3", "STOP SLAVE", "CHANGE MASTER TO MASTER_DELAY=6", "START SLAVE")
	s.startWriter(50)
	s.lag(30, "host2")
	s.waitReceived("host3")
	s.kill("host1")
	start := time.Now()
	rep, err := s.failover("host1", manager.FailoverOptions{})
	if err == nil {
		t.Fatalf("failover succeeded while host3 had not applied its relay log")
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the failover took %s with relay_wait_timeout=2", took)
	}
	if manager.ExitCode(err) != manager.ExitFailoverError {
		t.Errorf("exit code %d, want %d", manager.ExitCode(err), manager.ExitFailoverError)
	}
	text := rep.String()
	for _, want := range []string{"relay_wait_timeout", "127.0.0.143:3306: halted", "SQL thread running", "No server takes writes",
		"gomha failover --conf " + s.c.ConfPath + " --resume"} {
		if !strings.Contains(text, want) {
			t.Errorf("the report does not say %q:\n%s", want, text)
		}
	}
	s.setConf("relay_wait_timeout=2", "relay_wait_timeout=60")
	if _, err := s.failover("host1", manager.FailoverOptions{Resume: true}); err != nil {
		t.Fatalf("the failover resumed: %v", err)
	}
	s.verify("host3", "host1") // host3 received the most
}

// setConf replaces a line of the configuration and reloads it.
func (s *scenario) setConf(old, new string) {
	s.t.Helper()
	data, err := os.ReadFile(s.c.ConfPath)
	if err != nil {
		s.t.Fatal(err)
	}
	if err := os.WriteFile(s.c.ConfPath, []byte(strings.Replace(string(data), old, new, 1)), 0o600); err != nil {
		s.t.Fatal(err)
	}
	if s.cfg, err = config.Load(context.Background(), s.c.ConfPath, config.Options{NoGlobal: true}); err != nil {
		s.t.Fatal(err)
	}
}

// TestFailoverMetadataLockSandbox: a session on the new master holds a
// table lock (a backup, a forgotten LOCK TABLES) when the salvaged tail is
// applied there: the failover must not wait lock_wait_timeout (a day).
func TestFailoverMetadataLockSandbox(t *testing.T) {
	s := newScenarioConf(t, true, "", map[string]string{"server2": "candidate_master=1"})
	s.startWriter(50)
	s.lag(40, "host2", "host3")
	ctx := context.Background()
	conn := s.conn("host2")
	if _, err := conn.ExecContext(ctx, "LOCK TABLES gomha_test.writes READ"); err != nil {
		t.Fatal(err)
	}
	s.kill("host1")
	start := time.Now()
	rep, err := s.failover("host1", manager.FailoverOptions{})
	if err != nil {
		t.Fatalf("failover: %v", err)
	}
	if took := time.Since(start); took > 40*time.Second {
		t.Errorf("the failover took %s behind a table lock", took)
	}
	if !strings.Contains(rep.String(), "lock") {
		t.Errorf("the report does not say which session held a lock:\n%s", rep)
	}
	s.verify("host2", "host1")
}
