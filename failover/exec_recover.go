package failover

import (
	"context"
	"fmt"
	"sync"

	"github.com/gomha/gomha/topology"
)

// recoverGTID: the new master replicates from the latest replica until it
// has everything, takes the dead master's salvaged tail, and the others are
// repointed with GTID positioning and fetch what they lack from it.
func (r *run) recoverGTID(ctx context.Context) error {
	nm, base := r.surv[r.plan.NewMaster.Key], r.surv[r.plan.Base]
	r.rep.phase(phaseNewMastr)
	if err := nm.node.StopReplica(ctx); err != nil {
		return r.failPhase(phaseNewMastr, fmt.Errorf("%w: %v", ErrRecoverMaster, err))
	}
	if nm != base {
		catchUp := r.catchUp
		if !base.status.LogBin || !base.status.LogSlaveUpdates {
			// base's binlog does not hold what it replicated: replicating
			// from it would miss those events, its relay log has them.
			catchUp = r.catchUpFromRelay
		}
		if err := catchUp(ctx, nm, base); err != nil {
			return r.failPhase(phaseNewMastr, fmt.Errorf("%w: %v", ErrRecoverMaster, err))
		}
	}
	r.rep.endPhase(phaseNewMastr, nil)
	salv, err := r.salvagePhase(ctx, base)
	defer salv.remove()
	if err != nil {
		return err
	}
	if err := r.applyTo(ctx, phaseSalvage, nm, salv); err != nil {
		return err
	}
	if err := r.activate(ctx, nm); err != nil {
		return err
	}
	src := r.source(nm.key, base)
	src.Mode = gtidMode(nm.node.Flavor())
	pos, _ := nm.node.Var(ctx, gtidVar(nm.node.Flavor()))
	return r.repointAll(ctx, nm, func(ctx context.Context, s *survivor) error {
		return r.repoint(ctx, s, src, pos)
	})
}

func gtidMode(f topology.Flavor) topology.PositionMode {
	if f == topology.MySQL {
		return topology.PositionAutoPosition
	}
	return topology.PositionSlavePos
}

// source is how replicas reach key; without repl_user in the configuration
// the replication user the replicas already use is kept (as MHA does).
func (r *run) source(key topology.Key, like *survivor) topology.ChangeMaster {
	src := r.env.Source(key)
	if src.User == "" && like.status.Replica != nil {
		src.User = like.status.Replica.MasterUser
	}
	return src
}

func gtidVar(f topology.Flavor) string {
	if f == topology.MySQL {
		return "gtid_executed"
	}
	return "gtid_binlog_pos"
}

// catchUp makes nm replicate from base until it has applied everything base
// applied.
func (r *run) catchUp(ctx context.Context, nm, base *survivor) error {
	v := "gtid_slave_pos"
	if base.node.Flavor() == topology.MySQL {
		v = "gtid_executed"
	}
	target, err := base.node.Var(ctx, v)
	if err != nil {
		return err
	}
	src := r.source(base.key, base)
	src.Mode = gtidMode(nm.node.Flavor())
	if err := nm.node.ChangeMaster(ctx, src); err != nil {
		return err
	}
	if err := nm.node.StartReplica(ctx); err != nil {
		return err
	}
	if err := nm.node.WaitGTID(ctx, target, r.opts.CatchUpWait); err != nil {
		return fmt.Errorf("catch up from %s: %w", base.key, err)
	}
	r.rep.note(phaseNewMastr, "%s caught up with %s (%s)", nm.key, base.key, target)
	return nm.node.StopReplica(ctx)
}

// catchUpFromRelay applies to nm the events it lacks from base's relay
// logs (MHA's method), for when base does not log what it replicates.
func (r *run) catchUpFromRelay(ctx context.Context, nm, base *survivor) error {
	srcs, err := r.relayLogs(ctx, base.key, base.node)
	if err != nil {
		return err
	}
	d, err := r.relayDiff(ctx, base, nm, srcs)
	if err != nil {
		return err
	}
	defer d.remove()
	if err := r.apply(ctx, nm.key, d); err != nil {
		return err
	}
	r.rep.note(phaseNewMastr, "%s caught up with %s from its relay logs (log_slave_updates is off there)", nm.key, base.key)
	return nil
}

// salvagePhase reads the dead master's binlog tail beyond what base applied.
func (r *run) salvagePhase(ctx context.Context, base *survivor) (*extracted, error) {
	from := base.status.Replica.ExecCoord()
	if r.plan.Salvage == nil {
		r.rep.Lost = Loss{Range: fmt.Sprintf("whatever the dead master wrote after %s", from),
			Why: "the dead master's host did not answer SSH, so its binlog could not be read"}
		if r.opts.SkipSalvage {
			r.rep.Lost.Why = "--skip_save_master_binlog"
		}
		return nil, nil
	}
	r.rep.phase(phaseSalvage)
	salv, err := r.salvage(ctx, from)
	if err != nil {
		// MHA continues after a failed save; so do we, but the report says
		// exactly what may be lost.
		r.rep.endPhase(phaseSalvage, err)
		r.rep.Lost = Loss{Range: fmt.Sprintf("whatever the dead master wrote after %s", from), Why: "salvage failed: " + err.Error()}
		return nil, nil
	}
	r.rep.Salvaged = salv.ids()
	r.rep.Lost = Loss{Nothing: true}
	if inc := salv.sum.Incomplete; inc != nil {
		r.rep.warn("the dead master's binlog ends inside a transaction (%s): never committed, not applied", inc.GTID)
	}
	r.rep.note(phaseSalvage, "%d transactions after %s", salv.trxs(), from)
	return salv, nil
}

// applyTo applies extracted events to one server inside a phase.
func (r *run) applyTo(ctx context.Context, phase string, s *survivor, files ...*extracted) error {
	n := 0
	for _, f := range files {
		n += f.trxs()
	}
	if n == 0 {
		r.rep.endPhase(phase, nil)
		return nil
	}
	if err := r.apply(ctx, s.key, files...); err != nil {
		return r.failPhase(phase, fmt.Errorf("%w: apply to %s: %v", ErrRecoverMaster, s.key, err))
	}
	r.rep.endPhase(phase, nil, fmt.Sprintf("applied %d transactions to %s", n, s.key))
	return nil
}

// activate turns the recovered server into the master.
func (r *run) activate(ctx context.Context, nm *survivor) error {
	r.rep.phase(phaseActivate)
	if !r.opts.SkipResetSlave {
		if err := nm.node.ResetReplicaAll(ctx); err != nil {
			return r.failPhase(phaseActivate, err)
		}
	}
	h, err := r.hooks.FailoverStart(ctx, r.dead, nm.key)
	if err := r.hookVerdict("master_ip_failover_script start", h, err); err != nil {
		return r.failPhase(phaseActivate, err)
	}
	if !r.opts.SkipDisableRO {
		if err := nm.node.SetReadOnly(ctx, false); err != nil {
			return r.failPhase(phaseActivate, err)
		}
	}
	r.rep.replica(ReplicaEnd{Server: nm.key.String(), Role: "new master"})
	r.rep.endPhase(phaseActivate, nil, fmt.Sprintf("%s is writable", nm.key))
	return nil
}

// repointAll runs fn on every survivor but the new master, in parallel.
func (r *run) repointAll(ctx context.Context, nm *survivor, fn func(context.Context, *survivor) error) error {
	r.rep.phase(phaseSlaves)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed []string
	for _, k := range r.order {
		s := r.surv[k]
		if s == nm {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := fn(ctx, s)
			end := ReplicaEnd{Server: s.key.String(), Role: "replica", Source: nm.key.String()}
			if err != nil {
				end = ReplicaEnd{Server: s.key.String(), Role: "failed", Error: err.Error()}
				mu.Lock()
				failed = append(failed, s.key.String())
				mu.Unlock()
			}
			r.rep.replica(end)
		}()
	}
	wg.Wait()
	if len(failed) > 0 {
		err := &PartialError{Failed: failed}
		r.rep.endPhase(phaseSlaves, err)
		return err
	}
	r.rep.endPhase(phaseSlaves, nil)
	return nil
}

// repoint attaches a replica to the new master and waits until it runs
// (and, with a GTID position, until it has caught up).
func (r *run) repoint(ctx context.Context, s *survivor, src topology.ChangeMaster, pos string) error {
	if err := s.node.StopReplica(ctx); err != nil {
		return err
	}
	if err := s.node.ChangeMaster(ctx, src); err != nil {
		return err
	}
	if err := s.node.StartReplica(ctx); err != nil {
		return err
	}
	if err := s.node.WaitReplicaRunning(ctx, r.opts.RelayWait); err != nil {
		return err
	}
	if pos != "" && src.Mode != topology.PositionFile {
		if err := s.node.WaitGTID(ctx, pos, r.opts.CatchUpWait); err != nil {
			return err
		}
	}
	return nil
}

func (r *run) failPhase(phase string, err error) error {
	r.rep.endPhase(phase, err)
	return err
}
