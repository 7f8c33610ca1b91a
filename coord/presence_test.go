package coord

import (
	"errors"
	"os"
	"strings"
	"testing"
)

func TestClaimManager(t *testing.T) {
	dir := t.TempDir()
	if _, held, err := ReadManager(dir, "app1"); held || err != nil {
		t.Fatalf("ReadManager before any claim: held=%v err=%v", held, err)
	}
	p, err := ClaimManager(dir, "app1")
	if err != nil {
		t.Fatal(err)
	}
	h, held, err := ReadManager(dir, "app1")
	if !held || err != nil || h.PID != os.Getpid() || h.Action != "manager" {
		t.Fatalf("ReadManager = %+v held=%v err=%v, want this process as manager", h, held, err)
	}
	_, err = ClaimManager(dir, "app1")
	if !errors.Is(err, ErrHeld) || !strings.Contains(err.Error(), "manager by pid") {
		t.Fatalf("second claim: %v, want ErrHeld naming the manager", err)
	}
	// The presence is not the actor lock: a failover may be taken beside it.
	l, err := acquireLocal(dir, "app1", Holder{Action: "failover"}, testNow)
	if err != nil {
		t.Fatalf("actor lock beside the presence: %v", err)
	}
	l.release()
	if err := p.Release(); err != nil {
		t.Fatal(err)
	}
	if _, held, _ := ReadManager(dir, "app1"); held {
		t.Fatal("presence still held after Release")
	}
	p2, err := ClaimManager(dir, "app1")
	if err != nil {
		t.Fatalf("claim after release: %v", err)
	}
	p2.Release()
	if err := p2.Release(); err != nil {
		t.Errorf("second Release: %v", err)
	}
}

func TestClaimManagerWorkdir(t *testing.T) {
	dir := t.TempDir() + "/new/work"
	p, err := ClaimManager(dir, "app1")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Release()
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("created workdir %s: %v %v, want mode 0700", dir, fi.Mode(), err)
	}
	if _, err := ClaimManager("", "app1"); err == nil || !strings.Contains(err.Error(), "manager_workdir is empty") {
		t.Errorf("empty workdir: %v", err)
	}
}
