// Package sandboxtest deploys sandbox clusters for tests: a cluster per
// test, stopped when the test ends, and helpers that fail the test on error.
package sandboxtest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/gomha/gomha/sandbox"
)

// Up deploys a cluster under t.TempDir() (opts.Dir is set) and stops it
// when the test ends. Without mariadbd or sshd the test is skipped, or
// fails when CI=true: CI must never pass by skipping.
func Up(t testing.TB, opts sandbox.Options) *sandbox.Cluster {
	t.Helper()
	for _, b := range []string{"mariadbd", "mariadb-install-db", "sshd", "ssh-keygen"} {
		if _, err := exec.LookPath(b); err != nil {
			if _, err2 := os.Stat("/usr/sbin/" + b); err2 == nil {
				continue
			}
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is required: %v", b, err)
			}
			t.Skipf("%s not installed: %v", b, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	opts.Dir = filepath.Join(t.TempDir(), "sb")
	c, err := sandbox.Up(ctx, opts)
	if err != nil {
		t.Fatalf("sandbox up: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := c.Down(ctx); err != nil {
			t.Errorf("sandbox down: %v", err)
		}
	})
	return c
}

// Exec runs statements on a host (by name or address), failing the test on
// error.
func Exec(t testing.TB, c *sandbox.Cluster, host string, stmts ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Exec(ctx, host, stmts...); err != nil {
		t.Fatalf("on %s: %v", host, err)
	}
}

// WaitReplicating waits until both replication threads of host run, failing
// the test after 30 s.
func WaitReplicating(t testing.TB, c *sandbox.Cluster, host string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.WaitReplicating(ctx, host); err != nil {
		t.Fatal(err)
	}
}
