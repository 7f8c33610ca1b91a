package etcdsandbox

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	"go.uber.org/zap"
)

// newClient opens a client for a test, without a logger, closed at the end.
func newClient(t *testing.T, cfg clientv3.Config) *clientv3.Client {
	t.Helper()
	cfg.Logger = zap.NewNop()
	cli, err := clientv3.New(cfg)
	if err != nil {
		t.Fatalf("etcd client %v: %v", cfg.Endpoints, err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	return cli
}

// put writes key within d.
func put(cli *clientv3.Client, key, val string, d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	_, err := cli.Put(ctx, key, val)
	return err
}

// newSession grants the lease with a deadline (NewSession alone would grant
// it on the client's context, without one) and keeps it alive until the
// test ends.
func newSession(t *testing.T, cli *clientv3.Client, ttl int64) *concurrency.Session {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	l, err := cli.Grant(ctx, ttl)
	if err != nil {
		t.Fatalf("grant a %d s lease: %v", ttl, err)
	}
	s, err := concurrency.NewSession(cli, concurrency.WithLease(l.ID), concurrency.WithTTL(int(ttl)), concurrency.WithContext(t.Context()))
	if err != nil {
		t.Fatalf("session on lease %x: %v", l.ID, err)
	}
	return s
}

// TestClientAPISandbox proves the pinned client against the real etcd
// 3.4 server: sessions, an election (Campaign, Observe, Resign), a fenced
// Txn on the leader key's CreateRevision, and lease keep-alive and expiry.
func TestClientAPISandbox(t *testing.T) {
	c := UpT(t, Options{})
	t.Logf("3 members up in %v", c.UpDuration.Round(time.Millisecond))
	cli := newClient(t, ClientConfig(c.Endpoints(), "127.0.2.20"))
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()

	st, err := cli.Status(ctx, c.Endpoints()[0])
	if err != nil {
		t.Fatalf("status: %v", err)
	}
	t.Logf("server version %s", st.Version)
	if !strings.HasPrefix(st.Version, "3.") {
		t.Errorf("server version %q", st.Version)
	}

	s1, s2 := newSession(t, cli, 5), newSession(t, cli, 5)
	e1 := concurrency.NewElection(s1, "/gomha/test/election")
	e2 := concurrency.NewElection(s2, "/gomha/test/election")
	obs := e2.Observe(ctx)
	if err := e1.Campaign(ctx, "manager1"); err != nil {
		t.Fatalf("campaign manager1: %v", err)
	}
	won2 := make(chan error, 1)
	go func() { won2 <- e2.Campaign(ctx, "manager2") }()
	if v := observed(t, obs); v != "manager1" {
		t.Fatalf("observed leader %q, want manager1", v)
	}
	select {
	case err := <-won2:
		t.Fatalf("manager2 won while manager1 leads: %v", err)
	case <-time.After(300 * time.Millisecond):
	}

	// The fencing write: a journal step recorded only while e1 still holds
	// the leader key it created, and only once (CreateRevision == 0).
	// The token is the leader key and its creation revision, kept by the
	// caller: Resign forgets them.
	type token struct {
		key string
		rev int64
	}
	fenced := func(tok token, key string) bool {
		t.Helper()
		r, err := cli.Txn(ctx).If(
			clientv3.Compare(clientv3.CreateRevision(tok.key), "=", tok.rev),
			clientv3.Compare(clientv3.CreateRevision(key), "=", 0),
		).Then(clientv3.OpPut(key, "done")).Commit()
		if err != nil {
			t.Fatalf("fenced txn on %s: %v", key, err)
		}
		return r.Succeeded
	}
	tok1 := token{e1.Key(), e1.Rev()}
	if !fenced(tok1, "/gomha/test/journal/1") {
		t.Fatal("leader's fenced write refused")
	}
	if fenced(tok1, "/gomha/test/journal/1") {
		t.Fatal("the same journal step was recorded twice")
	}

	if err := e1.Resign(ctx); err != nil {
		t.Fatalf("resign manager1: %v", err)
	}
	if err := <-won2; err != nil {
		t.Fatalf("campaign manager2: %v", err)
	}
	if v := observed(t, obs); v != "manager2" {
		t.Fatalf("observed leader %q after resign, want manager2", v)
	}
	if fenced(tok1, "/gomha/test/journal/2") {
		t.Fatal("a deposed leader's fenced write was accepted")
	}
	if !fenced(token{e2.Key(), e2.Rev()}, "/gomha/test/journal/2") {
		t.Fatal("the new leader's fenced write was refused")
	}

	// Keep-alive: a kept lease outlives its TTL, a lease left alone expires.
	kept, err := cli.Grant(ctx, 2)
	if err != nil {
		t.Fatalf("grant: %v", err)
	}
	left, err := cli.Grant(ctx, 2)
	if err != nil {
		t.Fatalf("grant: %v", err)
	}
	kctx, kcancel := context.WithCancel(ctx)
	defer kcancel()
	ka, err := cli.KeepAlive(kctx, kept.ID)
	if err != nil {
		t.Fatalf("keepalive: %v", err)
	}
	go func() {
		for range ka {
		}
	}()
	for _, l := range []clientv3.LeaseID{kept.ID, left.ID} {
		if _, err := cli.Put(ctx, leaseKey(l), "x", clientv3.WithLease(l)); err != nil {
			t.Fatalf("put with lease: %v", err)
		}
	}
	t0 := time.Now()
	for exists(t, cli, leaseKey(left.ID)) {
		if time.Since(t0) > 8*time.Second {
			t.Fatal("a 2 s lease without keep-alive did not expire in 8 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("2 s lease expired after %v", time.Since(t0).Round(time.Millisecond))
	if !exists(t, cli, leaseKey(kept.ID)) {
		t.Fatal("kept-alive lease expired")
	}
	if ttl, err := cli.TimeToLive(ctx, kept.ID); err != nil || ttl.TTL <= 0 {
		t.Fatalf("kept-alive lease TTL %v, %v", ttl, err)
	}
	select {
	case <-s1.Done():
		t.Fatal("session 1 ended")
	default:
	}
}

func leaseKey(l clientv3.LeaseID) string { return fmt.Sprintf("/gomha/test/lease/%x", int64(l)) }

func exists(t *testing.T, cli *clientv3.Client, key string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	r, err := cli.Get(ctx, key)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	return len(r.Kvs) > 0
}

// observed returns the next leader value seen by Observe, within 5 s.
func observed(t *testing.T, obs <-chan *clientv3.GetResponse) string {
	t.Helper()
	select {
	case r, ok := <-obs:
		if !ok || r == nil || len(r.Kvs) == 0 {
			t.Fatal("observe ended")
		}
		return string(r.Kvs[0].Value)
	case <-time.After(5 * time.Second):
		t.Fatal("observe: nothing in 5 s")
	}
	return ""
}
