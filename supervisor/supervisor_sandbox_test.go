package supervisor

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomha/gomha/failover"
	"github.com/gomha/gomha/internal/testkit"
	"github.com/gomha/gomha/manager"
	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/sandbox"
	"github.com/gomha/gomha/sandbox/sandboxtest"
)

// cluster is one sandbox the supervisor under test watches, from
// dir/<app>.cnf. Its hosts are on 127.0.1.x: other packages' tests use
// 127.0.0.x and 127.0.2-4.x.
type cluster struct {
	t    *testing.T
	app  string
	c    *sandbox.Cluster
	file string
	body string // the file as last written
	w    *sandbox.Writer
}

func upWatched(t *testing.T, dir, app string, base int, edit func(string) string) *cluster {
	t.Helper()
	c := sandboxtest.Up(t, sandbox.Options{Hosts: 3, GTID: true, Subnet: "127.0.1", BaseOctet: base})
	data, err := os.ReadFile(c.ConfPath)
	if err != nil {
		t.Fatal(err)
	}
	cl := &cluster{t: t, app: app, c: c, file: filepath.Join(dir, app+".cnf")}
	cl.write(edit(string(data)))
	return cl
}

func (cl *cluster) write(body string) {
	cl.t.Helper()
	if err := os.WriteFile(cl.file, []byte(body), 0o600); err != nil {
		cl.t.Fatal(err)
	}
	cl.body = body
}

func (cl *cluster) workdir() string { return filepath.Join(cl.c.Dir, "manager") }

func (cl *cluster) addr(host string) string {
	h, err := cl.c.Host(host)
	if err != nil {
		cl.t.Fatal(err)
	}
	return h.Addr
}

func (cl *cluster) status() manager.StatusInfo {
	st, err := manager.ReadStatus(cl.workdir(), cl.app, 0)
	if err != nil {
		cl.t.Fatal(err)
	}
	return st
}

// startWriter commits rows on the master until verify stops it.
func (cl *cluster) startWriter() {
	cl.t.Helper()
	w, err := sandbox.StartWriter(context.Background(), cl.c, sandbox.WriterOptions{})
	if err != nil {
		cl.t.Fatalf("%s: writer: %v", cl.app, err)
	}
	cl.t.Cleanup(func() { w.Stop() })
	cl.w = w
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.WaitAcked(ctx, 20); err != nil {
		cl.t.Fatalf("%s: writer made no progress: %v", cl.app, err)
	}
}

// verify checks the end of a failover: the writer resumed on newMaster,
// every survivor replicates from it with the same data, no acknowledged
// write is lost.
func (cl *cluster) verify(newMaster, dead string) {
	cl.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := cl.w.WaitAcked(ctx, cl.w.Acked()+20); err != nil {
		cl.t.Fatalf("%s: writer did not resume on the new master: %v", cl.app, err)
	}
	rep := cl.w.Stop()
	got, err := cl.c.CurrentMaster(ctx)
	if err != nil || got != cl.addr(newMaster) {
		cl.t.Fatalf("%s: current master %s (%v), want %s", cl.app, got, err, newMaster)
	}
	if err := cl.c.VerifyReplicas(ctx, newMaster, dead); err != nil {
		cl.t.Fatalf("%s: replicas: %v", cl.app, err)
	}
	for _, h := range cl.c.Hosts {
		if h.Name == dead {
			continue
		}
		if err := cl.c.VerifyAcked(ctx, h.Name, rep.Table, rep.Acked); err != nil {
			cl.t.Fatalf("%s: acknowledged writes lost on %s: %v", cl.app, h.Name, err)
		}
	}
	cl.t.Logf("%s: %d writes acknowledged, none lost; write downtime %s", cl.app, len(rep.Acked), rep.Downtime.Round(time.Millisecond))
}

// counter counts the manager runs per app.
type counter struct {
	mu   sync.Mutex
	runs map[string]int
}

func (c *counter) run(ctx context.Context, cfg *config.Config, opts manager.ManagerOptions) error {
	c.mu.Lock()
	c.runs[cfg.App]++
	c.mu.Unlock()
	return manager.RunManager(ctx, cfg, opts)
}

func (c *counter) of(app string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.runs[app]
}

func waitUntil(t *testing.T, what string, limit time.Duration, ok func() bool, logs func() string) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s\n%s", what, logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestTwoClustersSandbox runs two real 3-host clusters in one supervisor.
// Reload: a file added starts its cluster, a changed one restarts only
// its own, a broken one is one line and changes nothing, a removed one
// stops and its status file goes. Failover: cluster A's failover is made
// slow (its master_ip_failover_script sleeps 5 s on --command=stop*); B's
// master dies 1 s after A's: B is confirmed dead and failed over while
// A's failover still runs, both end with the right new master and no
// acknowledged write lost.
func TestTwoClustersSandbox(t *testing.T) {
	p := newPair(t)
	p.reloads()
	p.failovers()
	p.removal()
}

// pair is two clusters, appa and appb, in one supervisor.
type pair struct {
	t        *testing.T
	a, b     *cluster
	s        *Supervisor
	out, err *testkit.Buffer
	runs     *counter

	mu      sync.Mutex
	reports map[string]*failover.Report
}

func newPair(t *testing.T) *pair {
	dir := t.TempDir()
	slow := filepath.Join(dir, "slow_ip_failover.sh")
	if err := os.WriteFile(slow, []byte("#!/bin/sh\nfor a in \"$@\"; do case \"$a\" in --command=stop|--command=stopssh) sleep 5;; esac; done\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	p := &pair{t: t, out: &testkit.Buffer{}, err: &testkit.Buffer{}, runs: &counter{runs: map[string]int{}}, reports: map[string]*failover.Report{}}
	p.a = upWatched(t, dir, "appa", 10, func(conf string) string {
		return strings.Replace(conf, "[server default]\n", "[server default]\nmaster_ip_failover_script="+slow+"\n", 1)
	})
	// B has no manager_log: its lines go to the shared output, prefixed.
	p.b = upWatched(t, dir, "appb", 20, func(conf string) string {
		var keep []string
		for _, l := range strings.Split(conf, "\n") {
			if !strings.HasPrefix(l, "manager_log=") {
				keep = append(keep, l)
			}
		}
		return strings.Join(keep, "\n")
	})
	ctx, cancel := context.WithCancel(context.Background())
	p.s = New(ctx, Options{Run: p.runs.run, Out: p.out, Err: p.err, Retry: 2 * time.Second, StopPoll: 100 * time.Millisecond,
		Load: func(ctx context.Context, file string) (*config.Config, error) {
			return config.Load(ctx, file, config.Options{NoGlobal: true})
		},
		OnFailover: func(app string, rep *failover.Report, err error) {
			if err != nil {
				t.Errorf("%s: failover: %v", app, err)
			}
			p.mu.Lock()
			p.reports[app] = rep
			p.mu.Unlock()
		}})
	t.Cleanup(func() {
		cancel()
		p.s.Wait()
	})
	return p
}

func (p *pair) logs() string { return "stderr:\n" + p.err.String() + "\nstdout:\n" + p.out.String() }

func (p *pair) reload(files ...string) error {
	return p.s.Reload(files)
}

func (p *pair) waitFor(what string, ok func() bool) {
	p.t.Helper()
	waitUntil(p.t, what, 30*time.Second, ok, p.logs)
}

func pingOK(cl *cluster, master string) func() bool {
	return func() bool {
		st := cl.status()
		return st.Code == manager.StatusPingOK && st.Master == cl.addr(master)
	}
}

// reloads: one file, then a second; a change to the first restarts it
// alone; a broken second file, then the same file repaired, change nothing.
func (p *pair) reloads() {
	t, a, b := p.t, p.a, p.b
	if err := p.reload(a.file); err != nil {
		t.Fatal(err)
	}
	p.waitFor("appa watched", pingOK(a, "host1"))
	if err := p.reload(a.file, b.file); err != nil {
		t.Fatal(err)
	}
	p.waitFor("appb watched after it was added", pingOK(b, "host1"))

	a.write(a.body + "\n# changed by the test\n")
	if err := p.reload(a.file, b.file); err != nil {
		t.Fatal(err)
	}
	p.waitFor("appa restarted", func() bool { return p.runs.of("appa") == 2 && pingOK(a, "host1")() })
	if p.runs.of("appb") != 1 {
		t.Fatalf("appb ran %d times: a change to appa restarted it", p.runs.of("appb"))
	}

	good := b.body
	b.write(strings.Replace(good, "port=3306", "port=33o6", 1))
	err := p.reload(a.file, b.file)
	if line := lineOf(p.err.String(), "33o6"); err == nil || !strings.HasPrefix(line, "gomha: "+b.file+": [server1] port: ") ||
		!strings.HasSuffix(line, "; appb keeps running with its previous configuration") {
		t.Fatalf("broken file: %v; line %q", err, line)
	}
	b.write(good)
	if err := p.reload(a.file, b.file); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if p.runs.of("appb") != 1 || !pingOK(b, "host1")() {
		t.Fatalf("appb after a broken file and its repair: %d runs, %s", p.runs.of("appb"), b.status().Code)
	}
}

// failovers kills A's master, then B's 1 s later, under writes.
func (p *pair) failovers() {
	t, a, b := p.t, p.a, p.b
	a.startWriter()
	b.startWriter()
	killA := time.Now()
	if err := a.c.KillMysqld(context.Background(), "host1"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	killB := time.Now()
	if err := b.c.KillMysqld(context.Background(), "host1"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "both failovers", 90*time.Second, func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.reports["appa"] != nil && p.reports["appb"] != nil
	}, p.logs)
	ra, rb := p.reports["appa"], p.reports["appb"]
	want := map[*failover.Report]string{ra: a.addr("host2") + ":3306", rb: b.addr("host2") + ":3306"}
	for _, r := range []*failover.Report{ra, rb} {
		if !r.Succeeded || r.NewMaster != want[r] {
			t.Fatalf("%s: failover succeeded=%v to %s\n%s", r.App, r.Succeeded, r.NewMaster, r)
		}
	}
	took := func(r *failover.Report) time.Duration { return r.Finished.Sub(r.Started).Round(time.Millisecond) }
	detect := func(r *failover.Report, kill time.Time) time.Duration {
		return r.Detection.Confirmed.Sub(kill).Round(time.Millisecond)
	}
	t.Logf("appa: confirmed dead %s after the kill, failover %s (its stop hook sleeps 5 s)", detect(ra, killA), took(ra))
	t.Logf("appb: confirmed dead %s after the kill (%s after its first failed check), failover %s",
		detect(rb, killB), rb.Detection.Confirmed.Sub(rb.Detection.FirstFailure).Round(time.Millisecond), took(rb))
	if took(ra) < 5*time.Second {
		t.Fatalf("appa's failover took %s: its slow hook did not run, the test proves nothing\n%s", took(ra), ra)
	}
	// The behaviour: B was detected and failed over during A's failover,
	// not after it (serialised, B's detection would take 4 s or more).
	if !rb.Detection.Confirmed.Before(ra.Finished) || !rb.Finished.Before(ra.Finished) {
		t.Errorf("appb confirmed at %s and done at %s, appa's failover finished at %s: B waited for A",
			rb.Detection.Confirmed.Format("15:04:05.000"), rb.Finished.Format("15:04:05.000"), ra.Finished.Format("15:04:05.000"))
	}
	if d := detect(rb, killB); d > 3*time.Second {
		t.Errorf("appb's master was confirmed dead %s after the kill: not the detection of an idle manager", d)
	}
	a.verify("host2", "host1")
	b.verify("host2", "host1")
	p.waitFor("both watch their new master", func() bool { return pingOK(a, "host2")() && pingOK(b, "host2")() })
	if line := lineOf(p.out.String(), "Master failover to"); !strings.HasPrefix(line, "[appb] ") || strings.Contains(p.out.String(), "[appa] ") {
		t.Errorf("the shared output should hold appb's lines, prefixed, and none of appa's (it has a manager_log):\n%s", p.out)
	}
	if data, _ := os.ReadFile(filepath.Join(a.workdir(), "app1.log")); !strings.Contains(string(data), "Master failover to") {
		t.Errorf("appa's manager_log lacks its failover:\n%s", data)
	}
}

// removal: a file no longer listed stops its cluster; its status file goes.
func (p *pair) removal() {
	t, a, b := p.t, p.a, p.b
	if err := p.reload(a.file); err != nil {
		t.Fatal(err)
	}
	p.waitFor("appb stopped", func() bool {
		_, err := os.Stat(manager.StatusFilePath(b.workdir(), "appb"))
		return os.IsNotExist(err) && b.status().Code == manager.StatusNotRunning
	})
	if !pingOK(a, "host2")() || p.runs.of("appa") != 2 {
		t.Errorf("appa was touched by appb's removal: %s, %d runs", a.status().Code, p.runs.of("appa"))
	}
}

func lineOf(s, sub string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			return l
		}
	}
	return ""
}
