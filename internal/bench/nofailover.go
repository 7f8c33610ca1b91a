package main

import (
	"context"
	"fmt"
	"time"

	"github.com/gomha/gomha/manager"
	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/sandbox"
)

// Faults that must not cause a failover: a short network blip of the
// master's host, and a partition of the manager alone. Failing over on
// either would make a second master for nothing.
const (
	// blipFor is how long the master's host drops every packet in "blip".
	blipFor = 1500 * time.Millisecond
	// quietWindow is how long after the fault (after the heal, for a
	// blip) the manager must not fail over.
	quietWindow = 10 * time.Second
	// managerAddr is the manager's local address in "manager-cut": the
	// master drops its packets only, the writer (127.0.0.1) and the
	// replicas still reach the master.
	managerAddr = "127.0.0.2"
)

// blip drops the master host's packets for blipFor, then heals it.
func blip(ctx context.Context, c *sandbox.Cluster) error {
	if err := c.Isolate(ctx, "host1"); err != nil {
		return err
	}
	select {
	case <-time.After(blipFor):
	case <-ctx.Done():
		return ctx.Err()
	}
	return c.Heal(ctx, "host1")
}

// watchNoFailover watches the manager for quietWindow after the fault
// ended: a failover is recorded (the row fails), and the writer's downtime
// and lost writes are measured on whoever is master at the end (the old
// master, when all went well).
func watchNoFailover(ctx context.Context, c *sandbox.Cluster, cfg *config.Config, w *sandbox.Writer, m *managerRun, faultAt time.Time) (result, error) {
	var res result
	master := c.Master().Addr
	select {
	case f := <-m.reports:
		res.failedOver = true
		if f.rep != nil && f.rep.NewMaster != "" {
			master = f.rep.NewMaster
		}
	case err := <-m.done:
		m.done <- err
		select {
		case f := <-m.reports:
			res.failedOver = true
			if f.rep != nil && f.rep.NewMaster != "" {
				master = f.rep.NewMaster
			}
		default:
			return result{}, fmt.Errorf("manager stopped without a failover: %v", err)
		}
	case <-time.After(quietWindow):
	case <-ctx.Done():
		return result{}, ctx.Err()
	}
	res.note = viewNote(cfg)
	if res.failedOver {
		res.note = "FAILED OVER to " + master + "; " + res.note
	}
	m.stop()
	if err := w.WaitAcked(ctx, w.Acked()+20); err != nil {
		return result{}, fmt.Errorf("writer did not resume: %w", err)
	}
	wr := w.Stop()
	lost, _, err := countLost(ctx, c, master, wr, faultAt)
	if err != nil {
		return result{}, err
	}
	res.downtime, res.lost = wr.Downtime, lost
	return res, nil
}

// viewNote is the manager's view of the master as it left it.
func viewNote(cfg *config.Config) string {
	v, ok, err := manager.ReadView(cfg.ManagerWorkdir, cfg.App)
	switch {
	case err != nil:
		return "manager's view unreadable: " + err.Error()
	case !ok:
		return "manager's view: none written"
	case v.State == "healthy":
		return "manager's view: healthy"
	}
	return fmt.Sprintf("manager's view: %s (%s)", v.State, v.Reason)
}

// noFailoverMet says whether a "no failover expected" row met its
// expectation: no failover in any run, no acknowledged write lost.
func noFailoverMet(r row) string {
	switch {
	case r.n == 0:
		return "NO"
	case r.failovers > 0:
		return fmt.Sprintf("NO: failed over (%d of %d runs)", r.failovers, r.n)
	case r.lost > 0:
		return "NO: writes lost"
	}
	return "yes"
}
