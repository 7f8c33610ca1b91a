package manager_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gomha/gomha/failover"
	"github.com/gomha/gomha/manager"
	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/node"
	"github.com/gomha/gomha/sandbox"
	"github.com/gomha/gomha/sandbox/sandboxtest"
	"github.com/gomha/gomha/topology"
)

// scenario is one failover test on a fresh 3-host sandbox (127.0.0.141-143).
type scenario struct {
	t    *testing.T
	c    *sandbox.Cluster
	cfg  *config.Config
	w    *sandbox.Writer
	more []*sandbox.Writer // further writers on other tables (multi-table load)
	want map[string]string // table -> checksum the new master must have
	// lostTail is the address of a master whose host vanished under the
	// writers: the writes it acknowledged after received[w] may have reached
	// no replica (asynchronous replication) and are then lost everywhere.
	lostTail string
	received map[*sandbox.Writer]int
}

// noteReceived records, for every writer, how many of its writes some
// replica with a running IO thread has certainly received: those may not
// be lost whatever happens to the master's host next.
func (s *scenario) noteReceived() {
	s.t.Helper()
	s.received = map[*sandbox.Writer]int{}
	writers := s.more
	if s.w != nil {
		writers = append([]*sandbox.Writer{s.w}, s.more...)
	}
	for _, w := range writers {
		s.received[w] = w.Acked()
	}
	file, pos := s.masterPos()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		receiving := false
		for _, h := range s.c.Hosts[1:] {
			io, got := s.received1(h.Name, file, pos)
			receiving = receiving || io
			if got {
				return
			}
		}
		if !receiving {
			for w := range s.received {
				s.received[w] = 0 // nobody receives: every later write may be lost
			}
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	s.t.Fatalf("no replica received the master's binlog up to %s:%d", file, pos)
}

func newScenario(t *testing.T, gtid bool, extraConf string, opts ...func(*sandbox.Options)) *scenario {
	return newScenarioConf(t, gtid, extraConf, nil, opts...)
}

// newScenarioConf also adds lines to [serverN] blocks (e.g. "server3": "candidate_master=1").
func newScenarioConf(t *testing.T, gtid bool, extraConf string, serverConf map[string]string, opts ...func(*sandbox.Options)) *scenario {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	o := sandbox.Options{Hosts: 3, GTID: gtid, BaseOctet: 140}
	for _, f := range opts {
		f(&o)
	}
	c := sandboxtest.Up(t, o)
	if extraConf != "" || len(serverConf) > 0 {
		data, err := os.ReadFile(c.ConfPath)
		if err != nil {
			t.Fatal(err)
		}
		conf := strings.Replace(string(data), "[server default]\n", "[server default]\n"+extraConf+"\n", 1)
		for block, lines := range serverConf {
			conf = strings.Replace(conf, "["+block+"]\n", "["+block+"]\n"+lines+"\n", 1)
		}
		if err := os.WriteFile(c.ConfPath, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := config.Load(ctx, c.ConfPath, config.Options{NoGlobal: true})
	if err != nil {
		t.Fatalf("load %s: %v", c.ConfPath, err)
	}
	return &scenario{t: t, c: c, cfg: cfg}
}

func (s *scenario) key(host string) topology.Key {
	h, err := s.c.Host(host)
	if err != nil {
		s.t.Fatal(err)
	}
	return topology.Key{Host: h.Addr, Port: h.Port}
}

func (s *scenario) exec(host string, stmts ...string) {
	s.t.Helper()
	sandboxtest.Exec(s.t, s.c, host, stmts...)
}

func (s *scenario) startWriter(n int) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s.w = s.newWriter("")
	if err := s.w.WaitAcked(ctx, n); err != nil {
		s.t.Fatalf("writer made no progress: %v", err)
	}
}

// newWriter starts a writer on table ("": the default one). A test that
// fails before verify must not leave it running: it would find the next
// test's sandbox on the same addresses, so it stops at cleanup.
func (s *scenario) newWriter(table string) *sandbox.Writer {
	s.t.Helper()
	w, err := sandbox.StartWriter(context.Background(), s.c, sandbox.WriterOptions{Table: table})
	if err != nil {
		s.t.Fatalf("writer %s: %v", table, err)
	}
	s.t.Cleanup(func() { w.Stop() })
	return w
}

// queryInt runs a query returning one number on host.
func (s *scenario) queryInt(host, q string, args ...any) int64 {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	db, err := s.c.DB(ctx, host)
	if err != nil {
		s.t.Fatal(err)
	}
	defer db.Close()
	var n int64
	if err := db.QueryRowContext(ctx, q, args...).Scan(&n); err != nil {
		s.t.Fatalf("%s on %s: %v", q, host, err)
	}
	return n
}

// masterPos is host1's SHOW MASTER STATUS.
func (s *scenario) masterPos() (string, int64) {
	st := s.row("host1", "SHOW MASTER STATUS")
	pos, _ := strconv.ParseInt(st["Position"], 10, 64)
	return st["File"], pos
}

// row runs a query returning one row on host.
func (s *scenario) row(host, q string) map[string]string {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	db, err := s.c.DB(ctx, host)
	if err != nil {
		s.t.Fatal(err)
	}
	defer db.Close()
	rows, err := node.QueryMaps(ctx, db, q)
	if err != nil || len(rows) != 1 {
		s.t.Fatalf("%s on %s: %v (%d rows)", q, host, err, len(rows))
	}
	return rows[0]
}

// received1 reports whether host's IO thread runs and whether it has
// received the master's binlog up to file:pos.
func (s *scenario) received1(host, file string, pos int64) (io, got bool) {
	st := s.slaveStatus(host)
	read, _ := strconv.ParseInt(st["Read_Master_Log_Pos"], 10, 64)
	return st["Slave_IO_Running"] == "Yes", st["Master_Log_File"] == file && read >= pos
}

// conn opens one dedicated connection to host (a session of its own, for
// transactions and locks a test holds), closed at cleanup.
func (s *scenario) conn(host string) *sql.Conn {
	s.t.Helper()
	ctx := context.Background()
	db, err := s.c.DB(ctx, host)
	if err != nil {
		s.t.Fatal(err)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { conn.Close(); db.Close() })
	return conn
}

// bothModes runs a scenario with GTID and with file/position replication.
func bothModes(t *testing.T, fn func(t *testing.T, gtid bool)) {
	for _, m := range []struct {
		name string
		gtid bool
	}{{"gtid", true}, {"file", false}} {
		t.Run(m.name, func(t *testing.T) { fn(t, m.gtid) })
	}
}

// failover runs the failover of host and returns its report.
func (s *scenario) failover(host string, o manager.FailoverOptions) (*failover.Report, error) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	o.Dead = s.key(host)
	rep, err := manager.RunFailover(ctx, s.cfg, o)
	if rep != nil {
		s.t.Logf("report:\n%s", rep)
		if rep.Plan != nil {
			s.t.Logf("plan:\n%s", rep.Plan)
		}
	}
	return rep, err
}

// verify checks the three things every scenario ends with: the right new
// master, every replica running from it, identical data and no acknowledged
// write lost.
func (s *scenario) verify(newMaster string, skip ...string) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if s.w != nil {
		// Give the writer time to find the new master and commit there.
		if err := s.w.WaitAcked(ctx, s.w.Acked()+20); err != nil {
			s.t.Fatalf("writer did not resume on the new master: %v", err)
		}
	}
	var reps []sandbox.WriterReport
	if s.w != nil {
		for _, w := range append([]*sandbox.Writer{s.w}, s.more...) {
			reps = append(reps, w.Stop()) // VerifyReplicas needs a quiet master
		}
	}
	got, err := s.c.CurrentMaster(ctx)
	if err != nil {
		s.t.Fatalf("current master: %v", err)
	}
	if h, _ := s.c.Host(newMaster); got != h.Name && got != h.Addr {
		s.t.Fatalf("new master is %s, want %s", got, newMaster)
	}
	if err := s.c.VerifyReplicas(ctx, newMaster, skip...); err != nil {
		s.t.Fatalf("replicas: %v", err)
	}
	if s.w == nil {
		return
	}
	for i, rep := range reps {
		acked, tail := rep.Acked, 0
		if s.lostTail != "" {
			acked, tail = s.withoutLostTail(ctx, rep, newMaster, s.received[append([]*sandbox.Writer{s.w}, s.more...)[i]])
		}
		for _, h := range s.c.Hosts {
			if contains(skip, h.Name) {
				continue
			}
			if err := s.c.VerifyAcked(ctx, h.Name, rep.Table, acked); err != nil {
				s.t.Fatalf("acknowledged writes lost on %s: %v", h.Name, err)
			}
		}
		s.t.Logf("writer %s: %d acked, write downtime %s; %d acknowledged last by the vanished master reached no replica",
			rep.Table, len(rep.Acked), rep.Downtime, tail)
	}
}

// withoutLostTail drops from the acknowledged writes those that the
// vanished master acknowledged after the first safe ones (received by a
// replica for sure) and after the last one the new master holds: they
// never left its host. Anything else missing is a real loss and stays.
func (s *scenario) withoutLostTail(ctx context.Context, rep sandbox.WriterReport, newMaster string, safe int) ([]int64, int) {
	s.t.Helper()
	db, err := s.c.DB(ctx, newMaster)
	if err != nil {
		s.t.Fatal(err)
	}
	defer db.Close()
	var onOld []sandbox.Ack
	for i, a := range rep.Acks {
		if a.Host == s.lostTail && i >= safe {
			onOld = append(onOld, a)
		}
	}
	last := -1
	for i, a := range onOld {
		var n int
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+rep.Table+" WHERE id = ?", a.ID).Scan(&n); err != nil {
			s.t.Fatal(err)
		}
		if n > 0 {
			last = i
		}
	}
	lost := map[int64]bool{}
	for _, a := range onOld[last+1:] {
		lost[a.ID] = true
	}
	var keep []int64
	for _, id := range rep.Acked {
		if !lost[id] {
			keep = append(keep, id)
		}
	}
	return keep, len(lost)
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

var _ = fmt.Sprint
