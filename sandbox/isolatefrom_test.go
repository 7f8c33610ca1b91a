package sandbox

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/gomha/gomha/sandbox/internal/netfilter"
)

// dialFrom opens a TCP connection to addr from the local address src.
func dialFrom(ctx context.Context, src, addr string) error {
	d := net.Dialer{Timeout: time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	return conn.Close()
}

// TestSandboxIsolateFrom checks that IsolateFrom cuts one source address off
// one host, and nothing else, and that Heal undoes it.
func TestSandboxIsolateFrom(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	c := upOpts(t, Options{Hosts: 2, BaseOctet: 105})
	master, replica := c.Hosts[0].mysqlAddr(), c.Hosts[1].mysqlAddr()
	const manager = "127.0.0.2"
	if err := c.IsolateFrom(ctx, "host1", "127.0.0.2"); err != nil {
		t.Fatalf("IsolateFrom: %v", err)
	}
	if err := c.IsolateFrom(ctx, "host1", "not-an-ip"); err == nil {
		t.Errorf("IsolateFrom with a bad source address: want an error")
	}
	cases := []struct {
		why       string
		src, addr string
		cut       bool
	}{
		{"the isolated source cannot reach the host", manager, master, true},
		{"everyone else (replicas dial from 127.0.0.1) still can", "127.0.0.1", master, false},
		{"the host's own address still can", c.Hosts[1].Addr, master, false},
		{"the isolated source still reaches the other hosts", manager, replica, false},
	}
	for _, tc := range cases {
		err := dialFrom(ctx, tc.src, tc.addr)
		var ne net.Error
		switch {
		case tc.cut && (err == nil || !errors.As(err, &ne) || !ne.Timeout()):
			t.Errorf("%s: dial %s from %s: err=%v, want a timeout", tc.why, tc.addr, tc.src, err)
		case !tc.cut && err != nil:
			t.Errorf("%s: dial %s from %s: %v", tc.why, tc.addr, tc.src, err)
		}
	}
	if err := c.Heal(ctx, "host1"); err != nil {
		t.Fatalf("Heal: %v", err)
	}
	for _, src := range []string{manager, "127.0.0.1"} {
		if err := dialFrom(ctx, src, master); err != nil {
			t.Errorf("after Heal, dial %s from %s: %v", master, src, err)
		}
	}
	if netfilter.UseNft(ctx) {
		rules, _ := nftRules(ctx, c.FirewallChain)
		if len(rules) != 0 {
			t.Errorf("after Heal, rules left in chain %s: %v", c.FirewallChain, rules)
		}
	} else {
		t.Log("nft unavailable: the iptables path was tested")
	}
}
