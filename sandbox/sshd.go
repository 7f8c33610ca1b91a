package sandbox

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/gomha/gomha/sandbox/internal/proc"
)

const sshdPath = "/usr/sbin/sshd" // sshd re-executes itself: absolute path required

// sshKeygen creates an ed25519 key pair without passphrase at path.
func sshKeygen(ctx context.Context, path, comment string) error {
	out, err := exec.CommandContext(ctx, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ssh-keygen %s: %w: %s", path, err, out)
	}
	return nil
}

// setupSSH creates the client key, authorized_keys, and per host a host key
// and sshd_config; then writes known_hosts.
func (c *Cluster) setupSSH(ctx context.Context) error {
	sshDir := filepath.Dir(c.SSHKey)
	if err := os.MkdirAll(sshDir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", sshDir, err)
	}
	if err := sshKeygen(ctx, c.SSHKey, "gomha-sandbox"); err != nil {
		return err
	}
	pub, err := os.ReadFile(c.SSHKey + ".pub")
	if err != nil {
		return fmt.Errorf("read client public key: %w", err)
	}
	authKeys := filepath.Join(sshDir, "authorized_keys")
	if err := os.WriteFile(authKeys, pub, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", authKeys, err)
	}
	var known strings.Builder
	for _, h := range c.Hosts {
		if err := os.MkdirAll(h.Dir, 0o755); err != nil {
			return fmt.Errorf("create %s: %w", h.Dir, err)
		}
		if err := sshKeygen(ctx, h.hostKey(), "gomha-sandbox-"+h.Name); err != nil {
			return fmt.Errorf("host key of %s: %w", h.Name, err)
		}
		hpub, err := os.ReadFile(h.hostKey() + ".pub")
		if err != nil {
			return fmt.Errorf("read host key of %s: %w", h.Name, err)
		}
		line, err := knownHostsLine(h, string(hpub))
		if err != nil {
			return err
		}
		known.WriteString(line)
		if err := os.WriteFile(h.sshdConfig(), []byte(sshdConfig(h, authKeys)), 0o600); err != nil {
			return fmt.Errorf("write sshd_config of %s: %w", h.Name, err)
		}
	}
	if err := os.WriteFile(c.KnownHosts, []byte(known.String()), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", c.KnownHosts, err)
	}
	return nil
}

// startSSHD runs the host's sshd in the foreground (-D) of its own session,
// records its pid and waits until its port accepts connections.
func (c *Cluster) startSSHD(ctx context.Context, h Host) error {
	p, _ := c.PIDs(h.Name)
	if proc.Ours(p.SSHD, h.sshdMarker()) {
		return fmt.Errorf("start sshd on %s: already running as pid %d", h.Name, p.SSHD)
	}
	// privilege separation directory, normally made by the system unit
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		return fmt.Errorf("start sshd on %s: create /run/sshd: %w", h.Name, err)
	}
	if err := checkFree(h.sshAddr()); err != nil {
		return fmt.Errorf("start sshd on %s: %w", h.Name, err)
	}
	logPath := filepath.Join(h.Dir, "sshd.log")
	cg, err := c.hostIdentity(ctx, h)
	if err != nil {
		return fmt.Errorf("start sshd on %s: %w", h.Name, err)
	}
	st, err := proc.StartDetached(sshdPath, []string{"-D", "-f", h.sshdConfig(), "-E", logPath}, filepath.Join(h.Dir, "sshd.out"), proc.StartOptions{Cgroup: cg})
	if cg != nil {
		cg.Close()
	}
	if err != nil {
		return fmt.Errorf("start sshd on %s: %w", h.Name, err)
	}
	if err := c.setPID(h.Name, nil, intp(st.PID)); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	for !tcpUp(ctx, h.sshAddr(), dialTimeout) {
		select {
		case <-st.Exited:
			return fmt.Errorf("sshd on %s (pid %d) exited during start-up; %s says: %s",
				h.Name, st.PID, logPath, proc.Tail(logPath, 1000))
		case <-ctx.Done():
			return fmt.Errorf("wait for sshd on %s (pid %d): %w", h.Name, st.PID, ctx.Err())
		case <-time.After(pollInterval):
		}
	}
	c.logger.Debug("sshd started", "host", h.Name, "pid", st.PID)
	return nil
}

// killSSHD SIGKILLs the host's sshd and its sessions.
func (c *Cluster) killSSHD(ctx context.Context, h Host) error {
	p, _ := c.PIDs(h.Name)
	if p.SSHD == 0 {
		return nil
	}
	if err := proc.KillTree(ctx, p.SSHD, h.sshdMarker()); err != nil {
		return fmt.Errorf("kill sshd on %s: %w", h.Name, err)
	}
	return c.setPID(h.Name, nil, intp(0))
}

// KillSSHD SIGKILLs the host's sshd and its sessions, leaving mariadbd
// running: the host answers MySQL but refuses SSH. StartHost starts it
// again.
func (c *Cluster) KillSSHD(ctx context.Context, host string) error {
	h, err := c.Host(host)
	if err != nil {
		return err
	}
	return c.killSSHD(ctx, h)
}

// KillHost SIGKILLs the host's mariadbd and sshd (with its sessions), as if
// the machine had died.
func (c *Cluster) KillHost(ctx context.Context, host string) error {
	h, err := c.Host(host)
	if err != nil {
		return err
	}
	if err := c.KillMysqld(ctx, h.Name); err != nil {
		return err
	}
	return c.killSSHD(ctx, h)
}

// StartHost starts the host's sshd and mariadbd again (whichever is down).
func (c *Cluster) StartHost(ctx context.Context, host string) error {
	h, err := c.Host(host)
	if err != nil {
		return err
	}
	p, _ := c.PIDs(h.Name)
	if !proc.Ours(p.SSHD, h.sshdMarker()) {
		if err := c.startSSHD(ctx, h); err != nil {
			return err
		}
	}
	if !proc.Ours(p.Mysqld, h.mysqldMarker()) {
		return c.startMysqld(ctx, h)
	}
	return nil
}
