package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/gomha/gomha/sandbox/internal/dirstate"
	"github.com/gomha/gomha/sandbox/internal/netfilter"
)

// A host's identity on the network is its address: the packets its
// processes send to any 127.0.0.0/8 address are source-NATed to it, by an
// iptables rule matching the host's cgroup (nat POSTROUTING, in the
// sandbox's chain gomha_snat_<id>). Without it every process dials from
// 127.0.0.1, the kernel's choice on loopback, and a firewall rule could not
// tell host2's replica from host3's.
//
// iptables rather than nft: nft 1.0.6 resolves a `socket cgroupv2` path
// under /sys/fs/cgroup only (wrong on a hybrid system), and nft's socket
// expression is not allowed in postrouting, where SNAT happens; xt_cgroup
// resolves the path in the kernel. Only the first packet of a connection
// goes through nat, so connections others open to the host are untouched.
// The fault rules can then stay in the input hook, where a drop is a silent
// timeout, and match addresses: the packet's own, or, for a reply already
// de-NATed to 127.0.0.1, its connection's conntrack reply tuple.

// ErrNoIdentity means the sandbox's processes all dial from 127.0.0.1: its
// cgroups or NAT rules could not be made at Up (see the warning Up logged),
// or it was deployed by a gomha that did not make them.
var ErrNoIdentity = errors.New("sandbox hosts have no source address of their own")

// snatChain is the sandbox's chain in iptables' nat table (at most 28 characters).
func snatChain(dir string) string { return "gomha_snat_" + dirstate.ID(dir) }

// snatJumpSpec sends every packet that leaves a socket through the
// sandbox's chain; it is inserted first in POSTROUTING.
func snatJumpSpec(dir string) []string {
	return []string{"POSTROUTING", "-m", "comment", "--comment", fmt.Sprintf(ruleTagFmt, dirstate.ID(dir)), "-j", snatChain(dir)}
}

// snatRuleSpec gives the host's address to the loopback packets of sockets
// opened in the host's cgroup.
func snatRuleSpec(dir, cgroup string, h Host) []string {
	return []string{snatChain(dir), "-d", "127.0.0.0/8", "-m", "cgroup", "--path", cgroup + "/" + h.Name,
		"-j", "SNAT", "--to-source", h.Addr}
}

func iptablesNat(ctx context.Context, op string, spec []string) error {
	_, err := netfilter.Run(ctx, "", "iptables", append([]string{"-w", "-t", "nat", op}, spec...)...)
	return err
}

// setupIdentity makes every host's cgroup and NAT rule before any process
// starts. When that fails the sandbox still works, without Cut: what was
// made is removed, Cgroup is cleared and a warning says why.
func (c *Cluster) setupIdentity(ctx context.Context) {
	var err error
	for _, h := range c.Hosts {
		var f *os.File
		if f, err = c.hostIdentity(ctx, h); err != nil {
			break
		}
		f.Close()
	}
	if err == nil {
		return
	}
	c.logger.Warn("hosts will all dial from 127.0.0.1: Cut is unavailable", "err", err)
	if rerr := c.removeIdentity(ctx); rerr != nil {
		c.logger.Warn("clean up partial host identity", "err", rerr)
	}
	c.Cgroup = ""
}

// hostIdentity makes sure h's cgroup and NAT rule exist (again, after a
// reboot) and opens the cgroup's directory, to start a process in it. It
// returns nil when the sandbox has no identity.
func (c *Cluster) hostIdentity(ctx context.Context, h Host) (*os.File, error) {
	if c.Cgroup == "" {
		return nil, nil
	}
	c.idMu.Lock()
	defer c.idMu.Unlock()
	dir, err := c.hostCgroupDir(h)
	if err != nil {
		return nil, fmt.Errorf("cgroup of %s: %w", h.Name, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create cgroup of %s: %w", h.Name, err)
	}
	chain := snatChain(c.Dir)
	if iptablesNat(ctx, "-S", []string{chain}) != nil {
		if err := iptablesNat(ctx, "-N", []string{chain}); err != nil {
			return nil, fmt.Errorf("source address of %s: %w", h.Name, err)
		}
	}
	for _, r := range []struct {
		spec []string
		add  string
	}{{snatJumpSpec(c.Dir), "-I"}, {snatRuleSpec(c.Dir, c.Cgroup, h), "-A"}} {
		if iptablesNat(ctx, "-C", r.spec) == nil {
			continue
		}
		if err := iptablesNat(ctx, r.add, r.spec); err != nil {
			return nil, fmt.Errorf("source address of %s: %w", h.Name, err)
		}
	}
	f, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("open cgroup of %s: %w", h.Name, err)
	}
	return f, nil
}

// removeIdentity deletes the NAT chain and then the cgroups; the recorded
// processes must be gone.
func (c *Cluster) removeIdentity(ctx context.Context) error {
	if c.Cgroup == "" {
		return nil
	}
	if err := c.removeSNAT(ctx); err != nil {
		return err
	}
	return c.removeCgroups(ctx)
}

func (c *Cluster) removeSNAT(ctx context.Context) error {
	chain := snatChain(c.Dir)
	for i := 0; i < 10; i++ { // -I twice leaves two copies
		if iptablesNat(ctx, "-D", snatJumpSpec(c.Dir)) != nil {
			break
		}
	}
	if iptablesNat(ctx, "-S", []string{chain}) != nil {
		return nil // no such chain (or no iptables: then nothing was made)
	}
	for _, op := range []string{"-F", "-X"} {
		if err := iptablesNat(ctx, op, []string{chain}); err != nil {
			return fmt.Errorf("remove NAT chain of sandbox %s: %w", c.Dir, err)
		}
	}
	return nil
}
