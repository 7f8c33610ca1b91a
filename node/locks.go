package node

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// lockWaitStates are the processlist states of a session waiting for a
// lock another session holds (metadata, global read, backup, table locks).
var lockWaitStates = []string{"waiting for table metadata lock", "waiting for global read lock",
	"waiting for backup lock", "waiting for table level lock", "waiting for table flush",
	"waiting for commit lock", "waiting for schema metadata lock"}

// notClients are processlist commands of server threads, never killed.
var notClients = "'Binlog Dump','Binlog Dump GTID','Daemon','Slave_IO','Slave_SQL','Slave_worker'," +
	"'Connect','Killed','Register Slave'"

// KillLockHolders frees session victim when it has waited a second or more
// for a lock: the InnoDB transactions that block its row lock wait, or, for
// a metadata, global read or table lock (whose holder the server does not
// name), every other client session. With victim 0 it frees the server's
// replication applier threads (SQL thread, parallel workers) the same way.
// It returns a description of each session killed; nothing when nobody
// waits. Used during a failover, whose progress matters more than the
// readers of a replica.
func (s *Session) KillLockHolders(ctx context.Context, victim uint64) ([]string, error) {
	where := fmt.Sprintf("p.ID = %d", victim)
	if victim == 0 {
		where = "p.COMMAND IN ('Slave_SQL', 'Slave_worker')"
	}
	rows, err := s.queryMaps(ctx, "SELECT /* gomha */ p.ID AS id, COALESCE(p.STATE, '') AS state, p.TIME AS t, "+
		"(SELECT COUNT(*) FROM information_schema.INNODB_TRX x WHERE x.trx_mysql_thread_id = p.ID AND x.trx_state = 'LOCK WAIT') AS rowlock "+
		"FROM information_schema.PROCESSLIST p WHERE "+where)
	if err != nil {
		return nil, err
	}
	var killed []string
	for _, r := range rows {
		id := uint64(atoi64(r["id"]))
		var k []string
		switch {
		case atoi64(r["t"]) < 1:
			continue
		case atoi64(r["rowlock"]) > 0:
			k, err = s.killRowLockHolders(ctx, id)
		case isLockWait(r["state"]):
			k, err = s.killClients(ctx, id)
		}
		killed = append(killed, k...)
		if err != nil {
			return killed, err
		}
	}
	return killed, nil
}

func isLockWait(state string) bool {
	st := strings.ToLower(state)
	for _, w := range lockWaitStates {
		if strings.Contains(st, w) {
			return true
		}
	}
	return false
}

// killRowLockHolders kills the sessions whose transactions block victim's.
func (s *Session) killRowLockHolders(ctx context.Context, victim uint64) ([]string, error) {
	rows, err := s.queryMaps(ctx, fmt.Sprintf("SELECT /* gomha */ DISTINCT p.ID AS id, p.USER AS user, p.HOST AS host, "+
		"p.COMMAND AS command, p.TIME AS t, COALESCE(LEFT(p.INFO, 80), '') AS info "+
		"FROM information_schema.INNODB_LOCK_WAITS w "+
		"JOIN information_schema.INNODB_TRX r ON r.trx_id = w.requesting_trx_id "+
		"JOIN information_schema.INNODB_TRX b ON b.trx_id = w.blocking_trx_id "+
		"JOIN information_schema.PROCESSLIST p ON p.ID = b.trx_mysql_thread_id "+
		"WHERE r.trx_mysql_thread_id = %d", victim))
	if err != nil {
		return nil, err
	}
	return s.killRows(ctx, rows, "holds row locks")
}

// killClients kills every client session but victim, this one, the
// server's own threads, and gomha's own sessions: those of this Session,
// and those in the gomha schema (the cluster locks of package coord).
func (s *Session) killClients(ctx context.Context, victim uint64) ([]string, error) {
	rows, err := s.queryMaps(ctx, fmt.Sprintf("SELECT /* gomha */ ID AS id, USER AS user, HOST AS host, COMMAND AS command, "+
		"TIME AS t, COALESCE(LEFT(INFO, 80), '') AS info FROM information_schema.PROCESSLIST "+
		"WHERE ID NOT IN (%d, CONNECTION_ID()) AND USER NOT IN ('system user', 'event_scheduler') "+
		"AND COMMAND NOT IN (%s) AND COALESCE(DB, '') <> 'gomha'", victim, notClients))
	if err != nil {
		return nil, err
	}
	own := s.own.list()
	var others []map[string]string
	for _, r := range rows {
		if !slices.Contains(own, r["host"]) {
			others = append(others, r)
		}
	}
	return s.killRows(ctx, others, "may hold a lock")
}

func (s *Session) killRows(ctx context.Context, rows []map[string]string, why string) ([]string, error) {
	var killed []string
	for _, r := range rows {
		id, err := strconv.ParseUint(r["id"], 10, 64)
		if err != nil {
			continue
		}
		if err := s.Exec(ctx, fmt.Sprintf("/* gomha */ KILL %d", id)); err != nil && !IsMySQLError(err, 1094) {
			return killed, err // 1094: unknown thread, it ended meanwhile
		}
		d := fmt.Sprintf("session %d (%s@%s, %s for %ss, %s)", id, r["user"], r["host"], r["command"], r["t"], why)
		if r["info"] != "" {
			d += ": " + r["info"]
		}
		killed = append(killed, d)
	}
	return killed, nil
}

// KillClients kills every client session of the server but this session's
// own connections, its replication threads and system threads: used on a
// deposed master that came back writable.
func (s *Session) KillClients(ctx context.Context) ([]string, error) {
	return s.killClients(ctx, 0)
}
