package failover

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gomha/gomha/binlog"
	"github.com/gomha/gomha/topology"
)

// Phase names, kept close to MHA's banners because operators grep for them.
const (
	phaseCheck    = "1 configuration check"
	phaseFence    = "2 dead master shutdown"
	phaseRelay    = "3.1 relay log apply wait"
	phasePlan     = "3.2 new master selection"
	phaseSalvage  = "3.4 dead master binlog salvage"
	phaseNewMastr = "3.3 new master recovery"
	phaseActivate = "3.5 new master activation"
	phaseSlaves   = "4 slaves recovery"
)

// survivor is one alive replica taking part in the failover.
type survivor struct {
	key    topology.Key
	node   Node
	status *topology.Status
	// held is what it has of the dead master's history; every range
	// applied to it is cut by it and moves it forward.
	held *holding
	// stuck says why it cannot apply what it received (its SQL thread
	// stopped on an error): never promoted, never repointed, named in the
	// report with what finishes its recovery.
	stuck string
}

// run holds the state of one failover; it lives for one call of Failover.
type run struct {
	env   Env
	hooks Hooks
	opts  Options
	dead  topology.Key
	rep   *Report
	snap  *topology.Snapshot
	plan  *Plan
	surv  map[topology.Key]*survivor
	order []topology.Key // survivors in configuration order
	ssh   bool
	// promoted is set once the new master takes writes.
	promoted bool
	// stopWatch ends the watch for stop requests past the point of no return.
	stopWatch func() bool
	// fenceDone waits for the old master's fencing (the kill over SSH runs
	// beside the recovery) and records it; nil once done.
	fenceDone func()
	// deadShell is the SSH session to the dead master's host, dialled at
	// the start (in parallel with the checks) and kept for the salvage.
	deadShell *shellFuture
	fetch     *binlogCopy // the dead master's binlogs, copied in the background
	// the latest replica's relay logs, copied once when someone lacks
	// part of them
	relayOnce sync.Once
	relaySrcs []binlog.Source
	relayErr  error
	// what the latest replica held once it applied all it received
	baseHeld holding
	// what the new master held, and its GTID position, when promoted
	promotedHeld *holding
	promotedPos  string
}

// shellFuture is an SSH session being dialled; wait returns it once ready.
type shellFuture struct {
	done chan struct{}
	sh   Shell
	err  error
}

func (f *shellFuture) wait() (Shell, error) {
	<-f.done
	return f.sh, f.err
}

// Failover takes the cluster through the death of its master dead: fence,
// wait for relay logs, plan, salvage, recover the new master, activate it,
// repoint the others. It returns the report in every case; the error is nil,
// a *PartialError (master switched, some replicas failed), or what stopped it.
func Failover(ctx context.Context, env Env, hooks Hooks, dead topology.Key, opts Options) (*Report, error) {
	opts = opts.withDefaults()
	r := &run{env: env, hooks: hooks, opts: opts, dead: dead, surv: map[topology.Key]*survivor{},
		rep: &Report{Kind: "failover", App: opts.App, DeadMaster: dead.String(), Started: time.Now(), Detection: opts.Detection,
			Lost: Loss{Nothing: true}}}
	defer r.closeAll()
	r.dialDead(ctx)
	err := r.execute(ctx)
	r.awaitFence()
	r.rep.Finished = time.Now()
	r.rep.Succeeded = err == nil || isPartial(err)
	if err != nil {
		r.rep.Error = err.Error()
	}
	r.reportHook(ctx)
	return r.rep, err
}

func isPartial(err error) bool {
	var pe *PartialError
	return errors.As(err, &pe)
}

func (r *run) execute(ctx context.Context) error {
	if res := r.opts.Resume; res != nil {
		r.rep.warn("resuming an interrupted failover (new master %s, promotion begun: %v)", orNone(res.NewMaster.String()), res.Promoted)
		if res.Promoted {
			return r.finishPromoted(r.pastNoReturn(ctx))
		}
		if !res.NewMaster.IsZero() {
			r.opts.Plan.NewMasterHost = res.NewMaster // the decision stands
		}
		if res.CatchingUp {
			if err := r.restoreCatchUp(ctx, res.NewMaster); err != nil {
				return fmt.Errorf("resume: put %s back under %s: %w", res.NewMaster, r.dead, err)
			}
		}
	}
	if err := r.check(ctx); err != nil {
		return err
	}
	ctx = r.pastNoReturn(ctx)
	if err := r.journal("fence", r.dead.String(), "stop the replicas' IO threads and fence the old master", nil); err != nil {
		return err
	}
	r.prefetchDeadBinlogs(ctx)
	if err := r.fence(ctx); err != nil {
		return err
	}
	if err := r.settle(ctx); err != nil {
		return r.halted(err)
	}
	if err := r.decide(); err != nil {
		return r.halted(err)
	}
	r.rep.NewMaster, r.rep.Reason, r.rep.Mode = r.plan.NewMaster.Key.String(), r.plan.NewMaster.Reason, r.plan.Mode
	if err := r.journal("plan", r.plan.NewMaster.Key.String(), r.plan.NewMaster.Reason,
		map[string]string{"new_master": r.plan.NewMaster.Key.String(), "base": r.plan.Base.String(), "mode": string(r.plan.Mode)}); err != nil {
		return r.halted(err)
	}
	var err error
	if r.plan.Mode == ModeGTID {
		err = r.recoverGTID(ctx)
	} else {
		err = r.recoverFile(ctx)
	}
	if err != nil && !isPartial(err) && !r.promoted {
		return r.halted(err)
	}
	if err == nil {
		err = r.leftOutDown()
	}
	return err
}

// leftOutDown: a replica left out because it was down (ignore_fail) ends
// the failover with MHA's exit code 10, as MHA does: it must be rebuilt
// or repointed by hand.
func (r *run) leftOutDown() error {
	var down []string
	for _, e := range r.plan.Excluded {
		if e.Down {
			down = append(down, e.Key.String())
			r.rep.replica(ReplicaEnd{Server: e.Key.String(), Role: "failed", Error: "left out: " + e.Why,
				Next: "when it is back, point it at the new master (CHANGE MASTER TO ... MASTER_USE_GTID=slave_pos) or rebuild it"})
		}
	}
	if len(down) == 0 {
		return nil
	}
	return &PartialError{Failed: down}
}

// pastNoReturn is called once the failover starts changing servers: from
// then on a stop request (SIGINT, SIGTERM, a cancelled manager) no longer
// cancels it, since half a failover is worse than a late exit. The request
// is noted in the report.
func (r *run) pastNoReturn(ctx context.Context) context.Context {
	stop := context.AfterFunc(ctx, func() {
		r.rep.warn("a stop was requested while the failover was past its point of no return: it finished first")
		r.opts.Logger.Warn("stop requested: the failover is past its point of no return and finishes first")
	})
	r.stopWatch = stop
	return context.WithoutCancel(ctx)
}

// journal records a step before it is taken; a journal that cannot be
// written stops the failover there.
func (r *run) journal(step, server, detail string, data map[string]string) error {
	if r.opts.Journal == nil {
		return nil
	}
	if err := r.opts.Journal.Record(step, server, detail, data); err != nil {
		return fmt.Errorf("record %q in the failover journal: %w", step, err)
	}
	return nil
}

// halted records, for a failover that stopped after fencing and before
// any server took writes, where every survivor stands and what finishes
// the job: running the failover again, which starts from what each server
// then has.
func (r *run) halted(err error) error {
	for _, k := range r.order {
		s := r.surv[k]
		r.rep.replica(ReplicaEnd{Server: k.String(), Role: "halted", State: survivorState(s)})
	}
	r.rep.Next = fmt.Sprintf("No server takes writes: the dead master is fenced and nothing was promoted. "+
		"Once the cause above is dealt with, run %s again: it starts from what each server has then and applies nothing twice.", r.opts.Rerun)
	return err
}

// survivorState describes where a replica stands, for a report.
func survivorState(s *survivor) string {
	st := s.status
	if st == nil || st.Replica == nil {
		return "no replication status"
	}
	rp := st.Replica
	sql := "SQL thread stopped"
	switch {
	case rp.SQLRunning:
		sql = "SQL thread running (" + orNone(rp.SQLState) + ")"
	case rp.LastSQLErrno != 0:
		sql = fmt.Sprintf("SQL thread stopped on error %d (%s)", rp.LastSQLErrno, rp.LastSQLError)
	}
	return fmt.Sprintf("IO thread %s, %s; executed %s of %s received", ioState(rp.IORunning), sql, rp.ExecCoord(), rp.ReadCoord())
}

func ioState(s string) string {
	if s == "Yes" {
		return "running"
	}
	return "stopped"
}

// check connects to every server but the dead master and confirms the
// situation: the master does not answer, its replicas are reachable.
func (r *run) check(ctx context.Context) error {
	r.rep.phase(phaseCheck)
	snap := r.env.Snapshot(ctx, r.dead)
	r.snap = snap
	deadNode := snap.ByKey(r.dead)
	if deadNode == nil {
		err := fmt.Errorf("%s is not a configured server", r.dead)
		r.rep.endPhase(phaseCheck, err)
		return err
	}
	// A dry plan validates the topology before anything is changed.
	opts := r.opts.Plan
	opts.SSHReachable = false
	if _, err := PlanFailover(snap, r.dead, opts); err != nil {
		r.rep.endPhase(phaseCheck, err)
		return err
	}
	for _, n := range snap.Nodes {
		if n.Key() == r.dead || !n.Alive() || !n.Status.IsReplica() || !deadNode.Server.Matches(n.Status.Replica.MasterHost, n.Status.Replica.MasterPort) {
			continue
		}
		node, err := r.env.Connect(ctx, n.Key())
		if err != nil {
			if n.Server.IgnoreFail {
				r.rep.warn("%s unreachable, ignored (ignore_fail): %v", n.Key(), err)
				continue
			}
			r.rep.endPhase(phaseCheck, err)
			return fmt.Errorf("connect to replica %s: %w", n.Key(), err)
		}
		r.surv[n.Key()] = &survivor{key: n.Key(), node: node, status: n.Status}
		r.order = append(r.order, n.Key())
	}
	r.rep.endPhase(phaseCheck, nil, fmt.Sprintf("%d replicas of %s alive", len(r.order), r.dead))
	return nil
}

func (r *run) hookVerdict(name string, h *HookRun, err error) error {
	return r.rep.hookVerdict(name, h, err)
}

// settle lets every replica execute what it received before positions
// are compared: a SQL thread stopped without an error is started, parallel
// workers are waited for, and the statuses are read again once both
// threads are stopped. A replica whose SQL thread stopped on an error is
// marked stuck: its relay log still serves the others. The wait is bounded
// by relay_wait_timeout.
func (r *run) settle(ctx context.Context) error {
	r.rep.phase(phaseRelay)
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for _, k := range r.order {
		s := r.surv[k]
		before := s.status.Replica
		wg.Go(func() {
			var st *topology.Status
			err := r.watching(ctx, phaseRelay, s, func() error {
				var err error
				st, err = s.node.ApplyRelayLog(ctx, r.opts.RelayWait, func(st *topology.Status) {
					r.opts.Logger.Info("waiting for a replica to apply its relay log", "host", s.key.String(),
						"executed", st.Replica.ExecCoord().String(), "received", st.Replica.ReadCoord().String(), "sql_state", st.Replica.SQLState)
				})
				return err
			})
			mu.Lock()
			defer mu.Unlock()
			if st != nil && st.Replica != nil && before != nil && before.UsesGTID() && !st.Replica.UsesGTID() {
				// Switched to file positioning to keep its relay log (a
				// MariaDB replica whose threads were both stopped): it
				// still belongs to a GTID topology and is repointed by GTID.
				st.Replica.UsingGTID, st.Replica.AutoPosition = before.UsingGTID, before.AutoPosition
			}
			if st != nil {
				s.status = st
			}
			if err != nil {
				errs = append(errs, err)
				return
			}
			r.noteSettled(s, before)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		err = fmt.Errorf("relay_wait_timeout=%s: %w", r.opts.RelayWait, err)
		r.rep.endPhase(phaseRelay, err)
		return err
	}
	for _, k := range r.order {
		s := r.surv[k]
		h, err := holdingOf(s.status)
		if err != nil {
			r.rep.endPhase(phaseRelay, err)
			return err
		}
		s.held = h
	}
	r.rep.endPhase(phaseRelay, nil)
	return nil
}

// noteSettled says what the relay-log wait found on one replica.
func (r *run) noteSettled(s *survivor, before *topology.Replica) {
	rp := s.status.Replica
	if rp == nil {
		return
	}
	if !rp.SQLRunning && rp.LastSQLErrno != 0 {
		s.stuck = fmt.Sprintf("SQL thread stopped on error %d (%s): it could not apply %s to %s of what it received",
			rp.LastSQLErrno, rp.LastSQLError, rp.ExecCoord(), rp.ReadCoord())
		r.rep.note(phaseRelay, "%s: %s; its relay log still serves the others", s.key, s.stuck)
		return
	}
	how := "applied all it received"
	if before != nil && !before.SQLRunning {
		how = "its SQL thread was stopped (no error): started, applied all it received"
	}
	if rp.ExecCoord() != rp.ReadCoord() {
		how += fmt.Sprintf(" but a transaction cut off at the end of its relay log (%s to %s), which the salvage or the new master brings", rp.ExecCoord(), rp.ReadCoord())
	}
	r.rep.note(phaseRelay, "%s: %s; executed %s", s.key, how, rp.ExecCoord())
}

// decide plans the failover from the statuses read after the relay wait.
func (r *run) decide() error {
	r.rep.phase(phasePlan)
	for _, n := range r.snap.Nodes {
		if s, ok := r.surv[n.Key()]; ok {
			n.Status, n.Err = s.status, nil
		}
	}
	opts := r.opts.Plan
	opts.SSHReachable = r.ssh && !r.opts.SkipSalvage
	p, err := PlanFailover(r.snap, r.dead, opts)
	if err != nil {
		r.rep.endPhase(phasePlan, err)
		return err
	}
	r.plan, r.rep.Plan = p, p
	for _, w := range p.Warnings {
		r.rep.warn("%s", w)
	}
	r.rep.endPhase(phasePlan, nil, fmt.Sprintf("new master %s: %s", p.NewMaster.Label, p.NewMaster.Reason))
	return nil
}

func (r *run) reportHook(ctx context.Context) {
	var slaves []topology.Key
	for _, k := range r.order {
		for _, e := range r.rep.Replicas {
			if e.Role == "replica" && e.Server == k.String() {
				slaves = append(slaves, k)
			}
		}
	}
	h, err := r.hooks.Report(ctx, r.rep, slaves)
	if h != nil {
		h.Name = "report_script"
		r.rep.addHook(*h)
	}
	if err != nil {
		r.rep.warn("report_script: %v", err)
	}
}

func (r *run) closeAll() {
	if r.stopWatch != nil {
		r.stopWatch()
	}
	for _, s := range r.surv {
		s.node.Close()
	}
	if r.deadShell != nil {
		go func() {
			if sh, _ := r.deadShell.wait(); sh != nil {
				sh.Close()
			}
		}()
	}
}
