package node

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/gomha/gomha/topology"
)

// MySQLConfig says how to reach one server.
type MySQLConfig struct {
	Key      topology.Key
	User     string
	Password string // never logged

	ConnectTimeout time.Duration // TCP dial and handshake (default 4 s)
	QueryTimeout   time.Duration // each statement (default 10 s)
	// LocalAddr is the source address of connections ("" = chosen by the
	// kernel), for managers on multi-homed hosts.
	LocalAddr string
	Logger    *slog.Logger
}

// Session is an open connection pool to one server, with its flavour known.
type Session struct {
	key     topology.Key
	db      *sql.DB
	cfg     MySQLConfig
	flavor  topology.Flavor
	version string
	log     *slog.Logger
	own     *ownConns // its connections, as the server sees them
}

// QuietDriverLogs stops go-sql-driver from printing its own error lines to
// stderr; gomha reports those errors itself. Call once from main.
func QuietDriverLogs() {
	_ = mysql.SetLogger(log.New(io.Discard, "", 0))
}

func (c MySQLConfig) withDefaults() MySQLConfig {
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = 4 * time.Second
	}
	if c.QueryTimeout <= 0 {
		c.QueryTimeout = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// DSN returns the driver configuration for c. The password is in the struct,
// never in a string that could be logged.
func (c MySQLConfig) driverConfig() *mysql.Config {
	mc := mysql.NewConfig()
	mc.User = c.User
	mc.Passwd = c.Password
	mc.Net = "tcp"
	mc.Addr = c.Key.String()
	mc.Timeout = c.ConnectTimeout
	mc.ReadTimeout = c.QueryTimeout
	mc.WriteTimeout = c.QueryTimeout
	mc.InterpolateParams = true
	mc.ParseTime = false
	mc.Params = map[string]string{"wait_timeout": "600"}
	return mc
}

// dialer returns the session's dial function: from LocalAddr when set,
// recording the local address of each connection in own.
func (c MySQLConfig) dialer(own *ownConns) func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := net.Dialer{}
	if c.LocalAddr != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(c.LocalAddr)}
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return own.add(conn), nil
	}
}

// OpenMySQL connects to the server and detects its flavour. Errors are
// *topology.ConnError, classified (refused, timeout, access denied, ...).
func OpenMySQL(ctx context.Context, cfg MySQLConfig) (*Session, error) {
	cfg = cfg.withDefaults()
	own := &ownConns{addrs: map[string]bool{}}
	mc := cfg.driverConfig()
	mc.DialFunc = cfg.dialer(own)
	conn, err := mysql.NewConnector(mc)
	if err != nil {
		return nil, ClassifyMySQLError(cfg.Key, err)
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(2)
	db.SetConnMaxLifetime(5 * time.Minute)
	s := &Session{key: cfg.Key, db: db, cfg: cfg, log: cfg.Logger.With("host", cfg.Key.String()), own: own}
	pctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	defer cancel()
	var version string
	start := time.Now()
	if err := db.QueryRowContext(pctx, "SELECT /* gomha */ @@version").Scan(&version); err != nil {
		db.Close()
		return nil, classifyConnect(cfg, err, time.Since(start))
	}
	s.flavor, s.version = flavorOf(version), version
	return s, nil
}

func flavorOf(version string) topology.Flavor {
	if strings.Contains(strings.ToLower(version), "mariadb") {
		return topology.MariaDB
	}
	return topology.MySQL
}

// Key returns the server's key.
func (s *Session) Key() topology.Key { return s.key }

// Flavor returns the detected flavour.
func (s *Session) Flavor() topology.Flavor { return s.flavor }

// DB exposes the pool for callers in this module that need plain SQL.
func (s *Session) DB() *sql.DB { return s.db }

// Close releases the connections.
func (s *Session) Close() error { return s.db.Close() }

func (s *Session) queryCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.cfg.QueryTimeout)
}

// Exec runs one statement with the session's deadline. Statements should
// carry a /* gomha */ comment so a DBA can find them in the processlist.
func (s *Session) Exec(ctx context.Context, query string, args ...any) error {
	qctx, cancel := s.queryCtx(ctx)
	defer cancel()
	if _, err := s.db.ExecContext(qctx, query, args...); err != nil {
		return fmt.Errorf("%s on %s: %w", firstWords(query), s.key, err)
	}
	return nil
}

// firstWords names a statement in an error without its arguments.
func firstWords(q string) string {
	q = strings.TrimSpace(strings.ReplaceAll(q, "/* gomha */", ""))
	f := strings.Fields(q)
	if len(f) > 3 {
		f = f[:3]
	}
	return strings.Join(f, " ")
}

// queryMaps runs a query with the session's deadline and returns its rows
// as column-name -> value maps, so SHOW ... STATUS output of any version can
// be read.
func (s *Session) queryMaps(ctx context.Context, query string) ([]map[string]string, error) {
	qctx, cancel := s.queryCtx(ctx)
	defer cancel()
	rows, err := QueryMaps(qctx, s.db, query)
	if err != nil {
		return nil, fmt.Errorf("%s on %s: %w", firstWords(query), s.key, err)
	}
	return rows, nil
}

// QueryMaps runs a query and returns its rows as column-name -> value maps;
// a NULL is absent from its map (so it reads as "").
func QueryMaps(ctx context.Context, db *sql.DB, query string, args ...any) ([]map[string]string, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out []map[string]string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		m := make(map[string]string, len(cols))
		for i, c := range cols {
			if vals[i].Valid {
				m[c] = vals[i].String
			}
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

func atoi64(s string) int64 {
	n, _ := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	return n
}

func boolVar(s string) bool {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "1", "ON", "YES", "TRUE":
		return true
	}
	return false
}

// classifyConnect classifies a failed connect. A connection that was
// accepted and then reset or closed during the handshake, well before the
// deadline, comes back from the driver as "invalid connection", the same
// error as a read timeout; it means the host is up and mysqld is not
// serving (it is dying or gone), so it counts as refused.
func classifyConnect(cfg MySQLConfig, err error, took time.Duration) *topology.ConnError {
	ce := ClassifyMySQLError(cfg.Key, err)
	if ce.Kind == topology.ConnTimeout && took < cfg.ConnectTimeout/2 &&
		(errors.Is(err, mysql.ErrInvalidConn) || errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)) {
		return &topology.ConnError{Key: cfg.Key, Kind: topology.ConnRefused, Err: fmt.Errorf("connection reset during the handshake: %w", err)}
	}
	return ce
}
