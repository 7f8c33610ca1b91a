package manager

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/manager/hook"
	"github.com/gomha/gomha/sshpool"
	"github.com/gomha/gomha/topology"
)

// MonitorOptions is everything the monitor needs, injected.
type MonitorOptions struct {
	Config   *config.Config
	Master   config.Server   // the current master (found with CheckRepl)
	Replicas []config.Server // its alive replicas
	// ConfiguredReplicas is how many replicas the master has in the
	// configuration, dead ones included: the quorum is a majority of them
	// (0: len(Replicas)).
	ConfiguredReplicas int
	LocalAddr          string      // source address of every connection ("" = the kernel's choice)
	Status             *StatusFile // may be nil
	Hooks              hook.Runner
	Logger             *slog.Logger
	Console            *Console         // MHA's lines in the manager log (nil: none)
	Pool               *sshpool.Pool    // open SSH connections to the hosts (nil: dial when needed)
	Now                func() time.Time // clock for the Verdict's times (default time.Now)
	Observer           Observer         // told of every periodic check (nil: nobody)
}

// Observer is told what the monitor measures, for metrics (package
// httpapi's gomha_ping_duration_seconds). Ping is called from the
// monitor's goroutine after each periodic check of the master (ping_type,
// every ping_interval; not the watch connection's SLEEP beats), with the
// cluster's name, the master's key, how long the check took and its error
// (nil: the master answered). It must return at once and must not keep
// err.
type Observer interface {
	Ping(app string, master topology.Key, took time.Duration, err error)
}

// Verdict is the monitor's conclusion about a dead master.
type Verdict struct {
	Master       topology.Key
	Dead         bool
	Reason       string // e.g. "connection refused; 2/2 replicas lost their IO connection"
	SSHReachable bool   // the master's host answered SSH (its binlog can be salvaged)
	SSHChecked   bool   // false: SSH was not waited for; SSHReachable means nothing
	// Gone: mysqld refused connections, or neither it nor its host
	// answered anything: it can take no write now (see failover.Options).
	Gone         bool
	FirstFailure time.Time // first failed check of the episode
	Confirmed    time.Time
	Evidence     []string // one line per view: manager, each replica, secondary check, ssh
}

// DetectionTime is the time from the first failed check to the confirmation.
func (v Verdict) DetectionTime() time.Duration { return v.Confirmed.Sub(v.FirstFailure) }

// Monitor watches one master until it is confirmed dead.
type Monitor struct {
	opts     MonitorOptions
	key      topology.Key
	interval time.Duration
	pingType string
	log      *slog.Logger
}

// NewMonitor returns a monitor of opts.Master. The ping interval and type
// come from the master's ping_interval and ping_type (defaults 3 s, SELECT).
func NewMonitor(opts MonitorOptions) *Monitor {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Console == nil {
		opts.Console = NewConsole(nil)
	}
	m := &Monitor{opts: opts, key: TopologyServer(opts.Master).Key()}
	m.interval = time.Duration(opts.Master.PingInterval) * time.Second
	if m.interval <= 0 {
		m.interval = 3 * time.Second
	}
	m.pingType = strings.ToUpper(opts.Master.PingType)
	if m.pingType == "" && opts.Config != nil {
		m.pingType = strings.ToUpper(opts.Config.PingType)
	}
	if m.pingType == "" {
		m.pingType = PingSelect
	}
	m.log = opts.Logger.With("host", m.key.String(), "component", "monitor")
	return m
}

// episode is one run of failed checks, from the first failure to recovery.
type episode struct {
	first       time.Time
	lastOutcome outcome
	since       time.Time // when lastOutcome began
}

// Run checks the master every ping_interval until it is confirmed dead
// (returns the Verdict), ctx ends (returns ctx.Err() and removes the status
// file), or another manager holds the advisory lock (ErrLockHeld). Besides
// the periodic ping, a watch connection blocked in SLEEP notices a crash at
// once. One failed check only makes the master suspect; see decide.
//
// The status file (if any) goes to 0:PING_OK after the first good ping (its
// mtime touched on each one), 20:PING_FAILING while the master is suspect or
// unreachable from the manager only, 21:PING_FAILED with the Verdict. Run
// does not write 10:INITIALIZING_MONITOR: the caller does, during its own
// start-up checks.
func (m *Monitor) Run(ctx context.Context) (Verdict, error) {
	p := newPinger(m.mysqlConfig(m.opts.Master), m.pingType, m.interval, m.log)
	defer p.close()
	m.log.Info("monitoring master", "ping_interval", m.interval.String(), "ping_type", m.pingType,
		"replicas", len(m.opts.Replicas), "secondary_check", m.opts.Master.SecondaryCheckScript != "")
	var ep episode
	if v, done, err := m.handle(ctx, &ep, "ping", m.opts.Now(), m.ping(ctx, p)); done {
		return v, err
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	watchFailed := make(chan watchFailure, 1)
	wg.Go(func() { watch(wctx, m.mysqlConfig(m.opts.Master), m.interval, watchFailed, m.log) })
	ticker := time.NewTicker(m.interval)
	defer ticker.Stop()
	for {
		var v Verdict
		var done bool
		var err error
		select {
		case <-ctx.Done():
			m.removeStatus()
			m.log.Info("monitor stopped", "reason", context.Cause(ctx))
			return Verdict{}, ctx.Err()
		case <-ticker.C:
			v, done, err = m.handle(ctx, &ep, "ping", m.opts.Now(), m.ping(ctx, p))
		case wf := <-watchFailed:
			if ep.first.IsZero() { // while failing, the pings lead
				v, done, err = m.handle(ctx, &ep, "watch", wf.at, wf.err)
			}
		}
		if done {
			return v, err
		}
	}
}

// ping runs one periodic check and tells the observer how long it took.
func (m *Monitor) ping(ctx context.Context, p *pinger) error {
	start := time.Now()
	err := p.ping(ctx)
	if m.opts.Observer != nil && ctx.Err() == nil {
		app := ""
		if m.opts.Config != nil {
			app = m.opts.Config.App
		}
		m.opts.Observer.Ping(app, m.key, time.Since(start), err)
	}
	return err
}

// handle acts on the result of one check started at `at` (Go evaluates the
// at argument before running the check); done says Run must return v, err.
func (m *Monitor) handle(ctx context.Context, ep *episode, trigger string, at time.Time, err error) (Verdict, bool, error) {
	if err == nil {
		if !ep.first.IsZero() {
			m.log.Info("master answers again: suspicion cleared", "failing_for", m.opts.Now().Sub(ep.first).Round(time.Millisecond).String())
			*ep = episode{}
		}
		if m.setStatus(StatusPingOK) {
			m.opts.Console.Infof("Ping(%s) succeeded, waiting until MySQL doesn't respond..", m.pingType)
			m.setView(ManagerView{State: "healthy", Reason: "master " + m.key.String() + " answers", Since: m.opts.Now()})
		}
		return Verdict{}, false, nil
	}
	if errors.Is(err, ErrLockHeld) {
		m.log.Error("another manager monitors this master", "error", err)
		return Verdict{}, true, err
	}
	if ctx.Err() != nil {
		return Verdict{}, false, nil // Run's select returns
	}
	if errors.Is(err, errLockBusy) { // the master answered
		m.log.Warn("the advisory lock is busy after a reconnection: the master answers; asking for the lock again at the next ping", "error", err)
		return Verdict{}, false, nil
	}
	if k := connKind(err); k.ServerAlive() {
		m.log.Warn("master is alive but refuses the manager: not a MySQL crash, check the configuration", "trigger", trigger, "kind", k.String(), "error", err)
		return Verdict{}, false, nil
	}
	if ep.first.IsZero() {
		ep.first = at
		m.log.Warn("master check failed: master is suspect", "trigger", trigger, "error", err)
		m.opts.Console.Warnf("Got error on MySQL %s ping: %v", strings.ToLower(m.pingType), err)
	}
	m.setStatus(StatusPingFailing)
	vs := m.gather(ctx, ep.first)
	if ctx.Err() != nil {
		return Verdict{}, false, nil
	}
	d := decide(vs)
	if d.Outcome == outcomeDead {
		return m.verdict(ep, vs, d), true, nil
	}
	if d.Outcome != ep.lastOutcome {
		// Once per change of state, not every interval.
		level := slog.LevelWarn
		if d.Outcome == outcomeAlive || d.Outcome == outcomeUndecided {
			level = slog.LevelInfo
		}
		m.log.Log(ctx, level, d.Reason, "evidence", vs.evidence(),
			"failing_for", m.opts.Now().Sub(ep.first).Round(time.Millisecond).String())
		ep.lastOutcome, ep.since = d.Outcome, m.opts.Now()
	}
	m.setView(ManagerView{State: d.Outcome.String(), Reason: d.Reason, Since: ep.since, Evidence: vs.evidence()})
	return Verdict{}, false, nil
}

func (o outcome) String() string {
	switch o {
	case outcomeAlive:
		return "healthy"
	case outcomeAliveRefusing:
		return "alive, refusing the manager"
	case outcomeUnreachableFromManager:
		return "unreachable from the manager"
	case outcomeManagerPartitioned:
		return "manager partitioned"
	case outcomeSecondaryVeto, outcomeSecondaryError:
		return "secondary check disagrees"
	case outcomeNoQuorum:
		return "no quorum"
	case outcomeDead:
		return "dead"
	}
	return "suspect"
}

func (m *Monitor) verdict(ep *episode, vs views, d decision) Verdict {
	v := Verdict{
		Master: m.key, Dead: true, Reason: d.Reason, SSHReachable: vs.SSH.Reachable, SSHChecked: !vs.SSH.Pending,
		Gone:         vs.Manager.Kind == topology.ConnRefused || (vs.Manager.Persisted && !vs.SSH.Pending && !vs.SSH.Reachable),
		FirstFailure: ep.first, Confirmed: m.opts.Now(), Evidence: vs.evidence(),
	}
	m.setStatus(StatusPingFailed)
	m.opts.Console.Warnf("Master is not reachable from health checker!")
	m.setView(ManagerView{State: "dead", Reason: d.Reason, Since: v.Confirmed, Evidence: v.Evidence})
	m.log.Warn("master is dead: confirmed", "reason", v.Reason, "ssh_reachable", v.SSHReachable,
		"detection_time", v.DetectionTime().Round(time.Millisecond).String(), "evidence", v.Evidence)
	return v
}

// setStatus records code; it reports whether the code changed.
func (m *Monitor) setStatus(code StatusCode) bool {
	if m.opts.Status == nil {
		return false
	}
	cur, wrote := m.opts.Status.Code()
	changed := cur != code || !wrote
	if err := m.opts.Status.Set(code, m.opts.Master.Hostname); err != nil {
		m.log.Warn("status file not updated", "error", err)
	}
	return changed
}

// setView records the monitor's view of the master for check status and show.
func (m *Monitor) setView(v ManagerView) {
	if m.opts.Status == nil {
		return
	}
	v.Master = m.key.String()
	if err := m.opts.Status.SetView(v); err != nil {
		m.log.Warn("manager view not updated", "error", err)
	}
}

func (m *Monitor) removeStatus() {
	if m.opts.Status == nil {
		return
	}
	if err := m.opts.Status.Remove(); err != nil {
		m.log.Warn("status file not removed", "error", err)
	}
}
