// Package netfilter is the firewall plumbing of the sandboxes' network
// faults. Every sandbox of the machine (MySQL hosts, etcd members) drops
// packets in one shared nft table, inet gomha_sandbox, each in a base chain
// of its own hooked on input: on lo every packet passes input, and a drop
// there is silent (a connect or a call times out) where a drop on output
// would fail at once with EPERM. Where nft does not work, the same drops are
// iptables INPUT rules, told apart by a comment naming the sandbox's chain.
//
// What to drop, and how rules are tagged, is each sandbox's own; this
// package runs the commands, reads rules back by their tag and removes
// them.
package netfilter

import (
	"bufio"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// Table is the nft table every sandbox of the machine shares.
const Table = "gomha_sandbox"

// timeout bounds every nft or iptables command.
const timeout = 10 * time.Second

// Run runs a firewall command, stdin optional, and names it in the error.
func Run(ctx context.Context, stdin string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
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

// UseNft says whether nft works here; otherwise iptables is used.
func UseNft(ctx context.Context) bool {
	_, err := Run(ctx, "", "nft", "list", "tables")
	return err == nil
}

// Iptables runs `iptables -w op spec...` (op: -I, -C, -D...).
func Iptables(ctx context.Context, op string, spec []string) (string, error) {
	return Run(ctx, "", "iptables", append([]string{"-w", op}, spec...)...)
}

// DeleteIptables deletes every copy of an iptables rule: -I twice leaves
// two. A rule that is not there is no error.
func DeleteIptables(ctx context.Context, spec []string) {
	for range 10 {
		if _, err := Iptables(ctx, "-D", spec); err != nil {
			return
		}
	}
}

// ChainScript renders the nft lines that make the table and chain (nothing
// when they exist), for a script that then adds rules to the chain.
func ChainScript(chain string) string {
	return fmt.Sprintf("add table inet %[1]s\n"+
		"add chain inet %[1]s %[2]s { type filter hook input priority -10; policy accept; }\n", Table, chain)
}

// DropRule renders the nft line that adds to chain a rule dropping the
// packets that match, tagged with tag (its comment).
func DropRule(chain, match, tag string) string {
	return fmt.Sprintf("add rule inet %s %s %s drop comment %q\n", Table, chain, match, tag)
}

// Rules lists the handles of chain's rules whose comment starts with
// tagPrefix, by the rest of the comment; ok is false when the table or the
// chain does not exist.
func Rules(ctx context.Context, chain, tagPrefix string) (rules map[string][]string, ok bool) {
	out, err := Run(ctx, "", "nft", "-a", "list", "table", "inet", Table)
	if err != nil {
		return nil, false
	}
	return ParseRules(out, chain, tagPrefix)
}

// ParseRules is Rules on the output of `nft -a list table inet
// gomha_sandbox`.
func ParseRules(out, chain, tagPrefix string) (rules map[string][]string, ok bool) {
	rules = map[string][]string{}
	prefix := `comment "` + tagPrefix
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
		key, _, _ := strings.Cut(line[i+len(prefix):], `"`)
		rules[key] = append(rules[key], strings.TrimSpace(line[j+len("# handle "):]))
	}
	return rules, ok
}

// DeleteRule deletes one rule of chain by its handle.
func DeleteRule(ctx context.Context, chain, handle string) error {
	_, err := Run(ctx, "", "nft", "delete", "rule", "inet", Table, chain, "handle", handle)
	return err
}

// RemoveChain deletes chain with its rules, and the shared table when no
// other sandbox has a chain left in it. owner names the sandbox in errors
// ("sandbox /tmp/sb").
func RemoveChain(ctx context.Context, chain, owner string) error {
	if _, ok := Rules(ctx, chain, ""); ok {
		script := fmt.Sprintf("flush chain inet %[1]s %[2]s\ndelete chain inet %[1]s %[2]s\n", Table, chain)
		if _, err := Run(ctx, script, "nft", "-f", "-"); err != nil {
			return fmt.Errorf("remove firewall chain of %s: %w", owner, err)
		}
	}
	out, err := Run(ctx, "", "nft", "list", "table", "inet", Table)
	if err == nil && !strings.Contains(out, "chain ") {
		if _, err := Run(ctx, "", "nft", "delete", "table", "inet", Table); err != nil {
			return fmt.Errorf("remove empty table %s: %w", Table, err)
		}
	}
	return nil
}
