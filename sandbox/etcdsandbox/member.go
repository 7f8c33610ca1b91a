package etcdsandbox

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"time"

	"github.com/gomha/gomha/sandbox/internal/proc"
)

// startProcess starts member i's etcd and records its pid (not saved).
func (c *Cluster) startProcess(i int) error {
	m := c.Members[i]
	p, err := proc.StartDetached(c.Binary, m.args(c.Members, c.Token, c.timing), m.LogPath, proc.StartOptions{Tied: c.tied})
	if err != nil {
		return fmt.Errorf("etcd sandbox member %s (%s): %w", m.Name, m.Addr, err)
	}
	c.mu.Lock()
	c.pids[i], c.exited[i] = p.PID, p.Exited
	c.mu.Unlock()
	c.logger.Info("etcd member started", "member", m.Name, "addr", m.Addr, "pid", p.PID, "log", m.LogPath)
	return nil
}

// exitedErr says, when member i's process (started by this process) has
// exited, which member and where its log says why.
func (c *Cluster) exitedErr(i int) error {
	c.mu.Lock()
	ch := c.exited[i]
	c.mu.Unlock()
	if ch == nil {
		return nil
	}
	select {
	case <-ch:
		m := c.Members[i]
		return fmt.Errorf("etcd member %s (%s) exited, log %s: %s", m.Name, m.Addr, m.LogPath, logTail(m.LogPath))
	default:
		return nil
	}
}

// signal sends sig to member i if its recorded process is still ours,
// waits until it is gone (SIGKILL after stopGrace) and forgets its pid.
func (c *Cluster) signal(ctx context.Context, i int, sig syscall.Signal) error {
	m, err := c.member(i)
	if err != nil {
		return err
	}
	pid := c.PID(i)
	if err := proc.Stop(ctx, pid, m.marker(), sig, stopGrace); err != nil {
		return fmt.Errorf("stop etcd member %s (%s, pid %d): %w", m.Name, m.Addr, pid, err)
	}
	c.mu.Lock()
	c.pids[i], c.exited[i] = 0, nil
	c.mu.Unlock()
	return nil
}

// Kill SIGKILLs member i and waits until it is gone; its data stays.
func (c *Cluster) Kill(ctx context.Context, i int) error {
	return c.stop(ctx, i, syscall.SIGKILL, "killed")
}

// Stop shuts member i down (SIGTERM, SIGKILL after 10 s); its data stays.
func (c *Cluster) Stop(ctx context.Context, i int) error {
	return c.stop(ctx, i, syscall.SIGTERM, "stopped")
}

func (c *Cluster) stop(ctx context.Context, i int, sig syscall.Signal, what string) error {
	if err := c.signal(ctx, i, sig); err != nil {
		return err
	}
	c.logger.Info("etcd member "+what, "member", c.Members[i].Name, "addr", c.Members[i].Addr)
	return c.save()
}

// Start starts member i again on its data dir (nothing when it runs) and
// waits until it serves clients, which etcd does only once it has rejoined
// through a quorum: with too few other members up, Start waits until ctx
// ends (60 s when ctx has no deadline). It fails at once, with the end of
// the member's log, when the process exits.
func (c *Cluster) Start(ctx context.Context, i int) error {
	m, err := c.member(i)
	if err != nil {
		return err
	}
	if c.Running(i) {
		return nil
	}
	if err := free(hostPort(m.ClientURL)); err != nil {
		return fmt.Errorf("start etcd member %s: %w", m.Name, err)
	}
	if err := c.startProcess(i); err != nil {
		return err
	}
	if err := c.save(); err != nil {
		return err
	}
	t0 := time.Now()
	if err := c.waitMember(ctx, i); err != nil {
		return fmt.Errorf("start etcd member %s (%s, log %s): %w", m.Name, m.Addr, m.LogPath, err)
	}
	c.logger.Info("etcd member rejoined", "member", m.Name, "addr", m.Addr, "duration", time.Since(t0).Round(time.Millisecond))
	return nil
}

// logTail returns, on one line for an error message, the error lines among
// the last lines of an etcd log (zap JSON, one object a line), or its last
// two lines when none is an error.
func logTail(path string) string {
	lines := proc.TailLines(path, 8192)
	var errs []string
	for _, l := range lines {
		for _, lvl := range []string{`"level":"error"`, `"level":"fatal"`, `"level":"panic"`} {
			if strings.Contains(l, lvl) {
				errs = append(errs, strings.TrimSpace(l))
			}
		}
	}
	if len(errs) == 0 {
		errs = lines[max(len(lines)-2, 0):]
	}
	return strings.Join(errs[max(len(errs)-3, 0):], " | ")
}
