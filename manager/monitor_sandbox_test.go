package manager

import (
	"context"
	"github.com/gomha/gomha/coord"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/manager/hook"
	"github.com/gomha/gomha/sandbox"
	"github.com/gomha/gomha/sandbox/sandboxtest"
)

// monitorEnv is one sandbox cluster (127.0.0.101-103) shared by the monitor
// scenarios, which leave the master healthy for the next one.
type monitorEnv struct {
	t   *testing.T
	c   *sandbox.Cluster
	cfg *config.Config
}

func newMonitorEnv(t *testing.T) *monitorEnv {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	c := sandboxtest.Up(t, sandbox.Options{Hosts: 3, BaseOctet: 100,
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))})
	cfg, err := config.Load(ctx, c.ConfPath, config.Options{NoGlobal: true})
	if err != nil {
		t.Fatalf("load %s: %v", c.ConfPath, err)
	}
	return &monitorEnv{t: t, c: c, cfg: cfg}
}

// options returns monitor options for the sandbox; the master's
// ssh_connection_timeout is lowered to keep isolation scenarios short.
func (e *monitorEnv) options(t *testing.T, logs io.Writer) MonitorOptions {
	master := e.cfg.Servers[0]
	master.SSHConnectionTimeout = 2
	replicas := make([]config.Server, 0, len(e.cfg.Servers)-1)
	for _, s := range e.cfg.Servers[1:] {
		s.SSHConnectionTimeout = 2
		replicas = append(replicas, s)
	}
	// The monitor runs inside a manager, which holds the presence lock
	// that makes its status file believed.
	dir := t.TempDir()
	presence, err := coord.ClaimManager(dir, "app1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { presence.Release() })
	return MonitorOptions{
		Config: e.cfg, Master: master, Replicas: replicas,
		Status: NewStatusFile(dir, "app1"),
		Hooks:  hook.Runner{Timeout: 20 * time.Second},
		Logger: slog.New(slog.NewTextHandler(io.MultiWriter(t.Output(), logs), nil)),
	}
}

type runResult struct {
	v   Verdict
	err error
}

// start runs a monitor and waits until it reports PING_OK.
func (e *monitorEnv) start(ctx context.Context, t *testing.T, opts MonitorOptions) <-chan runResult {
	t.Helper()
	res := make(chan runResult, 1)
	m := NewMonitor(opts)
	go func() {
		v, err := m.Run(ctx)
		res <- runResult{v, err}
	}()
	if !waitStatus(ctx, opts.Status, StatusPingOK, 10*time.Second) {
		t.Fatalf("monitor did not reach PING_OK")
	}
	return res
}

// restore brings the master back healthy and its replicas connected to it.
func (e *monitorEnv) restore(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := e.c.Heal(ctx, "host1"); err != nil {
		t.Fatalf("heal: %v", err)
	}
	if err := e.c.StopMysqld(ctx, "host1"); err != nil { // drops every session, and any lock they hold
		t.Fatalf("stop master: %v", err)
	}
	if err := e.c.StartHost(ctx, "host1"); err != nil {
		t.Fatalf("start master: %v", err)
	}
	for _, h := range []string{"host2", "host3"} {
		if err := e.c.Exec(ctx, h, "STOP SLAVE", "START SLAVE"); err != nil {
			t.Fatalf("restart replication: %v", err)
		}
	}
	if !pollUntil(ctx, 20*time.Second, func() bool { return e.replicasRunning(ctx) }) {
		t.Fatalf("replicas did not reconnect to the restored master")
	}
}

func (e *monitorEnv) replicasRunning(ctx context.Context) bool {
	for _, h := range []string{"host2", "host3"} {
		db, err := e.c.DB(ctx, h)
		if err != nil {
			return false
		}
		rows, err := db.QueryContext(ctx, "SHOW SLAVE STATUS")
		ok := false
		if err == nil && rows.Next() {
			cols, _ := rows.Columns()
			vals := make([]any, len(cols))
			strs := make([][]byte, len(cols))
			for i := range vals {
				vals[i] = &strs[i]
			}
			if rows.Scan(vals...) == nil {
				for i, c := range cols {
					if c == "Slave_IO_Running" {
						ok = string(strs[i]) == "Yes"
					}
				}
			}
			rows.Close()
		}
		db.Close()
		if !ok {
			return false
		}
	}
	return true
}

func waitStatus(ctx context.Context, sf *StatusFile, code StatusCode, d time.Duration) bool {
	dir, app := filepath.Dir(sf.Path()), strings.TrimSuffix(filepath.Base(sf.Path()), ".master_status.health")
	return pollUntil(ctx, d, func() bool {
		info, err := ReadStatus(dir, app, time.Minute)
		return err == nil && info.Code == code
	})
}

func pollUntil(ctx context.Context, d time.Duration, f func() bool) bool {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	for {
		if f() {
			return true
		}
		if !sleepCtx(ctx, 50*time.Millisecond) {
			return false
		}
	}
}

// waitVerdict waits for the monitor's result.
func waitVerdict(t *testing.T, res <-chan runResult, d time.Duration) Verdict {
	t.Helper()
	select {
	case r := <-res:
		if r.err != nil {
			t.Fatalf("Run: %v", r.err)
		}
		return r.v
	case <-time.After(d):
		t.Fatalf("no verdict within %v", d)
	}
	return Verdict{}
}

func TestMonitorSandbox(t *testing.T) {
	e := newMonitorEnv(t)
	t.Run("LockHeld", e.testLockHeld)
	t.Run("PingTypes", e.testPingTypes)
	t.Run("MysqldKilled", e.testMysqldKilled)
	t.Run("HostKilled", e.testHostKilled)
	t.Run("SecondaryCheck", e.testSecondaryCheck)
	t.Run("IsolatedFromManager", e.testIsolatedFromManager)
	t.Run("IsolatedFromEveryone", e.testIsolatedFromEveryone)
}
