package failover

import (
	"context"
	"fmt"
	"sync"

	"github.com/gomha/gomha/binlog"
	"github.com/gomha/gomha/topology"
)

// recoverFile is MHA's method for file/position replication: every
// survivor gets, from the latest replica's relay logs, the events between
// its own executed position and the latest's, then the dead master's
// salvaged tail; the others are repointed at the new master's binlog
// coordinates taken after its recovery.
func (r *run) recoverFile(ctx context.Context) error {
	nm, base := r.surv[r.plan.NewMaster.Key], r.surv[r.plan.Base]
	r.rep.phase(phaseNewMastr)
	diffs, err := r.relayDiffs(ctx, base)
	defer func() {
		for _, d := range diffs {
			d.remove()
		}
	}()
	if err != nil {
		return r.failPhase(phaseNewMastr, fmt.Errorf("%w: %v", ErrRecoverMaster, err))
	}
	r.rep.endPhase(phaseNewMastr, nil, fmt.Sprintf("relay log differences read from %s", base.key))
	salv, err := r.salvagePhase(ctx, base)
	defer salv.remove()
	if err != nil {
		return err
	}
	r.rep.phase(phaseSalvage + " (apply to new master)")
	if err := nm.node.StopReplica(ctx); err != nil {
		return r.failPhase(phaseSalvage+" (apply to new master)", err)
	}
	if err := r.applyTo(ctx, phaseSalvage+" (apply to new master)", nm, diffs[nm.key], salv); err != nil {
		return err
	}
	st, err := nm.node.Discover(ctx)
	if err != nil {
		return err
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
		if err := r.apply(ctx, s.key, diffs[s.key], salv); err != nil {
			return err
		}
		return r.repoint(ctx, s, src, "")
	})
}

// relayDiffs extracts, for every survivor behind base, the events it lacks
// from base's relay logs: from its executed master position to base's.
func (r *run) relayDiffs(ctx context.Context, base *survivor) (map[topology.Key]*extracted, error) {
	out := map[topology.Key]*extracted{}
	target := base.status.Replica.ExecCoord()
	var behind []*survivor
	for _, k := range r.order {
		s := r.surv[k]
		if s == base {
			continue
		}
		c, err := topology.CompareBinlogCoords(s.status.Replica.ExecCoord(), target)
		if err != nil {
			return out, err
		}
		if c < 0 {
			behind = append(behind, s)
		}
	}
	if len(behind) == 0 {
		return out, nil
	}
	srcs, err := r.relayLogs(ctx, base.key, base.node)
	if err != nil {
		return out, err
	}
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	for _, s := range behind {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, err := r.relayDiff(ctx, base, s, srcs)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = fmt.Errorf("events %s lacks: %w", s.key, err)
			}
			out[s.key] = d
		}()
	}
	wg.Wait()
	return out, firstErr
}

func (r *run) relayDiff(ctx context.Context, base, s *survivor, srcs []binlog.Source) (*extracted, error) {
	from := s.status.Replica.ExecCoord()
	rp, err := binlog.FindRelayPos(ctx, srcs, binlog.Pos{File: from.File, Offset: from.Pos},
		binlog.RelayOptions{ReplicaServerID: base.status.ServerID, MasterLogFile: base.status.Replica.MasterLogFile})
	if err != nil {
		return nil, fmt.Errorf("find %s in the relay logs of %s: %w", from, base.key, err)
	}
	// Relay logs before rp.File are read for context only (the master's FDE).
	d, err := r.extract(ctx, fmt.Sprintf("relay_from_read_to_latest_%s_%d_*.binlog", s.key.Host, s.key.Port), srcs,
		binlog.Pos{File: rp.File, Offset: rp.Offset})
	if err != nil {
		return nil, err
	}
	r.rep.note(phaseNewMastr, "%s lacks %d transactions after %s (relay log %s:%d of %s)", s.key, d.trxs(), from, rp.File, rp.Offset, base.key)
	if d.sum.SkippedLeading > 0 {
		r.rep.warn("%s: %d events of a transaction begun before %s were skipped in %s's relay log", s.key, d.sum.SkippedLeading, from, base.key)
	}
	return d, nil
}
