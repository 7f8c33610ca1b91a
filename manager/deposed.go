package manager

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/node"
	"github.com/gomha/gomha/topology"
)

// deposer keeps an old master from taking writes after a failover. Every
// ping_interval it tries the old master; when it answers writable (mysqld
// restarted by a supervisor, a partition healed, a frozen process woken),
// it sets read_only=ON (and super_read_only on MySQL), reads it back and
// kills the client sessions still connected to it. With rejoin_old_master
// it instead makes it a replica of the new master, but only when it holds
// no transaction the new master lacks.
type deposer struct {
	old, newMaster config.Server
	interval       time.Duration
	localAddr      string
	log            *slog.Logger
	status         *StatusFile
	state          string
	rejoined       bool
	fencing        string // how the failover fenced it, shown while it stays down
}

func newDeposer(old, newMaster config.Server, localAddr string, status *StatusFile, log *slog.Logger) *deposer {
	iv := time.Duration(old.PingInterval) * time.Second
	if iv <= 0 {
		iv = 3 * time.Second
	}
	return &deposer{old: old, newMaster: newMaster, interval: iv, localAddr: localAddr, status: status,
		log: log.With("host", TopologyServer(old).Key().String(), "component", "deposed")}
}

// run checks the old master every interval until ctx ends.
func (d *deposer) run(ctx context.Context) {
	t := time.NewTicker(d.interval)
	defer t.Stop()
	for {
		d.check(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// check looks at the old master once and fences it when it answers.
func (d *deposer) check(ctx context.Context) {
	cctx, cancel := context.WithTimeout(ctx, d.interval)
	defer cancel()
	mc := MySQLConfig(d.old, d.interval/2)
	mc.LocalAddr, mc.QueryTimeout = d.localAddr, d.interval
	s, err := node.OpenMySQL(cctx, mc)
	if err != nil {
		d.set("down (" + connKind(err).String() + ")" + d.fencing)
		return
	}
	defer s.Close()
	if d.old.RejoinOldMaster && !d.rejoined {
		// A rejoin is several statements on two servers: more than a
		// ping interval on a loaded host.
		rctx, rcancel := context.WithTimeout(ctx, max(5*time.Second, 2*d.interval))
		err := d.rejoin(rctx, s)
		rcancel()
		if err == nil {
			d.rejoined = true
			d.set("rejoined: replica of " + TopologyServer(d.newMaster).Key().String())
			return
		} else {
			d.log.Warn("old master not rejoined", "error", err)
		}
	}
	ro, err := readOnlyOn(cctx, s)
	if err != nil {
		d.set("NOT fenced: " + err.Error())
		return
	}
	if ro {
		if !strings.HasPrefix(d.state, "fenced") && !d.rejoined {
			d.set("fenced (read_only=ON)")
		}
		return
	}
	d.fence(cctx, s)
}

// fence sets read_only=ON, reads it back, and kills the client sessions.
func (d *deposer) fence(ctx context.Context, s *node.Session) {
	if err := setReadOnlyStrict(ctx, s); err != nil {
		d.set("NOT fenced: read_only=ON failed: " + err.Error())
		return
	}
	if ro, err := readOnlyOn(ctx, s); err != nil || !ro {
		d.set(fmt.Sprintf("NOT fenced: read_only does not read back ON (%v)", err))
		return
	}
	killed, err := s.KillClients(ctx)
	msg := fmt.Sprintf("fenced: it came back writable; read_only=ON set and read back at %s, %d client sessions killed",
		time.Now().Format("15:04:05.000"), len(killed))
	if err != nil {
		msg += " (killing sessions: " + err.Error() + ")"
	}
	d.log.Warn("deposed master came back writable: fenced", "killed_sessions", killed)
	d.set(msg)
}

// rejoin makes the old master a replica of the new one by GTID, unless it
// holds transactions the new master lacks (errant writes made after it was
// cut off): those would be lost or replicated wrongly.
func (d *deposer) rejoin(ctx context.Context, s *node.Session) error {
	nmc := MySQLConfig(d.newMaster, d.interval)
	nmc.LocalAddr = d.localAddr
	nm, err := node.OpenMySQL(ctx, nmc)
	if err != nil {
		return fmt.Errorf("new master %s: %w", nmc.Key, err)
	}
	defer nm.Close()
	oldSt, err := s.Discover(ctx)
	if err != nil {
		return err
	}
	newSt, err := nm.Discover(ctx)
	if err != nil {
		return err
	}
	if extra := errantAgainst(oldSt, newSt); extra != "" {
		return fmt.Errorf("it holds %s that the new master lacks: left read-only", extra)
	}
	if err := setReadOnlyStrict(ctx, s); err != nil {
		return err
	}
	// Stopped first: an earlier attempt cut short may have left it
	// replicating, and gtid_slave_pos cannot change under a running slave.
	if err := s.StopReplica(ctx); err != nil {
		return err
	}
	src := topology.ChangeMaster{Host: d.newMaster.Hostname, Port: d.newMaster.Port, User: d.newMaster.ReplUser,
		Password: d.newMaster.ReplPassword.Reveal(), PasswordSet: d.newMaster.ReplPasswordSet, Mode: topology.PositionSlavePos,
		HeartbeatPeriod: HeartbeatPeriod(d.newMaster)}
	if oldSt.Flavor == topology.MySQL {
		src.Mode = topology.PositionAutoPosition
	} else if err := s.Exec(ctx, "/* gomha */ SET GLOBAL gtid_slave_pos = @@GLOBAL.gtid_binlog_pos"); err != nil {
		return err
	}
	if err := s.ChangeMaster(ctx, src); err != nil {
		return err
	}
	return s.StartReplica(ctx)
}

// errantAgainst lists what the old master holds that the new one lacks:
// MariaDB, a last GTID of the old master's binlog not in the new master's
// binlog state; MySQL, the difference of the executed sets.
func errantAgainst(old, nw *topology.Status) string {
	if old.Flavor == topology.MySQL {
		o, err1 := topology.ParseMySQLGTIDSet(old.GTIDExecuted)
		n, err2 := topology.ParseMySQLGTIDSet(nw.GTIDExecuted)
		if err1 != nil || err2 != nil {
			return "GTIDs that cannot be compared"
		}
		return o.Subtract(n).String()
	}
	pos, err1 := topology.ParseGTIDPos(old.GTIDBinlogPos)
	state, err2 := topology.ParseGTIDState(nw.GTIDBinlogState)
	if err1 != nil || err2 != nil {
		return "GTIDs that cannot be compared"
	}
	var extra []string
	for _, g := range pos {
		have := false
		for _, h := range state {
			if h.Domain == g.Domain && h.ServerID == g.ServerID && h.Seq >= g.Seq {
				have = true
			}
		}
		if !have {
			extra = append(extra, g.String())
		}
	}
	return strings.Join(extra, ",")
}

func (d *deposer) set(state string) {
	if state == d.state {
		return
	}
	d.state = state
	d.log.Info("deposed master", "state", state)
	if d.status != nil {
		_ = d.status.SetDeposed(DeposedView{Server: TopologyServer(d.old).Key().String(), State: state, Checked: time.Now()})
	}
}

// readOnlyOn reads read_only (and super_read_only on MySQL).
func readOnlyOn(ctx context.Context, s *node.Session) (bool, error) {
	v, err := s.Var(ctx, "read_only")
	if err != nil {
		return false, err
	}
	on := v == "1" || strings.EqualFold(v, "ON")
	if on && s.Flavor() == topology.MySQL {
		sv, err := s.Var(ctx, "super_read_only")
		if err != nil {
			return false, err
		}
		on = sv == "1" || strings.EqualFold(sv, "ON")
	}
	return on, nil
}

// setReadOnlyStrict sets read_only=ON, and super_read_only=ON on MySQL.
func setReadOnlyStrict(ctx context.Context, s *node.Session) error {
	if err := s.SetReadOnly(ctx, true); err != nil {
		return err
	}
	if s.Flavor() == topology.MySQL {
		return s.Exec(ctx, "/* gomha */ SET GLOBAL super_read_only=ON")
	}
	return nil
}
