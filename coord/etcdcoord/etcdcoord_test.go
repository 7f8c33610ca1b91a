package etcdcoord

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/gomha/gomha/coord"
)

// etcdMember starts one real etcd (Debian's etcd-server) on addr for the
// test; it is killed at the end. It returns the endpoint and a function
// that kills it (SIGKILL) early.
func etcdMember(t *testing.T, addr string) (string, func()) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs a real etcd")
	}
	bin, err := exec.LookPath("etcd")
	if err != nil {
		t.Skip("etcd is not installed (make setup installs it)")
	}
	dir := t.TempDir()
	client := "http://" + net.JoinHostPort(addr, "2379")
	peer := "http://" + net.JoinHostPort(addr, "2380")
	cmd := exec.Command(bin, "--name", "m1", "--data-dir", filepath.Join(dir, "data"),
		"--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
		"--initial-cluster", "m1="+peer, "--heartbeat-interval", "100", "--election-timeout", "1000")
	logf, err := os.Create(filepath.Join(dir, "etcd.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	kill := func() {
		_ = cmd.Process.Kill()
		<-done
	}
	t.Cleanup(kill)
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{client}, DialTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := cli.Put(ctx, "/probe", "x")
		cancel()
		if err == nil {
			return client, kill
		}
		if time.Now().After(deadline) {
			data, _ := os.ReadFile(logf.Name())
			t.Fatalf("etcd on %s did not answer: %v\n%s", addr, err, tail(string(data), 20))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func newCoord(t *testing.T, endpoint, host string) *Coordinator {
	t.Helper()
	c, err := New(Options{Endpoints: []string{endpoint}, TTL: 2 * time.Second, Host: host})
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
	ep, _ := etcdMember(t, "127.0.5.1")
	a, b := newCoord(t, ep, "mgr-a"), newCoord(t, ep, "mgr-b")
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

// A leader whose etcd disappears stops acting before its lease can expire
// on the server (TTL*3/4 after the last renewal sent).
func TestLeaderStopsWhenEtcdIsGone(t *testing.T) {
	ep, kill := etcdMember(t, "127.0.5.2")
	a := newCoord(t, ep, "mgr-a")
	ctx := context.Background()
	lctx, release, err := a.Lead(ctx, "app1")
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	killed := time.Now()
	kill()
	select {
	case <-lctx.Done():
	case <-time.After(a.TTL()):
		t.Fatalf("still leading %s after etcd died (TTL %s)", time.Since(killed), a.TTL())
	}
	took := time.Since(killed)
	if err := a.Cluster("app1").Append(ctx, coord.Entry{Step: "apply"}); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("append without etcd: %v, want ErrNotLeader", err)
	}
	cause := context.Cause(lctx)
	if !errors.Is(cause, ErrNotLeader) || !strings.Contains(cause.Error(), "not renewed") {
		t.Fatalf("cause %v", cause)
	}
	t.Logf("leadership ended %s after etcd was killed (TTL %s): %v", took.Round(time.Millisecond), a.TTL(), cause)
}

// Lead keeps trying while etcd does not answer, and returns only when the
// caller gives up.
func TestLeadWaitsForEtcd(t *testing.T) {
	c, err := New(Options{Endpoints: []string{"127.0.5.3:2379"}, TTL: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, _, err = c.Lead(ctx, "app1")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lead without etcd: %v", err)
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
	} {
		_, err := New(tc.o)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.o, err, tc.want)
		}
	}
}
