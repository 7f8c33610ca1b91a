package etcdsandbox

import (
	"slices"
	"strings"
	"testing"

	"github.com/gomha/gomha/sandbox/internal/netfilter"
)

func TestNftCutScript(t *testing.T) {
	got := nftCutScript("etcd_abcd", "127.0.2.10", []string{"127.0.2.1", "127.0.2.2"})
	want := `add table inet gomha_sandbox
add chain inet gomha_sandbox etcd_abcd { type filter hook input priority -10; policy accept; }
add rule inet gomha_sandbox etcd_abcd ip saddr 127.0.2.10 ip daddr 127.0.2.1 drop comment "gomha_sandbox etcd_abcd cut 127.0.2.10"
add rule inet gomha_sandbox etcd_abcd ip saddr 127.0.2.1 ip daddr 127.0.2.10 drop comment "gomha_sandbox etcd_abcd cut 127.0.2.10"
add rule inet gomha_sandbox etcd_abcd ip saddr 127.0.2.10 ip daddr 127.0.2.2 drop comment "gomha_sandbox etcd_abcd cut 127.0.2.10"
add rule inet gomha_sandbox etcd_abcd ip saddr 127.0.2.2 ip daddr 127.0.2.10 drop comment "gomha_sandbox etcd_abcd cut 127.0.2.10"
`
	if got != want {
		t.Errorf("script:\n%s\nwant:\n%s", got, want)
	}
}

func TestIptablesCutSpecs(t *testing.T) {
	specs := iptablesCutSpecs("etcd_abcd", "127.0.2.10", []string{"127.0.2.1"})
	want := [][]string{
		{"INPUT", "-s", "127.0.2.10", "-d", "127.0.2.1", "-m", "comment", "--comment", "gomha_sandbox etcd_abcd cut 127.0.2.10", "-j", "DROP"},
		{"INPUT", "-s", "127.0.2.1", "-d", "127.0.2.10", "-m", "comment", "--comment", "gomha_sandbox etcd_abcd cut 127.0.2.10", "-j", "DROP"},
	}
	if !slices.EqualFunc(specs, want, slices.Equal) {
		t.Errorf("specs = %q", specs)
	}
}

// nftListing is `nft -a list table inet gomha_sandbox` (nftables 1.0.6) with
// a MySQL sandbox's chain and this sandbox's chain; the rules were added by
// nftCutScript's and sandbox.nftPairDrop's scripts.
const nftListing = `table inet gomha_sandbox { # handle 161
	chain in_0f1e2d3c { # handle 1
		type filter hook input priority filter - 10; policy accept;
		ip saddr 127.0.0.12 ip daddr 127.0.0.11 drop comment "gomha_sandbox 127.0.0.11 cut 127.0.0.12" # handle 4
	}
	chain etcd_abcd { # handle 2
		type filter hook input priority filter - 10; policy accept;
		ip saddr 127.0.2.10 ip daddr 127.0.2.1 drop comment "gomha_sandbox etcd_abcd cut 127.0.2.10" # handle 5
		ip saddr 127.0.2.1 ip daddr 127.0.2.10 drop comment "gomha_sandbox etcd_abcd cut 127.0.2.10" # handle 6
		ip saddr 127.0.2.11 ip daddr 127.0.2.1 drop comment "gomha_sandbox etcd_abcd cut 127.0.2.11" # handle 7
	}
	chain etcd_ffff { # handle 3
		type filter hook input priority filter - 10; policy accept;
		ip saddr 127.0.2.12 ip daddr 127.0.2.1 drop comment "gomha_sandbox etcd_ffff cut 127.0.2.12" # handle 8
	}
}
`

func TestParseNftCuts(t *testing.T) {
	cuts, ok := netfilter.ParseRules(nftListing, "etcd_abcd", cutTag("etcd_abcd", ""))
	if !ok {
		t.Fatal("chain etcd_abcd not found")
	}
	if !slices.Equal(cuts["127.0.2.10"], []string{"5", "6"}) || !slices.Equal(cuts["127.0.2.11"], []string{"7"}) || len(cuts) != 2 {
		t.Errorf("cuts = %v: want only this chain's rules, by source", cuts)
	}
	if _, ok := netfilter.ParseRules(nftListing, "etcd_0000", cutTag("etcd_0000", "")); ok {
		t.Error("a missing chain was found")
	}
}

func TestParseIptablesCuts(t *testing.T) {
	out := strings.Join([]string{
		"-P INPUT ACCEPT",
		`-A INPUT -s 127.0.2.10/32 -d 127.0.2.1/32 -m comment --comment "gomha_sandbox etcd_abcd cut 127.0.2.10" -j DROP`,
		`-A INPUT -s 127.0.2.1/32 -d 127.0.2.10/32 -m comment --comment "gomha_sandbox etcd_abcd cut 127.0.2.10" -j DROP`,
		`-A INPUT -s 127.0.2.12/32 -d 127.0.2.1/32 -m comment --comment "gomha_sandbox etcd_ffff cut 127.0.2.12" -j DROP`,
		`-A INPUT -s 127.0.0.12/32 -d 127.0.0.11/32 -m comment --comment "gomha_sandbox in_0f1e2d3c 127.0.0.11 cut 127.0.0.12" -j DROP`,
	}, "\n")
	if got := parseIptablesCuts(out, "etcd_abcd"); !slices.Equal(got, []string{"127.0.2.10"}) {
		t.Errorf("sources = %v, want [127.0.2.10]", got)
	}
}

func TestCutSource(t *testing.T) {
	o, err := Options{Dir: "/tmp/e"}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	c := &Cluster{Members: o.members()}
	for _, tc := range []struct {
		src, want, err string
	}{
		{"127.0.2.10", "127.0.2.10", ""},
		{"127.0.2.2", "", "member etcd2's address"},
		{"127.0.0.1", "", "talk to each other from 127.0.0.1"},
		{"192.168.1.1", "", "not an IPv4 loopback"},
		{"x", "", "not an IPv4 loopback"},
	} {
		got, err := c.cutSource(tc.src)
		if got != tc.want || (tc.err == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tc.err) {
			t.Errorf("cutSource(%q) = %q, %v; want %q, %q", tc.src, got, err, tc.want, tc.err)
		}
	}
}
