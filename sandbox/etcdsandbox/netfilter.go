package etcdsandbox

// Network faults, as sandbox does them for MySQL hosts, in the table
// every sandbox of the machine shares (see sandbox/internal/netfilter),
// each sandbox with a chain of its own (Cluster.FirewallChain); iptables
// INPUT rules tagged with that chain where nft does not work.

import (
	"context"
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"

	"github.com/gomha/gomha/sandbox/internal/netfilter"
)

// cutTag is the comment of the rules of Cut(src): "gomha_sandbox <chain>
// cut <src>", the chain naming the sandbox as iptables rules share INPUT.
func cutTag(chain, src string) string { return "gomha_sandbox " + chain + " cut " + src }

// nftCutScript renders the nft script that drops every packet between src
// and each member address, both ways.
func nftCutScript(chain, src string, addrs []string) string {
	script := netfilter.ChainScript(chain)
	for _, a := range addrs {
		for _, p := range [][2]string{{src, a}, {a, src}} {
			script += netfilter.DropRule(chain, "ip saddr "+p[0]+" ip daddr "+p[1], cutTag(chain, src))
		}
	}
	return script
}

// iptablesCutSpecs are the same drops as iptables INPUT rules.
func iptablesCutSpecs(chain, src string, addrs []string) [][]string {
	var specs [][]string
	for _, a := range addrs {
		for _, p := range [][2]string{{src, a}, {a, src}} {
			specs = append(specs, []string{"INPUT", "-s", p[0], "-d", p[1], "-m", "comment", "--comment", cutTag(chain, src), "-j", "DROP"})
		}
	}
	return specs
}

// nftCuts lists the handles of chain's Cut rules by source address; ok is
// false when the table or chain does not exist.
func nftCuts(ctx context.Context, chain string) (cuts map[string][]string, ok bool) {
	return netfilter.Rules(ctx, chain, cutTag(chain, ""))
}

// parseIptablesCuts reads the sources of chain's Cut rules back from
// `iptables -S INPUT`.
func parseIptablesCuts(out, chain string) []string {
	prefix := cutTag(chain, "")
	var srcs []string
	for _, line := range strings.Split(out, "\n") {
		if _, rest, ok := strings.Cut(line, prefix); ok {
			src, _, _ := strings.Cut(rest, `"`)
			if !slices.Contains(srcs, src) {
				srcs = append(srcs, src)
			}
		}
	}
	return srcs
}

// cutSource validates Cut's address: an IPv4 loopback address that is not
// a member's, nor 127.0.0.1 (the source of the members' own connections to
// each other, which the kernel picks for any 127.x destination).
func (c *Cluster) cutSource(src string) (string, error) {
	ip := net.ParseIP(src).To4()
	if ip == nil || ip[0] != 127 {
		return "", fmt.Errorf("cut %q from etcd: not an IPv4 loopback address", src)
	}
	s := ip.String()
	if s == "127.0.0.1" {
		return "", fmt.Errorf("cut %s from etcd: the members talk to each other from 127.0.0.1; bind the client to another address", s)
	}
	for _, m := range c.Members {
		if m.Addr == s {
			return "", fmt.Errorf("cut %s from etcd: that is member %s's address", s, m.Name)
		}
	}
	return s, nil
}

func (c *Cluster) addrs() []string {
	out := make([]string, len(c.Members))
	for i, m := range c.Members {
		out[i] = m.Addr
	}
	return out
}

// Cut drops every packet between src, the local address a client binds
// to (see ClientConfig), and every member, both ways: that client's calls
// and new connections time out, while clients on other addresses and the
// members themselves are untouched. Join undoes it; Down removes it.
func (c *Cluster) Cut(ctx context.Context, src string) error {
	s, err := c.cutSource(src)
	if err != nil {
		return err
	}
	cuts, err := c.Cuts(ctx)
	if err != nil {
		return fmt.Errorf("cut %s from etcd: %w", s, err)
	}
	if slices.Contains(cuts, s) {
		return nil
	}
	if netfilter.UseNft(ctx) {
		if _, err := netfilter.Run(ctx, nftCutScript(c.FirewallChain, s, c.addrs()), "nft", "-f", "-"); err != nil {
			return fmt.Errorf("cut %s from etcd: %w", s, err)
		}
	} else {
		for _, spec := range iptablesCutSpecs(c.FirewallChain, s, c.addrs()) {
			if _, err := netfilter.Iptables(ctx, "-I", spec); err != nil {
				return fmt.Errorf("cut %s from etcd: %w", s, err)
			}
		}
	}
	c.logger.Info("address cut from etcd", "src", s, "members", c.addrs())
	return nil
}

// Join undoes Cut(src).
func (c *Cluster) Join(ctx context.Context, src string) error {
	s, err := c.cutSource(src)
	if err != nil {
		return err
	}
	if err := c.join(ctx, s); err != nil {
		return fmt.Errorf("join %s to etcd: %w", s, err)
	}
	c.logger.Info("address joined to etcd", "src", s)
	return nil
}

func (c *Cluster) join(ctx context.Context, src string) error {
	if netfilter.UseNft(ctx) {
		cuts, _ := nftCuts(ctx, c.FirewallChain) // no table: nothing cut
		for _, h := range cuts[src] {
			if err := netfilter.DeleteRule(ctx, c.FirewallChain, h); err != nil {
				return err
			}
		}
		return nil
	}
	for _, spec := range iptablesCutSpecs(c.FirewallChain, src, c.addrs()) {
		netfilter.DeleteIptables(ctx, spec)
	}
	return nil
}

// Cuts lists the source addresses currently cut from the cluster.
func (c *Cluster) Cuts(ctx context.Context) ([]string, error) {
	if netfilter.UseNft(ctx) {
		cuts, _ := nftCuts(ctx, c.FirewallChain) // no table: nothing cut
		return slices.Sorted(maps.Keys(cuts)), nil
	}
	out, err := netfilter.Iptables(ctx, "-S", []string{"INPUT"})
	if err != nil {
		return nil, err
	}
	return parseIptablesCuts(out, c.FirewallChain), nil
}

// removeFirewall deletes every rule of this sandbox: its nft chain (and
// the shared table when no other sandbox has a chain in it), or its
// iptables rules.
func (c *Cluster) removeFirewall(ctx context.Context) error {
	if !netfilter.UseNft(ctx) {
		srcs, err := c.Cuts(ctx)
		if err != nil {
			return fmt.Errorf("remove firewall rules of etcd sandbox %s: %w", c.Dir, err)
		}
		for _, s := range srcs {
			if err := c.join(ctx, s); err != nil {
				return fmt.Errorf("remove firewall rules of etcd sandbox %s: %w", c.Dir, err)
			}
		}
		return nil
	}
	return netfilter.RemoveChain(ctx, c.FirewallChain, "etcd sandbox "+c.Dir)
}
