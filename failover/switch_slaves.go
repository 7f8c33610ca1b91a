package failover

import (
	"context"
	"fmt"
	"sync"

	"github.com/gomha/gomha/topology"
)

// switchSlaves runs after the new master took writes: the start hook, then
// in parallel every other replica moves under the new master, the old
// master too with OrigIsNewSlave, and the new master forgets its old source.
func (s *switchRun) switchSlaves(ctx context.Context) error {
	var failed []string
	h, err := s.hooks.OnlineChange(ctx, "start", s.plan.OldMaster, s.plan.NewMaster.Key, s.opts.OrigIsNewSlave)
	if err := s.hookVerdict("master_ip_online_change_script start", h, err); err != nil {
		s.rep.warn("the new master %s takes writes, but %v", s.plan.NewMaster.Key, err)
		failed = append(failed, "master_ip_online_change_script start")
	}
	s.rep.phase(phaseSwSlaves)
	if s.release != nil {
		if err := s.release(ctx); err != nil {
			s.rep.warn("UNLOCK TABLES on %s: %v", s.plan.OldMaster, err)
		}
		s.release = nil
	}
	src := s.env.Source(s.plan.NewMaster.Key)
	if src.User == "" && s.plan.NewMaster.Node.Status.Replica != nil {
		src.User = s.plan.NewMaster.Node.Status.Replica.MasterUser
	}
	src.Mode = switchPositionMode(s.plan.Mode, s.nm.Flavor())
	var mu sync.Mutex
	var wg sync.WaitGroup
	fail := func(k topology.Key, err error) {
		mu.Lock()
		defer mu.Unlock()
		failed = append(failed, k.String())
		s.rep.replica(ReplicaEnd{Server: k.String(), Role: "failed", Error: err.Error()})
	}
	for _, k := range s.plan.Repoint {
		n := s.nodes[k]
		wg.Go(func() {
			if err := s.repointReplica(ctx, n, src); err != nil {
				fail(k, err)
				return
			}
			s.rep.replica(ReplicaEnd{Server: k.String(), Role: "replica", Source: s.plan.NewMaster.Key.String()})
		})
	}
	wg.Go(func() { s.oldMasterEnd(ctx, src, fail) })
	if !s.opts.SkipResetSlave {
		wg.Go(func() {
			if err := s.nm.ResetReplicaAll(ctx); err != nil {
				s.rep.warn("RESET SLAVE ALL on the new master %s: %v", s.plan.NewMaster.Key, err)
			}
		})
	}
	wg.Wait()
	if len(failed) > 0 {
		err := &PartialError{Failed: failed}
		s.rep.endPhase(phaseSwSlaves, err)
		return err
	}
	s.rep.endPhase(phaseSwSlaves, nil, fmt.Sprintf("%d replicas on %s", len(s.plan.Repoint), s.plan.NewMaster.Key))
	return nil
}

// switchPositionMode is the CHANGE MASTER positioning for a switchover's mode:
// GTID (slave_pos on MariaDB, auto-position on MySQL) or the new master's
// binlog coordinates.
func switchPositionMode(m Mode, f topology.Flavor) topology.PositionMode {
	if m == ModeGTID {
		return gtidMode(f)
	}
	return topology.PositionFile
}

// repointReplica moves one replica of the old master under the new one. In
// file mode it first lets the replica reach the old master's final position,
// which then corresponds to the new master's coordinates read before it took
// writes.
func (s *switchRun) repointReplica(ctx context.Context, n SwitchNode, src topology.ChangeMaster) error {
	if s.plan.Mode == ModeFile {
		if err := s.catchUp(ctx, n, s.opts.RepointWait); err != nil {
			return err
		}
		src.File, src.Pos = s.nmCoord.File, s.nmCoord.Pos
	}
	if err := n.StopReplica(ctx); err != nil {
		return err
	}
	return s.startFrom(ctx, n, src)
}

func (s *switchRun) startFrom(ctx context.Context, n SwitchNode, src topology.ChangeMaster) error {
	if err := n.ChangeMaster(ctx, src); err != nil {
		return err
	}
	if err := n.StartReplica(ctx); err != nil {
		return err
	}
	return n.WaitReplicaRunning(ctx, s.opts.RepointWait)
}

// oldMasterEnd leaves the old master read-only, and with OrigIsNewSlave
// makes it replicate from the new master from its own final position.
func (s *switchRun) oldMasterEnd(ctx context.Context, src topology.ChangeMaster, fail func(topology.Key, error)) {
	k := s.plan.OldMaster
	if !s.opts.OrigIsNewSlave {
		s.rep.replica(ReplicaEnd{Server: k.String(), Role: "old master, read_only=ON, replicates from nobody"})
		return
	}
	if !src.PasswordSet {
		s.rep.warn("repl_password is not configured: the old master %s replicates with an empty password", k)
	}
	if s.plan.Mode == ModeGTID {
		if err := s.old.SetGTIDSlavePos(ctx, s.final.gtid); err != nil {
			fail(k, err)
			return
		}
	} else {
		src.File, src.Pos = s.nmCoord.File, s.nmCoord.Pos
	}
	if err := s.startFrom(ctx, s.old, src); err != nil {
		fail(k, err)
		return
	}
	s.rep.replica(ReplicaEnd{Server: k.String(), Role: "replica", Source: s.plan.NewMaster.Key.String()})
}
