package etcdsandbox

// Process handling, after sandbox/proc.go: processes are started detached
// (their own session, so a CLI's `up` can return) and recorded by pid; a
// pid is only ever signalled while its command line still holds the
// member's marker.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// alive says whether any thread of pid still runs: the group leader of a
// killed multi-threaded process turns zombie before its other threads have
// exited and closed its sockets.
func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	if s := procState(fmt.Sprintf("/proc/%d/stat", pid)); s == "" {
		return false
	} else if s != "Z" && s != "X" {
		return true
	}
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return false
	}
	for _, t := range tasks {
		if s := procState(fmt.Sprintf("/proc/%d/task/%s/stat", pid, t.Name())); s != "" && s != "Z" && s != "X" {
			return true
		}
	}
	return false
}

// procState reads the state letter of a /proc stat file ("" if gone).
func procState(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return ""
	}
	return string(b[i+2])
}

// ours says whether pid is alive and its command line still holds marker.
func ours(pid int, marker string) bool {
	if !alive(pid) {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return err == nil && bytes.Contains(bytes.ReplaceAll(b, []byte{0}, []byte{' '}), []byte(marker))
}

// waitGone polls until pid is gone or a zombie, or ctx ends.
func waitGone(ctx context.Context, pid int) error {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for alive(pid) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// stopPID sends sig to pid if it is still ours, waits until it is gone and
// escalates to SIGKILL after grace. A pid that is gone or now runs
// something else is left alone.
func stopPID(ctx context.Context, pid int, marker string, sig syscall.Signal, grace time.Duration) error {
	if !ours(pid, marker) {
		return nil
	}
	if err := syscall.Kill(pid, sig); err != nil && err != syscall.ESRCH {
		return fmt.Errorf("signal %v to pid %d: %w", sig, pid, err)
	}
	gctx, cancel := context.WithTimeout(ctx, grace)
	err := waitGone(gctx, pid)
	cancel()
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("wait for pid %d to exit: %w", pid, ctx.Err())
	}
	if ours(pid, marker) {
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && err != syscall.ESRCH {
			return fmt.Errorf("SIGKILL pid %d: %w", pid, err)
		}
	}
	kctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := waitGone(kctx, pid); err != nil {
		return fmt.Errorf("pid %d still alive after SIGKILL: %w", pid, err)
	}
	return nil
}

// started is a detached child; exited closes once it has exited and been
// reaped (only while the process that started it runs).
type started struct {
	pid    int
	exited <-chan struct{}
}

// startDetached starts path in its own session, stdin from /dev/null and
// stdout/stderr appended to logPath, so that it outlives the calling
// command; a goroutine reaps it if it exits while this process runs. With
// tied, the child is SIGKILLed when this process dies (Pdeathsig follows
// the OS thread that forked, so that goroutine keeps its thread locked for
// the child's whole life): a test that panics or times out leaves no etcd
// holding the addresses.
func startDetached(path string, args []string, logPath string, tied bool) (started, error) {
	out, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return started{}, fmt.Errorf("open %s: %w", logPath, err)
	}
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if tied {
		cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	}
	done := make(chan struct{})
	startErr := make(chan error, 1)
	go func() {
		defer close(done)
		if tied {
			runtime.LockOSThread() // never unlocked: the thread ends with the child
		}
		err := cmd.Start()
		out.Close()
		startErr <- err
		if err == nil {
			_ = cmd.Wait()
		}
	}()
	if err := <-startErr; err != nil {
		return started{}, fmt.Errorf("start %s: %w", path, err)
	}
	return started{pid: cmd.Process.Pid, exited: done}, nil
}

// logTail returns, on one line for an error message, the error lines among
// the last lines of an etcd log (zap JSON, one object a line), or its last
// two lines when none is an error.
func logTail(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	off := max(st.Size()-8192, 0)
	b := make([]byte, st.Size()-off)
	_, _ = f.ReadAt(b, off)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if off > 0 && len(lines) > 1 {
		lines = lines[1:] // a cut first line
	}
	var errs []string
	for _, l := range lines {
		for _, lvl := range []string{`"level":"error"`, `"level":"fatal"`, `"level":"panic"`} {
			if strings.Contains(l, lvl) {
				errs = append(errs, strings.TrimSpace(l))
			}
		}
	}
	if len(errs) == 0 {
		errs = lines[max(len(lines)-2, 0):]
	}
	return strings.Join(errs[max(len(errs)-3, 0):], " | ")
}
