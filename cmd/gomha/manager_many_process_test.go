package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gomha/gomha/internal/testkit"
)

// TestManagerConfDirProcess runs the real binary: gomha manager
// --conf-dir on clusters whose servers do not answer (127.0.1.x ports
// nobody listens on), so every unit fails its start-up check and waits to
// retry. The process stays up; check status reads CONFIG_ERROR; a file
// added is picked up on a real SIGHUP; gomha stop on one cluster leaves
// the process running; SIGTERM ends it cleanly.
func TestManagerConfDirProcess(t *testing.T) {
	dir := t.TempDir()
	confs := filepath.Join(dir, "conf.d")
	if err := os.Mkdir(confs, 0o700); err != nil {
		t.Fatal(err)
	}
	global := filepath.Join(confs, "masterha_default.cnf")
	if err := os.WriteFile(global, []byte("[server default]\nuser=root\npassword=x\nping_interval=1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a := clusterConf(t, confs, "a", 241)
	bin := filepath.Join(dir, "gomha")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	var stderr testkit.Buffer
	mgr := exec.Command(bin, "manager", "--conf-dir", confs)
	mgr.Stderr, mgr.Stdout = &stderr, &stderr
	if err := mgr.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- mgr.Wait() }()
	t.Cleanup(func() { _ = mgr.Process.Kill() })
	waitFor(t, "a's start-up error", func() bool {
		return strings.Contains(stderr.String(), "gomha: a: start-up checks failed") && strings.Contains(stderr.String(), "; retrying in 10s")
	})
	status := func(conf string) (int, string) {
		res := gomhaWith(t, cliEnv{eng: newFleet()}, "check", "status", "--conf", conf, "--global-conf", global)
		return res.code, res.stdout
	}
	if code, out := status(a); code != 31 || !strings.Contains(out, "a servers are not correctly configured(31:CONFIG_ERROR)") {
		t.Errorf("check status of a cluster waiting to retry: exit %d %s", code, out)
	}

	b := clusterConf(t, confs, "b", 243)
	if err := mgr.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "b started on SIGHUP", func() bool {
		return strings.Contains(stderr.String(), "configuration read: 2 clusters watched (1 started, 0 restarted, 0 stopped, 1 unchanged, 0 refused)")
	})
	waitFor(t, "b's status", func() bool { code, _ := status(b); return code == 31 })

	res := gomhaWith(t, cliEnv{eng: newFleet()}, "stop", "--conf", a, "--global-conf", global)
	if res.code != 0 || !strings.HasPrefix(res.stdout, "Stopped a successfully. Its manager (pid ") {
		t.Fatalf("stop a: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	select {
	case err := <-exited:
		t.Fatalf("gomha stop on one cluster ended the process: %v\n%s", err, stderr.String())
	case <-time.After(200 * time.Millisecond):
	}
	if code, _ := status(a); code != 2 {
		t.Errorf("a after gomha stop: exit %d, want 2 (NOT_RUNNING)", code)
	}
	if code, _ := status(b); code != 31 {
		t.Errorf("b after a's stop: exit %d, want 31", code)
	}

	if err := mgr.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("gomha manager --conf-dir after SIGTERM: %v\n%s", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("gomha manager --conf-dir still running 10 s after SIGTERM\n%s", stderr.String())
	}
	if code, _ := status(b); code != 2 {
		t.Errorf("b after SIGTERM: exit %d, want 2", code)
	}
	if _, err := os.Stat(filepath.Join(dir, "conf.d", "work", "b.master_status.health")); !os.IsNotExist(err) {
		t.Errorf("b's status file is left after a clean stop: %v", err)
	}
}
