package node

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gomha/gomha/topology"
)

const (
	relayPoll = 20 * time.Millisecond
	// relayQuiet is how long the executed position must stay still, with
	// the SQL thread idle and no parallel worker busy, before what is left
	// between it and the received position is taken for a transaction cut
	// off at the end of the relay log (it never completes).
	relayQuiet = 500 * time.Millisecond
	// sqlRestarts bounds how often a SQL thread that stops again without an
	// error is started.
	sqlRestarts = 3
)

// transientSQLErrors are errors a SQL thread stops on that starting it
// again may clear: a lock wait timeout or a deadlock after the server's own
// retries (slave_transaction_retries).
var transientSQLErrors = map[int]bool{1205: true, 1213: true}

// ApplyRelayLog makes a replica execute everything its IO thread received
// (stop the IO thread first) and returns its status read again after both
// threads are stopped, when nothing moves any more:
//   - a SQL thread stopped without an error (STOP SLAVE SQL_THREAD, a backup
//     tool) is started; one stopped with an error is left stopped and the
//     returned status says which error (a lock wait timeout or a deadlock is
//     tried once more);
//   - the wait ends when the executed position equals the received one, or
//     (MariaDB) gtid_slave_pos covers Gtid_IO_Pos, (MySQL) the executed set
//     covers the retrieved one; or when only a transaction cut off at the end
//     of the relay log is left: the SQL thread has read all of it, no
//     parallel worker is busy, and the position has not moved for
//     relayQuiet. Parallel workers still committing never end the wait;
//   - progress, when not nil, gets the status every few seconds;
//   - after timeout it returns the last status and an error wrapping
//     ErrWaitTimeout that says where the SQL thread stands.
func (s *Session) ApplyRelayLog(ctx context.Context, timeout time.Duration, progress func(*topology.Status)) (*topology.Status, error) {
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	w := relayWait{s: s, started: time.Now()}
	for {
		st, err := s.Discover(wctx)
		if err != nil {
			if wctx.Err() != nil && ctx.Err() == nil {
				return w.last, w.timeoutError(timeout)
			}
			return nil, err
		}
		w.last = st
		done, err := w.step(wctx, st)
		if err != nil {
			if wctx.Err() != nil && ctx.Err() == nil {
				return st, w.timeoutError(timeout)
			}
			return st, err
		}
		if done {
			return s.stopAndRead(ctx)
		}
		if progress != nil && time.Since(w.reported) >= 5*time.Second {
			w.reported = time.Now()
			progress(st)
		}
		select {
		case <-wctx.Done():
			if ctx.Err() != nil {
				return st, ctx.Err()
			}
			return st, w.timeoutError(timeout)
		case <-time.After(relayPoll):
		}
	}
}

// relayWait is the state of one ApplyRelayLog.
type relayWait struct {
	s        *Session
	started  time.Time
	reported time.Time
	last     *topology.Status
	restarts int
	retried  bool
	exec     topology.BinlogCoord // executed position at the last poll
	quiet    time.Time            // since when it has not moved while idle
	// gtidTarget, once the relay log was kept by switching to file
	// positioning, is the Gtid_IO_Pos it must reach (its executed
	// coordinates are not reliable until then).
	gtidTarget topology.GTIDPos
}

// step looks at one status: it starts a stopped SQL thread and says
// whether the wait is over.
func (w *relayWait) step(ctx context.Context, st *topology.Status) (bool, error) {
	r := st.Replica
	if r == nil {
		return true, nil
	}
	if !r.SQLRunning {
		return w.restart(ctx, r)
	}
	if w.gtidTarget != nil {
		slave, err := topology.ParseGTIDPos(st.GTIDSlavePos)
		return err == nil && slave.Contains(w.gtidTarget), err
	}
	if relayCaughtUp(st) {
		return true, nil
	}
	exec := r.ExecCoord()
	if exec != w.exec || !relayIdle(r) {
		w.exec, w.quiet = exec, time.Time{}
		return false, nil
	}
	busy, err := w.s.busyWorkers(ctx)
	if err != nil || busy {
		w.quiet = time.Time{}
		return false, err
	}
	if w.quiet.IsZero() {
		w.quiet = time.Now()
		return false, nil
	}
	return time.Since(w.quiet) >= relayQuiet, nil
}

// restart starts a SQL thread that is stopped, unless it stopped on an
// error that starting it again would not clear: then the wait is over and
// the status tells.
func (w *relayWait) restart(ctx context.Context, r *topology.Replica) (bool, error) {
	if r.LastSQLErrno != 0 {
		if w.retried || !transientSQLErrors[r.LastSQLErrno] {
			return true, nil
		}
		w.retried = true
	} else if w.restarts++; w.restarts > sqlRestarts {
		return false, fmt.Errorf("apply relay log on %s: the SQL thread stops again right after START (state %q)", w.s.key, r.SQLState)
	}
	if err := w.keepRelayLog(ctx, r); err != nil {
		return false, err
	}
	return false, w.s.Exec(ctx, "/* gomha */ "+w.s.terms().startReplica+" SQL_THREAD")
}

// keepRelayLog: MariaDB, replicating by GTID, throws the relay log away
// when a replica thread starts while both are stopped, and would fetch
// again from a master that is dead. Switching to file positioning at the
// SQL thread's relay-log position keeps the relay log, so the SQL thread
// applies what was received; the failover repoints the replica later.
func (w *relayWait) keepRelayLog(ctx context.Context, r *topology.Replica) error {
	if w.s.flavor != topology.MariaDB || r.IORunning == "Yes" || r.UsingGTID == "" || r.UsingGTID == "No" {
		return nil
	}
	io, err := topology.ParseGTIDPos(r.GTIDIOPos)
	if err != nil {
		return fmt.Errorf("apply relay log on %s: Gtid_IO_Pos: %w", w.s.key, err)
	}
	q := fmt.Sprintf("/* gomha */ CHANGE MASTER TO MASTER_USE_GTID=no, RELAY_LOG_FILE='%s', RELAY_LOG_POS=%d",
		strings.ReplaceAll(r.RelayLogFile, "'", "''"), r.RelayLogPos)
	if err := w.s.Exec(ctx, q); err != nil {
		return fmt.Errorf("keep the relay log of %s: %w", w.s.key, err)
	}
	w.gtidTarget = io
	return nil
}

func (w *relayWait) timeoutError(timeout time.Duration) error {
	where := "no status read"
	if w.last != nil && w.last.Replica != nil {
		r := w.last.Replica
		where = fmt.Sprintf("executed %s of %s received; SQL thread: %s", r.ExecCoord(), r.ReadCoord(), orDash(r.SQLState))
	}
	return fmt.Errorf("relay log apply on %s not finished after %s (%s): %w", w.s.key, timeout, where, ErrWaitTimeout)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// relayCaughtUp: everything received was executed.
func relayCaughtUp(st *topology.Status) bool {
	r := st.Replica
	if r.RelayMasterLogFile == r.MasterLogFile && r.ExecMasterLogPos == r.ReadMasterLogPos {
		return true
	}
	switch st.Flavor {
	case topology.MariaDB:
		io, err1 := topology.ParseGTIDPos(r.GTIDIOPos)
		slave, err2 := topology.ParseGTIDPos(st.GTIDSlavePos)
		return err1 == nil && err2 == nil && len(io) > 0 && slave.Contains(io)
	case topology.MySQL:
		got, err1 := topology.ParseMySQLGTIDSet(r.RetrievedGTIDSet)
		exec, err2 := topology.ParseMySQLGTIDSet(r.ExecutedGTIDSet)
		return err1 == nil && err2 == nil && !got.IsEmpty() && got.Subtract(exec).IsEmpty()
	}
	return false
}

// relayIdle: the SQL thread (the coordinator, with parallel replication)
// has read all its relay log.
func relayIdle(r *topology.Replica) bool {
	return strings.Contains(strings.ToLower(r.SQLState), "read all relay log")
}

// busyWorkers reports whether a parallel replication worker is still
// applying or committing a transaction; false without parallel workers.
func (s *Session) busyWorkers(ctx context.Context) (bool, error) {
	q := "SELECT /* gomha */ COUNT(*) AS n FROM information_schema.PROCESSLIST " +
		"WHERE COMMAND = 'Slave_worker' AND COALESCE(STATE, '') NOT IN ('Waiting for work from SQL thread', '')"
	if s.flavor == topology.MySQL {
		q = "SELECT /* gomha */ COUNT(*) AS n FROM performance_schema.replication_applier_status_by_worker " +
			"WHERE APPLYING_TRANSACTION <> ''"
	}
	rows, err := s.queryMaps(ctx, q)
	if err != nil {
		if s.flavor == topology.MySQL && !errors.Is(err, context.DeadlineExceeded) {
			return false, nil // no such table before 8.0: no per-worker view
		}
		return false, err
	}
	return len(rows) == 1 && atoi64(rows[0]["n"]) > 0, nil
}

// stopAndRead stops both replication threads and reads the status again:
// the positions then no longer move.
func (s *Session) stopAndRead(ctx context.Context) (*topology.Status, error) {
	if err := s.StopReplica(ctx); err != nil {
		return nil, err
	}
	return s.Discover(ctx)
}
