package manager_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gomha/gomha/failover"
	"github.com/gomha/gomha/manager"
	"github.com/gomha/gomha/manager/config"
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
	// writers: the writes it acknowledged last may have reached no replica
	// (asynchronous replication) and are then lost on every survivor.
	lostTail string
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
	w, err := sandbox.StartWriter(context.Background(), s.c, sandbox.WriterOptions{})
	if err != nil {
		s.t.Fatalf("writer: %v", err)
	}
	s.w = w
	if err := w.WaitAcked(ctx, n); err != nil {
		s.t.Fatalf("writer made no progress: %v", err)
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
	for _, rep := range reps {
		acked, tail := rep.Acked, 0
		if s.lostTail != "" {
			acked, tail = s.withoutLostTail(ctx, rep, newMaster)
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
// vanished master acknowledged after the last one the new master holds:
// they never left its host. Anything missing before that is a real loss
// and stays in the list.
func (s *scenario) withoutLostTail(ctx context.Context, rep sandbox.WriterReport, newMaster string) ([]int64, int) {
	s.t.Helper()
	db, err := s.c.DB(ctx, newMaster)
	if err != nil {
		s.t.Fatal(err)
	}
	defer db.Close()
	var onOld []sandbox.Ack
	for _, a := range rep.Acks {
		if a.Host == s.lostTail {
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
