package supervisor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/gomha/gomha/coord"
	"github.com/gomha/gomha/failover"
	"github.com/gomha/gomha/manager"
	"github.com/gomha/gomha/manager/config"
)

// unit runs the manager of one cluster, from one configuration file.
// Everything but mu's fields belongs to the loop's goroutine.
type unit struct {
	s      *Supervisor
	id     int
	file   string
	app    string // the file's base name: it never changes for a file
	ctx    context.Context
	cancel context.CancelFunc
	kick   chan struct{} // something under mu changed
	done   chan struct{} // closed when the loop has returned

	mu       sync.Mutex
	cfg      *config.Config
	hash     string
	pending  *pendingConfig
	woken    bool
	stopping bool
	state    State
	lastErr  string

	out      outputs
	presence *coord.Presence // held while the unit waits between runs
}

type pendingConfig struct {
	cfg   *config.Config
	hash  string
	after []<-chan struct{}
}

func newUnit(s *Supervisor, id int, file string, cfg *config.Config, hash string) *unit {
	ctx, cancel := context.WithCancel(s.ctx)
	return &unit{s: s, id: id, file: file, app: cfg.App, ctx: ctx, cancel: cancel,
		kick: make(chan struct{}, 1), done: make(chan struct{}), cfg: cfg, hash: hash, state: StateLeading}
}

func (u *unit) poke() {
	select {
	case u.kick <- struct{}{}:
	default:
	}
}

// reconfigure restarts the unit with cfg once after have stopped.
func (u *unit) reconfigure(cfg *config.Config, hash string, after []<-chan struct{}) {
	u.mu.Lock()
	u.pending = &pendingConfig{cfg: cfg, hash: hash, after: after}
	u.hash = hash
	u.mu.Unlock()
	u.poke()
}

// wake starts an idle unit again.
func (u *unit) wake() {
	u.mu.Lock()
	u.woken = true
	u.mu.Unlock()
	u.poke()
}

// stop ends the unit for good: its file is gone.
func (u *unit) stop() {
	u.mu.Lock()
	u.stopping = true
	u.state = StateStopping
	u.mu.Unlock()
	u.cancel()
}

func (u *unit) isStopping() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.stopping
}

func (u *unit) config() *config.Config {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.cfg
}

func (u *unit) current() current {
	u.mu.Lock()
	defer u.mu.Unlock()
	cfg := u.cfg
	if u.pending != nil {
		cfg = u.pending.cfg
	}
	return current{ID: u.id, File: u.file, App: cfg.App, Servers: serverKeys(cfg), Hash: u.hash,
		Idle: u.state == StateStopped || u.state == StateWaiting, Stopping: u.stopping}
}

func (u *unit) info() UnitInfo {
	u.mu.Lock()
	defer u.mu.Unlock()
	return UnitInfo{App: u.app, File: u.file, State: u.state, Err: u.lastErr, Config: u.cfg}
}

func (u *unit) setState(st State, err error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.stopping {
		return
	}
	u.state, u.lastErr = st, ""
	if err != nil {
		u.lastErr = oneLine(err.Error())
	}
}

func (u *unit) takePending() *pendingConfig {
	u.mu.Lock()
	defer u.mu.Unlock()
	p := u.pending
	u.pending = nil
	if p != nil {
		u.cfg = p.cfg
	}
	return p
}

func (u *unit) hasPending() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.pending != nil
}

func (u *unit) takeWoken() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	w := u.woken
	u.woken = false
	return w
}

// note reports one line about the unit on the shared error output, and in
// the cluster's own manager_log when it has one.
func (u *unit) note(level, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	u.s.report("%s: %s", u.app, msg)
	if !u.out.own {
		return
	}
	switch level {
	case "error":
		u.out.con.Errorf("%s", msg)
	case "warning":
		u.out.con.Warnf("%s", msg)
	default:
		u.out.con.Infof("%s", msg)
	}
}

// event is why a unit stopped waiting.
type event int

const (
	evNone         event = iota
	evCtx                // the unit ends
	evRetry              // its backoff has passed: run again
	evReconfigured       // a new configuration is pending
	evWake               // an operator asked (Reload)
	evStopRequest        // gomha stop asked
)

// loop is the unit's life: run the manager of its configuration until
// the unit ends, then of the next one when its file changes.
func (u *unit) loop(after []<-chan struct{}) {
	defer close(u.done)
	cfg := u.config()
	for restarts := 0; ; restarts++ {
		if !u.waitAll(after) {
			return
		}
		u.begin(cfg)
		if restarts > 0 {
			u.note("info", "%s changed: restarted with the new configuration", u.file)
		}
		ev := u.runConfig(cfg)
		u.end(cfg)
		if ev == evCtx {
			if u.isStopping() {
				u.s.report("%s: %s is no longer listed: stopped", u.app, u.file)
			}
			return
		}
		p := u.takePending()
		cfg, after = p.cfg, p.after
	}
}

// runConfig runs the manager of cfg, and after it returns decides whether
// to run it again now, after a backoff, or when an operator says, until
// the unit ends (evCtx) or a new configuration is pending (evReconfigured).
func (u *unit) runConfig(cfg *config.Config) event {
	for {
		o := u.attempt(cfg)
		if u.ctx.Err() != nil {
			return evCtx
		}
		ev := u.settle(cfg, o)
		u.release()
		if ev == evCtx || ev == evReconfigured {
			return ev
		}
	}
}

// waitAll waits for the units this one takes over from to be gone.
func (u *unit) waitAll(chans []<-chan struct{}) bool {
	for _, c := range chans {
		select {
		case <-c:
		case <-u.ctx.Done():
			return false
		}
	}
	return true
}

// begin opens cfg's outputs and marks the cluster as a unit's.
func (u *unit) begin(cfg *config.Config) {
	out, err := openOutputs(cfg, u.s.out, u.s.err, u.s.opts.Debug)
	if err != nil {
		u.s.report("%s: %v; its lines go to the shared output", u.app, err)
		c := *cfg
		c.ManagerLog = ""
		out, _ = openOutputs(&c, u.s.out, u.s.err, u.s.opts.Debug)
	}
	u.out = out
	clearStopRequest(cfg.ManagerWorkdir, cfg.App)
	if err := markSupervised(cfg.ManagerWorkdir, cfg.App); err != nil {
		u.note("warning", "%v: gomha stop --conf %s would stop the whole process", err, u.file)
	}
	for _, w := range cfg.Warnings {
		u.out.con.Warnf("%s", w)
	}
}

// end undoes begin: the cluster is no longer watched from here.
func (u *unit) end(cfg *config.Config) {
	u.release()
	removeOwnStatus(cfg)
	unmarkSupervised(cfg.ManagerWorkdir, cfg.App)
	if u.out.closer != nil {
		u.out.closer()
	}
}

// outcome is how one run of the manager ended.
type outcome struct {
	err      error
	failover bool // err is the error of a failover (failed or refused)
	leadLost bool // the gate took the leadership back
	why      event
}

// attempt asks for the leadership and runs the manager until it returns;
// a new configuration or a stop request cancels it (cleanly: never in the
// middle of a failover).
func (u *unit) attempt(cfg *config.Config) outcome {
	u.takeWoken()
	u.setState(StateLeading, nil)
	actx, cancel := context.WithCancel(u.ctx)
	defer cancel()
	res := make(chan outcome, 1)
	go func() { res <- u.leadAndRun(actx, cfg) }()
	tick := time.NewTicker(u.s.opts.StopPoll)
	defer tick.Stop()
	var why event
	for {
		select {
		case o := <-res:
			o.why = why
			return o
		case <-u.kick:
			if why == evNone && u.hasPending() {
				why = evReconfigured
				cancel()
			}
		case <-tick.C:
			if why == evNone && stopRequested(cfg.ManagerWorkdir, cfg.App) {
				why = evStopRequest
				cancel()
			}
		}
	}
}

func (u *unit) leadAndRun(ctx context.Context, cfg *config.Config) outcome {
	// Waiting for the leadership, this process stands by: check status on
	// this host says so (a gate that grants at once, as LocalGate, makes
	// that an instant).
	lead, release, err := manager.StandBy(ctx, u.s.opts.Gate, cfg)
	if err != nil {
		return outcome{err: fmt.Errorf("leadership of %s: %w", u.app, err)}
	}
	defer release()
	u.setState(StateRunning, nil)
	opts := u.s.opts.Manager
	opts.Logger, opts.Console = u.out.log, u.out.con
	failed := false
	opts.OnFailover = func(rep *failover.Report, err error) {
		if err != nil && manager.ExitCode(err) != manager.ExitFailoverPartial {
			failed = true
		}
		if u.s.opts.OnFailover != nil {
			u.s.opts.OnFailover(u.app, rep, err)
		}
	}
	err = u.s.opts.Run(lead, cfg, opts)
	return outcome{err: err, failover: failed && err != nil, leadLost: lead.Err() != nil && ctx.Err() == nil}
}

// settle reports how the manager ended and waits as that deserves: not
// at all after a lost leadership, Options.Retry after an error, until an
// operator says after a failover that failed.
func (u *unit) settle(cfg *config.Config, o outcome) event {
	switch {
	case o.why == evReconfigured:
		return evReconfigured
	case o.why == evStopRequest:
		return u.stopped(cfg)
	case o.leadLost && (o.err == nil || errors.Is(o.err, manager.ErrDeposed)):
		u.note("info", "leadership lost; asking for it again")
		return evRetry
	case o.failover || errors.Is(o.err, manager.ErrInterrupted):
		u.setState(StateWaiting, o.err)
		u.note("error", "%v; waiting for an operator: fix the cluster, then SIGHUP (or change %s)", o.err, u.file)
		u.hold(cfg)
		return u.parkOrStop(cfg, 0)
	default:
		err := o.err
		if err == nil {
			err = errors.New("the manager returned")
		}
		u.setState(StateRetrying, err)
		u.note("error", "%v; retrying in %s", err, u.s.opts.Retry)
		u.hold(cfg)
		return u.parkOrStop(cfg, u.s.opts.Retry)
	}
}

func (u *unit) parkOrStop(cfg *config.Config, d time.Duration) event {
	ev := u.park(cfg, d, true)
	if ev == evStopRequest {
		return u.stopped(cfg)
	}
	return ev
}

// stopped answers a stop request: the cluster is no longer watched until
// the next Reload (or a change to its file).
func (u *unit) stopped(cfg *config.Config) event {
	u.release()
	clearStopRequest(cfg.ManagerWorkdir, cfg.App)
	removeOwnStatus(cfg)
	u.setState(StateStopped, nil)
	u.note("info", "stopped by a stop request (gomha stop); the next SIGHUP starts it again")
	return u.park(cfg, 0, false)
}

// hold keeps the cluster's presence lock while the unit waits, so that
// check status reads its status file (CONFIG_ERROR, FAILOVER_ERROR...),
// and a second manager of the cluster is refused.
func (u *unit) hold(cfg *config.Config) {
	p, err := coord.ClaimManager(cfg.ManagerWorkdir, cfg.App)
	if err == nil {
		u.presence = p
	}
}

func (u *unit) release() {
	if u.presence != nil {
		_ = u.presence.Release()
		u.presence = nil
	}
}

// removeOwnStatus removes the cluster's status file when this process
// wrote it.
func removeOwnStatus(cfg *config.Config) {
	st, err := manager.ReadStatus(cfg.ManagerWorkdir, cfg.App, 0)
	if err == nil && st.PID == os.Getpid() {
		_ = manager.NewStatusFile(cfg.ManagerWorkdir, cfg.App).Remove()
	}
}

// park waits for what ends a wait: the unit's end, a pending
// configuration, an operator's wake, d when it is not zero, and, with
// watchStop, a stop request.
func (u *unit) park(cfg *config.Config, d time.Duration, watchStop bool) event {
	var timeout <-chan time.Time
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	}
	tick := time.NewTicker(u.s.opts.StopPoll)
	defer tick.Stop()
	for {
		if u.hasPending() {
			return evReconfigured
		}
		if u.takeWoken() {
			return evWake
		}
		select {
		case <-u.ctx.Done():
			return evCtx
		case <-u.kick:
		case <-timeout:
			return evRetry
		case <-tick.C:
			if watchStop && stopRequested(cfg.ManagerWorkdir, cfg.App) {
				return evStopRequest
			}
		}
	}
}
