package failover

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gomha/gomha/topology"
)

// How often the waits of the blocked window poll: they are what the
// application waits for.
const (
	trxPoll      = 2 * time.Millisecond
	catchUpSlice = 50 * time.Millisecond
	stableRounds = 3 // catch-up rounds when the old master still moves
)

// switchWrites is the part of the switchover during which no server takes
// writes: stop hook, block writes on the old master, wait for its open
// write transactions, read its final position, let the new master apply
// everything, promote it. An error here is undone by rollback.
func (s *switchRun) switchWrites(ctx context.Context) error {
	s.rep.phase(phaseSwReject)
	s.stopHookRan = true // a failing script may have done part of its work
	h, err := s.hooks.OnlineChange(ctx, "stop", s.plan.OldMaster, s.plan.NewMaster.Key, s.opts.OrigIsNewSlave)
	if err := s.hookVerdict("master_ip_online_change_script stop", h, err); err != nil {
		return s.failPhase(phaseSwReject, err)
	}
	if h == nil {
		s.rep.note(phaseSwReject, "no master_ip_online_change_script: applications must follow the new master themselves")
	}
	s.rep.phase(PhaseWritesBlocked)
	if err := s.block(ctx); err != nil {
		return s.failPhase(phaseSwReject, err)
	}
	if err := s.waitOpenTrx(ctx); err != nil {
		return s.failPhase(phaseSwReject, err)
	}
	if err := s.readFinal(ctx); err != nil {
		return s.failPhase(phaseSwReject, err)
	}
	s.rep.endPhase(phaseSwReject, nil, fmt.Sprintf("old master's final position: %s", s.finalString()))
	s.rep.phase(phaseSwCatchUp)
	if err := s.catchUpStable(ctx); err != nil {
		return s.failPhase(phaseSwCatchUp, err)
	}
	s.rep.endPhase(phaseSwCatchUp, nil)
	return s.activate(ctx)
}

func (s *switchRun) finalString() string {
	if s.plan.Mode == ModeGTID {
		return fmt.Sprintf("GTID %s (%s)", s.final.gtid, s.final.coord)
	}
	return s.final.coord.String()
}

// block sets read_only on the old master, falling back to FLUSH TABLES WITH
// READ LOCK when that fails; with --skip_lock_all_tables it only checks
// that the binlog stopped moving (the hook must have stopped the writers).
func (s *switchRun) block(ctx context.Context) error {
	if s.opts.SkipLockAllTables {
		return s.checkBinlogStop(ctx)
	}
	s.fenced = true // a timed-out SET may still take effect on the server
	err := s.old.BlockWrites(ctx, s.opts.LockWait)
	if err == nil {
		s.rep.note(phaseSwReject, "read_only=ON on %s", s.plan.OldMaster)
		return nil
	}
	s.rep.note(phaseSwReject, "read_only=ON failed (%v): trying FLUSH TABLES WITH READ LOCK", err)
	release, lerr := s.old.LockAllTables(ctx, s.opts.LockWait)
	if lerr != nil {
		return fmt.Errorf("block writes on %s: %v; then %w", s.plan.OldMaster, err, lerr)
	}
	s.release = release
	s.rep.note(phaseSwReject, "FLUSH TABLES WITH READ LOCK held on %s", s.plan.OldMaster)
	return nil
}

// checkBinlogStop is MHA's check when no lock is taken: the binlog position
// must not move over 200 ms.
func (s *switchRun) checkBinlogStop(ctx context.Context) error {
	a, err := s.old.BinlogCoord(ctx)
	if err != nil {
		return err
	}
	if err := sleep(ctx, 200*time.Millisecond); err != nil {
		return err
	}
	b, err := s.old.BinlogCoord(ctx)
	if err != nil {
		return err
	}
	if a != b {
		return fmt.Errorf("--skip_lock_all_tables: the binlog of %s still moves (%s -> %s): writes were not stopped", s.plan.OldMaster, a, b)
	}
	s.rep.note(phaseSwReject, "--skip_lock_all_tables: binlog of %s stopped at %s", s.plan.OldMaster, b)
	return nil
}

// waitOpenTrx waits (TrxWait) for the write transactions open on the old
// master to end: a privileged client may still commit one. Those left are
// killed, or the switch is undone with NoKill.
func (s *switchRun) waitOpenTrx(ctx context.Context) error {
	trxs, err := s.old.ActiveTransactions(ctx)
	if err != nil {
		return err
	}
	open := OpenWrites(trxs)
	if len(open) == 0 {
		return nil
	}
	n := len(open)
	deadline := time.Now().Add(s.opts.TrxWait)
	killed := false
	for len(open) > 0 {
		if time.Now().After(deadline) {
			if killed {
				return fmt.Errorf("%d killed transactions on %s did not end within %s (first: %s)", len(open), s.plan.OldMaster,
					s.opts.LockWait, describeTrx(open[0]))
			}
			if s.opts.NoKill {
				return fmt.Errorf("%d write transactions still open on %s after %s (first: %s)", len(open),
					s.plan.OldMaster, s.opts.TrxWait, describeTrx(open[0]))
			}
			for _, x := range open {
				if err := s.old.Kill(ctx, x.ThreadID); err != nil {
					s.rep.note(phaseSwReject, "kill thread %d: %v", x.ThreadID, err)
				}
			}
			s.rep.note(phaseSwReject, "killed %d connections whose write transactions stayed open %s", len(open), s.opts.TrxWait)
			killed, deadline = true, time.Now().Add(s.opts.LockWait)
		}
		if err := sleep(ctx, trxPoll); err != nil {
			return err
		}
		if trxs, err = s.old.ActiveTransactions(ctx); err != nil {
			return err
		}
		open = stillOpen(open, trxs)
	}
	s.rep.note(phaseSwReject, "%d open write transactions ended", n)
	return nil
}

func describeTrx(x Trx) string {
	return fmt.Sprintf("transaction %s of thread %d, %s, %d rows modified, running %q", x.ID, x.ThreadID, x.State, x.RowsModified, shorten(x.Query))
}

func (s *switchRun) readFinal(ctx context.Context) error {
	c, err := s.old.BinlogCoord(ctx)
	if err != nil {
		return err
	}
	s.final.coord = c
	if s.plan.Mode == ModeGTID {
		if s.final.gtid, err = s.old.Var(ctx, gtidVar(s.old.Flavor())); err != nil {
			return err
		}
	}
	return nil
}

// catchUpStable waits until the new master applied the old master's final
// position, and until that position stays put (a privileged client that
// ignores read_only could still write).
func (s *switchRun) catchUpStable(ctx context.Context) error {
	for round := 1; ; round++ {
		if err := s.catchUp(ctx, s.nm, s.opts.CatchUpWait); err != nil {
			return err
		}
		c, err := s.old.BinlogCoord(ctx)
		if err != nil {
			return err
		}
		if c == s.final.coord {
			s.rep.note(phaseSwCatchUp, "%s applied everything up to %s", s.plan.NewMaster.Key, s.finalString())
			return nil
		}
		if round == stableRounds {
			return fmt.Errorf("%s kept writing after writes were blocked (%s -> %s): a client ignores read_only", s.plan.OldMaster, s.final.coord, c)
		}
		s.rep.note(phaseSwCatchUp, "%s still wrote after read_only (%s -> %s): waiting again", s.plan.OldMaster, s.final.coord, c)
		if err := s.readFinal(ctx); err != nil {
			return err
		}
	}
}

// catchUp waits, at most timeout, until n has applied the final position.
// It waits in short slices and gives up at once when n's replication
// stopped (a conflicting row, say): writes are blocked meanwhile.
func (s *switchRun) catchUp(ctx context.Context, n SwitchNode, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		slice := min(catchUpSlice, time.Until(deadline))
		var err error
		if s.plan.Mode == ModeGTID {
			err = n.WaitGTID(ctx, s.final.gtid, slice)
		} else {
			err = n.WaitCoord(ctx, s.final.coord, slice)
		}
		if err == nil {
			return nil
		}
		st, derr := n.Discover(ctx)
		if derr != nil {
			return fmt.Errorf("catch up on %s: %w", n.Key(), derr)
		}
		if r := st.Replica; r == nil || !r.SQLRunning || r.LastSQLErrno != 0 {
			return fmt.Errorf("catch up on %s: replication stopped: %s", n.Key(), replicationState(r))
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("catch up on %s to %s within %s: %w", n.Key(), s.finalString(), timeout, err)
		}
	}
}

func replicationState(r *topology.Replica) string {
	if r == nil {
		return "no replication configured"
	}
	return fmt.Sprintf("IO=%s SQL=%v, last SQL error %d: %s", r.IORunning, r.SQLRunning, r.LastSQLErrno, r.LastSQLError)
}

// activate stops the new master's replication, checks once more that the
// old master has not moved, and makes the new master writable. From then
// on there is no going back.
func (s *switchRun) activate(ctx context.Context) error {
	s.rep.phase(phaseSwActivate)
	s.nmStopped = true
	if err := s.nm.StopReplica(ctx); err != nil {
		return s.failPhase(phaseSwActivate, err)
	}
	if s.plan.Mode == ModeFile {
		c, err := s.nm.BinlogCoord(ctx)
		if err != nil {
			return s.failPhase(phaseSwActivate, err)
		}
		s.nmCoord = c
	}
	if c, err := s.old.BinlogCoord(ctx); err != nil || c != s.final.coord {
		if err == nil {
			err = fmt.Errorf("%s wrote after the new master stopped replicating (%s -> %s)", s.plan.OldMaster, s.final.coord, c)
		}
		return s.failPhase(phaseSwActivate, err)
	}
	s.promoting = true
	if err := s.nm.SetReadOnly(ctx, false); err != nil {
		return s.failPhase(phaseSwActivate, err)
	}
	took := time.Since(s.phaseStart(PhaseWritesBlocked))
	s.rep.endPhase(PhaseWritesBlocked, nil, fmt.Sprintf("read_only=ON on %s -> read_only=OFF on %s", s.plan.OldMaster, s.plan.NewMaster.Key))
	s.log.Info("new master takes writes", "old", s.plan.OldMaster, "new", s.plan.NewMaster.Key, "writes_blocked", took)
	s.rep.replica(ReplicaEnd{Server: s.plan.NewMaster.Key.String(), Role: "new master"})
	s.rep.endPhase(phaseSwActivate, nil, fmt.Sprintf("%s is writable", s.plan.NewMaster.Key))
	return nil
}

func (s *switchRun) phaseStart(name string) time.Time {
	s.rep.mu.Lock()
	defer s.rep.mu.Unlock()
	for i := len(s.rep.Phases) - 1; i >= 0; i-- {
		if s.rep.Phases[i].Name == name {
			return s.rep.Phases[i].Started
		}
	}
	return time.Time{}
}

func (s *switchRun) failPhase(phase string, err error) error {
	s.rep.endPhase(phase, err)
	return err
}

// rollback undoes a switch that failed before the new master took writes:
// the new master is made read-only again and replicates from the old one,
// then the old master takes writes again. Never both writable: if the new
// master cannot be made read-only, the old one stays blocked.
func (s *switchRun) rollback(ctx context.Context, cause error) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	s.rep.endPhase(PhaseWritesBlocked, cause)
	s.rep.phase(phaseSwRollback)
	var problems []error
	if s.promoting {
		if err := s.nm.SetReadOnly(ctx, true); err != nil {
			err = fmt.Errorf("%w: %w; cannot make the new master %s read-only again (%v): the old master %s stays read-only",
				ErrRollbackFailed, cause, s.plan.NewMaster.Key, err, s.plan.OldMaster)
			s.rep.endPhase(phaseSwRollback, err)
			return err
		}
	}
	if s.nmStopped {
		if err := s.nm.StartReplica(ctx); err != nil {
			problems = append(problems, err)
		} else {
			s.rep.note(phaseSwRollback, "replication restarted on %s", s.plan.NewMaster.Key)
		}
	}
	if s.release != nil {
		if err := s.release(ctx); err != nil {
			problems = append(problems, err)
		}
		s.release = nil
	}
	if s.fenced && !s.oldWasRO {
		if err := s.old.SetReadOnly(ctx, false); err != nil {
			err = fmt.Errorf("%w: %w; read_only=OFF on %s: %v", ErrRollbackFailed, cause, s.plan.OldMaster, err)
			s.rep.endPhase(phaseSwRollback, err)
			return err
		}
		s.rep.note(phaseSwRollback, "%s takes writes again (read_only=OFF)", s.plan.OldMaster)
	}
	if s.stopHookRan {
		// Reversed roles: the script makes new_master_host writable again.
		h, err := s.hooks.OnlineChange(ctx, "start", s.plan.NewMaster.Key, s.plan.OldMaster, false)
		if err := s.hookVerdict("master_ip_online_change_script start (rollback)", h, err); err != nil {
			problems = append(problems, err)
		}
	}
	if len(problems) > 0 {
		err := fmt.Errorf("%w: %w; %w", ErrRollbackFailed, cause, errors.Join(problems...))
		s.rep.endPhase(phaseSwRollback, err)
		return err
	}
	s.rep.endPhase(phaseSwRollback, nil)
	s.rep.replica(ReplicaEnd{Server: s.plan.OldMaster.String(), Role: "master (unchanged)"})
	return fmt.Errorf("%w: %w", ErrRolledBack, cause)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
