package sandbox

import (
	"context"
	"fmt"
	"net"
	"strings"

	"github.com/gomha/gomha/sandbox/internal/dirstate"
	"github.com/gomha/gomha/sandbox/internal/netfilter"
)

// Each sandbox owns one chain of the shared table (Cluster.FirewallChain),
// see package netfilter. Its rules are tagged "gomha_sandbox <what>"; as
// iptables rules of every sandbox share INPUT, their tag also names the
// chain.
const (
	ruleTagFmt    = "gomha_sandbox %s"
	ruleTagPrefix = "gomha_sandbox "
)

// firewallChain names a sandbox's chain after its directory.
func firewallChain(dir string) string { return "in_" + dirstate.ID(dir) }

// nftRules lists the handles of the rules of chain by their tag, less
// "gomha_sandbox " (an address, "<addr> from <src>", "<a> cut <b>"); ok is
// false when the table or chain does not exist.
func nftRules(ctx context.Context, chain string) (rules map[string][]string, ok bool) {
	return netfilter.Rules(ctx, chain, ruleTagPrefix)
}

// nftPairDrop renders the nft script that drops, in the sandbox's input
// chain, every packet between addresses x and y in both directions: by the
// packet's addresses, and by its connection's reply tuple. The second pair
// of rules is needed for the connections a host's process opened: their
// packets carry the host's source-NATed address, but the replies reach
// the input hook already de-NATed, addressed to 127.0.0.1; the conntrack
// reply tuple still names the host's address.
func nftPairDrop(chain, x, y, tag string) string {
	return netfilter.ChainScript(chain) +
		netfilter.DropRule(chain, "ip saddr "+y+" ip daddr "+x, tag) +
		netfilter.DropRule(chain, "ip saddr "+x+" ip daddr "+y, tag) +
		netfilter.DropRule(chain, "ct reply ip saddr "+y+" ct reply ip daddr "+x, tag) +
		netfilter.DropRule(chain, "ct reply ip saddr "+x+" ct reply ip daddr "+y, tag)
}

// iptablesPairSpecs are the same drops as iptables INPUT rules.
func iptablesPairSpecs(tag, x, y string) [][]string {
	comment := []string{"-m", "comment", "--comment", tag, "-j", "DROP"}
	return [][]string{
		append([]string{"INPUT", "-s", y, "-d", x}, comment...),
		append([]string{"INPUT", "-s", x, "-d", y}, comment...),
		append([]string{"INPUT", "-m", "conntrack", "--ctreplsrc", y, "--ctrepldst", x}, comment...),
		append([]string{"INPUT", "-m", "conntrack", "--ctreplsrc", x, "--ctrepldst", y}, comment...),
	}
}

// isolateFlags are the matches of Isolate's iptables rules: the packet's
// source and destination, and its connection's reply tuple (see nftPairDrop).
var isolateFlags = []string{"-s", "-d", "--ctreplsrc", "--ctrepldst"}

func iptablesSpec(chain, addr, flag string) []string {
	spec := []string{"INPUT", flag, addr, "-m", "comment", "--comment", fmt.Sprintf(ruleTagFmt, chain+" "+addr), "-j", "DROP"}
	if strings.HasPrefix(flag, "--ct") {
		spec = append([]string{"INPUT", "-m", "conntrack"}, spec[1:]...)
	}
	return spec
}

// Isolate cuts a host off the network: every packet to or from its address
// is dropped, so connections to it time out (nft table inet gomha_sandbox,
// or iptables INPUT rules when nft does not work). The connections its own
// processes opened are cut too, replies included (see Cluster.Cgroup).
func (c *Cluster) Isolate(ctx context.Context, host string) error {
	h, err := c.Host(host)
	if err != nil {
		return err
	}
	if c.isolated(ctx, h) {
		return nil
	}
	if netfilter.UseNft(ctx) {
		tag := fmt.Sprintf(ruleTagFmt, h.Addr)
		script := netfilter.ChainScript(c.FirewallChain)
		for _, m := range []string{"ip saddr", "ip daddr", "ct reply ip saddr", "ct reply ip daddr"} {
			script += netfilter.DropRule(c.FirewallChain, m+" "+h.Addr, tag)
		}
		if _, err := netfilter.Run(ctx, script, "nft", "-f", "-"); err != nil {
			return fmt.Errorf("isolate %s: %w", h.Name, err)
		}
	} else {
		for _, flag := range isolateFlags {
			if _, err := netfilter.Iptables(ctx, "-I", iptablesSpec(c.FirewallChain, h.Addr, flag)); err != nil {
				return fmt.Errorf("isolate %s: %w", h.Name, err)
			}
		}
	}
	c.logger.Info("host isolated", "host", h.Name, "addr", h.Addr)
	return nil
}

// Heal removes the rules Isolate and IsolateFrom added for a host, and
// those of every Cut between it and another host.
func (c *Cluster) Heal(ctx context.Context, host string) error {
	h, err := c.Host(host)
	if err != nil {
		return err
	}
	if err := c.heal(ctx, h); err != nil {
		return err
	}
	c.logger.Info("host healed", "host", h.Name, "addr", h.Addr)
	return nil
}

func (c *Cluster) heal(ctx context.Context, h Host) error {
	if err := c.removeCuts(ctx, func(a, b string) bool { return a == h.Addr || b == h.Addr }); err != nil {
		return fmt.Errorf("heal %s: %w", h.Name, err)
	}
	if netfilter.UseNft(ctx) {
		rules, _ := nftRules(ctx, c.FirewallChain)
		for tag, handles := range rules {
			if tag != h.Addr && !strings.HasPrefix(tag, h.Addr+fromSep) {
				continue
			}
			for _, handle := range handles {
				if err := netfilter.DeleteRule(ctx, c.FirewallChain, handle); err != nil {
					return fmt.Errorf("heal %s: %w", h.Name, err)
				}
			}
		}
		return nil
	}
	if err := c.healFromIptables(ctx, h); err != nil {
		return err
	}
	for _, flag := range isolateFlags {
		spec := iptablesSpec(c.FirewallChain, h.Addr, flag)
		for i := 0; i < 10; i++ { // -I twice leaves two copies
			if _, err := netfilter.Iptables(ctx, "-C", spec); err != nil {
				break
			}
			if _, err := netfilter.Iptables(ctx, "-D", spec); err != nil {
				return fmt.Errorf("heal %s: %w", h.Name, err)
			}
		}
	}
	return nil
}

// isolated says whether Isolate's rules for h are in place.
func (c *Cluster) isolated(ctx context.Context, h Host) bool {
	if netfilter.UseNft(ctx) {
		rules, _ := nftRules(ctx, c.FirewallChain)
		return len(rules[h.Addr]) > 0
	}
	_, err := netfilter.Iptables(ctx, "-C", iptablesSpec(c.FirewallChain, h.Addr, "-s"))
	return err == nil
}

// removeFirewall deletes every rule of this sandbox: its nft chain (and the
// shared table when no other sandbox has a chain in it), or its iptables rules.
func (c *Cluster) removeFirewall(ctx context.Context) error {
	if !netfilter.UseNft(ctx) {
		for _, h := range c.Hosts {
			if err := c.heal(ctx, h); err != nil {
				return err
			}
		}
		return nil
	}
	return netfilter.RemoveChain(ctx, c.FirewallChain, "sandbox "+c.Dir)
}

// fromSep joins a host's address and a source address in the tag of
// IsolateFrom's rules: "gomha_sandbox <addr> from <src>".
const fromSep = " from "

// IsolateFrom drops the packets between one host and one source address
// only, in both directions (ip saddr SRC ip daddr ADDR, the reverse, and the
// same by conntrack reply tuple), so that a client dialing from src (for
// example a manager using 127.0.0.2 as its local address) is cut off from the
// host while everyone else, the other hosts (which dial from their own
// addresses) and 127.0.0.1 included, still reaches it. Heal removes these
// rules too; Down removes the whole chain.
func (c *Cluster) IsolateFrom(ctx context.Context, host, src string) error {
	h, err := c.Host(host)
	if err != nil {
		return err
	}
	ip := net.ParseIP(src).To4()
	if ip == nil {
		return fmt.Errorf("isolate %s from %q: not an IPv4 address", h.Name, src)
	}
	src = ip.String()
	if netfilter.UseNft(ctx) {
		tag := fmt.Sprintf(ruleTagFmt, h.Addr+fromSep+src)
		if _, err := netfilter.Run(ctx, nftPairDrop(c.FirewallChain, h.Addr, src, tag), "nft", "-f", "-"); err != nil {
			return fmt.Errorf("isolate %s from %s: %w", h.Name, src, err)
		}
	} else {
		for _, spec := range iptablesFromSpecs(c.FirewallChain, h.Addr, src) {
			if _, err := netfilter.Iptables(ctx, "-I", spec); err != nil {
				return fmt.Errorf("isolate %s from %s: %w", h.Name, src, err)
			}
		}
	}
	c.logger.Info("host isolated from one address", "host", h.Name, "addr", h.Addr, "from", src)
	return nil
}

// iptablesFromSpecs are IsolateFrom's iptables rules.
func iptablesFromSpecs(chain, addr, src string) [][]string {
	return iptablesPairSpecs(fmt.Sprintf(ruleTagFmt, chain+" "+addr+fromSep+src), addr, src)
}

// healFromIptables deletes the iptables rules IsolateFrom added for h, the
// source addresses being read back from the rules' comments.
func (c *Cluster) healFromIptables(ctx context.Context, h Host) error {
	out, err := netfilter.Iptables(ctx, "-S", []string{"INPUT"})
	if err != nil {
		return fmt.Errorf("heal %s: %w", h.Name, err)
	}
	prefix := fmt.Sprintf(ruleTagFmt, c.FirewallChain+" "+h.Addr+fromSep)
	srcs := map[string]bool{}
	for _, line := range strings.Split(out, "\n") {
		if _, rest, ok := strings.Cut(line, prefix); ok {
			src, _, _ := strings.Cut(rest, `"`)
			srcs[src] = true
		}
	}
	for src := range srcs {
		for _, spec := range iptablesFromSpecs(c.FirewallChain, h.Addr, src) {
			netfilter.DeleteIptables(ctx, spec)
		}
	}
	return nil
}
