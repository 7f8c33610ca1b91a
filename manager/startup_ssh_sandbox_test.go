package manager_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gomha/gomha/internal/testkit"
	"github.com/gomha/gomha/manager"
)

// TestStartupSSHSandbox: the manager's start-up SSH check, made on the
// connections the manager keeps (SFTP, no shell). A host whose sshd does
// not answer is a warning and the manager watches; a host whose key is not
// the one known_hosts holds stops the manager before it watches, naming
// the host.
func TestStartupSSHSandbox(t *testing.T) {
	s := newScenario(t, true, "")
	ctx := context.Background()

	t.Run("a host's sshd down: warned, watched", func(t *testing.T) {
		if err := s.c.KillSSHD(ctx, "host3"); err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := s.c.StartHost(context.Background(), "host3"); err != nil {
				t.Errorf("start host3's sshd again: %v", err)
			}
		}()
		out := &testkit.Buffer{}
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() {
			done <- manager.RunManager(rctx, s.cfg, manager.ManagerOptions{Console: manager.NewConsole(out)})
		}()
		s.waitFor("the manager to watch the master", 30*time.Second, func() bool {
			st, err := manager.ReadStatus(s.cfg.ManagerWorkdir, s.cfg.App, 0)
			return err == nil && st.Code == manager.StatusPingOK
		})
		cancel()
		if err := <-done; err != nil {
			t.Errorf("RunManager: %v", err)
		}
		if !strings.Contains(out.String(), "(server3) does not answer") {
			t.Errorf("no warning that host3's sshd does not answer:\n%s", out)
		}
		for _, h := range []string{"server1", "server2"} {
			if !strings.Contains(out.String(), "("+h+").. ok.") {
				t.Errorf("%s was not checked:\n%s", h, out)
			}
		}
		// Checked on the kept connections, over SFTP: no fallback to a
		// command on a second connection.
		if strings.Contains(out.String(), "no SFTP there") {
			t.Errorf("the start-up check fell back to a command:\n%s", out)
		}
	})

	t.Run("master_binlog_dir unreadable: refused", func(t *testing.T) {
		cfg := *s.cfg
		cfg.Servers = append(cfg.Servers[:0:0], s.cfg.Servers...)
		cfg.Servers[1].MasterBinlogDir = []string{filepath.Join(t.TempDir(), "no-such-dir")}
		out := &testkit.Buffer{}
		rctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		err := manager.RunManager(rctx, &cfg, manager.ManagerOptions{Console: manager.NewConsole(out)})
		if !errors.Is(err, manager.ErrStartupCheck) || !strings.Contains(err.Error(), "no-such-dir") || !strings.Contains(err.Error(), "not a readable directory") {
			t.Fatalf("RunManager = %v, want a start-up check failure naming the directory\n%s", err, out)
		}
		if strings.Contains(out.String(), "no SFTP there") {
			t.Errorf("the start-up check fell back to a command:\n%s", out)
		}
	})

	t.Run("a host key that changed: refused", func(t *testing.T) {
		// known_hosts with host2's line holding host1's key.
		data, err := os.ReadFile(s.c.KnownHosts)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		h1, h2 := s.key("host1").Host, s.key("host2").Host
		var key1 string
		for _, l := range lines {
			if f := strings.Fields(l); len(f) == 3 && f[0] == h1 {
				key1 = f[1] + " " + f[2]
			}
		}
		for i, l := range lines {
			if f := strings.Fields(l); len(f) == 3 && f[0] == h2 {
				lines[i] = h2 + " " + key1
			}
		}
		if key1 == "" {
			t.Fatalf("no line for %s in %s", h1, s.c.KnownHosts)
		}
		kh := filepath.Join(t.TempDir(), "known_hosts")
		if err := os.WriteFile(kh, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg := *s.cfg
		cfg.Servers = append(cfg.Servers[:0:0], s.cfg.Servers...)
		for i := range cfg.Servers {
			cfg.Servers[i].SSHOptions = strings.Replace(cfg.Servers[i].SSHOptions, s.c.KnownHosts, kh, 1)
		}
		out := &testkit.Buffer{}
		rctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		start := time.Now()
		err = manager.RunManager(rctx, &cfg, manager.ManagerOptions{Console: manager.NewConsole(out)})
		if !errors.Is(err, manager.ErrStartupCheck) || !strings.Contains(err.Error(), h2) {
			t.Fatalf("RunManager = %v, want a start-up check failure naming %s\n%s", err, h2, out)
		}
		t.Logf("refused in %s: %v", time.Since(start).Round(time.Millisecond), err)
	})
}
