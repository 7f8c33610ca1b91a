package haproxy

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/gomha/gomha/failover"
	"github.com/gomha/gomha/manager"
	"github.com/gomha/gomha/node"
	"github.com/gomha/gomha/sandbox"
	"github.com/gomha/gomha/sandbox/sandboxtest"
	"github.com/gomha/gomha/topology"
)

// This package's tests use 127.0.6.x only: the sandbox on 127.0.6.11-13,
// the manager's API on 127.0.6.1, HAProxy's frontends on 127.0.6.2.
const (
	testManager = "127.0.6.1:0"
	testWrite   = "127.0.6.2:3306"
	testRead    = "127.0.6.2:3307"
)

// needHAProxy skips without Debian's HAProxy, or fails when CI=true: CI
// must never pass by skipping (make test installs it).
func needHAProxy(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(Binary); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required (scripts/setup-debian.sh installs it): %v", Binary, err)
		}
		t.Skipf("%s not installed: %v", Binary, err)
	}
}

// TestHAProxyRoutingSandbox runs docs/haproxy.cfg in the real HAProxy in
// front of a real 3-host sandbox watched by a manager with its HTTP API,
// and a writer that connects through HAProxy only (reconnecting after
// every error, as an application's pool does). An online switchover
// (the manager stopped for the cluster, gomha switch, the manager
// started again), then a crash of the new master's mysqld: each time the
// writer ends on the new master through the proxy, no acknowledged write
// is missing on any surviving server, the old master took no write once
// the new one had taken one, and the read frontend leads to a replica
// of the new master. The write downtime seen through the proxy is logged.
func TestHAProxyRoutingSandbox(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a sandbox, a manager and HAProxy; skipped under -short")
	}
	needHAProxy(t)
	node.QuietDriverLogs()
	example, err := ReadExample("../../" + ExamplePath)
	if err != nil {
		t.Fatal(err)
	}
	c := sandboxtest.Up(t, sandbox.Options{Hosts: 3, GTID: true, Subnet: "127.0.6", BaseOctet: 10})
	reports := make(chan *failover.Report, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s, err := Up(ctx, StackOptions{Cluster: c, Example: example, Dir: t.TempDir(),
		ManagerListen: testManager, Write: testWrite, Read: testRead,
		OnFailover: func(rep *failover.Report, err error) {
			if err != nil {
				t.Errorf("failover: %v\n%s", err, rep)
			}
			reports <- rep
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Down(); err != nil {
			t.Errorf("stop HAProxy and the manager: %v", err)
		}
		if t.Failed() {
			t.Logf("HAProxy's log:\n%s\nthe manager's output:\n%s", s.Proxy.Log(), s.Manager.Output())
		}
	})
	r := &router{t: t, s: s}
	r.waitUp(ctx, "host1")
	r.waitRead(ctx, "host1")

	t.Run("switchover", func(t *testing.T) { r.t = t; r.switchover(ctx) })
	if t.Failed() {
		return
	}
	t.Run("failover", func(t *testing.T) { r.t = t; r.failover(ctx, reports) })
}

// switchover moves the master from host1 to host2 online, as an operator
// does with the manager running: gomha stop, gomha switch, SIGHUP.
func (r *router) switchover(ctx context.Context) {
	t, s := r.t, r.s
	w := r.startWriter(ctx)
	stopAt := time.Now()
	if err := s.Manager.StopCluster(ctx); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	rep, err := manager.RunSwitchover(ctx, s.Manager.Config, manager.SwitchOptions{NewMaster: r.topoKey("host2"), OrigIsNewSlave: true})
	if err != nil {
		t.Fatalf("switchover: %v\n%s", err, rep)
	}
	switched := time.Now()
	if err := s.Manager.Restart(); err != nil {
		t.Fatal(err)
	}
	routed, err := s.Manager.WaitRoute(ctx, "route", r.key("host2"), 200)
	if err != nil {
		t.Fatal(err)
	}
	wr := r.finish(ctx, w, "host1", "host2", []string{"host1", "host2", "host3"})
	// The writer's connection to the old master was cut by HAProxy when
	// the master went DOWN (on-marked-down shutdown-sessions): its log
	// line has the termination state D.
	if len(s.Proxy.LogLines(" app1_write/"+r.key("host1")+" ", " D- ")) == 0 {
		t.Errorf("no session to the old master cut by HAProxy (termination state D-):\n%s", s.Proxy.Log())
	}
	t.Logf("switchover through HAProxy: write downtime %s (the manager stopped in %s, gomha switch took %s, "+
		"the new master's route answered 200 %s after the restart)",
		wr.Downtime.Round(time.Millisecond), stopped.Sub(stopAt).Round(time.Millisecond),
		switched.Sub(stopped).Round(time.Millisecond), routed.Sub(switched).Round(time.Millisecond))
	r.waitRead(ctx, "host2")
}

// failover kills host2's mysqld (the master since the switchover); the
// manager fails over to host1 or host3.
func (r *router) failover(ctx context.Context, reports <-chan *failover.Report) {
	t, s := r.t, r.s
	w := r.startWriter(ctx)
	kill := time.Now()
	if err := s.Cluster.KillMysqld(ctx, "host2"); err != nil {
		t.Fatal(err)
	}
	var rep *failover.Report
	select {
	case rep = <-reports:
	case <-ctx.Done():
		t.Fatalf("no failover after the master's kill\n%s", s.Manager.Output())
	}
	newMaster := strings.TrimSuffix(rep.NewMaster, ":3306")
	routed, err := s.Manager.WaitRoute(ctx, "route", rep.NewMaster, 200)
	if err != nil {
		t.Fatal(err)
	}
	wr := r.finish(ctx, w, "host2", newMaster, []string{"host1", "host3"})
	t.Logf("failover through HAProxy: write downtime %s (failover to %s finished %s after the kill, its route answered 200 at %s)",
		wr.Downtime.Round(time.Millisecond), rep.NewMaster, rep.Finished.Sub(kill).Round(time.Millisecond),
		routed.Sub(kill).Round(time.Millisecond))
	if len(s.Proxy.LogLines("app1_write/"+r.key("host2"), "is DOWN")) == 0 {
		t.Errorf("HAProxy never marked the dead master DOWN:\n%s", s.Proxy.Log())
	}
	r.waitRead(ctx, newMaster)
}

// router holds what the phases of the test share.
type router struct {
	t *testing.T
	s *Stack
}

func (r *router) key(host string) string {
	k, err := r.s.Key(host)
	if err != nil {
		r.t.Fatal(err)
	}
	return k
}

func (r *router) topoKey(host string) topology.Key {
	k, err := topology.ParseKey(r.key(host))
	if err != nil {
		r.t.Fatal(err)
	}
	return k
}

func (r *router) addr(host string) string {
	h, err := r.s.Cluster.Host(host)
	if err != nil {
		r.t.Fatal(err)
	}
	return h.Addr
}

// waitUp waits until HAProxy routes writes to master (the writer's first
// connection needs it).
func (r *router) waitUp(ctx context.Context, master string) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := r.s.Manager.WaitRoute(ctx, "route", r.key(master), 200); err != nil {
		r.t.Fatal(err)
	}
	if err := waitFor(ctx, func() bool { return r.reached(ctx, r.s.Addrs.Write) == r.addr(master) }); err != nil {
		r.t.Fatalf("HAProxy's write frontend does not lead to %s: %v\n%s", master, err, r.s.Proxy.Log())
	}
}

// waitRead waits until the read frontend leads to a replica of master
// (any server but master), a few connections in a row.
func (r *router) waitRead(ctx context.Context, master string) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	m := r.addr(master)
	err := waitFor(ctx, func() bool {
		for range 4 {
			if h := r.reached(ctx, r.s.Addrs.Read); h == "" || h == m {
				return false
			}
		}
		return true
	})
	if err != nil {
		r.t.Fatalf("HAProxy's read frontend does not lead to replicas of %s: %v\n%s", master, err, r.s.Proxy.Log())
	}
}

// reached connects to addr (a frontend) and returns the address of the
// host it led to, "" when it led nowhere.
func (r *router) reached(ctx context.Context, addr string) string {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.Net, cfg.Addr = r.s.Cluster.User, r.s.Cluster.Password, "tcp", addr
	cfg.Timeout, cfg.ReadTimeout = time.Second, 2*time.Second
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		r.t.Fatal(err)
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	var id uint32
	if err := db.QueryRowContext(ctx, "SELECT @@global.server_id /* gomha test */").Scan(&id); err != nil {
		return ""
	}
	for _, h := range r.s.Cluster.Hosts {
		if h.ServerID == id {
			return h.Addr
		}
	}
	return ""
}

func (r *router) startWriter(ctx context.Context) *sandbox.Writer {
	r.t.Helper()
	w, err := sandbox.StartWriter(ctx, r.s.Cluster, sandbox.WriterOptions{Via: r.s.Addrs.Write})
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { w.Stop() })
	if err := w.WaitAcked(ctx, 50); err != nil {
		r.t.Fatal(err)
	}
	return w
}

// finish waits until the writer has committed on the new master through
// the proxy, stops it, and checks what it did: one move, from the old
// master to the new; nothing acknowledged by the old master once the new
// one had acknowledged a write; every acknowledged write on every
// survivor.
func (r *router) finish(ctx context.Context, w *sandbox.Writer, from, to string, survivors []string) sandbox.WriterReport {
	r.t.Helper()
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	old, nw := r.addr(from), r.addr(to)
	if err := waitFor(wctx, func() bool { return w.Acked() > 0 && w.LastAckHost() == nw }); err != nil {
		r.t.Fatalf("the writer did not reach %s through HAProxy: %v\n%s", to, err, r.s.Proxy.Log())
	}
	if err := w.WaitAcked(wctx, w.Acked()+20); err != nil {
		r.t.Fatal(err)
	}
	wr := w.Stop()
	if len(wr.Switches) != 1 || wr.Switches[0].From != old || wr.Switches[0].To != nw {
		r.t.Errorf("the writer's moves: %+v, want one from %s to %s", wr.Switches, old, nw)
	}
	first, _ := wr.FirstAck(nw)
	if n := wr.AckedOnAfter(old, first); n != 0 {
		r.t.Errorf("the old master %s acknowledged %d writes after the new one took its first", from, n)
	}
	if err := r.s.Cluster.VerifyReplicas(wctx, to); err != nil {
		r.t.Error(err)
	}
	for _, h := range survivors {
		if err := r.s.Cluster.VerifyAcked(wctx, h, wr.Table, wr.Acked); err != nil {
			r.t.Error(err)
		}
	}
	r.t.Logf("writer through HAProxy: %d acknowledged (%v), %d unknown, %d errors, last: %s",
		len(wr.Acked), wr.ByHost, len(wr.Unknown), wr.Errors, wr.LastError)
	return wr
}

// waitFor polls cond every 20 ms until it holds or ctx ends.
func waitFor(ctx context.Context, cond func() bool) error {
	for !cond() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("condition not met: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}
