package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gomha/gomha/coord"
	"github.com/gomha/gomha/internal/testkit"
	"github.com/gomha/gomha/manager"
	"github.com/gomha/gomha/manager/config"
)

// fleet is the engine of the many-cluster CLI tests: its RunManager acts
// as a manager that watches a healthy master (the presence lock, PING_OK
// in the status file) until it is stopped, and records the configuration
// of every run. It is safe for the supervisor's units.
type fleet struct {
	*recorder
	mu   sync.Mutex
	runs map[string]int
	cfgs map[string]*config.Config
}

func newFleet() *fleet {
	return &fleet{recorder: &recorder{}, runs: map[string]int{}, cfgs: map[string]*config.Config{}}
}

func (f *fleet) RunManager(ctx context.Context, cfg *config.Config, opts manager.ManagerOptions) error {
	f.mu.Lock()
	f.runs[cfg.App]++
	f.cfgs[cfg.App] = cfg
	f.mu.Unlock()
	p, err := coord.ClaimManager(cfg.ManagerWorkdir, cfg.App)
	if err != nil {
		return err
	}
	defer p.Release()
	status := manager.NewStatusFile(cfg.ManagerWorkdir, cfg.App)
	opts.Console.Infof("watching %s", cfg.App)
	for {
		_ = status.Set(manager.StatusPingOK, cfg.Servers[0].Hostname)
		select {
		case <-ctx.Done():
			_ = status.Remove()
			return nil
		case <-time.After(time.Second):
		}
	}
}

func (f *fleet) count(app string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.runs[app]
}

func (f *fleet) config(app string) *config.Config {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cfgs[app]
}

// clusterConf writes dir/app.cnf: two servers on 127.0.1.<octet>.. (never
// contacted), manager_workdir dir/work (shared: the status files are per
// app), no user (the global file gives it).
func clusterConf(t *testing.T, dir, app string, octet int) string {
	t.Helper()
	p := filepath.Join(dir, app+".cnf")
	body := fmt.Sprintf("[server default]\nmanager_workdir=%s\n\n[server1]\nhostname=127.0.1.%d\n\n[server2]\nhostname=127.0.1.%d\n",
		filepath.Join(dir, "work"), octet, octet+1)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestManagerConfDir: gomha manager --conf-dir watches every cluster of
// the directory with its global file, reports a broken file in one line,
// stops one cluster on gomha stop, reads the directory again on SIGHUP,
// and stops cleanly.
func TestManagerConfDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "masterha_default.cnf"), []byte("[server default]\nuser=fromglobal\npassword=x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a, b := clusterConf(t, dir, "a", 11), clusterConf(t, dir, "b", 21)
	c := filepath.Join(dir, "c.cnf")
	if err := os.WriteFile(c, []byte("[server default]\n[server1]\nhostname=127.0.1.31\nport=33o6\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f := newFleet()
	hup := make(chan os.Signal, 1)
	env := cliEnv{eng: f, hangups: func() (<-chan os.Signal, func()) { return hup, func() {} }}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out testkit.Buffer
	done := make(chan int, 1)
	go func() { done <- runWith(ctx, []string{"gomha", "manager", "--conf-dir", dir}, &out, &out, env) }()

	status := func(conf string) (int, string) {
		res := gomhaWith(t, env, "check", "status", "--conf", conf, "--global-conf", filepath.Join(dir, "masterha_default.cnf"))
		return res.code, res.stdout
	}
	waitFor(t, "a and b watched", func() bool {
		ca, _ := status(a)
		cb, _ := status(b)
		return ca == 0 && cb == 0
	})
	if u := f.config("a").Servers[0].User; u != "fromglobal" {
		t.Errorf("a's user is %q: the directory's masterha_default.cnf was not applied", u)
	}
	if f.count("masterha_default") != 0 || f.count("c") != 0 {
		t.Errorf("the global file or the broken one was run as a cluster")
	}
	waitFor(t, "the broken file's line", func() bool { return strings.Contains(out.String(), "33o6") })
	if line := lineWith(out.String(), "33o6"); line != "gomha: "+c+`: [server1] port: "33o6" is not a number; not started` {
		t.Errorf("broken file: %q", line)
	}
	if !strings.Contains(out.String(), "[a] ") || !strings.Contains(out.String(), "[info] watching a") {
		t.Errorf("a's console lines are not in the shared output, prefixed:\n%s", out.String())
	}

	// gomha stop --conf a.cnf stops a alone.
	res := gomhaWith(t, env, "stop", "--conf", a, "--global-conf", filepath.Join(dir, "masterha_default.cnf"))
	if res.code != 0 || !strings.HasPrefix(res.stdout, "Stopped a successfully. Its manager (pid ") {
		t.Fatalf("stop a: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	if code, msg := status(a); code != 2 {
		t.Errorf("a after its stop: %d %s", code, msg)
	}
	if code, msg := status(b); code != 0 {
		t.Fatalf("b after a's stop: %d %s", code, msg)
	}

	// SIGHUP: c fixed starts; a, stopped, starts again; b is not touched.
	clusterConf(t, dir, "c", 31)
	hup <- nil
	waitFor(t, "a and c watched after SIGHUP", func() bool {
		ca, _ := status(a)
		cc, _ := status(c)
		return ca == 0 && cc == 0
	})
	if f.count("b") != 1 || f.count("a") != 2 {
		t.Errorf("runs after SIGHUP: a %d (want 2), b %d (want 1)", f.count("a"), f.count("b"))
	}
	// SIGHUP: b removed stops.
	if err := os.Remove(b); err != nil {
		t.Fatal(err)
	}
	hup <- nil
	waitFor(t, "b stopped", func() bool {
		_, err := os.Stat(manager.StatusFilePath(filepath.Join(dir, "work"), "b"))
		return os.IsNotExist(err)
	})

	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("gomha manager --conf-dir after SIGTERM: exit %d\n%s", code, out.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("gomha manager --conf-dir did not stop")
	}
	for _, app := range []string{"a", "c"} {
		if _, err := os.Stat(manager.StatusFilePath(filepath.Join(dir, "work"), app)); !os.IsNotExist(err) {
			t.Errorf("%s's status file is left after a clean stop: %v", app, err)
		}
	}
}

// Options that name one cluster are refused with several, in one line.
func TestManagerManyRefusesOneClusterOptions(t *testing.T) {
	dir := t.TempDir()
	a, b := clusterConf(t, dir, "a", 11), clusterConf(t, dir, "b", 21)
	for _, tc := range []struct {
		why  string
		args []string
		want string
	}{
		{"--log-output is one cluster's file", []string{"--conf", a, "--conf", b, "--log-output", filepath.Join(dir, "x.log")}, "--log-output names one file"},
		{"--new-master-host is one cluster's server", []string{"--conf-dir", dir, "--new-master-host", "127.0.1.12"}, "--new-master-host names a server of one cluster"},
		{"no configuration at all", nil, `required flag(s) "conf" not set`},
		{"a directory that cannot be read", []string{"--conf-dir", filepath.Join(dir, "none")}, "--conf-dir: open " + filepath.Join(dir, "none")},
	} {
		t.Run(tc.why, func(t *testing.T) {
			res := gomhaWith(t, cliEnv{eng: newFleet()}, append([]string{"manager"}, tc.args...)...)
			if res.code != 1 || !strings.Contains(res.stderr, tc.want) || strings.Count(strings.TrimSpace(res.stderr), "\n") != 0 {
				t.Errorf("exit %d, stderr:\n%s", res.code, res.stderr)
			}
		})
	}
}

func lineWith(s, sub string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			return l
		}
	}
	return ""
}

// TestManagerOneConfSIGHUP: gomha manager with one --conf has nothing to
// reload: a SIGHUP (systemctl reload, a terminal closing) is one warning
// in its log and the manager goes on watching; it stops cleanly after.
func TestManagerOneConfSIGHUP(t *testing.T) {
	dir := t.TempDir()
	a := clusterConf(t, dir, "a", 41)
	f := newFleet()
	hup := make(chan os.Signal, 1)
	stopped := make(chan struct{})
	env := cliEnv{eng: f, hangups: func() (<-chan os.Signal, func()) { return hup, func() { close(stopped) } }}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out testkit.Buffer
	done := make(chan int, 1)
	go func() { done <- runWith(ctx, []string{"gomha", "manager", "--conf", a}, &out, &out, env) }()
	waitFor(t, "a watched", func() bool { return gomhaWith(t, env, "check", "status", "--conf", a).code == 0 })
	hup <- syscall.SIGHUP
	waitFor(t, "the SIGHUP warning", func() bool { return strings.Contains(out.String(), "SIGHUP: one --conf has nothing to reload") })
	if res := gomhaWith(t, env, "check", "status", "--conf", a); res.code != 0 || f.count("a") != 1 {
		t.Errorf("after SIGHUP: check status exit %d, %d runs; want still watched, once\n%s", res.code, f.count("a"), res.stdout)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, out.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("gomha manager did not stop")
	}
	select {
	case <-stopped:
	default:
		t.Errorf("the SIGHUP subscription was not stopped when the manager returned")
	}
}
