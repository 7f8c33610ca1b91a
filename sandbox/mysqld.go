package sandbox

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/gomha/gomha/sandbox/internal/proc"
)

const (
	readyTimeout  = 60 * time.Second
	stopGrace     = 60 * time.Second
	pollInterval  = 50 * time.Millisecond
	dialTimeout   = 2 * time.Second
	queryTimeout  = 30 * time.Second
	statusTimeout = time.Second
)

// dsn is the admin DSN of a host. It holds the password: never log it.
func (c *Cluster) dsn(h Host, timeout time.Duration) string {
	cfg := mysql.NewConfig()
	cfg.User = c.User
	cfg.Passwd = c.Password
	cfg.Net = "tcp"
	cfg.Addr = h.mysqlAddr()
	cfg.Timeout = timeout
	cfg.ReadTimeout = queryTimeout
	cfg.WriteTimeout = queryTimeout
	cfg.InterpolateParams = true
	return cfg.FormatDSN()
}

// DB opens an admin connection pool to a host and pings it. The caller
// closes it.
func (c *Cluster) DB(ctx context.Context, host string) (*sql.DB, error) {
	h, err := c.Host(host)
	if err != nil {
		return nil, err
	}
	return c.openDB(ctx, h, dialTimeout)
}

func (c *Cluster) openDB(ctx context.Context, h Host, timeout time.Duration) (*sql.DB, error) {
	db, err := sql.Open("mysql", c.dsn(h, timeout))
	if err != nil {
		return nil, fmt.Errorf("open admin connection to %s (%s): %w", h.Name, h.mysqlAddr(), err)
	}
	db.SetMaxOpenConns(4)
	db.SetConnMaxIdleTime(time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to %s (%s): %w", h.Name, h.mysqlAddr(), err)
	}
	return db, nil
}

// Exec runs statements in order on a host as the admin user.
func (c *Cluster) Exec(ctx context.Context, host string, stmts ...string) error {
	db, err := c.DB(ctx, host)
	if err != nil {
		return err
	}
	defer db.Close()
	h, _ := c.Host(host)
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("exec %q on %s: %w", s, h.Name, err)
		}
	}
	return nil
}

// startMysqld starts the host's mariadbd detached, records its pid, and
// waits until the admin user can connect.
func (c *Cluster) startMysqld(ctx context.Context, h Host) error {
	p, _ := c.PIDs(h.Name)
	if proc.Ours(p.Mysqld, h.mysqldMarker()) {
		return fmt.Errorf("start mariadbd on %s: already running as pid %d", h.Name, p.Mysqld)
	}
	if err := checkFree(h.mysqlAddr()); err != nil {
		return fmt.Errorf("start mariadbd on %s: %w", h.Name, err)
	}
	cg, err := c.hostIdentity(ctx, h)
	if err != nil {
		return fmt.Errorf("start mariadbd on %s: %w", h.Name, err)
	}
	st, err := proc.StartDetached(mariadbd, []string{h.mysqldMarker()}, filepath.Join(h.Dir, "mysqld.out"), proc.StartOptions{Cgroup: cg})
	if cg != nil {
		cg.Close()
	}
	if err != nil {
		return fmt.Errorf("start mariadbd on %s: %w", h.Name, err)
	}
	if err := c.setPID(h.Name, intp(st.PID), nil); err != nil {
		return err
	}
	c.logger.Debug("mariadbd started", "host", h.Name, "pid", st.PID)
	return c.waitMysqld(ctx, h, st)
}

// waitMysqld polls until the admin user connects, the process exits, or
// readyTimeout passes.
func (c *Cluster) waitMysqld(ctx context.Context, h Host, st proc.Started) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	var last error
	for {
		pctx, pcancel := context.WithTimeout(ctx, dialTimeout)
		db, err := c.openDB(pctx, h, dialTimeout)
		pcancel()
		if err == nil {
			db.Close()
			return nil
		}
		last = err
		select {
		case <-st.Exited:
			return fmt.Errorf("mariadbd on %s (pid %d) exited during start-up; %s says: %s",
				h.Name, st.PID, h.ErrorLog(), logErrors(h.ErrorLog()))
		case <-ctx.Done():
			return fmt.Errorf("wait for mariadbd on %s (pid %d): %w (last: %v)", h.Name, st.PID, ctx.Err(), last)
		case <-time.After(pollInterval):
		}
	}
}

// StartMysqld starts the host's mariadbd again on its datadir. Replication
// settings persist; MariaDB restarts the replica threads by itself. read_only
// is runtime-only, so a restarted replica comes back writable.
func (c *Cluster) StartMysqld(ctx context.Context, host string) error {
	h, err := c.Host(host)
	if err != nil {
		return err
	}
	return c.startMysqld(ctx, h)
}

// KillMysqld SIGKILLs the host's mariadbd and waits until it is gone.
func (c *Cluster) KillMysqld(ctx context.Context, host string) error {
	return c.stopMysqld(ctx, host, syscall.SIGKILL)
}

// StopMysqld shuts the host's mariadbd down cleanly (SIGTERM, wait; SIGKILL
// after a grace period).
func (c *Cluster) StopMysqld(ctx context.Context, host string) error {
	return c.stopMysqld(ctx, host, syscall.SIGTERM)
}

func (c *Cluster) stopMysqld(ctx context.Context, host string, sig syscall.Signal) error {
	h, err := c.Host(host)
	if err != nil {
		return err
	}
	p, _ := c.PIDs(h.Name)
	if p.Mysqld == 0 {
		return nil
	}
	if err := proc.Stop(ctx, p.Mysqld, h.mysqldMarker(), sig, stopGrace); err != nil {
		return fmt.Errorf("stop mariadbd on %s: %w", h.Name, err)
	}
	c.logger.Info("mariadbd stopped", "host", h.Name, "pid", p.Mysqld, "signal", sig.String())
	return c.setPID(h.Name, intp(0), nil)
}

// checkFree fails with ErrAddrInUse when something listens on addr.
func checkFree(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w: %w", addr, ErrAddrInUse, err)
	}
	return l.Close()
}

// tcpUp says whether a TCP connect to addr succeeds within timeout.
func tcpUp(ctx context.Context, addr string, timeout time.Duration) bool {
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

// logErrors returns the "[ERROR]" lines near the end of a mariadbd error log,
// or its last lines when there are none.
func logErrors(path string) string {
	t := proc.Tail(path, 8192)
	var errs []string
	for _, l := range strings.Split(t, "\n") {
		if strings.Contains(l, "[ERROR]") {
			errs = append(errs, strings.TrimSpace(l))
		}
	}
	if len(errs) == 0 {
		return proc.Tail(path, 600)
	}
	return strings.Join(errs, "; ")
}
