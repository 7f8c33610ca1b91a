package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gomha/gomha/sandbox/internal/dirstate"
)

// Every process of host N runs in the cgroup v2 group
// <cgroup2 mount>/gomha_sandbox/<id>/hostN. mariadbd and sshd are cloned
// straight into it (CLONE_INTO_CGROUP), so every socket they and their
// children (ssh sessions) ever open belongs to it from the first packet on;
// identity.go gives those sockets the host's own source address.

// cgroupParent is shared by all sandboxes of the machine; each owns one
// child of it, named like its firewall chain after its directory.
const cgroupParent = "gomha_sandbox"

// cgroupName is a sandbox's cgroup, relative to the cgroup2 mount (the form
// iptables -m cgroup --path takes).
func cgroupName(dir string) string { return cgroupParent + "/" + dirstate.ID(dir) }

// cgroup2Mount finds where the cgroup v2 hierarchy is mounted: /sys/fs/cgroup
// on a unified system, /sys/fs/cgroup/unified on a hybrid one.
func cgroup2Mount() (string, error) {
	b, err := os.ReadFile("/proc/mounts")
	if err != nil {
		return "", fmt.Errorf("find the cgroup2 mount: %w", err)
	}
	if m, ok := parseCgroup2Mount(string(b)); ok {
		return m, nil
	}
	return "", errors.New("find the cgroup2 mount: no cgroup2 file system in /proc/mounts")
}

// parseCgroup2Mount returns the mount point of the first cgroup2 line of
// /proc/mounts.
func parseCgroup2Mount(mounts string) (string, bool) {
	for _, l := range strings.Split(mounts, "\n") {
		f := strings.Fields(l)
		if len(f) >= 3 && f[2] == "cgroup2" {
			return unescapeMount(f[1]), true
		}
	}
	return "", false
}

// unescapeMount undoes the octal escapes (\040 for a space...) of
// /proc/mounts.
func unescapeMount(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// hostCgroupDir is the directory of a host's cgroup.
func (c *Cluster) hostCgroupDir(h Host) (string, error) {
	mount, err := cgroup2Mount()
	if err != nil {
		return "", err
	}
	return filepath.Join(mount, c.Cgroup, h.Name), nil
}

// removeCgroups removes the sandbox's cgroups once its recorded processes
// are gone. A process still in a host's cgroup can only have been started by
// that host's mariadbd or sshd (a daemon left by an ssh session): it is
// killed with cgroup.kill, and logged.
func (c *Cluster) removeCgroups(ctx context.Context) error {
	if c.Cgroup == "" {
		return nil
	}
	mount, err := cgroup2Mount()
	if err != nil {
		return nil // no cgroup2: nothing can have been made
	}
	base := filepath.Join(mount, c.Cgroup)
	for _, h := range c.Hosts {
		if err := c.removeHostCgroup(ctx, h, filepath.Join(base, h.Name)); err != nil {
			return err
		}
	}
	if err := rmdirCgroup(base); err != nil {
		return fmt.Errorf("remove cgroup %s of sandbox %s: %w", base, c.Dir, err)
	}
	// Shared by every sandbox: removed only when no other one has a child in it.
	if err := rmdirCgroup(filepath.Dir(base)); err != nil && !errors.Is(err, syscall.EBUSY) && !errors.Is(err, syscall.ENOTEMPTY) {
		return fmt.Errorf("remove cgroup %s: %w", filepath.Dir(base), err)
	}
	return nil
}

func (c *Cluster) removeHostCgroup(ctx context.Context, h Host, dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("list processes of %s's cgroup %s: %w", h.Name, dir, err)
	}
	if pids := strings.Fields(string(b)); len(pids) > 0 {
		c.logger.Warn("killing processes left in the host's cgroup", "host", h.Name, "cgroup", dir, "pids", pids)
		if err := os.WriteFile(filepath.Join(dir, "cgroup.kill"), []byte("1"), 0); err != nil {
			return fmt.Errorf("kill processes left in %s's cgroup %s: %w", h.Name, dir, err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for populated(dir) {
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %s's cgroup %s to empty: %w", h.Name, dir, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	if err := rmdirCgroup(dir); err != nil {
		return fmt.Errorf("remove %s's cgroup %s: %w", h.Name, dir, err)
	}
	return nil
}

// populated reads cgroup.events: whether any process (or exiting thread)
// is still in the cgroup or below.
func populated(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.events"))
	if err != nil {
		return false
	}
	return strings.Contains(string(b), "populated 1")
}

// rmdirCgroup removes an empty cgroup; one already gone is no error.
func rmdirCgroup(dir string) error {
	if err := syscall.Rmdir(dir); err != nil && !errors.Is(err, syscall.ENOENT) {
		return err
	}
	return nil
}
