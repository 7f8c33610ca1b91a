package manager_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gomha/gomha/failover"
	"github.com/gomha/gomha/manager"
)

// TestManagerKeepsWatchingSandbox: gomha manager (not Once) fails over and
// then watches the new master; cancelling it is a clean stop.
func TestManagerKeepsWatchingSandbox(t *testing.T) {
	s := newScenario(t, true, "")
	s.startWriter(50)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reports := make(chan *failover.Report, 2)
	done := make(chan error, 1)
	logPath := filepath.Join(t.TempDir(), "manager.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	go func() {
		done <- manager.RunManager(ctx, s.cfg, manager.ManagerOptions{Console: manager.NewConsole(logFile),
			OnFailover: func(r *failover.Report, err error) { reports <- r },
		})
	}()
	waitStatus := func(code manager.StatusCode, master string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			st, err := manager.ReadStatus(s.cfg.ManagerWorkdir, s.cfg.App, 0)
			if err == nil && st.Code == code && st.Master == master {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("status never became %s master:%s (last %+v, %v)", code, master, st, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitStatus(manager.StatusPingOK, s.key("host1").Host)
	// A second manager of the same application is refused at once, in one
	// line, and leaves the running one's status file alone.
	statusPath := manager.StatusFilePath(s.cfg.ManagerWorkdir, s.cfg.App)
	before, _ := os.ReadFile(statusPath)
	err = manager.RunManager(ctx, s.cfg, manager.ManagerOptions{})
	if !errors.Is(err, manager.ErrAlreadyRunning) || strings.Contains(err.Error(), "\n") ||
		!strings.Contains(err.Error(), fmt.Sprintf("manager by pid %d", os.Getpid())) {
		t.Fatalf("second manager: %v, want one line naming the running one", err)
	}
	if after, _ := os.ReadFile(statusPath); string(after) != string(before) || len(before) == 0 {
		t.Fatalf("the refused manager touched the status file: %q -> %q", before, after)
	}
	waitStatus(manager.StatusPingOK, s.key("host1").Host)
	s.kill("host1")
	select {
	case r := <-reports:
		if !r.Succeeded || r.NewMaster != s.key("host2").String() {
			t.Fatalf("failover report: succeeded=%v new master %s", r.Succeeded, r.NewMaster)
		}
	case <-time.After(time.Minute):
		t.Fatal("no failover")
	}
	waitStatus(manager.StatusPingOK, s.key("host2").Host)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("a cancelled manager should stop cleanly, got %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("manager did not stop")
	}
	st, _ := manager.ReadStatus(s.cfg.ManagerWorkdir, s.cfg.App, 0)
	if st.Code != manager.StatusNotRunning {
		t.Errorf("after a clean stop the status is %s, want NOT_RUNNING", st.Code)
	}
	s.verify("host2", "host1")
	// The lines MHA users grep for come in MHA's order.
	log, _ := os.ReadFile(logPath)
	label := func(host string) string {
		srv, _ := s.cfg.Server(s.key(host).Host, s.key(host).Port)
		return manager.TopologyServer(srv).Label()
	}
	rest := string(log)
	for _, want := range []string{
		"[info] Set master ping interval 1 seconds.",
		"[info] Starting ping health check on " + label("host1"),
		"[info] Ping(SELECT) succeeded, waiting until MySQL doesn't respond..",
		"[warning] Got error on MySQL select ping:",
		"[warning] Master is not reachable from health checker!",
		"[info] Master is down!",
		"[info] Starting master failover.",
		"[info] Master failover to " + label("host2") + " completed successfully.",
		"[info] Ping(SELECT) succeeded, waiting until MySQL doesn't respond..", // the new master
	} {
		i := strings.Index(rest, want)
		if i < 0 {
			t.Fatalf("manager log lacks %q after the lines before it; log:\n%s", want, log)
		}
		rest = rest[i+len(want):]
	}
}

// TestManagerStartsBesideDeadMasterSandbox: as MHA, a manager started
// after the master died does not refuse to start: it watches the dead
// master, confirms its death the usual way and fails over.
func TestManagerStartsBesideDeadMasterSandbox(t *testing.T) {
	s := newScenario(t, true, "")
	s.startWriter(30)
	s.kill("host1")
	var log strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var rep *failover.Report
	err := manager.RunManager(ctx, s.cfg, manager.ManagerOptions{Once: true, Console: manager.NewConsole(&log), RemoveDeadConf: true,
		OnFailover: func(r *failover.Report, _ error) { rep = r }})
	if err != nil {
		t.Fatalf("manager beside a dead master: %v\n%s", err, log.String())
	}
	if rep == nil || !rep.Succeeded || rep.NewMaster != s.key("host2").String() {
		t.Fatalf("failover report: %+v", rep)
	}
	if !strings.Contains(log.String(), "is not reachable at start-up: watching it") || !strings.Contains(log.String(), "[info] Master is down!") {
		t.Errorf("manager log does not say why it started beside a dead master:\n%s", log.String())
	}
	// masterha_manager --remove_dead_master_conf: the block goes after the
	// one failover it makes.
	if conf, _ := os.ReadFile(s.cfg.File); strings.Contains(string(conf), "[server1]") || !strings.Contains(string(conf), "[server2]") {
		t.Errorf("--remove_dead_master_conf: [server1] still in %s:\n%s", s.cfg.File, conf)
	}
	s.verify("host2", "host1")
}

// TestManagerIgnoreFailOnStartSandbox: a replica marked ignore_fail that is
// down stops the manager from starting, as in MHA, unless
// --ignore_fail_on_start; then a failover leaves it out (exit 10).
func TestManagerIgnoreFailOnStartSandbox(t *testing.T) {
	s := newScenarioConf(t, true, "", map[string]string{"server3": "ignore_fail=1"})
	s.kill("host3")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err := manager.RunManager(ctx, s.cfg, manager.ManagerOptions{Once: true})
	if !errors.Is(err, manager.ErrStartupCheck) {
		t.Fatalf("without --ignore_fail_on_start: %v, want the start-up check to fail", err)
	}
	var log strings.Builder
	done := make(chan error, 1)
	go func() {
		done <- manager.RunManager(ctx, s.cfg, manager.ManagerOptions{Once: true, IgnoreFailOnStart: true, Console: manager.NewConsole(&log)})
	}()
	s.waitFor("the manager to watch the master", 30*time.Second, func() bool {
		st, err := manager.ReadStatus(s.cfg.ManagerWorkdir, s.cfg.App, 0)
		return err == nil && st.Code == manager.StatusPingOK
	})
	s.kill("host1")
	select {
	case err = <-done:
	case <-time.After(time.Minute):
		t.Fatal("no failover")
	}
	if manager.ExitCode(err) != manager.ExitFailoverPartial {
		t.Fatalf("failover with an ignore_fail replica down: %v (exit %d), want exit 10", err, manager.ExitCode(err))
	}
	s.verify("host2", "host1", "host3")
}

// TestManagerChecksSSHAtStartSandbox: as MHA, the manager checks SSH to
// every host before it watches: a host that refuses gomha (here a login
// that does not exist) stops it at start, not at the failover;
// --skip_ssh_check starts anyway.
func TestManagerChecksSSHAtStartSandbox(t *testing.T) {
	s := newScenarioConf(t, true, "", map[string]string{"server2": "ssh_user=gomha_no_such_user"})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var log strings.Builder
	err := manager.RunManager(ctx, s.cfg, manager.ManagerOptions{Once: true, Console: manager.NewConsole(&log)})
	if !errors.Is(err, manager.ErrStartupCheck) || !strings.Contains(err.Error(), "gomha_no_such_user") ||
		!strings.Contains(err.Error(), "--skip_ssh_check") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("SSH refused at start-up: %v, want one line naming the login and the way out\n%s", err, log.String())
	}
	mctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- manager.RunManager(mctx, s.cfg, manager.ManagerOptions{SkipSSHCheck: true}) }()
	s.waitFor("the manager to watch the master", 30*time.Second, func() bool {
		st, err := manager.ReadStatus(s.cfg.ManagerWorkdir, s.cfg.App, 0)
		return err == nil && st.Code == manager.StatusPingOK
	})
	stop()
	if err := <-done; err != nil {
		t.Fatalf("manager with --skip_ssh_check: %v", err)
	}
}
