package coord

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/gomha/gomha/node"
)

// createActors creates the table that says, on each server, who holds its
// named lock. It is written with sql_log_bin=0: no row, no table, no GTID
// ever reaches a binlog.
const createActors = "CREATE /* gomha */ TABLE IF NOT EXISTS gomha.actors (" +
	"app VARCHAR(64) NOT NULL PRIMARY KEY, holder TEXT NOT NULL, since DATETIME(6) NOT NULL" +
	") ENGINE=InnoDB"

// actorRow is the JSON in gomha.actors.holder: the holder, and the
// connection holding the named lock, so that a row left by a holder that
// is gone is recognised as stale.
type actorRow struct {
	Holder
	ConnectionID uint64 `json:"connection_id"`
}

// serverLock is the named lock gomha_actor_<app> held on one server by a
// dedicated connection; the lock lives exactly as long as the connection.
type serverLock struct {
	key     string
	name    string // the named lock
	sess    *node.Session
	conn    *sql.Conn
	connID  uint64
	timeout time.Duration // bounds each exchange with the server

	mu sync.Mutex // one statement at a time on conn; guards conn
}

// attempt is what trying one server gave: exactly one field is set.
type attempt struct {
	lock *serverLock
	held *HeldError // the server's lock is taken
	skip error      // the server did not answer in time
	fail error      // it answered, with an error
}

// tryServer takes app's named lock on one server and records h in its
// gomha.actors row, all within o.ServerTimeout.
func tryServer(ctx context.Context, cfg node.MySQLConfig, o Options, h Holder) attempt {
	key := cfg.Key.String()
	ctx, cancel := context.WithTimeout(ctx, o.ServerTimeout)
	defer cancel()
	if cfg.ConnectTimeout <= 0 || cfg.ConnectTimeout > o.ServerTimeout {
		cfg.ConnectTimeout = o.ServerTimeout
	}
	if cfg.QueryTimeout <= 0 || cfg.QueryTimeout > o.ServerTimeout {
		cfg.QueryTimeout = o.ServerTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = o.Logger
	}
	sess, err := node.OpenMySQL(ctx, cfg)
	if err != nil {
		return attempt{skip: fmt.Errorf("connect to %s: %w", key, err)}
	}
	conn, err := sess.DB().Conn(ctx)
	if err != nil {
		sess.Close()
		return attempt{skip: fmt.Errorf("open a connection to %s: %w", key, err)}
	}
	sl := &serverLock{key: key, name: lockPrefix + o.App, sess: sess, conn: conn, timeout: o.ServerTimeout}
	got, err := sl.getLock(ctx)
	if err != nil {
		sl.close()
		return answered(fmt.Errorf("GET_LOCK('%s') on %s: %w", sl.name, key, err))
	}
	if !got {
		he := sl.describeHolder(ctx, o.App)
		he.Now = o.Now()
		sl.close()
		return attempt{held: he}
	}
	if err := sl.record(ctx, o.App, h, waitTimeout(o.Keepalive)); err != nil {
		sl.close() // closing the connection frees the named lock
		return answered(fmt.Errorf("record the holder in gomha.actors on %s: %w", key, err))
	}
	return attempt{lock: sl}
}

// answered sorts an error after connecting: a server that answered with an
// error is a failure to report; one that stopped answering (deadline,
// broken connection) is skipped like a server that never answered.
func answered(err error) attempt {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return attempt{fail: err}
	}
	return attempt{skip: err}
}

// waitTimeout is the wait_timeout of a lock connection: three keepalives,
// so the server frees the lock of a holder whose machine vanished without
// closing its connections, and never that of a live one.
func waitTimeout(keepalive time.Duration) int {
	return max(2, int((3*keepalive+time.Second-1)/time.Second))
}

// getLock tries GET_LOCK without waiting and notes the connection id.
func (sl *serverLock) getLock(ctx context.Context) (bool, error) {
	var got sql.NullInt64
	err := sl.conn.QueryRowContext(ctx, "SELECT /* gomha */ GET_LOCK(?, 0), CONNECTION_ID()", sl.name).Scan(&got, &sl.connID)
	if err != nil {
		return false, err
	}
	if !got.Valid {
		return false, &mysql.MySQLError{Message: "GET_LOCK returned NULL"}
	}
	return got.Int64 == 1, nil
}

// record writes h into gomha.actors on the lock's own connection, with
// sql_log_bin=0 (nothing reaches the binlog, no GTID is created, a
// read_only server accepts it from an admin user), and sets the
// connection's wait_timeout.
func (sl *serverLock) record(ctx context.Context, app string, h Holder, waitTimeout int) error {
	row, err := json.Marshal(actorRow{Holder: h, ConnectionID: sl.connID})
	if err != nil {
		return err
	}
	stmts := []struct {
		q    string
		args []any
	}{
		{"SET /* gomha */ SESSION sql_log_bin = 0, SESSION wait_timeout = ?", []any{waitTimeout}},
		{"CREATE /* gomha */ DATABASE IF NOT EXISTS gomha", nil},
		// In the gomha schema, the session shows as gomha's own in the
		// processlist: gomha never kills it when it frees a server from
		// client sessions holding locks.
		{"USE /* gomha */ gomha", nil},
		{createActors, nil},
		{"REPLACE /* gomha */ INTO gomha.actors (app, holder, since) VALUES (?, ?, ?)",
			[]any{app, string(row), h.Since.UTC().Format("2006-01-02 15:04:05.000000")}},
	}
	for _, s := range stmts {
		if _, err := sl.conn.ExecContext(ctx, s.q, s.args...); err != nil {
			return fmt.Errorf("%s: %w", firstWords(s.q), err)
		}
	}
	return nil
}

// describeHolder names whoever holds the named lock: the gomha.actors row
// when it was written by the connection that holds the lock, else that
// connection as the processlist shows it.
func (sl *serverLock) describeHolder(ctx context.Context, app string) *HeldError {
	he := &HeldError{App: app, Server: sl.key}
	var owner sql.NullInt64
	if err := sl.conn.QueryRowContext(ctx, "SELECT /* gomha */ IS_USED_LOCK(?)", sl.name).Scan(&owner); err != nil {
		he.Session = fmt.Sprintf("a session (IS_USED_LOCK failed: %v)", err)
		return he
	}
	if !owner.Valid {
		return he // released in between
	}
	var raw string
	err := sl.conn.QueryRowContext(ctx, "SELECT /* gomha */ holder FROM gomha.actors WHERE app = ?", app).Scan(&raw)
	if err == nil {
		var row actorRow
		if json.Unmarshal([]byte(raw), &row) == nil && row.ConnectionID == uint64(owner.Int64) {
			he.Holder = row.Holder
			return he
		}
	}
	he.Session = fmt.Sprintf("connection %d", owner.Int64)
	var user, host string
	err = sl.conn.QueryRowContext(ctx, "SELECT /* gomha */ USER, HOST FROM information_schema.PROCESSLIST WHERE ID = ?",
		owner.Int64).Scan(&user, &host)
	if err == nil {
		he.Session += fmt.Sprintf(" of %s from %s", user, host)
	}
	return he
}

// check proves the connection still holds the named lock. A failure is
// final: a connection that failed a statement is closed by the driver, and
// its lock freed by the server.
func (sl *serverLock) check(ctx context.Context) error {
	sl.mu.Lock()
	defer sl.mu.Unlock()
	if sl.conn == nil {
		return fmt.Errorf("%w on %s: released", ErrLost, sl.key)
	}
	ctx, cancel := context.WithTimeout(ctx, sl.timeout)
	defer cancel()
	var mine sql.NullInt64
	err := sl.conn.QueryRowContext(ctx, "SELECT /* gomha */ IS_USED_LOCK(?) = CONNECTION_ID()", sl.name).Scan(&mine)
	if err != nil {
		return fmt.Errorf("%w on %s: check GET_LOCK('%s'): %w", ErrLost, sl.key, sl.name, err)
	}
	if !mine.Valid || mine.Int64 != 1 {
		return fmt.Errorf("%w on %s: GET_LOCK('%s') is no longer held by connection %d", ErrLost, sl.key, sl.name, sl.connID)
	}
	return nil
}

// release deletes the gomha.actors row, releases the named lock and closes
// the connection. Whatever fails, the connection is closed, which frees
// the lock.
func (sl *serverLock) release(ctx context.Context, app string) error {
	sl.mu.Lock()
	defer sl.mu.Unlock()
	if sl.conn == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, sl.timeout)
	defer cancel()
	var errs []error
	if _, err := sl.conn.ExecContext(ctx, "DELETE /* gomha */ FROM gomha.actors WHERE app = ?", app); err != nil {
		errs = append(errs, fmt.Errorf("delete the gomha.actors row of %s on %s: %w", app, sl.key, err))
	}
	var n sql.NullInt64
	if err := sl.conn.QueryRowContext(ctx, "SELECT /* gomha */ RELEASE_LOCK(?)", sl.name).Scan(&n); err != nil {
		errs = append(errs, fmt.Errorf("RELEASE_LOCK('%s') on %s: %w", sl.name, sl.key, err))
	}
	sl.closeLocked()
	return errors.Join(errs...)
}

// close closes the connection and its session.
func (sl *serverLock) close() {
	sl.mu.Lock()
	defer sl.mu.Unlock()
	sl.closeLocked()
}

func (sl *serverLock) closeLocked() {
	if sl.conn != nil {
		_ = sl.conn.Close()
		_ = sl.sess.Close()
		sl.conn = nil
	}
}

// firstWords names a statement in an error without its arguments.
func firstWords(q string) string {
	var words []string
	for _, w := range strings.Fields(q) {
		if w == "/*" || w == "gomha" || w == "*/" {
			continue
		}
		if words = append(words, w); len(words) == 3 {
			break
		}
	}
	return strings.Join(words, " ")
}
