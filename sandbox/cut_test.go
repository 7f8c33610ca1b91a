package sandbox

import (
	"slices"
	"strings"
	"testing"

	"github.com/gomha/gomha/sandbox/internal/netfilter"
)

// TestCutRules pins Cut's iptables rules and reads cuts back as iptables and
// nft list them, next to Isolate and IsolateFrom rules and another
// sandbox's cut, which must not pass for this sandbox's cuts.
func TestCutRules(t *testing.T) {
	const a, b, chain = "127.0.0.61", "127.0.0.62", "in_0123abcd"
	specs := cutIptablesSpecs(chain, a, b)
	if len(specs) != 4 || !strings.Contains(strings.Join(specs[0], " "), "--comment gomha_sandbox in_0123abcd 127.0.0.61 cut 127.0.0.62 ") {
		t.Errorf("cut specs %q: want four drops tagged with the sandbox's chain and both addresses", specs)
	}

	iptablesS := `-P INPUT ACCEPT
-A INPUT -s 127.0.0.62/32 -d 127.0.0.61/32 -m comment --comment "gomha_sandbox in_0123abcd 127.0.0.61 cut 127.0.0.62" -j DROP
-A INPUT -m conntrack --ctreplsrc 127.0.0.61/32 --ctrepldst 127.0.0.62/32 -m comment --comment "gomha_sandbox in_0123abcd 127.0.0.61 cut 127.0.0.62" -j DROP
-A INPUT -s 127.0.0.2 -d 127.0.0.61 -m comment --comment "gomha_sandbox in_0123abcd 127.0.0.61 from 127.0.0.2" -j DROP
-A INPUT -s 127.0.0.63 -m comment --comment "gomha_sandbox in_0123abcd 127.0.0.63" -j DROP
-A INPUT -s 127.0.0.72 -d 127.0.0.71 -m comment --comment "gomha_sandbox in_ffffffff 127.0.0.72 cut 127.0.0.71" -j DROP
`
	if pairs := parseIptablesCuts(iptablesS, chain); !slices.Equal(pairs, [][2]string{{a, b}}) {
		t.Errorf("iptables: cuts %v, want only this sandbox's cut, once", pairs)
	}

	nftList := `table inet gomha_sandbox { # handle 7
	chain in_0123abcd { # handle 1
		type filter hook input priority -10; policy accept;
		ip saddr 127.0.0.62 ip daddr 127.0.0.61 drop comment "gomha_sandbox 127.0.0.61 cut 127.0.0.62" # handle 4
		ct reply ip saddr 127.0.0.61 ct reply ip daddr 127.0.0.62 drop comment "gomha_sandbox 127.0.0.61 cut 127.0.0.62" # handle 5
		ip saddr 127.0.0.63 drop comment "gomha_sandbox 127.0.0.63" # handle 6
	}
}`
	rules, ok := netfilter.ParseRules(nftList, chain, ruleTagPrefix)
	if !ok || !slices.Equal(rules[a+cutSep+b], []string{"4", "5"}) || !slices.Equal(rules["127.0.0.63"], []string{"6"}) {
		t.Errorf("nft: rules %v, want the cut's two handles under its tag and Isolate's apart", rules)
	}

	c := testCluster(t, 3)
	pairs := [][2]string{{"127.0.0.61", "127.0.0.62"}, {"127.0.0.62", "127.0.0.63"}, {"127.0.0.62", "127.0.0.99"}}
	if got := c.cutPeers(pairs, c.Hosts[1]); !slices.Equal(got, []string{"host1", "host3"}) {
		t.Errorf("host2 is cut from %v, want host1 and host3 (an address of no host is left out)", got)
	}
	if _, _, err := c.cutPair("host2", "127.0.0.62"); err == nil {
		t.Error("a host cut from itself (by name and address) must be refused")
	}
	if x, y, err := c.cutPair("host3", "host1"); err != nil || x.Name != "host1" || y.Name != "host3" {
		t.Errorf("cutPair(host3, host1) = %s, %s, %v; want host order, so Join finds Cut's tag", x.Name, y.Name, err)
	}
}
