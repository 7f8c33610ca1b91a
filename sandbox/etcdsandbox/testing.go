package etcdsandbox

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// UpT starts a cluster for a test in a temporary directory (opts.Dir is
// set; on the /dev/shm tmpfs when there is one), whose members die with the
// test process, and destroys it when the test ends. Without an etcd binary the test is skipped, or fails when CI=true:
// CI must never pass by skipping. Under -short it is skipped.
func UpT(t testing.TB, opts Options) *Cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a real 3-member etcd; skipped under -short")
	}
	bin := opts.Binary
	if bin == "" {
		bin = defaultBinary
		if _, err := os.Stat(bin); err != nil {
			if p, err := exec.LookPath("etcd"); err == nil {
				bin = p
			}
		}
	}
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("etcd is required (scripts/setup-debian.sh installs etcd-server): %v", err)
		}
		t.Skipf("etcd not installed (scripts/setup-debian.sh installs etcd-server): %v", err)
	}
	opts.Dir = filepath.Join(testDir(t), "etcd")
	opts.tied = true
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := Up(ctx, opts)
	if err != nil {
		t.Fatalf("etcd sandbox up: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := c.Destroy(ctx); err != nil {
			t.Errorf("etcd sandbox destroy: %v", err)
		}
	})
	return c
}

// testDir is a temporary directory removed when the test ends, on the
// /dev/shm tmpfs when it is one: a fresh member spends about 2 s creating
// and syncing its write-ahead log on disk, and on a machine busy with other
// tests' fsyncs a slow disk delays heartbeats enough to cost a leader. The
// tests kill processes, not machines, so a tmpfs loses nothing they check.
func testDir(t testing.TB) string {
	var st syscall.Statfs_t
	if err := syscall.Statfs("/dev/shm", &st); err != nil || st.Type != tmpfsMagic {
		return t.TempDir()
	}
	d, err := os.MkdirTemp("/dev/shm", "gomha-etcdsandbox-")
	if err != nil {
		return t.TempDir()
	}
	t.Cleanup(func() { _ = os.RemoveAll(d) })
	return d
}

const tmpfsMagic = 0x01021994
