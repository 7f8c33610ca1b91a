package manager_test

import (
	"context"
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
	go func() {
		done <- manager.RunManager(ctx, s.cfg, manager.ManagerOptions{
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
}
