package etcdcoord

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gomha/gomha/coord"
	"github.com/gomha/gomha/sandbox/etcdsandbox"
)

// etcd starts a real 3-member etcd for the test (sandbox/etcdsandbox).
func etcd(t *testing.T) *etcdsandbox.Cluster {
	t.Helper()
	return etcdsandbox.UpT(t, etcdsandbox.Options{Dir: t.TempDir()})
}

func newCoord(t *testing.T, e *etcdsandbox.Cluster, host string) *Coordinator {
	t.Helper()
	c, err := New(Options{Endpoints: e.Endpoints(), TTL: 2 * time.Second, Host: host})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Two managers: one leads, the other waits; the leader's journal entries
// are fenced; once it resigns the other leads, reads the journal, and the
// first can no longer write.
func TestLeadFenceAndTakeOver(t *testing.T) {
	e := etcd(t)
	a, b := newCoord(t, e, "mgr-a"), newCoord(t, e, "mgr-b")
	ctx := context.Background()

	actx, releaseA, err := a.Lead(ctx, "app1")
	if err != nil {
		t.Fatal(err)
	}
	ca := a.Cluster("app1")
	if err := ca.Append(ctx, coord.Entry{Step: "failover", Server: "127.0.0.1:3306"}); err != nil {
		t.Fatal(err)
	}
	if err := ca.Append(ctx, coord.Entry{Step: "apply", Server: "127.0.0.2:3306"}); err != nil {
		t.Fatal(err)
	}

	type led struct {
		ctx     context.Context
		release func()
		err     error
	}
	bled := make(chan led, 1)
	go func() {
		c, r, err := b.Lead(ctx, "app1")
		bled <- led{c, r, err}
	}()
	select {
	case l := <-bled:
		t.Fatalf("a second manager leads while the first does: %v", l.err)
	case <-time.After(1500 * time.Millisecond):
	}
	if err := b.Cluster("app1").Append(ctx, coord.Entry{Step: "apply"}); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("follower's append: %v, want ErrNotLeader", err)
	}
	snap, err := b.Read(ctx, "app1")
	if err != nil {
		t.Fatal(err)
	}
	if snap.Leader == nil || snap.Leader.Host != "mgr-a" || len(snap.Managers) != 2 || len(snap.Journal) != 2 {
		t.Fatalf("snapshot: leader %+v, managers %+v, %d journal entries", snap.Leader, snap.Managers, len(snap.Journal))
	}

	releaseA()
	<-actx.Done()
	var l led
	select {
	case l = <-bled:
	case <-time.After(5 * time.Second):
		t.Fatal("the second manager was not elected after the first resigned")
	}
	if l.err != nil {
		t.Fatal(l.err)
	}
	defer l.release()
	cb := b.Cluster("app1")
	entries, err := cb.Journal(ctx)
	if err != nil || len(entries) != 2 || entries[1].Step != "apply" || entries[0].Host != "mgr-a" {
		t.Fatalf("the successor reads the journal: %v %+v", err, entries)
	}
	if err := ca.Append(ctx, coord.Entry{Step: "repoint"}); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("deposed leader's append: %v, want ErrNotLeader", err)
	}
	if err := cb.Append(ctx, coord.Entry{Step: "resume"}); err != nil {
		t.Fatal(err)
	}
	if err := cb.FinishJournal(ctx); err != nil {
		t.Fatal(err)
	}
	if entries, _ := cb.Journal(ctx); len(entries) != 0 {
		t.Fatalf("journal after finish: %+v", entries)
	}
}

// A leader whose etcd loses its quorum stops acting before its lease can
// expire on the server (TTL*3/4 after the last renewal sent).
func TestLeaderStopsWithoutQuorum(t *testing.T) {
	e := etcd(t)
	a := newCoord(t, e, "mgr-a")
	ctx := context.Background()
	lctx, release, err := a.Lead(ctx, "app1")
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	for i := range 2 {
		if err := e.Kill(ctx, i); err != nil {
			t.Fatal(err)
		}
	}
	killed := time.Now()
	select {
	case <-lctx.Done():
	// etcd's own leader keeps renewing leases until it steps down, one
	// election timeout (1 s here) after it lost its majority: the lease
	// then holds 3/4 TTL at most.
	case <-time.After(a.TTL() + 2*time.Second):
		t.Fatalf("still leading %s after etcd lost its quorum (TTL %s)", time.Since(killed), a.TTL())
	}
	took := time.Since(killed)
	if err := a.Cluster("app1").Append(ctx, coord.Entry{Step: "apply"}); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("append without etcd: %v, want ErrNotLeader", err)
	}
	cause := context.Cause(lctx)
	if !errors.Is(cause, ErrNotLeader) || !strings.Contains(cause.Error(), "not renewed") {
		t.Fatalf("cause %v", cause)
	}
	t.Logf("leadership ended %s after etcd lost its quorum (TTL %s): %v", took.Round(time.Millisecond), a.TTL(), cause)
}

// Lead keeps trying while etcd does not answer, and returns only when the
// caller gives up, saying why etcd did not answer.
func TestLeadWaitsForEtcd(t *testing.T) {
	c, err := New(Options{Endpoints: []string{"127.0.2.9:2379"}, TTL: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, _, err = c.Lead(ctx, "app1")
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "connect: connection refused") {
		t.Fatalf("Lead without etcd: %v, want a deadline and why", err)
	}
}

func TestOptions(t *testing.T) {
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{Options{}, "no endpoint"},
		{Options{Endpoints: []string{"a:1"}, TTL: time.Second}, "shorter than 2s"},
		{Options{Endpoints: []string{"a:1"}, TTL: 2500 * time.Millisecond}, "whole number"},
		{Options{Endpoints: []string{"a:1"}, LocalAddr: "nope"}, "not an IP"},
		{Options{Endpoints: []string{"a:1"}, Cert: "x"}, "go together"},
		{Options{Endpoints: []string{"a:1"}, CACert: "/nonexistent"}, "CA certificate"},
		{Options{Endpoints: []string{"a:1"}, Username: "gomha"}, "user gomha without a password"},
	} {
		_, err := New(tc.o)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.o, err, tc.want)
		}
	}
}

// Parallel steps (the failover repoints every replica at once) append
// concurrently: every entry must land in the journal, none overwriting
// another.
func TestConcurrentAppends(t *testing.T) {
	e := etcd(t)
	a := newCoord(t, e, "mgr-a")
	ctx := context.Background()
	_, release, err := a.Lead(ctx, "app1")
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	cl := a.Cluster("app1")
	const n = 12
	errs := make(chan error, n)
	for i := range n {
		go func() { errs <- cl.Append(ctx, coord.Entry{Step: "repoint", Server: fmt.Sprintf("10.0.0.%d:3306", i)}) }()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	entries, err := cl.Journal(ctx)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, en := range entries {
		seen[en.Server] = true
	}
	if len(entries) != n || len(seen) != n {
		t.Fatalf("%d concurrent appends left %d entries (%d distinct servers)", n, len(entries), len(seen))
	}
}
