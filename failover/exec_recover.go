package failover

import (
	"context"
	"fmt"

	"github.com/gomha/gomha/topology"
)

// recoverGTID: the new master catches up with the latest replica (by
// replicating from it, or from its relay logs when it cannot serve them),
// takes the dead master's salvaged tail, and the others are repointed with
// GTID positioning and fetch what they lack from it.
func (r *run) recoverGTID(ctx context.Context) error {
	nm, base := r.surv[r.plan.NewMaster.Key], r.surv[r.plan.Base]
	r.baseHeld = *base.held
	if err := r.recoverNewMaster(ctx, nm, base); err != nil {
		return err
	}
	if err := r.salvageTo(ctx, base, []*survivor{nm}); err != nil {
		return err
	}
	if err := r.activate(ctx, nm); err != nil {
		return err
	}
	src := r.source(nm.key, base)
	src.Mode = gtidMode(nm.node.Flavor())
	return r.repointAll(ctx, nm, func(ctx context.Context, s *survivor) error {
		return r.repoint(ctx, s, src)
	})
}

// recoverNewMaster gives the new master what the latest replica executed
// (and, from its relay log, what a stuck latest replica received) and
// checks that it holds all of it.
func (r *run) recoverNewMaster(ctx context.Context, nm, base *survivor) error {
	r.rep.phase(phaseNewMastr)
	if err := nm.node.StopReplica(ctx); err != nil {
		return r.failPhase(phaseNewMastr, fmt.Errorf("%w: %v", ErrRecoverMaster, err))
	}
	if nm != base {
		catchUp := r.catchUp
		switch {
		case r.plan.Mode == ModeFile:
			catchUp = r.catchUpFromRelay
		case base.stuck != "":
			// its binlog lacks what it could not apply; its relay log has it
			catchUp = r.catchUpFromRelay
		case !base.status.LogBin || !base.status.LogSlaveUpdates:
			// its binlog does not hold what it replicated; its relay log has it
			catchUp = r.catchUpFromRelay
		}
		if err := catchUp(ctx, nm, base); err != nil {
			return r.failPhase(phaseNewMastr, fmt.Errorf("%w: %v", ErrRecoverMaster, err))
		}
	}
	if lack := nm.held.lacks(base.held); lack != "" {
		return r.failPhase(phaseNewMastr, fmt.Errorf("%w: %s still lacks what %s executed: %s", ErrRecoverMaster, nm.key, base.key, lack))
	}
	what := fmt.Sprintf("%s holds what %s executed: %s", nm.key, base.key, nm.held)
	if nm == base {
		what = fmt.Sprintf("%s is the latest replica: %s", nm.key, nm.held)
	}
	r.rep.endPhase(phaseNewMastr, nil, what)
	return nil
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
// applied, then reads what nm holds again.
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
	if err := r.journal("catch-up", nm.key.String(), "replicate from "+base.key.String(), map[string]string{"source": base.key.String()}); err != nil {
		return err
	}
	if err := nm.node.ChangeMaster(ctx, src); err != nil {
		return err
	}
	if err := nm.node.StartReplica(ctx); err != nil {
		return err
	}
	err = r.watching(ctx, phaseNewMastr, nm, func() error { return nm.node.WaitGTID(ctx, target, r.opts.CatchUpWait) })
	if err != nil {
		return fmt.Errorf("catch up from %s: %w", base.key, err)
	}
	if err := nm.node.StopReplica(ctx); err != nil {
		return err
	}
	st, err := nm.node.Discover(ctx)
	if err != nil {
		return err
	}
	h, err := holdingOf(st)
	if err != nil {
		return err
	}
	// It now replicates from base: its coordinates are base's, not the
	// dead master's; in the dead master's it stands where base does.
	h.coord = base.held.coord
	nm.held = h
	r.rep.note(phaseNewMastr, "%s caught up with %s by replicating from it (%s)", nm.key, base.key, target)
	return nil
}

// catchUpFromRelay applies to nm what it lacks of base's relay logs (MHA's
// method), cut by what nm holds.
func (r *run) catchUpFromRelay(ctx context.Context, nm, base *survivor) error {
	srcs, err := r.baseRelayLogs(ctx, base)
	if err != nil {
		return err
	}
	d, err := r.relayDiff(ctx, base, nm, srcs)
	if err != nil {
		return err
	}
	defer d.remove()
	if err := r.applyTo(ctx, phaseNewMastr, nm, d); err != nil {
		return err
	}
	nm.held.reach(base.held.coord)
	r.rep.note(phaseNewMastr, "%s caught up with %s from its relay logs: %d transactions", nm.key, base.key, d.trxs())
	return nil
}
