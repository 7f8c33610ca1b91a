package etcdsandbox

// Network faults, as sandbox/netfilter.go does them for MySQL hosts: drops
// in the input hook (on lo every packet passes input, and a drop there is
// silent: a connect or a call times out, where a drop on output would fail
// at once with EPERM), in the table every sandbox of the machine shares,
// each sandbox with a chain of its own (Cluster.FirewallChain); iptables
// INPUT rules tagged with that chain where nft does not work.

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os/exec"
	"slices"
	"strings"
	"time"
)

const (
	nftTable  = "gomha_sandbox"
	fwTimeout = 10 * time.Second
)

// cutTag is the comment of the rules of Cut(src): "gomha_sandbox <chain>
// cut <src>", the chain naming the sandbox as iptables rules share INPUT.
func cutTag(chain, src string) string { return "gomha_sandbox " + chain + " cut " + src }

// run runs a firewall command, stdin optional, and names it in the error.
func run(ctx context.Context, stdin string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, fwTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// useNft says whether nft works here; otherwise iptables is used.
func useNft(ctx context.Context) bool {
	_, err := run(ctx, "", "nft", "list", "tables")
	return err == nil
}

// nftCutScript renders the nft script that drops every packet between src
// and each member address, both ways.
func nftCutScript(chain, src string, addrs []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "add table inet %[1]s\nadd chain inet %[1]s %[2]s { type filter hook input priority -10; policy accept; }\n", nftTable, chain)
	for _, a := range addrs {
		for _, p := range [][2]string{{src, a}, {a, src}} {
			fmt.Fprintf(&b, "add rule inet %s %s ip saddr %s ip daddr %s drop comment %q\n", nftTable, chain, p[0], p[1], cutTag(chain, src))
		}
	}
	return b.String()
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

// parseNftCuts reads `nft -a list table inet gomha_sandbox` into the
// handles of chain's Cut rules by source address; ok is false when the
// chain does not exist.
func parseNftCuts(out, chain string) (cuts map[string][]string, ok bool) {
	cuts = map[string][]string{}
	prefix := `comment "` + cutTag(chain, "")
	in := false
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "chain" {
			in = f[1] == chain
			ok = ok || in
			continue
		}
		i := strings.Index(line, prefix)
		j := strings.LastIndex(line, "# handle ")
		if !in || i < 0 || j < 0 {
			continue
		}
		src, _, _ := strings.Cut(line[i+len(prefix):], `"`)
		cuts[src] = append(cuts[src], strings.TrimSpace(line[j+len("# handle "):]))
	}
	return cuts, ok
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
	if useNft(ctx) {
		if _, err := run(ctx, nftCutScript(c.FirewallChain, s, c.addrs()), "nft", "-f", "-"); err != nil {
			return fmt.Errorf("cut %s from etcd: %w", s, err)
		}
	} else {
		for _, spec := range iptablesCutSpecs(c.FirewallChain, s, c.addrs()) {
			if _, err := run(ctx, "", "iptables", append([]string{"-w", "-I"}, spec...)...); err != nil {
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
	if useNft(ctx) {
		out, err := run(ctx, "", "nft", "-a", "list", "table", "inet", nftTable)
		if err != nil {
			return nil // no table: nothing cut
		}
		cuts, _ := parseNftCuts(out, c.FirewallChain)
		for _, h := range cuts[src] {
			if _, err := run(ctx, "", "nft", "delete", "rule", "inet", nftTable, c.FirewallChain, "handle", h); err != nil {
				return err
			}
		}
		return nil
	}
	for _, spec := range iptablesCutSpecs(c.FirewallChain, src, c.addrs()) {
		for range 10 { // -I twice leaves two copies
			if _, err := run(ctx, "", "iptables", append([]string{"-w", "-D"}, spec...)...); err != nil {
				break
			}
		}
	}
	return nil
}

// Cuts lists the source addresses currently cut from the cluster.
func (c *Cluster) Cuts(ctx context.Context) ([]string, error) {
	if useNft(ctx) {
		out, err := run(ctx, "", "nft", "-a", "list", "table", "inet", nftTable)
		if err != nil {
			return nil, nil // no table: nothing cut
		}
		cuts, _ := parseNftCuts(out, c.FirewallChain)
		srcs := make([]string, 0, len(cuts))
		for s := range cuts {
			srcs = append(srcs, s)
		}
		slices.Sort(srcs)
		return srcs, nil
	}
	out, err := run(ctx, "", "iptables", "-w", "-S", "INPUT")
	if err != nil {
		return nil, err
	}
	return parseIptablesCuts(out, c.FirewallChain), nil
}

// removeFirewall deletes every rule of this sandbox: its nft chain (and
// the shared table when no other sandbox has a chain in it), or its
// iptables rules.
func (c *Cluster) removeFirewall(ctx context.Context) error {
	if !useNft(ctx) {
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
	out, err := run(ctx, "", "nft", "-a", "list", "table", "inet", nftTable)
	if err != nil {
		return nil
	}
	if _, ok := parseNftCuts(out, c.FirewallChain); ok {
		script := fmt.Sprintf("flush chain inet %[1]s %[2]s\ndelete chain inet %[1]s %[2]s\n", nftTable, c.FirewallChain)
		if _, err := run(ctx, script, "nft", "-f", "-"); err != nil {
			return fmt.Errorf("remove firewall chain of etcd sandbox %s: %w", c.Dir, err)
		}
	}
	out, err = run(ctx, "", "nft", "list", "table", "inet", nftTable)
	if err == nil && !strings.Contains(out, "chain ") {
		if _, err := run(ctx, "", "nft", "delete", "table", "inet", nftTable); err != nil {
			return fmt.Errorf("remove empty table %s: %w", nftTable, err)
		}
	}
	return nil
}
