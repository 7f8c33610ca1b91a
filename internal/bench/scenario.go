package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/gomha/gomha/failover"
	"github.com/gomha/gomha/manager"
	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/sandbox"
)

// scenario is one failure the benchmark inflicts on a 3-host cluster.
type scenario struct {
	name, title string
	target      time.Duration // write downtime target
	mha         string        // MHA 0.58 measured on the same cluster shape
	prepare     func(ctx context.Context, c *sandbox.Cluster, w *sandbox.Writer) error
	fault       func(ctx context.Context, c *sandbox.Cluster) error
	// after, when set, runs once the writer resumed and says something
	// about the old master (printed below the table).
	after func(ctx context.Context, c *sandbox.Cluster) string
	// noFailover: the fault must not cause a failover (see watchNoFailover);
	// detection and recovery do not apply, the writer is measured on the
	// old master.
	noFailover bool
	// managerAddr, when set, is the manager's local address
	// (ManagerOptions.LocalAddr), so a fault can cut the manager alone.
	managerAddr string
}

func scenarios() []scenario {
	return []scenario{
		{name: "crash", title: "master mysqld crash, replicas in sync", target: 250 * time.Millisecond, mha: "7.9 s",
			fault: func(ctx context.Context, c *sandbox.Cluster) error { return c.KillMysqld(ctx, "host1") }},
		{name: "host-gone-lagging", title: "master host gone, one replica lagging", target: 1500 * time.Millisecond, mha: "~9 s",
			prepare: func(ctx context.Context, c *sandbox.Cluster, w *sandbox.Writer) error {
				if err := c.Exec(ctx, "host3", "STOP SLAVE IO_THREAD"); err != nil {
					return err
				}
				return w.WaitAcked(ctx, w.Acked()+40)
			},
			fault: func(ctx context.Context, c *sandbox.Cluster) error { return c.KillHost(ctx, "host1") }},
		{name: "silent", title: "master host silently unreachable (all packets dropped)", target: 2500 * time.Millisecond, mha: "11.2 s",
			fault: func(ctx context.Context, c *sandbox.Cluster) error { return c.Isolate(ctx, "host1") }},
		{name: "salvage", title: "dead master holds unreplicated writes (salvage)", target: 500 * time.Millisecond, mha: "~13 s",
			prepare: func(ctx context.Context, c *sandbox.Cluster, w *sandbox.Writer) error {
				for _, h := range []string{"host2", "host3"} {
					if err := c.Exec(ctx, h, "STOP SLAVE IO_THREAD"); err != nil {
						return err
					}
				}
				return w.WaitAcked(ctx, w.Acked()+40)
			},
			fault: func(ctx context.Context, c *sandbox.Cluster) error { return c.KillMysqld(ctx, "host1") }},
		{name: "frozen", title: "master mysqld frozen (SIGSTOP), resumed after the failover", target: 3 * time.Second, mha: "not measured",
			fault: func(ctx context.Context, c *sandbox.Cluster) error { return c.Freeze(ctx, "host1") },
			after: oldMasterAfterThaw},
		{name: "blip", title: "master host's packets dropped for 1.5 s, then back (no failover expected)", mha: "not measured",
			noFailover: true, fault: blip},
		{name: "manager-cut", title: "manager alone cut off the master (no failover expected)", mha: "not measured",
			noFailover: true, managerAddr: managerAddr,
			fault: func(ctx context.Context, c *sandbox.Cluster) error { return c.IsolateFrom(ctx, "host1", managerAddr) }},
	}
}

// oldMasterAfterThaw resumes the frozen old master and watches it for two
// seconds: it must never take writes again.
func oldMasterAfterThaw(ctx context.Context, c *sandbox.Cluster) string {
	_ = c.Thaw(ctx, "host1") // fails when the failover killed it: what it should do
	deadline := time.Now().Add(2 * time.Second)
	state := "dead (killed over SSH)"
	for time.Now().Before(deadline) {
		db, err := c.DB(ctx, "host1")
		if err == nil {
			var ro int
			qerr := db.QueryRowContext(ctx, "SELECT @@read_only").Scan(&ro)
			db.Close()
			if qerr == nil && ro == 0 {
				return "old master WRITABLE again after it resumed"
			}
			if qerr == nil {
				state = "alive, read-only"
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return "old master never writable again: " + state
}

// runOnce deploys a cluster, starts a writer and a manager, inflicts the
// fault and measures.
func runOnce(ctx context.Context, sc scenario, dir string, logger *slog.Logger) (result, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	c, err := sandbox.Up(ctx, sandbox.Options{Dir: dir, Hosts: 3, GTID: true, BaseOctet: 180, Logger: logger})
	if err != nil {
		return result{}, err
	}
	defer c.Destroy(context.Background())
	cfg, err := config.Load(ctx, c.ConfPath, config.Options{NoGlobal: true})
	if err != nil {
		return result{}, err
	}
	w, err := sandbox.StartWriter(ctx, c, sandbox.WriterOptions{Logger: logger})
	if err != nil {
		return result{}, err
	}
	defer w.Stop()
	if err := w.WaitAcked(ctx, 50); err != nil {
		return result{}, err
	}
	m := startManager(ctx, cfg, manager.ManagerOptions{Once: true, Logger: logger, LocalAddr: sc.managerAddr})
	defer m.stop()
	if err := waitMonitoring(ctx, cfg); err != nil {
		return result{}, err
	}
	if sc.prepare != nil {
		if err := sc.prepare(ctx, c, w); err != nil {
			return result{}, fmt.Errorf("prepare: %w", err)
		}
	}
	faultAt := time.Now()
	if err := sc.fault(ctx, c); err != nil {
		return result{}, fmt.Errorf("fault: %w", err)
	}
	if sc.noFailover {
		return watchNoFailover(ctx, c, cfg, w, m, faultAt)
	}
	return measureFailover(ctx, sc, c, w, m, faultAt)
}

// managerRun is a manager running in the background for one run.
type managerRun struct {
	done    chan error         // RunManager's return
	reports chan failoverEnded // its failover, if any (Once: at most one)
	cancel  context.CancelFunc
}

type failoverEnded struct {
	rep *failover.Report
	err error
}

func startManager(ctx context.Context, cfg *config.Config, opts manager.ManagerOptions) *managerRun {
	mctx, cancel := context.WithCancel(ctx)
	m := &managerRun{done: make(chan error, 1), reports: make(chan failoverEnded, 1), cancel: cancel}
	opts.OnFailover = func(r *failover.Report, err error) {
		select {
		case m.reports <- failoverEnded{r, err}:
		default:
		}
	}
	go func() { m.done <- manager.RunManager(mctx, cfg, opts) }()
	return m
}

// stop cancels the manager and waits until it has returned.
func (m *managerRun) stop() {
	m.cancel()
	select {
	case err := <-m.done:
		m.done <- err // a second stop returns at once
	case <-time.After(30 * time.Second):
	}
}

// measureFailover waits for the manager's failover and measures it.
func measureFailover(ctx context.Context, sc scenario, c *sandbox.Cluster, w *sandbox.Writer, m *managerRun, faultAt time.Time) (result, error) {
	select {
	case err := <-m.done:
		m.done <- err
		if err != nil {
			return result{}, fmt.Errorf("manager: %w", err)
		}
	case <-ctx.Done():
		return result{}, errors.New("no failover within the time limit")
	}
	var f failoverEnded
	select {
	case f = <-m.reports:
	default:
	}
	if f.rep == nil || f.err != nil {
		return result{}, fmt.Errorf("failover: %v", f.err)
	}
	rep := f.rep
	if err := w.WaitAcked(ctx, w.Acked()+20); err != nil {
		return result{}, fmt.Errorf("writer did not resume: %w", err)
	}
	wr := w.Stop()
	lost, inFlight, err := countLost(ctx, c, rep.NewMaster, wr, faultAt)
	if err != nil {
		return result{}, err
	}
	res := result{
		detection: rep.Detection.Confirmed.Sub(faultAt),
		recovery:  rep.Finished.Sub(rep.Detection.Confirmed),
		downtime:  wr.Downtime,
		lost:      lost,
		inFlight:  inFlight,
	}
	if sc.after != nil {
		res.note = sc.after(ctx, c)
	}
	return res, nil
}

func waitMonitoring(ctx context.Context, cfg *config.Config) error {
	for {
		st, err := manager.ReadStatus(cfg.ManagerWorkdir, cfg.App, 0)
		if err == nil && st.Code == manager.StatusPingOK {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("manager did not start monitoring: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// countLost counts acknowledged ids missing on the new master.
// countLost counts acknowledged ids missing on the new master; inFlight
// counts those among them acknowledged less than inFlightWindow before the
// fault: with asynchronous replication a commit acknowledged just before
// the master's host is killed may not have left it, and no failover can
// bring it back.
func countLost(ctx context.Context, c *sandbox.Cluster, newMaster string, wr sandbox.WriterReport, faultAt time.Time) (lost, inFlight int, err error) {
	host := newMaster
	if i := len(host) - len(":3306"); i > 0 && host[i:] == ":3306" {
		host = host[:i]
	}
	db, err := c.DB(ctx, host)
	if err != nil {
		return 0, 0, err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, "SELECT id FROM "+wr.Table)
	if err != nil {
		return 0, 0, err
	}
	defer rows.Close()
	have := map[int64]bool{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return 0, 0, err
		}
		have[id] = true
	}
	for _, a := range wr.Acks {
		if !have[a.ID] {
			lost++
			if a.At.After(faultAt.Add(-inFlightWindow)) {
				inFlight++
			}
		}
	}
	return lost, inFlight, rows.Err()
}

// inFlightWindow is how long before a fault an acknowledged commit may
// still be on its way to the replicas.
const inFlightWindow = 20 * time.Millisecond
