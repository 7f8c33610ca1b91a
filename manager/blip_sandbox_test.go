package manager_test

import (
	"context"
	"testing"
	"time"

	"github.com/gomha/gomha/manager"
)

// TestBlipNoFailoverSandbox: the master's host drops every packet for 1.5 s
// (a network blip: its mysqld, its replication connections and its SSH all
// silent), then comes back. A short blip must not make a second master: no
// failover within 8 s after the heal, the manager's view healthy again, and
// every acknowledged write on every server, the old master still the
// master.
func TestBlipNoFailoverSandbox(t *testing.T) {
	start := time.Now()
	s := newScenario(t, true, "")
	s.startWriter(50)
	reports := s.runManager(manager.ManagerOptions{})
	ctx := context.Background()
	if err := s.c.Isolate(ctx, "host1"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	if v, ok, _ := manager.ReadView(s.cfg.ManagerWorkdir, s.cfg.App); ok {
		t.Logf("the manager's view at the end of the blip: %s: %s", v.State, v.Reason)
	}
	if err := s.c.Heal(ctx, "host1"); err != nil {
		t.Fatal(err)
	}
	healed := time.Now()
	select {
	case r := <-reports:
		t.Fatalf("failed over %s after the heal of a 1.5 s blip:\n%s", time.Since(healed).Round(time.Millisecond), r)
	case <-time.After(8 * time.Second):
	}
	v, ok, err := manager.ReadView(s.cfg.ManagerWorkdir, s.cfg.App)
	if err != nil || !ok || v.State != "healthy" {
		t.Errorf("the manager's view 8 s after the blip: %+v (ok %v, %v), want healthy", v, ok, err)
	}
	s.verify("host1")
	t.Logf("the whole test took %s", time.Since(start).Round(time.Millisecond))
}
