package supervisor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomha/gomha/manager"
	"github.com/gomha/gomha/manager/config"
)

// TestReload: a file added starts a unit, a changed one
// restarts only its own, an unchanged one is not touched, a broken one
// is one line and keeps the running unit, a removed one stops its unit
// and its status file goes.
func TestReload(t *testing.T) {
	dir := t.TempDir()
	f := newFakes(t)
	h := newHarness(t, f, nil)
	a := writeConf(t, dir, "a", 11, "")
	if err := h.s.Reload([]string{a}); err != nil {
		t.Fatal(err)
	}
	h.waitFor("a runs", func() bool { return f.count("a") == 1 && h.status("a").Code == manager.StatusPingOK })
	b := writeConf(t, dir, "b", 21, "")
	if err := h.s.Reload([]string{a, b}); err != nil {
		t.Fatal(err)
	}
	h.waitFor("b runs", func() bool { return f.count("b") == 1 && h.status("b").Code == manager.StatusPingOK })
	if !Supervised(f.config("b").ManagerWorkdir, "b", os.Getpid()) {
		t.Errorf("b's workdir does not say that b runs in a supervisor")
	}

	writeConf(t, dir, "a", 11, "ping_interval=2")
	if err := h.s.Reload([]string{a, b}); err != nil {
		t.Fatal(err)
	}
	h.waitFor("a restarted with its new configuration", func() bool {
		return f.count("a") == 2 && f.config("a").Servers[0].PingInterval == 2 && h.status("a").Code == manager.StatusPingOK
	})
	if f.count("b") != 1 {
		t.Errorf("b was restarted (%d runs) when only a changed", f.count("b"))
	}
	for _, u := range h.s.Units() { // what httpapi serves: the configuration each unit runs
		if u.App == "a" && (u.Config == nil || u.Config.Servers[0].PingInterval != 2) {
			t.Errorf("Units() gives a's old configuration after its restart: %+v", u.Config)
		}
	}

	if err := os.WriteFile(b, []byte("[server default]\nuser=root\n[server1]\nport=33o6\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := h.s.Reload([]string{a, b})
	var line string
	for _, l := range strings.Split(h.err.String(), "\n") {
		if strings.Contains(l, "33o6") {
			line = l
		}
	}
	if err == nil || !strings.HasPrefix(line, "gomha: "+b+": ") || !strings.HasSuffix(line, "; b keeps running with its previous configuration") {
		t.Fatalf("broken file: %v; want one line naming the file and saying b keeps running, got:\n%s", err, h.err)
	}
	time.Sleep(100 * time.Millisecond) // more than a stop poll: nothing may happen
	if f.count("b") != 1 || h.status("b").Code != manager.StatusPingOK || f.count("a") != 2 {
		t.Fatalf("a broken file touched the units: runs a=%d b=%d, b %s", f.count("a"), f.count("b"), h.status("b").Code)
	}

	if err := h.s.Reload([]string{a}); err != nil {
		t.Fatal(err)
	}
	h.waitFor("b stopped, its status file gone", func() bool {
		_, err := os.Stat(manager.StatusFilePath(f.config("b").ManagerWorkdir, "b"))
		return os.IsNotExist(err) && len(h.s.Units()) == 1
	})
	if Supervised(f.config("b").ManagerWorkdir, "b", os.Getpid()) {
		t.Errorf("b's .supervised file is still there")
	}
	if !strings.Contains(h.err.String(), "gomha: b: "+b+" is no longer listed: stopped") {
		t.Errorf("no line about b's stop:\n%s", h.err)
	}
	if f.count("a") != 2 || h.status("a").Code != manager.StatusPingOK {
		t.Errorf("a was touched by b's removal")
	}
}

// TestUnitRetriesAfterStartupError: a manager that fails to
// start does not stop the supervisor: one line, the status file says
// CONFIG_ERROR (the unit holds the presence while it waits), and the unit
// starts again after the backoff.
func TestUnitRetriesAfterStartupError(t *testing.T) {
	dir := t.TempDir()
	f := newFakes(t)
	release := make(chan struct{})
	f.script = func(app string, n int, _ manager.ManagerOptions) error {
		if app == "a" && n == 1 {
			return fmt.Errorf("%w: 127.0.1.12:3306: connection refused", manager.ErrStartupCheck)
		}
		if app == "a" && n == 2 {
			<-release // the test reads the status file of the first failure meanwhile
		}
		return nil
	}
	h := newHarness(t, f, nil)
	h.s.opts.Retry = 200 * time.Millisecond
	a, b := writeConf(t, dir, "a", 11, ""), writeConf(t, dir, "b", 21, "")
	if err := h.s.Reload([]string{a, b}); err != nil {
		t.Fatal(err)
	}
	h.waitFor("a to wait for its retry", func() bool { return h.state("a") == StateRetrying })
	if st := h.status("a"); st.Code != manager.StatusConfigError || st.PID != os.Getpid() {
		t.Errorf("while a waits, check status says %s (pid %d), want CONFIG_ERROR", st.Code, st.PID)
	}
	h.waitFor("b runs", func() bool { return h.status("b").Code == manager.StatusPingOK })
	want := "gomha: a: start-up checks failed: 127.0.1.12:3306: connection refused; retrying in 200ms\n"
	if !strings.Contains(h.err.String(), want) {
		t.Errorf("want the line %q, got:\n%s", want, h.err)
	}
	h.waitFor("a's second run", func() bool { return f.count("a") == 2 })
	close(release)
	h.waitFor("a runs", func() bool { return h.status("a").Code == manager.StatusPingOK })
}

// TestUnitWaitsForOperatorAfterFailoverError: a failover that
// failed is not retried: the unit says so in one line and waits for a
// reload; an interrupted one (a journal left) too.
func TestUnitWaitsForOperatorAfterFailoverError(t *testing.T) {
	for _, tc := range []struct {
		why string
		err error
	}{
		{"a failover that failed", errors.New("no candidate for the new master")},
		{"a failover refused by a journal", fmt.Errorf("%w: 3 steps done; finish it with gomha failover --resume", manager.ErrInterrupted)},
	} {
		t.Run(tc.why, func(t *testing.T) {
			dir := t.TempDir()
			f := newFakes(t)
			f.script = func(app string, n int, opts manager.ManagerOptions) error {
				if n == 1 {
					opts.OnFailover(nil, tc.err)
					return tc.err
				}
				return nil
			}
			h := newHarness(t, f, nil)
			a := writeConf(t, dir, "a", 11, "")
			if err := h.s.Reload([]string{a}); err != nil {
				t.Fatal(err)
			}
			h.waitFor("a to wait for an operator", func() bool { return h.state("a") == StateWaiting })
			time.Sleep(200 * time.Millisecond) // four retry periods
			if n := f.count("a"); n != 1 {
				t.Fatalf("the manager ran %d times after a failover error, want once", n)
			}
			if !strings.Contains(h.err.String(), "gomha: a: "+tc.err.Error()+"; waiting for an operator: fix the cluster, then SIGHUP (or change "+a+")\n") {
				t.Errorf("no line saying the unit waits:\n%s", h.err)
			}
			if err := h.s.Reload([]string{a}); err != nil {
				t.Fatal(err)
			}
			h.waitFor("a to run again after the reload", func() bool { return f.count("a") == 2 && h.status("a").Code == manager.StatusPingOK })
		})
	}
}

// TestStopRequestStopsOneUnit: gomha stop on one cluster stops
// that unit only; its status file goes and a reload starts it again.
func TestStopRequestStopsOneUnit(t *testing.T) {
	dir := t.TempDir()
	f := newFakes(t)
	h := newHarness(t, f, nil)
	a, b := writeConf(t, dir, "a", 11, ""), writeConf(t, dir, "b", 21, "")
	if err := h.s.Reload([]string{a, b}); err != nil {
		t.Fatal(err)
	}
	h.waitFor("both run", func() bool {
		return h.status("a").Code == manager.StatusPingOK && h.status("b").Code == manager.StatusPingOK
	})
	wa := f.config("a").ManagerWorkdir
	if !Supervised(wa, "a", h.status("a").PID) {
		t.Fatal("a's status pid is not marked as a supervisor's")
	}
	if err := RequestStop(wa, "a"); err != nil {
		t.Fatal(err)
	}
	h.waitFor("a stopped", func() bool { return h.status("a").Code == manager.StatusNotRunning && h.state("a") == StateStopped })
	if _, err := os.Stat(manager.StatusFilePath(wa, "a")); !os.IsNotExist(err) {
		t.Errorf("a's status file is still there: %v", err)
	}
	if _, err := os.Stat(StopRequestPath(wa, "a")); !os.IsNotExist(err) {
		t.Errorf("the stop request was not removed: %v", err)
	}
	if h.status("b").Code != manager.StatusPingOK || f.count("b") != 1 {
		t.Fatalf("b was touched by a's stop")
	}
	time.Sleep(100 * time.Millisecond)
	if f.count("a") != 1 {
		t.Fatalf("a started again by itself")
	}
	if err := h.s.Reload([]string{a, b}); err != nil {
		t.Fatal(err)
	}
	h.waitFor("a runs again after the reload", func() bool { return f.count("a") == 2 && h.status("a").Code == manager.StatusPingOK })
	if f.count("b") != 1 {
		t.Errorf("the reload restarted b")
	}
}

// flipGate grants leadership and takes it back when the test says.
type flipGate struct {
	mu       sync.Mutex
	leads    int
	releases int
	revoke   context.CancelFunc
}

func (g *flipGate) Lead(ctx context.Context, app string) (context.Context, func(), error) {
	lead, cancel := context.WithCancel(ctx)
	g.mu.Lock()
	defer g.mu.Unlock()
	g.leads++
	g.revoke = cancel
	return lead, func() {
		g.mu.Lock()
		g.releases++
		g.mu.Unlock()
		cancel()
	}, nil
}

func (g *flipGate) counts() (int, int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.leads, g.releases
}

// TestGateLeadershipLost: when the gate's context ends the
// manager stops, the unit releases and asks for the leadership again.
func TestGateLeadershipLost(t *testing.T) {
	dir := t.TempDir()
	f := newFakes(t)
	g := &flipGate{}
	h := newHarness(t, f, g)
	a := writeConf(t, dir, "a", 11, "")
	if err := h.s.Reload([]string{a}); err != nil {
		t.Fatal(err)
	}
	h.waitFor("a runs", func() bool { return h.status("a").Code == manager.StatusPingOK })
	g.mu.Lock()
	g.revoke()
	g.mu.Unlock()
	h.waitFor("a leads again", func() bool { l, _ := g.counts(); return l == 2 && f.count("a") == 2 })
	if l, r := g.counts(); r != 1 {
		t.Errorf("%d leads, %d releases; want one release per lead that ended", l, r)
	}
	if !strings.Contains(h.err.String(), "gomha: a: leadership lost; asking for it again\n") {
		t.Errorf("no line about the lost leadership:\n%s", h.err)
	}
	h.cancel()
	h.s.Wait()
	if l, r := g.counts(); l != r {
		t.Errorf("%d leads, %d releases after the stop", l, r)
	}
}

// TestUnitOutputs: a cluster without manager_log writes to the
// shared output, each line prefixed with its name; one with manager_log
// writes there, and the supervisor's lines about it too.
func TestUnitOutputs(t *testing.T) {
	dir := t.TempDir()
	f := newFakes(t)
	h := newHarness(t, f, nil)
	logB := filepath.Join(dir, "b.log")
	a, b := writeConf(t, dir, "a", 11, ""), writeConf(t, dir, "b", 21, "manager_log="+logB)
	if err := h.s.Reload([]string{a, b}); err != nil {
		t.Fatal(err)
	}
	h.waitFor("both run", func() bool {
		return h.status("a").Code == manager.StatusPingOK && h.status("b").Code == manager.StatusPingOK
	})
	out := h.out.String()
	if !strings.HasPrefix(out, "[a] ") || !strings.Contains(out, "[info] fake manager of a, run 1") || strings.Contains(out, "fake manager of b") {
		t.Errorf("shared output:\n%s", out)
	}
	if !strings.Contains(h.err.String(), `msg="fake manager log line" app=a`) {
		t.Errorf("a's log lines lack app=a:\n%s", h.err)
	}
	if err := RequestStop(f.config("b").ManagerWorkdir, "b"); err != nil {
		t.Fatal(err)
	}
	h.waitFor("b stopped", func() bool { return h.state("b") == StateStopped })
	data, _ := os.ReadFile(logB)
	for _, want := range []string{"[info] fake manager of b, run 1", `msg="fake manager log line" app=b`, "[info] stopped by a stop request"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("b's manager_log lacks %q:\n%s", want, data)
		}
	}
}

func TestPrefixWriter(t *testing.T) {
	var b bytes.Buffer
	w := newPrefixWriter(&lockedWriter{w: &b}, "app1")
	fmt.Fprint(w, "one\ntw")
	fmt.Fprint(w, "o\n\nthree")
	if got, want := b.String(), "[app1] one\n[app1] two\n[app1] \n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	w.Flush()
	if got, want := b.String(), "[app1] one\n[app1] two\n[app1] \n[app1] three\n"; got != want {
		t.Fatalf("after Flush: got %q, want %q", got, want)
	}
}

// TestGlobalFileChangeRestartsAll: the global file is part of every
// cluster's configuration: a change to it restarts them all.
func TestGlobalFileChangeRestartsAll(t *testing.T) {
	dir := t.TempDir()
	global := filepath.Join(dir, "masterha_default.cnf")
	if err := os.WriteFile(global, []byte("[server default]\nping_interval=3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f := newFakes(t)
	h := newHarness(t, f, nil)
	h.s.opts.Load = func(ctx context.Context, file string) (*config.Config, error) {
		return config.Load(ctx, file, config.Options{GlobalFile: global})
	}
	a, b := writeConf(t, dir, "a", 11, ""), writeConf(t, dir, "b", 21, "")
	if err := h.s.Reload([]string{a, b}); err != nil {
		t.Fatal(err)
	}
	h.waitFor("both run", func() bool { return f.count("a") == 1 && f.count("b") == 1 })
	if err := h.s.Reload([]string{a, b}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(global, []byte("[server default]\nping_interval=2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := h.s.Reload([]string{a, b}); err != nil {
		t.Fatal(err)
	}
	h.waitFor("both restarted with the new global value", func() bool {
		return f.count("a") == 2 && f.count("b") == 2 && f.config("a").Servers[0].PingInterval == 2
	})
}

// TestFailingOver names the clusters whose failover runs in this process
// (main's interrupts keep a second SIGTERM from ending it meanwhile).
func TestFailingOver(t *testing.T) {
	dir := t.TempDir()
	f := newFakes(t)
	finish := make(chan struct{})
	f.script = func(app string, _ int, _ manager.ManagerOptions) error {
		if app == "b" {
			cfg := f.config("b")
			_ = manager.NewStatusFile(cfg.ManagerWorkdir, "b").Set(manager.StatusFailoverRunning, "127.0.1.21")
			<-finish // as a failover, it ignores the context
		}
		return nil
	}
	h := newHarness(t, f, nil)
	t.Cleanup(func() { close(finish) }) // before the harness's (cleanups run last first)
	a, b := writeConf(t, dir, "a", 11, ""), writeConf(t, dir, "b", 21, "")
	if err := h.s.Reload([]string{a, b}); err != nil {
		t.Fatal(err)
	}
	h.waitFor("b failing over", func() bool { return len(h.s.FailingOver()) > 0 })
	if got := h.s.FailingOver(); len(got) != 1 || got[0] != "b" {
		t.Fatalf("FailingOver() = %v, want [b]", got)
	}
}

// slowGate refuses its first campaign with an error, then grants the
// leadership only once the test opens it.
type slowGate struct {
	mu    sync.Mutex
	calls int
	open  chan struct{}
}

func (g *slowGate) Lead(ctx context.Context, app string) (context.Context, func(), error) {
	g.mu.Lock()
	g.calls++
	first := g.calls == 1
	g.mu.Unlock()
	if first {
		return nil, nil, errors.New("etcd: no quorum")
	}
	select {
	case <-g.open:
		return ctx, func() {}, nil
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
}

// TestGateStandby: a campaign that fails is an error of the unit, retried;
// while the unit waits for the leadership, check status on this host
// says it stands by (not NOT_RUNNING); once it leads, its manager runs.
func TestGateStandby(t *testing.T) {
	dir := t.TempDir()
	f := newFakes(t)
	g := &slowGate{open: make(chan struct{})}
	h := newHarness(t, f, g)
	a := writeConf(t, dir, "a", 31, "")
	if err := h.s.Reload([]string{a}); err != nil {
		t.Fatal(err)
	}
	workdir := filepath.Join(dir, "a")
	h.waitFor("a stands by", func() bool {
		st, err := manager.ReadStatus(workdir, "a", 0)
		return err == nil && st.Standby && st.Code == manager.StatusPingOK && st.PID == os.Getpid()
	})
	if !strings.Contains(h.err.String(), "leadership of a: etcd: no quorum") {
		t.Errorf("the failed campaign is not reported:\n%s", h.err)
	}
	if f.count("a") != 0 {
		t.Fatalf("a's manager ran without the leadership")
	}
	// gomha stop --conf a.cnf on this host stops the standby alone.
	if !Supervised(workdir, "a", os.Getpid()) {
		t.Fatalf("a standing by is not marked supervised: gomha stop would signal the whole process")
	}
	if err := RequestStop(workdir, "a"); err != nil {
		t.Fatal(err)
	}
	h.waitFor("a stopped", func() bool {
		st, err := manager.ReadStatus(workdir, "a", 0)
		return h.state("a") == StateStopped && err == nil && st.Code == manager.StatusNotRunning
	})
	if err := h.s.Reload([]string{a}); err != nil {
		t.Fatal(err)
	}
	h.waitFor("a stands by again", func() bool {
		st, err := manager.ReadStatus(workdir, "a", 0)
		return err == nil && st.Standby
	})
	close(g.open)
	h.waitFor("a runs once it leads", func() bool {
		return f.count("a") == 1 && h.status("a").Code == manager.StatusPingOK && !h.status("a").Standby
	})
}
