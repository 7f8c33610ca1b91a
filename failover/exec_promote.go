package failover

import (
	"context"
	"fmt"
	"sync"

	"github.com/gomha/gomha/topology"
)

// activate turns the recovered server into the master. What it holds at
// that moment is what every other survivor must hold in the end.
func (r *run) activate(ctx context.Context, nm *survivor) error {
	if !r.opts.DeadGone {
		r.awaitFence() // the old master is fenced before another takes writes
	}
	r.rep.phase(phaseActivate)
	if f := r.rep.Fencing; f != nil {
		r.rep.note(phaseActivate, "old master %s", f)
	}
	pos, err := nm.node.Var(ctx, gtidVar(nm.node.Flavor()))
	if err != nil {
		return r.failPhase(phaseActivate, err)
	}
	if err := r.journal("promote", nm.key.String(), "RESET SLAVE ALL, read_only=OFF", map[string]string{"promoted_pos": pos}); err != nil {
		return r.failPhase(phaseActivate, err)
	}
	if !r.opts.SkipResetSlave {
		if err := nm.node.ResetReplicaAll(ctx); err != nil {
			return r.failPhase(phaseActivate, err)
		}
	}
	held := *nm.held
	r.promotedHeld, r.promotedPos = &held, pos
	h, err := r.hooks.FailoverStart(ctx, r.dead, nm.key)
	if err := r.hookVerdict("master_ip_failover_script start", h, err); err != nil {
		return r.failPhase(phaseActivate, err)
	}
	if !r.opts.SkipDisableRO {
		if err := nm.node.SetReadOnly(ctx, false); err != nil {
			return r.failPhase(phaseActivate, err)
		}
	}
	r.promoted = true
	r.rep.replica(ReplicaEnd{Server: nm.key.String(), Role: "new master"})
	r.rep.endPhase(phaseActivate, nil, fmt.Sprintf("%s is writable; it held %s", nm.key, nm.held))
	return nil
}

// repointAll runs fn on every survivor but the new master, in parallel. A
// survivor that is stuck (its SQL thread stopped on an error) is left as it
// is and named, with what finishes its recovery.
func (r *run) repointAll(ctx context.Context, nm *survivor, fn func(context.Context, *survivor) error) error {
	r.rep.phase(phaseSlaves)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed []string
	fail := func(end ReplicaEnd) {
		mu.Lock()
		failed = append(failed, end.Server)
		mu.Unlock()
		r.rep.replica(end)
	}
	for _, k := range r.order {
		s := r.surv[k]
		if s == nm {
			continue
		}
		if s.stuck != "" {
			fail(ReplicaEnd{Server: s.key.String(), Role: "failed", Error: s.stuck + "; left as it is",
				State: survivorState(s), Next: r.finishHint(s, nm)})
			continue
		}
		wg.Go(func() {
			if err := fn(ctx, s); err != nil {
				fail(ReplicaEnd{Server: s.key.String(), Role: "failed", Error: err.Error(), Next: r.finishHint(s, nm)})
				return
			}
			r.rep.replica(ReplicaEnd{Server: s.key.String(), Role: "replica", Source: nm.key.String()})
		})
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

// finishHint is what a DBA runs to finish a survivor gomha could not
// recover: make it apply what it received, then follow the new master by
// GTID (MariaDB keeps GTIDs even in file/position replication, and the new
// master's binlog holds every transaction with its original GTID).
func (r *run) finishHint(s, nm *survivor) string {
	src := r.env.Source(nm.key)
	pos := "MASTER_USE_GTID=slave_pos"
	if s.node.Flavor() == topology.MySQL {
		pos = "MASTER_AUTO_POSITION=1"
	}
	fix := ""
	if s.stuck != "" {
		fix = "fix the cause of the SQL error, START SLAVE SQL_THREAD and let it apply its relay log, then "
	}
	return fmt.Sprintf("%sSTOP SLAVE; CHANGE MASTER TO MASTER_HOST='%s', MASTER_PORT=%d, %s; START SLAVE", fix, src.Host, src.Port, pos)
}

// repoint attaches a replica to the new master and waits until it runs
// and, with GTIDs, until it holds everything the new master held when it
// was promoted.
func (r *run) repoint(ctx context.Context, s *survivor, src topology.ChangeMaster) error {
	if r.opts.SkipChangeMaster {
		r.rep.note(phaseSlaves, "%s: not repointed (--skip_change_master): point it at %s:%d yourself", s.key, src.Host, src.Port)
		return nil
	}
	if err := r.journal("repoint", s.key.String(), fmt.Sprintf("CHANGE MASTER TO %s:%d (%s)", src.Host, src.Port, src.Mode), nil); err != nil {
		return err
	}
	if err := s.node.StopReplica(ctx); err != nil {
		return err
	}
	if err := s.node.ChangeMaster(ctx, src); err != nil {
		return err
	}
	if err := s.node.StartReplica(ctx); err != nil {
		return err
	}
	if err := s.node.WaitReplicaRunning(ctx, r.opts.CatchUpWait); err != nil {
		return err
	}
	if r.promotedPos != "" && src.Mode != topology.PositionFile {
		if err := s.node.WaitGTID(ctx, r.promotedPos, r.opts.CatchUpWait); err != nil {
			return fmt.Errorf("%w: %v", ErrDiverged, err)
		}
	}
	return nil
}

func (r *run) failPhase(phase string, err error) error {
	r.rep.endPhase(phase, err)
	return err
}
