package netfilter

import (
	"context"
	"slices"
	"strings"
	"testing"
)

// listing is `nft -a list table inet gomha_sandbox` (nftables 1.0.6) with a
// MySQL sandbox's chain and an etcd sandbox's chain.
const listing = `table inet gomha_sandbox { # handle 161
	chain in_0f1e2d3c { # handle 1
		type filter hook input priority filter - 10; policy accept;
		ip saddr 127.0.0.11 drop comment "gomha_sandbox 127.0.0.11" # handle 4
		ip saddr 127.0.0.12 ip daddr 127.0.0.11 drop comment "gomha_sandbox 127.0.0.11 cut 127.0.0.12" # handle 5
	}
	chain etcd_abcd { # handle 2
		type filter hook input priority filter - 10; policy accept;
		ip saddr 127.0.2.10 ip daddr 127.0.2.1 drop comment "gomha_sandbox etcd_abcd cut 127.0.2.10" # handle 6
		ip saddr 127.0.2.1 ip daddr 127.0.2.10 drop comment "gomha_sandbox etcd_abcd cut 127.0.2.10" # handle 7
	}
}
`

func TestParseRules(t *testing.T) {
	cases := []struct {
		why, chain, prefix string
		wantOK             bool
		want               map[string][]string
	}{
		{"a MySQL sandbox keys its rules by the tag after gomha_sandbox", "in_0f1e2d3c", "gomha_sandbox ", true,
			map[string][]string{"127.0.0.11": {"4"}, "127.0.0.11 cut 127.0.0.12": {"5"}}},
		{"an etcd sandbox keys its cuts by source, and only its chain's", "etcd_abcd", "gomha_sandbox etcd_abcd cut ", true,
			map[string][]string{"127.0.2.10": {"6", "7"}}},
		{"a prefix no rule has lists nothing, but the chain is there", "in_0f1e2d3c", "gomha_sandbox etcd_abcd cut ", true,
			map[string][]string{}},
		{"a missing chain is reported, so Down does not delete it", "etcd_0000", "", false,
			map[string][]string{}},
	}
	for _, tc := range cases {
		got, ok := ParseRules(listing, tc.chain, tc.prefix)
		if ok != tc.wantOK || !sameRules(got, tc.want) {
			t.Errorf("%s: got %v, %v; want %v, %v", tc.why, got, ok, tc.want, tc.wantOK)
		}
	}
}

func sameRules(a, b map[string][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

func TestScript(t *testing.T) {
	got := ChainScript("etcd_abcd") + DropRule("etcd_abcd", "ip saddr 127.0.2.10", "gomha_sandbox etcd_abcd cut 127.0.2.10")
	want := `add table inet gomha_sandbox
add chain inet gomha_sandbox etcd_abcd { type filter hook input priority -10; policy accept; }
add rule inet gomha_sandbox etcd_abcd ip saddr 127.0.2.10 drop comment "gomha_sandbox etcd_abcd cut 127.0.2.10"
`
	if got != want {
		t.Errorf("script:\n%s\nwant:\n%s", got, want)
	}
}

// TestRunNamesCommand: a failed nft or iptables command is named in the
// error with its output, which is where nft says why.
func TestRunNamesCommand(t *testing.T) {
	_, err := Run(context.Background(), "", "sh", "-c", "echo no such chain >&2; exit 3")
	if err == nil || !strings.HasPrefix(err.Error(), "sh -c echo no such chain >&2; exit 3: exit status 3: no such chain") {
		t.Errorf("err = %v", err)
	}
	out, err := Run(context.Background(), "in", "cat")
	if err != nil || out != "in" {
		t.Errorf("stdin: %q, %v", out, err)
	}
}
