package failover

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/gomha/gomha/topology"
)

// Phase names of the switchover, close to MHA's MasterRotate banners.
const (
	phaseSwCheck    = "1 configuration check"
	phaseSwReject   = "2 rejecting updates"
	phaseSwCatchUp  = "3 new master catch-up"
	phaseSwActivate = "3.1 new master activation"
	phaseSwSlaves   = "4 switching slaves"
	phaseSwRollback = "rollback"
	// PhaseWritesBlocked spans from read_only=ON on the old master to
	// read_only=OFF on the new one: the time no master took writes.
	PhaseWritesBlocked = "writes blocked"
)

// SwitchoverOptions steer one online switchover (masterha_master_switch
// --master_state=alive).
type SwitchoverOptions struct {
	App  string
	Plan SwitchOptions // --new_master_host/port, --seconds_behind_master, GTID
	// OrigIsNewSlave makes the old master a replica of the new one
	// (--orig_master_is_new_slave); it keeps read_only=ON.
	OrigIsNewSlave bool
	// RunningUpdatesLimit (--running_updates_limit, default 1 s): refuse
	// when the old master runs writes, or holds open write transactions,
	// this long, or when the new master lags more than this.
	RunningUpdatesLimit time.Duration
	// RunningSecondsLimit (--running_seconds_limit, default 10 s): refuse
	// when a client statement has run this long on the new master.
	RunningSecondsLimit time.Duration
	SkipLockAllTables   bool // --skip_lock_all_tables: neither read_only nor FTWRL; the hook must stop writes
	FlushTables         bool // FLUSH NO_WRITE_TO_BINLOG TABLES on the old master before blocking writes
	CheckOnly           bool // --check_only: run the checks, change nothing
	SkipResetSlave      bool // skip_reset_slave: keep the new master's replication settings
	// TrxWait bounds the wait for write transactions open on the old master
	// when read_only was set (default 1 s); then they are killed, or the
	// switch is undone with NoKill.
	TrxWait time.Duration
	NoKill  bool
	// LockWait bounds the wait of read_only=ON / FTWRL for running writes
	// (lock_wait_timeout, whole seconds, default 1 s).
	LockWait time.Duration
	// CatchUpWait bounds the new master's catch-up while writes are blocked
	// (default 5 s).
	CatchUpWait time.Duration
	// RepointWait bounds each replica's move to the new master (default 10 s).
	RepointWait time.Duration
	Logger      *slog.Logger
}

func (o SwitchoverOptions) withDefaults() SwitchoverOptions {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.RunningUpdatesLimit, time.Second)
	def(&o.RunningSecondsLimit, 10*time.Second)
	def(&o.TrxWait, time.Second)
	def(&o.LockWait, time.Second)
	def(&o.CatchUpWait, 5*time.Second)
	def(&o.RepointWait, 10*time.Second)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// finalPos is the old master's position once writes are blocked.
type finalPos struct {
	gtid  string
	coord topology.BinlogCoord
}

// switchRun is the state of one switchover.
type switchRun struct {
	env   SwitchEnv
	hooks SwitchHooks
	opts  SwitchoverOptions
	log   *slog.Logger
	rep   *Report
	plan  *SwitchPlan
	snap  *topology.Snapshot
	old   SwitchNode
	nm    SwitchNode
	nodes map[topology.Key]SwitchNode // every connected server

	final   finalPos
	nmCoord topology.BinlogCoord // new master's own position before it took writes (file mode)
	// What has been done, for the rollback.
	stopHookRan bool
	fenced      bool
	oldWasRO    bool
	release     func(context.Context) error // FTWRL held on the old master
	nmStopped   bool
	promoting   bool
}

// Switchover moves the master role from the live master to another server:
// checks first, then blocks writes on the old master, waits until the new
// master has every event, promotes it and repoints the others. A failure
// before the new master takes writes is undone. It returns the report in
// every case; the error is nil, a *PartialError (switched, some replicas
// failed), or wraps ErrSwitchRefused, ErrRolledBack or ErrRollbackFailed.
func Switchover(ctx context.Context, env SwitchEnv, hooks SwitchHooks, opts SwitchoverOptions) (*Report, error) {
	opts = opts.withDefaults()
	s := &switchRun{env: env, hooks: hooks, opts: opts, log: opts.Logger, nodes: map[topology.Key]SwitchNode{},
		rep: &Report{Kind: "switchover", App: opts.App, Started: time.Now(), Lost: Loss{Nothing: true}}}
	defer s.closeAll()
	err := s.execute(ctx)
	s.rep.Finished = time.Now()
	s.rep.Succeeded = err == nil || isPartial(err)
	if err != nil {
		s.rep.Error = err.Error()
	}
	return s.rep, err
}

func (s *switchRun) execute(ctx context.Context) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if s.opts.CheckOnly {
		s.rep.warn("--check_only: every check passed, nothing was changed")
		return nil
	}
	// From here the old master stops taking writes: a stop request
	// (SIGINT, SIGTERM) no longer cancels the switch, which finishes (or,
	// on a real failure, rolls back) first.
	stop := context.AfterFunc(ctx, func() {
		s.rep.warn("a stop was requested while writes were switching: the switchover finished first")
		s.log.Warn("stop requested: the switchover is past its point of no return and finishes first")
	})
	defer stop()
	ctx = context.WithoutCancel(ctx)
	if err := s.switchWrites(ctx); err != nil {
		return s.rollback(ctx, err)
	}
	return s.switchSlaves(ctx)
}

// check plans the switch from a fresh snapshot, connects to every server
// taking part, and refuses on long updates on the old master, a lagging
// new master or long queries on it. Nothing is changed.
func (s *switchRun) check(ctx context.Context) error {
	s.rep.phase(phaseSwCheck)
	s.snap = s.env.Snapshot(ctx, topology.Key{})
	plan, err := PlanSwitchover(s.snap, s.opts.Plan)
	if err != nil {
		return s.refuse(err)
	}
	s.plan = plan
	s.rep.OldMaster, s.rep.NewMaster = plan.OldMaster.String(), plan.NewMaster.Key.String()
	s.rep.Reason, s.rep.Mode = plan.NewMaster.Reason, plan.Mode
	for _, w := range plan.Warnings {
		s.rep.warn("%s", w)
	}
	s.oldWasRO = s.snap.ByKey(plan.OldMaster).Status.ReadOnly
	if msg := LagProblem(plan.NewMaster.Node.Status, s.opts.RunningUpdatesLimit); msg != "" {
		return s.refuse(fmt.Errorf("new master %s: %s", plan.NewMaster.Label, msg))
	}
	var oldThreads, nmThreads []Thread
	var oldTrx []Trx
	keys := append([]topology.Key{plan.OldMaster, plan.NewMaster.Key}, plan.Repoint...)
	err = s.connectAll(ctx, keys, func(ctx context.Context, k topology.Key, n SwitchNode) error {
		var err error
		switch k {
		case plan.OldMaster:
			if oldThreads, err = n.Threads(ctx); err == nil {
				oldTrx, err = n.Transactions(ctx)
			}
		case plan.NewMaster.Key:
			nmThreads, err = n.Threads(ctx)
		}
		return err
	})
	if err != nil {
		return s.refuse(err)
	}
	s.old, s.nm = s.nodes[plan.OldMaster], s.nodes[plan.NewMaster.Key]
	if ups := RunningUpdates(oldThreads, oldTrx, s.opts.RunningUpdatesLimit); len(ups) > 0 {
		return s.refuse(fmt.Errorf("the master %s has long-running updates (running_updates_limit %s): %s",
			plan.OldLabel, s.opts.RunningUpdatesLimit, strings.Join(ups, "; ")))
	}
	if long := LongQueries(nmThreads, s.opts.RunningSecondsLimit); len(long) > 0 {
		return s.refuse(fmt.Errorf("the new master %s has long-running queries (running_seconds_limit %s): %s",
			plan.NewMaster.Label, s.opts.RunningSecondsLimit, strings.Join(long, "; ")))
	}
	if s.opts.FlushTables && !s.opts.CheckOnly {
		if err := s.old.FlushTables(ctx, s.opts.LockWait); err != nil {
			s.rep.warn("FLUSH NO_WRITE_TO_BINLOG TABLES on %s: %v (continuing)", plan.OldMaster, err)
		}
	}
	s.rep.endPhase(phaseSwCheck, nil, fmt.Sprintf("%s -> %s (%s), %s mode; %d other replicas to repoint",
		plan.OldLabel, plan.NewMaster.Label, plan.NewMaster.Reason, plan.Mode, len(plan.Repoint)))
	return nil
}

func (s *switchRun) refuse(err error) error {
	err = fmt.Errorf("%w: %w", ErrSwitchRefused, err)
	s.rep.endPhase(phaseSwCheck, err)
	return err
}

// connectAll opens a switchover session to every key in parallel and runs
// then on each.
func (s *switchRun) connectAll(ctx context.Context, keys []topology.Key, then func(context.Context, topology.Key, SwitchNode) error) error {
	var mu sync.Mutex
	var errs []string
	var wg sync.WaitGroup
	for _, k := range keys {
		wg.Go(func() {
			n, err := s.env.ConnectSwitch(ctx, k)
			if err == nil {
				mu.Lock()
				s.nodes[k] = n
				mu.Unlock()
				err = then(ctx, k, n)
			}
			if err != nil {
				mu.Lock()
				errs = append(errs, fmt.Sprintf("%s: %v", k, err))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		return fmt.Errorf("connect: %s", strings.Join(errs, "; "))
	}
	return nil
}

func (s *switchRun) closeAll() {
	for _, n := range s.nodes {
		n.Close()
	}
}

func (s *switchRun) hookVerdict(name string, h *HookRun, err error) error {
	return s.rep.hookVerdict(name, h, err)
}

// PhaseTook returns the duration of the last phase with that name.
func (r *Report) PhaseTook(name string) (time.Duration, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.Phases) - 1; i >= 0; i-- {
		if r.Phases[i].Name == name {
			return r.Phases[i].Took, true
		}
	}
	return 0, false
}
