package sandbox

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/gomha/gomha/sandbox/internal/netfilter"
)

// cutSep joins the two addresses of a Cut in its rules' tag,
// "gomha_sandbox <a> cut <b>", a before b in host order.
const cutSep = " cut "

// cutIptablesSpecs are Cut's iptables rules; the tag also names the
// sandbox, as iptables rules of every sandbox share INPUT.
func cutIptablesSpecs(chain, a, b string) [][]string {
	return iptablesPairSpecs(fmt.Sprintf(ruleTagFmt, chain+" "+a+cutSep+b), a, b)
}

// parseIptablesCuts reads the address pairs of a sandbox's Cut rules back
// from `iptables -S INPUT`.
func parseIptablesCuts(out, chain string) [][2]string {
	prefix := fmt.Sprintf(ruleTagFmt, chain+" ")
	var pairs [][2]string
	for _, line := range strings.Split(out, "\n") {
		_, rest, ok := strings.Cut(line, prefix)
		if !ok {
			continue
		}
		tag, _, _ := strings.Cut(rest, `"`)
		if a, b, ok := strings.Cut(tag, cutSep); ok && !slices.Contains(pairs, [2]string{a, b}) {
			pairs = append(pairs, [2]string{a, b})
		}
	}
	return pairs
}

// cutPair resolves the two hosts of a Cut, in host order.
func (c *Cluster) cutPair(a, b string) (Host, Host, error) {
	ha, err := c.Host(a)
	if err != nil {
		return Host{}, Host{}, err
	}
	hb, err := c.Host(b)
	if err != nil {
		return Host{}, Host{}, err
	}
	if ha.Name == hb.Name {
		return Host{}, Host{}, fmt.Errorf("cut %s from itself: need two different hosts", ha.Name)
	}
	ia := slices.IndexFunc(c.Hosts, func(h Host) bool { return h.Name == ha.Name })
	ib := slices.IndexFunc(c.Hosts, func(h Host) bool { return h.Name == hb.Name })
	if ib < ia {
		ha, hb = hb, ha
	}
	return ha, hb, nil
}

// Cut partitions host a from host b, and from nothing else: the packets
// between a's address and b's address are dropped in both directions, in the
// input hook. As every process of a host dials from the host's own address
// (see Cluster.Cgroup), this cuts a's processes (its replica IO thread,
// commands run over its ssh) off b's servers and b's processes off a's, while
// both still reach every other host, and the test process and managers
// (127.0.0.1, 127.0.0.2...) still reach both. Established connections stall
// and new ones time out rather than being refused. Join(a, b), or Heal of
// either host, undoes it; Down removes it. It fails with ErrNoIdentity when
// the hosts all dial from 127.0.0.1.
func (c *Cluster) Cut(ctx context.Context, a, b string) error {
	ha, hb, err := c.cutPair(a, b)
	if err != nil {
		return err
	}
	if c.Cgroup == "" {
		return fmt.Errorf("cut %s from %s: %w", ha.Name, hb.Name, ErrNoIdentity)
	}
	cuts, err := c.cuts(ctx)
	if err != nil {
		return fmt.Errorf("cut %s from %s: %w", ha.Name, hb.Name, err)
	}
	if slices.Contains(cuts, [2]string{ha.Addr, hb.Addr}) {
		return nil
	}
	if netfilter.UseNft(ctx) {
		tag := fmt.Sprintf(ruleTagFmt, ha.Addr+cutSep+hb.Addr)
		if _, err := netfilter.Run(ctx, nftPairDrop(c.FirewallChain, ha.Addr, hb.Addr, tag), "nft", "-f", "-"); err != nil {
			return fmt.Errorf("cut %s from %s: %w", ha.Name, hb.Name, err)
		}
	} else {
		for _, spec := range cutIptablesSpecs(c.FirewallChain, ha.Addr, hb.Addr) {
			if _, err := netfilter.Iptables(ctx, "-I", spec); err != nil {
				return fmt.Errorf("cut %s from %s: %w", ha.Name, hb.Name, err)
			}
		}
	}
	c.logger.Info("hosts cut from each other", "host", ha.Name, "addr", ha.Addr, "peer", hb.Name, "peer_addr", hb.Addr)
	return nil
}

// Join undoes Cut(a, b), in either order; other faults stay.
func (c *Cluster) Join(ctx context.Context, a, b string) error {
	ha, hb, err := c.cutPair(a, b)
	if err != nil {
		return err
	}
	err = c.removeCuts(ctx, func(x, y string) bool { return x == ha.Addr && y == hb.Addr })
	if err != nil {
		return fmt.Errorf("join %s and %s: %w", ha.Name, hb.Name, err)
	}
	c.logger.Info("hosts joined again", "host", ha.Name, "addr", ha.Addr, "peer", hb.Name, "peer_addr", hb.Addr)
	return nil
}

// cuts lists the address pairs the sandbox's Cut rules separate.
func (c *Cluster) cuts(ctx context.Context) ([][2]string, error) {
	if netfilter.UseNft(ctx) {
		rules, _ := nftRules(ctx, c.FirewallChain)
		var pairs [][2]string
		for tag := range rules {
			if a, b, ok := strings.Cut(tag, cutSep); ok {
				pairs = append(pairs, [2]string{a, b})
			}
		}
		slices.SortFunc(pairs, func(p, q [2]string) int { return strings.Compare(p[0]+p[1], q[0]+q[1]) })
		return pairs, nil
	}
	out, err := netfilter.Iptables(ctx, "-S", []string{"INPUT"})
	if err != nil {
		return nil, err
	}
	return parseIptablesCuts(out, c.FirewallChain), nil
}

// removeCuts deletes the Cut rules of the pairs match selects.
func (c *Cluster) removeCuts(ctx context.Context, match func(a, b string) bool) error {
	if netfilter.UseNft(ctx) {
		rules, _ := nftRules(ctx, c.FirewallChain)
		for tag, handles := range rules {
			a, b, ok := strings.Cut(tag, cutSep)
			if !ok || !match(a, b) {
				continue
			}
			for _, handle := range handles {
				if err := netfilter.DeleteRule(ctx, c.FirewallChain, handle); err != nil {
					return err
				}
			}
		}
		return nil
	}
	pairs, err := c.cuts(ctx)
	if err != nil {
		return err
	}
	for _, p := range pairs {
		if !match(p[0], p[1]) {
			continue
		}
		for _, spec := range cutIptablesSpecs(c.FirewallChain, p[0], p[1]) {
			netfilter.DeleteIptables(ctx, spec)
		}
	}
	return nil
}

// cutPeers names the hosts h is cut from.
func (c *Cluster) cutPeers(pairs [][2]string, h Host) []string {
	var peers []string
	for _, p := range pairs {
		other := ""
		switch h.Addr {
		case p[0]:
			other = p[1]
		case p[1]:
			other = p[0]
		}
		if o, err := c.Host(other); other != "" && err == nil {
			peers = append(peers, o.Name)
		}
	}
	return peers
}
