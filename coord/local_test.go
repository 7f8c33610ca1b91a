package coord

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var testNow = time.Date(2026, 5, 4, 15, 4, 5, 0, time.UTC)

func localOpts(dir, action string) Options {
	return Options{Workdir: dir, App: "app1", Action: action, Hostname: "mgr1",
		Now: func() time.Time { return testNow.Add(130 * time.Second) }}
}

// sameHolder compares holders read back from JSON, whose times lose their
// location.
func sameHolder(a, b Holder) bool {
	return a.Since.Equal(b.Since) && a.Host == b.Host && a.PID == b.PID && a.Action == b.Action && a.Detail == b.Detail
}

func TestLocalLock(t *testing.T) {
	other := Holder{Host: "mgr9", PID: 99, Action: "switchover", Since: testNow}
	writeFile := func(content string) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			if err := os.WriteFile(LockPath(dir, "app1"), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	cases := []struct {
		why      string
		prepare  func(t *testing.T, dir string)
		wantHeld string // "": Acquire succeeds; else the refusal's message
	}{
		{"a workdir with no lock file: the lock is taken", nil, ""},
		{"a description left by a holder that is gone means free", writeFile(`{"host":"mgr9","pid":99,"action":"failover"}`), ""},
		{"an empty file means free", writeFile(""), ""},
		{"a half-written description means free when no flock is held", writeFile(`{"host":"mg`), ""},
		{"another open file description of this process holds it: refused at once, naming it",
			func(t *testing.T, dir string) {
				l, err := acquireLocal(dir, "app1", other, testNow)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { l.release() })
			},
			"app1: switchover by pid 99 on host mgr9 since 15:04:05 (2 m 10 s ago) holds the lock"},
		{"a holder that has not written its description yet is still a holder",
			func(t *testing.T, dir string) {
				f, err := os.OpenFile(LockPath(dir, "app1"), os.O_RDWR|os.O_CREATE, 0o644)
				if err != nil {
					t.Fatal(err)
				}
				if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { f.Close() })
			},
			"app1: a process that has not described itself yet holds the lock LOCKPATH"},
		{"a lock released by its holder is free again",
			func(t *testing.T, dir string) {
				l, err := Acquire(context.Background(), localOpts(dir, "conf-host"))
				if err != nil {
					t.Fatal(err)
				}
				if err := l.Release(context.Background()); err != nil {
					t.Fatal(err)
				}
			}, ""},
	}
	for _, c := range cases {
		t.Run(c.why, func(t *testing.T) {
			dir := t.TempDir()
			if c.prepare != nil {
				c.prepare(t, dir)
			}
			start := time.Now()
			l, err := Acquire(context.Background(), localOpts(dir, "failover"))
			if c.wantHeld != "" {
				want := strings.ReplaceAll(c.wantHeld, "LOCKPATH", LockPath(dir, "app1"))
				if !errors.Is(err, ErrHeld) || err.Error() != want {
					t.Fatalf("Acquire = %v\nwant %q", err, want)
				}
				if d := time.Since(start); d > time.Second {
					t.Errorf("refused after %s, want at once", d)
				}
				return
			}
			if err != nil {
				t.Fatalf("Acquire: %v", err)
			}
			defer l.Release(context.Background())
			h, held, err := ReadLocal(dir, "app1")
			if err != nil || !held || !sameHolder(h, l.Holder()) {
				t.Fatalf("ReadLocal = %+v, %v, %v; want %+v held", h, held, err, l.Holder())
			}
			if h.PID != os.Getpid() || h.Host != "mgr1" || h.Action != "failover" {
				t.Errorf("holder %+v does not describe this process", h)
			}
		})
	}
}

func TestEmptyWorkdirRefused(t *testing.T) {
	// An empty manager_workdir would put the lock in the current directory,
	// where another actor started elsewhere would not see it.
	if _, err := Acquire(context.Background(), localOpts("", "failover")); err == nil {
		t.Error("Acquire with no workdir succeeded")
	}
	if _, err := OpenJournal("", "app1"); err == nil {
		t.Error("OpenJournal with no workdir succeeded")
	}
}

func TestReadLocal(t *testing.T) {
	dir := t.TempDir()
	if _, held, err := ReadLocal(dir, "app1"); held || err != nil {
		t.Fatalf("no lock file: held=%v err=%v, want free", held, err)
	}
	l, err := Acquire(context.Background(), localOpts(dir, "failover"))
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(LockPath(dir, "app1"))
	if len(b) == 0 {
		t.Error("release removed the description; it should only drop the flock")
	}
	if h, held, err := ReadLocal(dir, "app1"); held || err != nil || !h.IsZero() {
		t.Fatalf("after release: %+v held=%v err=%v, want free", h, held, err)
	}
}

// TestReadLocalNeverRefusesAnAcquirer: ReadLocal probes with a shared
// flock; an acquirer that meets the probe must retry, not report a holder.
func TestReadLocalNeverRefusesAnAcquirer(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		for ctx.Err() == nil {
			if _, _, err := ReadLocal(dir, "app1"); err != nil {
				t.Error(err)
				return
			}
		}
	})
	for i := 0; i < 300; i++ {
		l, err := Acquire(context.Background(), localOpts(dir, "failover"))
		if err != nil {
			t.Errorf("acquire %d while probed: %v", i, err)
			break
		}
		l.Release(context.Background())
	}
	cancel()
	wg.Wait()
}

// Environment of TestLockHelperProcess: the workdir, and the servers as
// JSON ([]node.MySQLConfig).
const (
	helperEnv        = "GOMHA_COORD_LOCK_HELPER"
	helperServersEnv = "GOMHA_COORD_LOCK_SERVERS"
)

// TestLockHelperProcess is not a test: run as a separate process by
// startLockHelper, it takes the lock, says so, and waits to be killed.
func TestLockHelperProcess(t *testing.T) {
	dir := os.Getenv(helperEnv)
	if dir == "" {
		return
	}
	o := localOpts(dir, "failover")
	o.Now = time.Now
	if s := os.Getenv(helperServersEnv); s != "" {
		if err := json.Unmarshal([]byte(s), &o.Servers); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
	}
	if _, err := Acquire(context.Background(), o); err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println("locked", os.Getpid())
	time.Sleep(time.Minute)
	os.Exit(2)
}

// startLockHelper runs TestLockHelperProcess on dir and servers (JSON, or
// "") and returns once it holds the lock.
func startLockHelper(t *testing.T, dir, servers string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+dir, helperServersEnv+"="+servers)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line <- sc.Text()
		}
		close(line)
	}()
	select {
	case l := <-line:
		if l != "locked "+strconv.Itoa(cmd.Process.Pid) {
			t.Fatalf("helper said %q", l)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the helper did not take the lock")
	}
	return cmd
}

// killHelper kills the helper with SIGKILL: no deferred function, no
// Release runs.
func killHelper(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
}

// TestKilledHolderReleases: a holder killed with SIGKILL runs no cleanup;
// the kernel drops its flock, and the next actor gets the lock.
func TestKilledHolderReleases(t *testing.T) {
	dir := t.TempDir()
	cmd := startLockHelper(t, dir, "")
	h, held, err := ReadLocal(dir, "app1")
	if err != nil || !held || h.PID != cmd.Process.Pid {
		t.Fatalf("ReadLocal = %+v held=%v err=%v, want the helper (pid %d)", h, held, err, cmd.Process.Pid)
	}
	_, err = Acquire(context.Background(), localOpts(dir, "switchover"))
	if want := fmt.Sprintf("failover by pid %d on host mgr1", cmd.Process.Pid); !errors.Is(err, ErrHeld) || !strings.Contains(err.Error(), want) {
		t.Fatalf("while the helper holds it: %v, want ErrHeld naming %q", err, want)
	}
	killHelper(t, cmd)
	if _, held, err := ReadLocal(dir, "app1"); held || err != nil {
		t.Fatalf("after SIGKILL: held=%v err=%v, want free", held, err)
	}
	l, err := Acquire(context.Background(), localOpts(dir, "switchover"))
	if err != nil {
		t.Fatalf("after SIGKILL: %v", err)
	}
	defer l.Release(context.Background())
	var d Holder
	b, _ := os.ReadFile(filepath.Join(dir, "app1.lock"))
	if err := json.Unmarshal(b, &d); err != nil || d.Action != "switchover" || d.PID != os.Getpid() {
		t.Errorf("description %s (%v) is not the new holder's", b, err)
	}
}
