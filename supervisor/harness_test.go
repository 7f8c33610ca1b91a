package supervisor

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gomha/gomha/coord"
	"github.com/gomha/gomha/internal/testkit"
	"github.com/gomha/gomha/manager"
	"github.com/gomha/gomha/manager/config"
)

// fakes stands in for manager.RunManager: it records every run, holds the
// presence lock and the status file as RunManager does, and returns what
// the test scripts for each app (nil: run until cancelled).
type fakes struct {
	t  *testing.T
	mu sync.Mutex
	// runs counts the runs per app; cfgs is the configuration of the last.
	runs map[string]int
	cfgs map[string]*config.Config
	// script gives the outcome of an app's run n (1-based): an error
	// returned at once, or nil to run until the context ends.
	script func(app string, n int, opts manager.ManagerOptions) error
}

func newFakes(t *testing.T) *fakes {
	return &fakes{t: t, runs: map[string]int{}, cfgs: map[string]*config.Config{}}
}

func (f *fakes) run(ctx context.Context, cfg *config.Config, opts manager.ManagerOptions) error {
	f.mu.Lock()
	f.runs[cfg.App]++
	n := f.runs[cfg.App]
	f.cfgs[cfg.App] = cfg
	script := f.script
	f.mu.Unlock()
	p, err := coord.ClaimManager(cfg.ManagerWorkdir, cfg.App)
	if err != nil {
		return fmt.Errorf("%w: %v", manager.ErrAlreadyRunning, err)
	}
	defer p.Release()
	status := manager.NewStatusFile(cfg.ManagerWorkdir, cfg.App)
	opts.Console.Infof("fake manager of %s, run %d", cfg.App, n)
	opts.Logger.Info("fake manager log line")
	if script != nil {
		if err := script(cfg.App, n, opts); err != nil {
			_ = status.Set(manager.StatusConfigError, "")
			return err
		}
	}
	_ = status.Set(manager.StatusPingOK, "127.0.1.1")
	<-ctx.Done()
	_ = status.Remove()
	return nil
}

func (f *fakes) count(app string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.runs[app]
}

func (f *fakes) config(app string) *config.Config {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cfgs[app]
}

// writeConf writes dir/app.cnf for servers on 127.0.1.<octet>..+1 (never
// contacted), with manager_workdir dir/app and extra [server default]
// lines.
func writeConf(t *testing.T, dir, app string, octet int, extra string) string {
	t.Helper()
	path := filepath.Join(dir, app+".cnf")
	body := fmt.Sprintf("[server default]\nuser=root\npassword=secret\nmanager_workdir=%s\n%s\n[server1]\nhostname=127.0.1.%d\n\n[server2]\nhostname=127.0.1.%d\n",
		filepath.Join(dir, app), extra, octet, octet+1)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// harness is a supervisor with fake managers, stopped at cleanup.
type harness struct {
	t        *testing.T
	s        *Supervisor
	f        *fakes
	out, err *testkit.Buffer
	cancel   context.CancelFunc
}

func newHarness(t *testing.T, f *fakes, gate Gate) *harness {
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{t: t, f: f, out: &testkit.Buffer{}, err: &testkit.Buffer{}, cancel: cancel}
	h.s = New(ctx, Options{Run: f.run, Gate: gate, Out: h.out, Err: h.err,
		Retry: 50 * time.Millisecond, StopPoll: 20 * time.Millisecond,
		Load: func(ctx context.Context, file string) (*config.Config, error) {
			return config.Load(ctx, file, config.Options{NoGlobal: true})
		}})
	t.Cleanup(func() {
		cancel()
		h.s.Wait()
	})
	return h
}

func (h *harness) waitFor(what string, ok func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s\nstderr:\n%s\nstdout:\n%s", what, h.err, h.out)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (h *harness) status(app string) manager.StatusInfo {
	cfg := h.f.config(app)
	if cfg == nil { // not run yet
		return manager.StatusInfo{Code: -1}
	}
	st, err := manager.ReadStatus(cfg.ManagerWorkdir, cfg.App, 0)
	if err != nil {
		h.t.Fatal(err)
	}
	return st
}

func (h *harness) state(app string) State {
	for _, u := range h.s.Units() {
		if u.App == app {
			return u.State
		}
	}
	return ""
}
