package node

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gomha/gomha/topology"
)

// What an online switchover needs of a server beyond failover.Node: the
// process list and open transactions (its safety checks), KILL, blocking
// writes with read_only or FLUSH TABLES WITH READ LOCK under a lock wait
// bound, the binlog position, and bounded position waits.

// Thread is one row of the server's process list.
type Thread struct {
	ID      int64
	User    string
	Host    string
	DB      string
	Command string
	Time    time.Duration // how long the thread has been in its state
	State   string
	Info    string // the statement, "" when idle
}

// Trx is one open InnoDB transaction.
type Trx struct {
	ID           string
	ThreadID     int64
	Age          time.Duration // since trx_started (a whole number of seconds)
	RowsModified int64
	State        string
	Query        string
}

// Threads reads the process list.
func (s *Session) Threads(ctx context.Context) ([]Thread, error) {
	timeCol := "TIME*1000"
	if s.flavor == topology.MariaDB {
		timeCol = "TIME_MS"
	}
	rows, err := s.queryMaps(ctx, "SELECT /* gomha */ ID, USER, HOST, DB, COMMAND, "+timeCol+" AS MS, STATE, INFO "+
		"FROM information_schema.PROCESSLIST")
	if err != nil {
		return nil, err
	}
	out := make([]Thread, 0, len(rows))
	for _, r := range rows {
		ms, _ := parseFloat(r["MS"])
		out = append(out, Thread{ID: atoi64(r["ID"]), User: r["USER"], Host: r["HOST"], DB: r["DB"], Command: r["COMMAND"],
			Time: time.Duration(ms * float64(time.Millisecond)), State: r["STATE"], Info: r["INFO"]})
	}
	return out, nil
}

// Transactions reads the open InnoDB transactions.
func (s *Session) Transactions(ctx context.Context) ([]Trx, error) {
	rows, err := s.queryMaps(ctx, "SELECT /* gomha */ trx_id, trx_mysql_thread_id, "+
		"TIMESTAMPDIFF(SECOND, trx_started, NOW()) AS age, trx_rows_modified, trx_state, trx_query "+
		"FROM information_schema.INNODB_TRX")
	if err != nil {
		return nil, err
	}
	out := make([]Trx, 0, len(rows))
	for _, r := range rows {
		out = append(out, Trx{ID: r["trx_id"], ThreadID: atoi64(r["trx_mysql_thread_id"]),
			Age: time.Duration(atoi64(r["age"])) * time.Second, RowsModified: atoi64(r["trx_rows_modified"]),
			State: r["trx_state"], Query: r["trx_query"]})
	}
	return out, nil
}

// ActiveTransactions reads the open InnoDB transactions from SHOW ENGINE
// INNODB STATUS, which is generated on each call. information_schema.
// INNODB_TRX is not fit for polling: InnoDB refreshes that cache only after
// 100 ms without a reader, so a poller keeps seeing a stale list.
func (s *Session) ActiveTransactions(ctx context.Context) ([]Trx, error) {
	rows, err := s.queryMaps(ctx, "/* gomha */ SHOW ENGINE INNODB STATUS")
	if err != nil {
		return nil, err
	}
	if len(rows) != 1 {
		return nil, fmt.Errorf("show engine innodb status on %s: %d rows", s.key, len(rows))
	}
	return parseInnoDBTransactions(rows[0]["Status"]), nil
}

var (
	trxThreadRE = regexp.MustCompile(`thread id (\d+)`)
	trxUndoRE   = regexp.MustCompile(`undo log entries (\d+)`)
	trxActiveRE = regexp.MustCompile(`ACTIVE (?:\(PREPARED\) )?(\d+) sec`)
)

// parseInnoDBTransactions reads the "LIST OF TRANSACTIONS FOR EACH SESSION"
// of SHOW ENGINE INNODB STATUS (MariaDB and MySQL spell it alike). Undo log
// entries stand for modified rows; transactions not started are skipped.
func parseInnoDBTransactions(status string) []Trx {
	if i := strings.Index(status, "LIST OF TRANSACTIONS FOR EACH SESSION:"); i >= 0 {
		status = status[i:]
	}
	if i := strings.Index(status, "\n--------\n"); i >= 0 {
		status = status[:i]
	}
	var out []Trx
	for _, block := range strings.Split(status, "\n---TRANSACTION ")[1:] {
		header, _, _ := strings.Cut(block, "\n")
		if strings.Contains(header, "not started") {
			continue
		}
		id, _, _ := strings.Cut(header, ",")
		x := Trx{ID: strings.TrimSpace(id), State: "ACTIVE"}
		if m := trxThreadRE.FindStringSubmatch(block); m != nil {
			x.ThreadID = atoi64(m[1])
		}
		if m := trxUndoRE.FindStringSubmatch(block); m != nil {
			x.RowsModified = atoi64(m[1])
		}
		if m := trxActiveRE.FindStringSubmatch(header); m != nil {
			x.Age = time.Duration(atoi64(m[1])) * time.Second
		}
		if strings.Contains(header, "PREPARED") {
			x.State = "PREPARED"
		}
		out = append(out, x)
	}
	return out
}

// Kill ends a connection (its open transaction is rolled back).
func (s *Session) Kill(ctx context.Context, id int64) error {
	return s.Exec(ctx, fmt.Sprintf("/* gomha */ KILL CONNECTION %d", id))
}

// withLockWait runs fn on a dedicated connection whose lock_wait_timeout is
// lockWait (rounded up to whole seconds), so that a statement waiting for a
// metadata or global read lock gives up on the server side too, instead of
// waiting (and making every other writer wait) after we stopped listening.
func (s *Session) withLockWait(ctx context.Context, lockWait time.Duration, fn func(context.Context, *sql.Conn) error) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("open a connection to %s: %w", s.key, err)
	}
	defer conn.Close()
	secs := int(math.Ceil(lockWait.Seconds()))
	if secs < 1 {
		secs = 1
	}
	qctx, cancel := context.WithTimeout(ctx, lockWait+s.cfg.QueryTimeout)
	defer cancel()
	if _, err := conn.ExecContext(qctx, fmt.Sprintf("/* gomha */ SET SESSION lock_wait_timeout=%d", secs)); err != nil {
		return fmt.Errorf("set lock_wait_timeout on %s: %w", s.key, err)
	}
	err = fn(qctx, conn)
	if _, rerr := conn.ExecContext(qctx, "/* gomha */ SET SESSION lock_wait_timeout=DEFAULT"); rerr != nil {
		_ = conn.Raw(func(any) error { return sql.ErrConnDone }) // do not return it to the pool
	}
	return err
}

// BlockWrites sets read_only=ON (super_read_only=ON on MySQL, which stops
// privileged clients too). The server waits for running write statements
// and commits first; lockWait bounds that wait.
func (s *Session) BlockWrites(ctx context.Context, lockWait time.Duration) error {
	q := "/* gomha */ SET GLOBAL read_only=ON"
	if s.flavor == topology.MySQL {
		q = "/* gomha */ SET GLOBAL super_read_only=ON"
	}
	return s.withLockWait(ctx, lockWait, func(ctx context.Context, c *sql.Conn) error {
		if _, err := c.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("set read_only=ON on %s: %w", s.key, err)
		}
		return nil
	})
}

// LockAllTables runs FLUSH TABLES WITH READ LOCK on a dedicated connection
// and keeps it until release is called (UNLOCK TABLES).
func (s *Session) LockAllTables(ctx context.Context, lockWait time.Duration) (release func(context.Context) error, err error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("open a connection to %s: %w", s.key, err)
	}
	secs := max(int(math.Ceil(lockWait.Seconds())), 1)
	qctx, cancel := context.WithTimeout(ctx, lockWait+s.cfg.QueryTimeout)
	defer cancel()
	for _, q := range []string{fmt.Sprintf("/* gomha */ SET SESSION lock_wait_timeout=%d", secs), "/* gomha */ FLUSH TABLES WITH READ LOCK"} {
		if _, err := conn.ExecContext(qctx, q); err != nil {
			_ = conn.Raw(func(any) error { return sql.ErrConnDone })
			conn.Close()
			return nil, fmt.Errorf("%s on %s: %w", firstWords(q), s.key, err)
		}
	}
	return func(ctx context.Context) error {
		defer conn.Close()
		uctx, cancel := s.queryCtx(ctx)
		defer cancel()
		if _, err := conn.ExecContext(uctx, "/* gomha */ UNLOCK TABLES"); err != nil {
			_ = conn.Raw(func(any) error { return sql.ErrConnDone }) // closing the connection unlocks
			return fmt.Errorf("unlock tables on %s: %w", s.key, err)
		}
		return nil
	}, nil
}

// FlushTables runs FLUSH NO_WRITE_TO_BINLOG TABLES (MHA does it before a
// switchover so that a later FLUSH TABLES WITH READ LOCK is quick).
func (s *Session) FlushTables(ctx context.Context, lockWait time.Duration) error {
	return s.withLockWait(ctx, lockWait, func(ctx context.Context, c *sql.Conn) error {
		if _, err := c.ExecContext(ctx, "/* gomha */ FLUSH NO_WRITE_TO_BINLOG TABLES"); err != nil {
			return fmt.Errorf("flush tables on %s: %w", s.key, err)
		}
		return nil
	})
}

// BinlogCoord reads the server's own binlog position (SHOW MASTER STATUS).
func (s *Session) BinlogCoord(ctx context.Context) (topology.BinlogCoord, error) {
	rows, err := s.queryMaps(ctx, "/* gomha */ "+s.terms().showBinlogStatus)
	if err != nil {
		return topology.BinlogCoord{}, err
	}
	if len(rows) == 0 {
		return topology.BinlogCoord{}, fmt.Errorf("read binlog position of %s: binary logging is off", s.key)
	}
	return topology.BinlogCoord{File: rows[0]["File"], Pos: atoi64(rows[0]["Position"])}, nil
}

// WaitCoord waits until the SQL thread has executed the master's binlog up
// to c (MASTER_POS_WAIT), at most timeout.
func (s *Session) WaitCoord(ctx context.Context, c topology.BinlogCoord, timeout time.Duration) error {
	fn := "MASTER_POS_WAIT"
	if maj, min, _ := parseVersion(s.version); s.flavor == topology.MySQL && (maj > 8 || (maj == 8 && min >= 4)) {
		fn = "SOURCE_POS_WAIT"
	}
	qctx, cancel := context.WithTimeout(ctx, timeout+s.cfg.QueryTimeout)
	defer cancel()
	var res sql.NullInt64
	q := "SELECT /* gomha */ " + fn + "(?, ?, ?)"
	if err := s.db.QueryRowContext(qctx, q, c.File, c.Pos, timeout.Seconds()).Scan(&res); err != nil {
		return fmt.Errorf("wait for %s on %s: %w", c, s.key, err)
	}
	switch {
	case !res.Valid:
		return fmt.Errorf("wait for %s on %s: the SQL thread is not running or the server is not a replica", c, s.key)
	case res.Int64 < 0:
		return fmt.Errorf("wait for %s on %s: %w after %s", c, s.key, ErrWaitTimeout, timeout)
	}
	return nil
}

// SetGTIDSlavePos sets MariaDB's gtid_slave_pos (replication must be
// stopped): a former master about to replicate starts from what it wrote.
func (s *Session) SetGTIDSlavePos(ctx context.Context, pos string) error {
	if s.flavor != topology.MariaDB {
		return nil
	}
	return s.Exec(ctx, "/* gomha */ SET GLOBAL gtid_slave_pos = ?", pos)
}

func parseFloat(s string) (float64, error) {
	return strconv.ParseFloat(strings.TrimSpace(s), 64)
}
