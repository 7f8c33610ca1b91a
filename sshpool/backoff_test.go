package sshpool

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/gomha/gomha/node"
)

// dialCounter counts the pool's failed dials from its log.
type dialCounter struct{ n *atomic.Int64 }

func (h dialCounter) Enabled(context.Context, slog.Level) bool { return true }
func (h dialCounter) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "ssh dial failed" {
		h.n.Add(1)
	}
	return nil
}
func (h dialCounter) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h dialCounter) WithGroup(string) slog.Handler      { return h }

// refusingHost is an SSH configuration whose connect is refused (nothing
// listens on port 9 of 127.0.4.1), with a real key, so that each dial does
// all a dial does before the connect.
func refusingHost(t *testing.T) node.SSHConfig {
	t.Helper()
	dir := t.TempDir()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(key, "")
	if err != nil {
		t.Fatal(err)
	}
	id, kh := filepath.Join(dir, "id"), filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(id, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(kh, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	opts, err := node.ParseSSHOptions("-i " + id + " -o UserKnownHostsFile=" + kh)
	if err != nil {
		t.Fatal(err)
	}
	return node.SSHConfig{Host: "127.0.4.1", Port: 9, User: "root", Options: opts}
}

// TestPoolBacksOffARefusingHost: a host whose sshd refuses is dialled with
// a backoff that doubles up to RedialMax, and holds no goroutine while it
// waits (3,000 such hosts cost 3,000 goroutines and 600 dials a second with
// the former 5 s cap and a loop per host).
func TestPoolBacksOffARefusingHost(t *testing.T) {
	var dials atomic.Int64
	before := runtime.NumGoroutine()
	p := New(Options{Logger: slog.New(dialCounter{&dials}), RedialMin: 20 * time.Millisecond, RedialMax: 160 * time.Millisecond})
	defer p.Close()
	if err := p.Add("127.0.4.1:3306", refusingHost(t)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	// 0, then about 20, 40, 80 ms, then every 160 ms (±20%): about 12.
	if n := dials.Load(); n < 7 || n > 16 {
		t.Errorf("%d dials in 1.5 s with a backoff of 20 ms doubling to 160 ms; want about 12", n)
	}
	if g := runtime.NumGoroutine() - before; g > 0 {
		t.Errorf("%d goroutines held by a pool whose only host waits in backoff; want none", g)
	}
	if _, err := p.Shell(ctxFor(t, time.Second), "127.0.4.1:3306"); !errors.Is(err, ErrNotConnected) || !errors.Is(err, node.ErrSSHUnreachable) {
		t.Errorf("Shell of a refusing host = %v; want ErrNotConnected and node.ErrSSHUnreachable", err)
	}
}

// TestPoolKickBringsTheDialForward: a caller that finds the host down gets
// the error at once, and the next dial happens RedialMin after the last one
// instead of after the backoff, so a host whose sshd came back is found
// when someone needs it.
func TestPoolKickBringsTheDialForward(t *testing.T) {
	var dials atomic.Int64
	p := New(Options{Logger: slog.New(dialCounter{&dials}), RedialMin: 50 * time.Millisecond, RedialMax: 10 * time.Second})
	defer p.Close()
	if err := p.Add("127.0.4.1:3306", refusingHost(t)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1200 * time.Millisecond) // 0, 50, 100, 200, 400 ms: the next in about 800 ms or more
	for n := dials.Load(); n < 5; n = dials.Load() {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	n := dials.Load()
	start := time.Now()
	if err := p.Check(ctxFor(t, time.Second), "127.0.4.1:3306"); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("Check of a refusing host = %v; want ErrNotConnected", err)
	}
	if d := time.Since(start); d > 20*time.Millisecond {
		t.Errorf("Check of a host that is down took %s; it must not wait for the dial", d)
	}
	deadline := time.Now().Add(200 * time.Millisecond)
	for dials.Load() == n {
		if time.Now().After(deadline) {
			t.Fatalf("no dial within 200 ms of the kick (backoff %s)", 800*time.Millisecond)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Kicks do not make a dial storm: at most one per RedialMin.
	n = dials.Load()
	for range 20 {
		_ = p.Check(ctxFor(t, time.Second), "127.0.4.1:3306")
		time.Sleep(10 * time.Millisecond)
	}
	if d := dials.Load() - n; d > 5 {
		t.Errorf("%d dials in 200 ms of repeated kicks; want at most one per 50 ms", d)
	}
}
