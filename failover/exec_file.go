package failover

import (
	"context"
	"errors"
	"fmt"

	"github.com/gomha/gomha/binlog"
	"github.com/gomha/gomha/topology"
)

// recoverFile is MHA's method for file/position replication: every
// survivor gets, from the latest replica's relay logs, the events between
// what it holds and what the latest executed, then the dead master's
// salvaged tail, each cut by what it holds; the others are repointed at the
// new master's binlog coordinates taken after its recovery, once they hold
// everything it held.
func (r *run) recoverFile(ctx context.Context) error {
	nm, base := r.surv[r.plan.NewMaster.Key], r.surv[r.plan.Base]
	r.baseHeld = *base.held
	if err := r.recoverNewMaster(ctx, nm, base); err != nil {
		return err
	}
	if err := r.salvageTo(ctx, base, []*survivor{nm}); err != nil {
		return err
	}
	// The others' differences come from base's relay logs: copy them
	// before the new master's RESET SLAVE ALL deletes them (base == nm).
	for _, k := range r.order {
		if s := r.surv[k]; s != nm && s.stuck == "" && behind(s.held, base.held) {
			if _, err := r.baseRelayLogs(ctx, base); err != nil {
				r.rep.warn("copy the relay logs of %s: %v", base.key, err)
			}
			break
		}
	}
	st, err := nm.node.Discover(ctx)
	if err != nil {
		return r.failPhase(phaseActivate, fmt.Errorf("%w: %v", ErrRecoverMaster, err))
	}
	if err := r.activate(ctx, nm); err != nil {
		return err
	}
	src := r.source(nm.key, base)
	src.Mode, src.File, src.Pos = topology.PositionFile, st.BinlogFile, st.BinlogPos
	r.rep.note(phaseActivate, "replicas start from %s:%d", st.BinlogFile, st.BinlogPos)
	return r.repointAll(ctx, nm, func(ctx context.Context, s *survivor) error {
		if err := s.node.StopReplica(ctx); err != nil {
			return err
		}
		if err := r.bringUp(ctx, s, base); err != nil {
			return err
		}
		if lack := s.held.lacks(r.promotedHeld); lack != "" {
			return fmt.Errorf("%w: it lacks %s; not repointed", ErrDiverged, lack)
		}
		return r.repoint(ctx, s, src)
	})
}

// errRelayGone: the latest replica's relay logs no longer reach back to
// where a survivor stands (relay_log_purge=1).
var errRelayGone = errors.New("relay logs of the latest replica do not reach back that far")

// bringUp gives a survivor what it lacks of the latest replica's relay
// logs, then of the dead master's salvaged tail; when those relay logs were
// purged, all of it comes from the dead master's binlog.
func (r *run) bringUp(ctx context.Context, s, base *survivor) error {
	if behind(s.held, base.held) {
		srcs, err := r.baseRelayLogs(ctx, base)
		if err != nil {
			return err
		}
		d, err := r.relayDiff(ctx, base, s, srcs)
		switch {
		case errors.Is(err, errRelayGone):
			r.rep.note(phaseSlaves, "%s: %v; it gets everything from the dead master's binlog instead", s.key, err)
		case err != nil:
			return err
		default:
			defer d.remove()
			if err := r.applyTo(ctx, phaseSlaves, s, d); err != nil {
				return err
			}
			s.held.reach(r.baseHeld.coord)
		}
	}
	return r.salvageFor(ctx, phaseSlaves, s)
}

// behind reports whether a holds less than b of the dead master's binlog.
func behind(a, b *holding) bool {
	if a.coord.File == "" || b.coord.File == "" {
		return a.lacks(b) != ""
	}
	c, err := topology.CompareBinlogCoords(a.coord, b.coord)
	return err == nil && c < 0
}

// baseRelayLogs copies the latest replica's relay logs once.
func (r *run) baseRelayLogs(ctx context.Context, base *survivor) ([]binlog.Source, error) {
	r.relayOnce.Do(func() {
		r.relaySrcs, r.relayErr = r.relayLogs(ctx, base.key, base.node)
	})
	return r.relaySrcs, r.relayErr
}

// relayDiff extracts from base's relay logs what s lacks, from the master
// position s executed up to, cut by what s holds.
func (r *run) relayDiff(ctx context.Context, base, s *survivor, srcs []binlog.Source) (*extracted, error) {
	from := s.held.coord
	rp, err := binlog.FindRelayPos(ctx, srcs, binlog.Pos{File: from.File, Offset: from.Pos},
		binlog.RelayOptions{ReplicaServerID: base.status.ServerID, MasterLogFile: base.status.Replica.MasterLogFile})
	if errors.Is(err, binlog.ErrPositionNotFound) {
		return nil, fmt.Errorf("%w: %s is not in the relay logs of %s", errRelayGone, from, base.key)
	}
	if err != nil {
		return nil, fmt.Errorf("find %s in the relay logs of %s: %w", from, base.key, err)
	}
	// Relay logs before rp.File are read for context only (the master's FDE).
	d, err := r.extractFor(ctx, fmt.Sprintf("relay_from_read_to_latest_%s_%d_*.binlog", s.key.Host, s.key.Port), srcs,
		binlog.Pos{File: rp.File, Offset: rp.Offset}, s.held)
	if err != nil {
		return nil, err
	}
	r.rep.note(phaseNewMastr, "%s lacks %d transactions after %s (relay log %s:%d of %s; %d it already held skipped)",
		s.key, d.trxs(), from, rp.File, rp.Offset, base.key, len(d.sum.Skipped))
	if d.sum.SkippedLeading > 0 {
		r.rep.warn("%s: %d events of a transaction begun before %s were skipped in %s's relay log", s.key, d.sum.SkippedLeading, from, base.key)
	}
	return d, nil
}

// salvageTo applies the dead master's salvaged tail to the targets, in the
// salvage phase.
func (r *run) salvageTo(ctx context.Context, base *survivor, targets []*survivor) error {
	if r.plan.Salvage == nil {
		r.recordNoSalvage(targets[0].held.coord)
		return nil
	}
	r.rep.phase(phaseSalvage)
	for _, s := range targets {
		if err := r.salvageFor(ctx, phaseSalvage, s); err != nil {
			return r.failPhase(phaseSalvage, fmt.Errorf("%w: %v", ErrRecoverMaster, err))
		}
	}
	r.rep.endPhase(phaseSalvage, nil)
	return nil
}

// salvageFor applies to s the dead master's binlog from the position s
// holds up to, to its end, cut by what s holds. A copy that fails is not
// an error (MHA goes on too); the report says what may be lost. A range
// purged on the dead master is skipped and named.
func (r *run) salvageFor(ctx context.Context, phase string, s *survivor) error {
	from := s.held.coord
	if r.plan.Salvage == nil || from.File == "" {
		return nil // recorded once, for the new master
	}
	c, err := r.binlogsFrom(ctx, from)
	if err != nil {
		r.recordLoss(Loss{Range: fmt.Sprintf("whatever the dead master wrote after %s", from), Why: "salvage failed: " + err.Error()})
		r.rep.note(phase, "%s: salvage failed: %v", s.key, err)
		return nil
	}
	start, lost := salvageStart(c, from)
	if lost != "" {
		r.recordLoss(Loss{Range: lost, Why: "purged from the dead master's binlog directory, and no replica received it",
			For: []string{s.key.String()}})
	}
	x, err := r.extractFor(ctx, fmt.Sprintf("saved_master_binlog_for_%s_%d_*.binlog", s.key.Host, s.key.Port),
		binlog.FileSources(c.files...), start, s.held)
	if err != nil {
		return err
	}
	defer x.remove()
	if err := r.applyTo(ctx, phase, s, x); err != nil {
		return err
	}
	if s.key == r.plan.NewMaster.Key {
		r.rep.Salvaged = x.ids()
		if inc := x.sum.Incomplete; inc != nil {
			r.rep.warn("the dead master's binlog ends inside a transaction (%s): never committed, not applied", inc.GTID)
		}
	}
	r.rep.note(phase, "%s: %d transactions of the dead master's binlog after %s applied (%d it held skipped; %s copied from %s)",
		s.key, x.trxs(), from, len(x.sum.Skipped), mib(c.bytes), c.from)
	return nil
}

// recordNoSalvage says what may be lost when the dead master's binlog was
// not read.
func (r *run) recordNoSalvage(from topology.BinlogCoord) {
	why := "the dead master's host did not answer SSH, so its binlog could not be read"
	if r.opts.SkipSalvage {
		why = "--skip_save_master_binlog"
	}
	r.recordLoss(Loss{Range: fmt.Sprintf("whatever the dead master wrote after %s", from), Why: why})
}

func (r *run) recordLoss(l Loss) { r.rep.loss(l) }

func mib(n int64) string {
	if n < 1<<20 {
		return fmt.Sprintf("%d KiB", (n+1023)>>10)
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}
