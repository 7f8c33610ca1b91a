package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomha/gomha/sandbox/etcdsandbox"
)

// TestSandboxEtcdUpDown runs `gomha sandbox etcd up` and `down` as an
// operator would: up prints the endpoints (alone with --quiet, for a
// shell), a second up finds the cluster running, down stops exactly the
// recorded processes, and down --remove removes the directory.
func TestSandboxEtcdUpDown(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real 3-member etcd")
	}
	if _, err := os.Stat("/usr/bin/etcd"); err != nil && os.Getenv("CI") != "true" {
		t.Skipf("etcd not installed: %v", err)
	}
	dir := filepath.Join(t.TempDir(), "etcd")
	t.Cleanup(func() {
		if c, err := etcdsandbox.Open(dir); err == nil {
			_ = c.Destroy(t.Context())
		}
	})
	eps := "http://127.0.2.1:2379,http://127.0.2.2:2379,http://127.0.2.3:2379"
	res := gomhaWith(t, cliEnv{eng: &recorder{}}, "sandbox", "etcd", "up", "--dir", dir)
	if res.code != 0 || !strings.Contains(res.stdout, "endpoints: "+eps+"\n") {
		t.Fatalf("up: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	res = gomhaWith(t, cliEnv{eng: &recorder{}}, "sandbox", "etcd", "up", "--dir", dir, "--quiet")
	if res.code != 0 || res.stdout != eps+"\n" {
		t.Fatalf("up --quiet on a running cluster: exit %d, stdout %q\n%s", res.code, res.stdout, res.stderr)
	}
	c, err := etcdsandbox.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	res = gomhaWith(t, cliEnv{eng: &recorder{}}, "sandbox", "etcd", "down", "--dir", dir)
	if res.code != 0 || !strings.HasPrefix(res.stdout, "etcd sandbox down: "+dir) {
		t.Fatalf("down: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	for i := range c.Members {
		if c.Running(i) {
			t.Errorf("%s (pid %d) still runs after down", c.Member(i).Name, c.PID(i))
		}
	}
	if _, err := os.Stat(c.Member(0).DataDir); err != nil {
		t.Errorf("down removed the data: %v", err)
	}
	res = gomhaWith(t, cliEnv{eng: &recorder{}}, "sandbox", "etcd", "down", "--dir", dir, "--remove")
	if _, err := os.Stat(dir); res.code != 0 || !os.IsNotExist(err) {
		t.Fatalf("down --remove: exit %d, dir %v\n%s", res.code, err, res.stderr)
	}
}
