package node

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gomha/gomha/topology"
)

// ErrWaitTimeout is returned when a bounded wait on a server ends first.
var ErrWaitTimeout = errors.New("wait timed out")

func (s *Session) terms() sqlTerms { return terms(s.flavor, s.version) }

// Var reads one global variable (@@name).
func (s *Session) Var(ctx context.Context, name string) (string, error) {
	rows, err := s.queryMaps(ctx, "SELECT /* gomha */ @@GLOBAL."+name+" AS v")
	if err != nil {
		return "", err
	}
	if len(rows) != 1 {
		return "", fmt.Errorf("read @@%s on %s: no row", name, s.key)
	}
	return rows[0]["v"], nil
}

// StopReplicaIO stops the IO thread, so nothing more arrives from the master.
func (s *Session) StopReplicaIO(ctx context.Context) error {
	return s.Exec(ctx, "/* gomha */ "+s.terms().stopReplica+" IO_THREAD")
}

// StartReplicaSQL starts the SQL thread only.
func (s *Session) StartReplicaSQL(ctx context.Context) error {
	return s.Exec(ctx, "/* gomha */ "+s.terms().startReplica+" SQL_THREAD")
}

// StopReplica stops both replication threads.
func (s *Session) StopReplica(ctx context.Context) error {
	return s.Exec(ctx, "/* gomha */ "+s.terms().stopReplica)
}

// StartReplica starts both replication threads.
func (s *Session) StartReplica(ctx context.Context) error {
	return s.Exec(ctx, "/* gomha */ "+s.terms().startReplica)
}

// ResetReplicaAll forgets the replication source (the new master's last step).
func (s *Session) ResetReplicaAll(ctx context.Context) error {
	t := s.terms()
	if err := s.Exec(ctx, "/* gomha */ "+t.stopReplica); err != nil {
		return err
	}
	return s.Exec(ctx, "/* gomha */ "+t.resetReplicaAll)
}

// SetReadOnly sets read_only (and, on MySQL, super_read_only when turning
// it off, so that a promoted server really takes writes).
func (s *Session) SetReadOnly(ctx context.Context, on bool) error {
	v := "OFF"
	if on {
		v = "ON"
	}
	if !on && s.flavor == topology.MySQL {
		if err := s.Exec(ctx, "/* gomha */ SET GLOBAL super_read_only=OFF"); err != nil {
			return err
		}
	}
	return s.Exec(ctx, "/* gomha */ SET GLOBAL read_only="+v)
}

// ChangeMaster points the server at a new source. The password travels as a
// bound parameter (interpolated client-side, never logged).
func (s *Session) ChangeMaster(ctx context.Context, cm topology.ChangeMaster) error {
	t := s.terms()
	src := "MASTER"
	if strings.HasPrefix(t.changeSource, "CHANGE REPLICATION SOURCE") {
		src = "SOURCE"
	}
	parts := []string{src + "_HOST=?", src + "_PORT=?", src + "_USER=?"}
	args := []any{cm.Host, cm.Port, cm.User}
	if cm.PasswordSet {
		parts = append(parts, src+"_PASSWORD=?")
		args = append(args, cm.Password)
	}
	if cm.ConnectRetry > 0 {
		parts = append(parts, fmt.Sprintf("%s_CONNECT_RETRY=%d", src, cm.ConnectRetry))
	}
	if cm.HeartbeatPeriod > 0 {
		parts = append(parts, fmt.Sprintf("%s_HEARTBEAT_PERIOD=%.3f", src, cm.HeartbeatPeriod.Seconds()))
	}
	switch cm.Mode {
	case topology.PositionSlavePos:
		parts = append(parts, "MASTER_USE_GTID=slave_pos")
	case topology.PositionAutoPosition:
		parts = append(parts, src+"_AUTO_POSITION=1")
	case topology.PositionFile:
		parts = append(parts, src+"_LOG_FILE=?", fmt.Sprintf("%s_LOG_POS=%d", src, cm.Pos))
		args = append(args, cm.File)
		if s.flavor == topology.MariaDB {
			parts = append(parts, "MASTER_USE_GTID=no")
		} else {
			parts = append(parts, src+"_AUTO_POSITION=0")
		}
	default:
		return fmt.Errorf("change master on %s: unknown position mode %q", s.key, cm.Mode)
	}
	q := "/* gomha */ " + t.changeSource + " " + strings.Join(parts, ", ")
	qctx, cancel := s.queryCtx(ctx)
	defer cancel()
	if _, err := s.db.ExecContext(qctx, q, args...); err != nil {
		return fmt.Errorf("change master on %s to %s:%d: %w", s.key, cm.Host, cm.Port, err)
	}
	return nil
}

// WaitGTID waits until the server has applied pos (MariaDB GTID position or
// MySQL GTID set), at most timeout. It waits in slices of a second, so that
// no single statement outlives the connection's read deadline.
func (s *Session) WaitGTID(ctx context.Context, pos string, timeout time.Duration) error {
	q := "SELECT /* gomha */ MASTER_GTID_WAIT(?, ?)"
	if s.flavor == topology.MySQL {
		q = "SELECT /* gomha */ WAIT_FOR_EXECUTED_GTID_SET(?, ?)"
	}
	deadline := time.Now().Add(timeout)
	for {
		slice := min(time.Until(deadline), time.Second)
		if slice <= 0 {
			return fmt.Errorf("wait for GTID %s on %s: %w after %s", pos, s.key, ErrWaitTimeout, timeout)
		}
		qctx, cancel := context.WithTimeout(ctx, slice+s.cfg.QueryTimeout)
		var res int
		err := s.db.QueryRowContext(qctx, q, pos, slice.Seconds()).Scan(&res)
		cancel()
		if err != nil {
			return fmt.Errorf("wait for GTID %s on %s: %w", pos, s.key, err)
		}
		if res == 0 {
			return nil
		}
	}
}

// WaitReplicaRunning waits until both replication threads run, at most
// timeout; it reports the last error the server gave.
func (s *Session) WaitReplicaRunning(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		st, err := s.Discover(ctx)
		if err != nil {
			return err
		}
		r := st.Replica
		if r != nil && r.IORunningOK() && r.SQLRunning {
			return nil
		}
		select {
		case <-ctx.Done():
			msg := "no replication configured"
			if r != nil {
				msg = fmt.Sprintf("IO=%s SQL=%v io_error=%q sql_error=%q", r.IORunning, r.SQLRunning, r.LastIOError, r.LastSQLError)
			}
			return fmt.Errorf("replication threads on %s not running (%s): %w", s.key, msg, ErrWaitTimeout)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
