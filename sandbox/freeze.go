package sandbox

import (
	"context"
	"fmt"
	"syscall"
	"time"

	"github.com/gomha/gomha/sandbox/internal/proc"
)

// Freeze stops the host's mariadbd with SIGSTOP, as a hung server: its
// kernel still completes TCP handshakes on the port (the listen backlog), but
// the server never sends its greeting, never answers on open connections, and
// its replica threads stand still. Thaw resumes it. StopMysqld, KillMysqld,
// KillHost and Down work on a frozen server.
func (c *Cluster) Freeze(ctx context.Context, host string) error {
	return c.signalMysqld(ctx, host, syscall.SIGSTOP, "freeze", true)
}

// Thaw resumes a mariadbd stopped by Freeze (SIGCONT).
func (c *Cluster) Thaw(ctx context.Context, host string) error {
	return c.signalMysqld(ctx, host, syscall.SIGCONT, "thaw", false)
}

// signalMysqld sends sig to the host's recorded mariadbd if it is still ours
// and waits until every thread is stopped (or none is).
func (c *Cluster) signalMysqld(ctx context.Context, host string, sig syscall.Signal, verb string, stop bool) error {
	h, err := c.Host(host)
	if err != nil {
		return err
	}
	p, _ := c.PIDs(h.Name)
	if !proc.Ours(p.Mysqld, h.mysqldMarker()) {
		return fmt.Errorf("%s mariadbd on %s: not running (recorded pid %d)", verb, h.Name, p.Mysqld)
	}
	if err := syscall.Kill(p.Mysqld, sig); err != nil {
		return fmt.Errorf("%s mariadbd on %s: %v to pid %d: %w", verb, h.Name, sig, p.Mysqld, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for frozen(p.Mysqld) != stop {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s mariadbd on %s (pid %d): wait for its threads: %w", verb, h.Name, p.Mysqld, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
	if stop {
		c.logger.Info("mariadbd frozen", "host", h.Name, "pid", p.Mysqld)
	} else {
		c.logger.Info("mariadbd thawed", "host", h.Name, "pid", p.Mysqld)
	}
	return nil
}

// frozen says whether every live thread of pid is stopped (state T).
func frozen(pid int) bool {
	n := 0
	for _, s := range proc.ThreadStates(pid) {
		switch s {
		case "T":
			n++
		case "Z", "X":
		default:
			return false
		}
	}
	return n > 0
}
