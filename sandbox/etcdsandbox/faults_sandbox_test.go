package etcdsandbox

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/gomha/gomha/sandbox/internal/proc"
)

// TestMemberFaultsSandbox: the leader member killed, writes go on and a
// session survives; a second member killed, writes fail within their
// deadline instead of hanging; both started again, writes work. It logs
// the time to regain a leader and a write after the leader's death.
func TestMemberFaultsSandbox(t *testing.T) {
	c := UpT(t, Options{})
	t.Logf("3 members up in %v", c.UpDuration.Round(time.Millisecond))
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cli := newClient(t, ClientConfig(c.Endpoints(), "127.0.2.20"))
	sess := newSession(t, cli, 3)
	if err := put(cli, "/gomha/test/k", "0", 2*time.Second); err != nil {
		t.Fatalf("put with 3 members: %v", err)
	}

	leader, err := c.WaitLeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	if err := c.Kill(ctx, leader); err != nil {
		t.Fatal(err)
	}
	killed := time.Since(t0)
	next, err := c.WaitLeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	elected := time.Since(t0)
	if next == leader {
		t.Fatalf("leader %s still leads after SIGKILL", c.Member(leader).Name)
	}
	for i := 1; ; i++ {
		err := put(cli, "/gomha/test/k", fmt.Sprint(i), 500*time.Millisecond)
		if err == nil {
			break
		}
		if time.Since(t0) > 15*time.Second {
			t.Fatalf("no write within 15 s of killing leader %s: %v", c.Member(leader).Name, err)
		}
	}
	t.Logf("leader %s SIGKILLed (gone in %v): %s elected after %v, first write after %v",
		c.Member(leader).Name, killed.Round(time.Millisecond), c.Member(next).Name, elected.Round(time.Millisecond), time.Since(t0).Round(time.Millisecond))

	// The session (3 s TTL) outlives its TTL across the leader change.
	time.Sleep(max(0, 4*time.Second-time.Since(t0)))
	select {
	case <-sess.Done():
		t.Fatal("session ended after the leader member was killed")
	default:
	}
	if ttl, err := cli.TimeToLive(ctx, sess.Lease()); err != nil || ttl.TTL <= 0 {
		t.Fatalf("session lease after leader kill: TTL %v, %v", ttl, err)
	}

	// Without a quorum a write fails within its deadline.
	second := slices.IndexFunc(c.Members, func(m Member) bool { return m.Name != c.Member(leader).Name && m.Name != c.Member(next).Name })
	if err := c.Kill(ctx, second); err != nil {
		t.Fatal(err)
	}
	t1 := time.Now()
	err = put(cli, "/gomha/test/k", "no quorum", 2*time.Second)
	if err == nil {
		t.Fatal("write taken by 1 member of 3")
	}
	if d := time.Since(t1); d > 3*time.Second {
		t.Fatalf("write without quorum failed after %v, want about its 2 s deadline", d)
	}
	t.Logf("without quorum: write failed after %v: %v", time.Since(t1).Round(time.Millisecond), err)
	if _, err := c.Leader(ctx); !errors.Is(err, ErrNoLeader) {
		t.Fatalf("Leader with 1 member of 3: %v, want ErrNoLeader", err)
	}

	for _, i := range []int{leader, second} {
		t2 := time.Now()
		if err := c.Start(ctx, i); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s restarted and rejoined in %v", c.Member(i).Name, time.Since(t2).Round(time.Millisecond))
	}
	if err := put(cli, "/gomha/test/k", "back", 5*time.Second); err != nil {
		t.Fatalf("put after restarting both members: %v", err)
	}
	for i := range c.Members {
		if !c.Running(i) {
			t.Errorf("%s not running", c.Member(i).Name)
		}
	}
}

// TestStopStartSandbox: a member shut down cleanly (the leader, which hands
// its leadership over) and started again; Start of a running member is a
// no-op; a bad index is ErrUnknownMember.
func TestStopStartSandbox(t *testing.T) {
	c := UpT(t, Options{})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	leader, err := c.WaitLeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pid := c.PID(leader)
	t0 := time.Now()
	if err := c.Stop(ctx, leader); err != nil {
		t.Fatal(err)
	}
	t.Logf("leader %s stopped in %v", c.Member(leader).Name, time.Since(t0).Round(time.Millisecond))
	if c.Running(leader) || c.PID(leader) != 0 || proc.Alive(pid) {
		t.Fatalf("%s still recorded or alive (pid %d)", c.Member(leader).Name, pid)
	}
	cli := newClient(t, ClientConfig(c.Endpoints(), ""))
	if err := put(cli, "/gomha/test/k", "v", 5*time.Second); err != nil {
		t.Fatalf("put with 2 members: %v", err)
	}
	if err := c.Start(ctx, leader); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx, leader); err != nil {
		t.Fatalf("start of a running member: %v", err)
	}
	if err := c.Kill(ctx, 3); !errors.Is(err, ErrUnknownMember) {
		t.Fatalf("Kill(3) of 3 members: %v, want ErrUnknownMember", err)
	}
}

// TestCutSandbox: a client dialling from 127.0.2.10 is cut off every member
// (its calls fail within their deadline) while one on 127.0.2.11 goes on;
// Join brings it back. It logs how long the cut client takes to recover.
func TestCutSandbox(t *testing.T) {
	c := UpT(t, Options{})
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cut := newClient(t, ClientConfig(c.Endpoints(), "127.0.2.10"))
	other := newClient(t, ClientConfig(c.Endpoints(), "127.0.2.11"))
	if err := put(cut, "/gomha/test/cut", "before", 2*time.Second); err != nil {
		t.Fatalf("put from 127.0.2.10: %v", err)
	}
	if err := c.Cut(ctx, "127.0.2.10"); err != nil {
		t.Fatal(err)
	}
	if err := c.Cut(ctx, "127.0.2.10"); err != nil {
		t.Fatalf("second cut: %v", err)
	}
	if cuts, err := c.Cuts(ctx); err != nil || !slices.Equal(cuts, []string{"127.0.2.10"}) {
		t.Fatalf("Cuts = %v, %v; want [127.0.2.10]", cuts, err)
	}
	t0 := time.Now()
	if err := put(cut, "/gomha/test/cut", "during", 2*time.Second); err == nil {
		t.Fatal("write from a cut address taken")
	} else if d := time.Since(t0); d > 3*time.Second {
		t.Fatalf("write from a cut address failed after %v, want about its 2 s deadline", d)
	} else {
		t.Logf("cut client: write failed after %v: %v", d.Round(time.Millisecond), err)
	}
	// A new connection from the cut address times out too.
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.2.10")}, Timeout: 500 * time.Millisecond}
	if conn, err := d.DialContext(ctx, "tcp", c.Member(0).ClientURL[len("http://"):]); err == nil {
		conn.Close()
		t.Fatal("TCP connect from a cut address succeeded")
	}
	if err := put(other, "/gomha/test/cut", "other", 2*time.Second); err != nil {
		t.Fatalf("put from 127.0.2.11 while 127.0.2.10 is cut: %v", err)
	}

	if err := c.Join(ctx, "127.0.2.10"); err != nil {
		t.Fatal(err)
	}
	t1 := time.Now()
	for {
		err := put(cut, "/gomha/test/cut", "after", time.Second)
		if err == nil {
			break
		}
		if time.Since(t1) > 20*time.Second {
			t.Fatalf("client on 127.0.2.10 not back 20 s after join: %v", err)
		}
	}
	t.Logf("cut client writes again %v after join", time.Since(t1).Round(time.Millisecond))
	if cuts, err := c.Cuts(ctx); err != nil || len(cuts) != 0 {
		t.Fatalf("Cuts after join = %v, %v", cuts, err)
	}
	for _, bad := range []string{"127.0.2.1", "127.0.0.1", "10.0.0.1", "nope"} {
		if err := c.Cut(ctx, bad); err == nil {
			t.Errorf("Cut(%q) accepted", bad)
		}
	}
}
