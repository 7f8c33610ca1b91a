package sandbox

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestPairDropRules pins the drops between two addresses (IsolateFrom, Cut)
// and Isolate's iptables rules. Each direction needs an address rule and a
// conntrack reply-tuple rule: a reply to a host's source-NATed process
// reaches the input hook de-NATed, addressed to 127.0.0.1.
func TestPairDropRules(t *testing.T) {
	const a, b, chain = "127.0.0.61", "127.0.0.62", "in_0123abcd"
	const tag = "gomha_sandbox 127.0.0.61 from 127.0.0.62"
	rule := "add rule inet gomha_sandbox in_0123abcd %s drop comment \"" + tag + "\"\n"
	assertEq(t, nftPairDrop(chain, a, b, tag), "add table inet gomha_sandbox\n"+
		"add chain inet gomha_sandbox in_0123abcd { type filter hook input priority -10; policy accept; }\n"+
		fmt.Sprintf(rule, "ip saddr 127.0.0.62 ip daddr 127.0.0.61")+
		fmt.Sprintf(rule, "ip saddr 127.0.0.61 ip daddr 127.0.0.62")+
		fmt.Sprintf(rule, "ct reply ip saddr 127.0.0.62 ct reply ip daddr 127.0.0.61")+
		fmt.Sprintf(rule, "ct reply ip saddr 127.0.0.61 ct reply ip daddr 127.0.0.62"))
	const comment = " -m comment --comment " + tag + " -j DROP"
	var got []string
	for _, s := range iptablesPairSpecs(tag, a, b) {
		got = append(got, strings.Join(s, " "))
	}
	want := []string{
		"INPUT -s 127.0.0.62 -d 127.0.0.61" + comment,
		"INPUT -s 127.0.0.61 -d 127.0.0.62" + comment,
		"INPUT -m conntrack --ctreplsrc 127.0.0.62 --ctrepldst 127.0.0.61" + comment,
		"INPUT -m conntrack --ctreplsrc 127.0.0.61 --ctrepldst 127.0.0.62" + comment,
	}
	if !slices.Equal(got, want) {
		t.Errorf("iptables specs:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	assertEq(t, strings.Join(iptablesSpec(chain, a, "--ctrepldst"), " "),
		"INPUT -m conntrack --ctrepldst 127.0.0.61 -m comment --comment gomha_sandbox in_0123abcd 127.0.0.61 -j DROP")
}
