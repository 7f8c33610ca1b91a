package etcdsandbox

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gomha/gomha/sandbox/internal/proc"
)

// TestUpDownSandbox: Down from another handle (as the CLI does, by Open)
// stops exactly the recorded processes and removes the cuts; Up on the same
// Dir restarts the same cluster with its data; Up refuses a Dir holding
// other members, addresses taken by another cluster, and a foreign Dir.
func TestUpDownSandbox(t *testing.T) {
	c := UpT(t, Options{})
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cli := newClient(t, ClientConfig(c.Endpoints(), ""))
	if err := put(cli, "/gomha/test/kept", "yes", 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := c.Cut(ctx, "127.0.2.12"); err != nil {
		t.Fatal(err)
	}
	pids := []int{c.PID(0), c.PID(1), c.PID(2)}

	other, err := Up(ctx, Options{Dir: filepath.Join(t.TempDir(), "other")})
	if !errors.Is(err, ErrAddrInUse) {
		if other != nil {
			_ = other.Destroy(ctx)
		}
		t.Fatalf("second cluster on the same addresses: %v, want ErrAddrInUse", err)
	}
	t.Logf("refused: %v", err)

	o, err := Open(c.Dir)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	if err := o.Down(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("down in %v", time.Since(t0).Round(time.Millisecond))
	for i, pid := range pids {
		if proc.Alive(pid) {
			t.Errorf("%s (pid %d) still runs after Down", c.Member(i).Name, pid)
		}
	}
	if cuts, err := c.Cuts(ctx); err != nil || len(cuts) != 0 {
		t.Errorf("cuts after Down: %v, %v", cuts, err)
	}

	c2, err := Up(ctx, Options{Dir: c.Dir, tied: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c2.Destroy(context.Background()) })
	t.Logf("restarted on its data in %v", c2.UpDuration.Round(time.Millisecond))
	cli2 := newClient(t, ClientConfig(c2.Endpoints(), ""))
	gctx, gcancel := context.WithTimeout(ctx, 2*time.Second)
	defer gcancel()
	r, err := cli2.Get(gctx, "/gomha/test/kept")
	if err != nil || len(r.Kvs) != 1 || string(r.Kvs[0].Value) != "yes" {
		t.Fatalf("key written before Down: %v, %v", r, err)
	}
	if _, err := Up(ctx, Options{Dir: c.Dir}); err != nil {
		t.Fatalf("Up of a running cluster: %v", err)
	}

	if _, err := Up(ctx, Options{Dir: c.Dir, Addrs: []string{"127.0.2.4", "127.0.2.5", "127.0.2.6"}}); !errors.Is(err, ErrNotSandbox) {
		t.Fatalf("Up with other members on %s: %v, want ErrNotSandbox", c.Dir, err)
	}
	foreign := t.TempDir()
	if err := os.WriteFile(filepath.Join(foreign, "notes"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Up(ctx, Options{Dir: foreign}); !errors.Is(err, ErrNotSandbox) {
		t.Fatalf("Up on a non-empty foreign dir: %v, want ErrNotSandbox", err)
	}
}

// TestUpFailureSandbox: a member etcd refuses to run makes Up fail at once
// with one line naming the member, its address, its log and the log's end,
// and Up leaves no process behind.
func TestUpFailureSandbox(t *testing.T) {
	if testing.Short() {
		t.Skip("starts etcd")
	}
	dir := filepath.Join(t.TempDir(), "etcd")
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	t0 := time.Now()
	// etcd accepts no election timeout over 50 s.
	c, err := Up(ctx, Options{Dir: dir, ElectionTimeout: 60 * time.Second, tied: true})
	if err == nil {
		_ = c.Destroy(ctx)
		t.Fatal("Up with a 60 s election timeout succeeded")
	}
	msg := err.Error()
	t.Logf("failed in %v: %v", time.Since(t0).Round(time.Millisecond), err)
	for _, want := range []string{"etcd member etcd", "127.0.2.", filepath.Join(dir, "etcd"), "etcd.log", "election-timeout"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q: %s", want, msg)
		}
	}
	if strings.Contains(msg, "\n") {
		t.Errorf("error spans lines: %q", msg)
	}
	if time.Since(t0) > 10*time.Second {
		t.Errorf("failure took %v", time.Since(t0))
	}
	o, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := range o.Members {
		if o.Running(i) {
			t.Errorf("%s left running", o.Member(i).Name)
		}
	}
}
