package failover

import (
	"context"
	"fmt"

	"github.com/gomha/gomha/topology"
)

const phaseResume = "0 resume"

// finishPromoted finishes a failover interrupted after the new master's
// promotion began: it makes sure the new master is promoted, then repoints
// by GTID every survivor that does not replicate from it yet, each once it
// holds what the new master held when it was promoted. Nothing is applied
// again: what the survivors lack comes by replication from the new master.
func (r *run) finishPromoted(ctx context.Context) error {
	res := r.opts.Resume
	r.rep.phase(phaseResume)
	r.snap = r.env.Snapshot(ctx, r.dead)
	for _, n := range r.snap.Nodes {
		if n.Key() == r.dead {
			continue
		}
		if !n.Alive() {
			r.rep.note(phaseResume, "%s does not answer: %v", n.Key(), n.Err)
			continue
		}
		node, err := r.env.Connect(ctx, n.Key())
		if err != nil {
			r.rep.note(phaseResume, "%s: %v", n.Key(), err)
			continue
		}
		s := &survivor{key: n.Key(), node: node, status: n.Status}
		if rp := n.Status.Replica; rp != nil && !rp.SQLRunning && rp.LastSQLErrno != 0 {
			s.stuck = fmt.Sprintf("SQL thread stopped on error %d (%s)", rp.LastSQLErrno, rp.LastSQLError)
		}
		r.surv[n.Key()], r.order = s, append(r.order, n.Key())
	}
	nm := r.surv[res.NewMaster]
	if nm == nil {
		return r.failPhase(phaseResume, fmt.Errorf("%w: the new master %s chosen by the interrupted run does not answer", ErrRecoverMaster, res.NewMaster))
	}
	h, err := holdingOf(nm.status)
	if err != nil {
		return r.failPhase(phaseResume, err)
	}
	nm.held = h
	r.rep.NewMaster, r.rep.Reason = nm.key.String(), "chosen by the interrupted run"
	r.rep.endPhase(phaseResume, nil, fmt.Sprintf("%d servers answer; the new master %s holds %s", len(r.order), nm.key, nm.held))
	if nm.status.IsReplica() || nm.status.ReadOnly {
		if err := r.activate(ctx, nm); err != nil {
			return err
		}
	} else {
		r.promoted, r.promotedPos = true, res.PromotedPos
		if r.promotedPos == "" {
			r.promotedPos, _ = nm.node.Var(ctx, gtidVar(nm.node.Flavor()))
		}
		r.rep.replica(ReplicaEnd{Server: nm.key.String(), Role: "new master"})
	}
	src := r.source(nm.key, anyReplica(r, nm))
	src.Mode = gtidMode(nm.node.Flavor())
	return r.repointAll(ctx, nm, func(ctx context.Context, s *survivor) error {
		if follows(s.status, nm) {
			return nil // repointed by the interrupted run
		}
		return r.repoint(ctx, s, src)
	})
}

// follows reports whether a server replicates from nm with both threads
// running.
func follows(st *topology.Status, nm *survivor) bool {
	rp := st.Replica
	return rp != nil && rp.MasterPort == nm.key.Port && (rp.MasterHost == nm.key.Host || rp.MasterHost == nm.status.Key.Host) &&
		rp.IORunningOK() && rp.SQLRunning
}

// anyReplica is a survivor with a replication source, for the replication
// user when repl_user is not configured.
func anyReplica(r *run, not *survivor) *survivor {
	for _, k := range r.order {
		if s := r.surv[k]; s != not && s.status.Replica != nil {
			return s
		}
	}
	return not
}

// restoreCatchUp puts a new master caught between two sources back under
// the dead master: an interrupted run made it replicate from the latest
// replica to catch up; the new run sees it as a replica of the dead master
// again and, cut by what it then holds, applies only the rest.
func (r *run) restoreCatchUp(ctx context.Context, nm topology.Key) error {
	n, err := r.env.Connect(ctx, nm)
	if err != nil {
		return err
	}
	defer n.Close()
	st, err := n.Discover(ctx)
	if err != nil || st.Replica == nil || st.Replica.MasterKey() == r.dead {
		return err
	}
	if err := n.StopReplica(ctx); err != nil {
		return err
	}
	src := r.source(r.dead, &survivor{status: st})
	src.Mode = gtidMode(n.Flavor())
	if err := n.ChangeMaster(ctx, src); err != nil {
		return err
	}
	r.rep.warn("%s was catching up from %s when the run was interrupted: pointed back at the dead master %s (threads stopped) before starting again",
		nm, st.Replica.MasterKey(), r.dead)
	return nil
}
