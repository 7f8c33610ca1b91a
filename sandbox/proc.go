package sandbox

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// procState reads the state letter of /proc/PID/stat ("" if the pid is gone).
func procState(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return ""
	}
	return string(b[i+2])
}

// alive says whether any thread of pid still runs. The group leader of a
// killed multi-threaded mariadbd turns zombie before its other threads have
// exited and closed its sockets, so every thread is checked.
func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	if s := procState(pid); s == "" {
		return false
	} else if s != "Z" && s != "X" {
		return true
	}
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return false
	}
	for _, t := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/stat", pid, t.Name()))
		if err != nil {
			continue
		}
		if i := bytes.LastIndexByte(b, ')'); i >= 0 && i+2 < len(b) && b[i+2] != 'Z' && b[i+2] != 'X' {
			return true
		}
	}
	return false
}

// cmdlineHas says whether the command line of pid contains marker.
func cmdlineHas(pid int, marker string) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	return strings.Contains(string(bytes.ReplaceAll(b, []byte{0}, []byte{' '})), marker)
}

// ours says whether pid is alive and still the process we recorded.
func ours(pid int, marker string) bool { return alive(pid) && cmdlineHas(pid, marker) }

// descendants lists the live descendants of pid (children first level first).
func descendants(pid int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(b, ')')
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 2 {
			continue
		}
		pp, _ := strconv.Atoi(f[1])
		children[pp] = append(children[pp], p)
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, ch := range children[p] {
			out = append(out, ch)
			queue = append(queue, ch)
		}
	}
	return out
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
// escalates to SIGKILL after grace. A pid that is gone or now runs something
// else is left alone. A frozen process (see Freeze) is continued after sig,
// or it would not act on it before the grace period ends.
func stopPID(ctx context.Context, pid int, marker string, sig syscall.Signal, grace time.Duration) error {
	if !ours(pid, marker) {
		return nil
	}
	if err := syscall.Kill(pid, sig); err != nil && err != syscall.ESRCH {
		return fmt.Errorf("signal %v to pid %d: %w", sig, pid, err)
	}
	if sig != syscall.SIGKILL {
		_ = syscall.Kill(pid, syscall.SIGCONT)
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
	if sig != syscall.SIGKILL && ours(pid, marker) {
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

// killTree SIGKILLs pid (if still ours) and every descendant it had, and
// waits until all are gone. Used for sshd, whose sessions are its children.
func killTree(ctx context.Context, pid int, marker string) error {
	if !ours(pid, marker) {
		return nil
	}
	kids := descendants(pid)
	if err := stopPID(ctx, pid, marker, syscall.SIGKILL, 10*time.Second); err != nil {
		return err
	}
	for _, k := range kids {
		_ = syscall.Kill(k, syscall.SIGKILL)
	}
	for _, k := range kids {
		if err := waitGone(ctx, k); err != nil {
			return fmt.Errorf("wait for child %d of pid %d: %w", k, pid, err)
		}
	}
	return nil
}

// started is a detached child process; exited closes when it has exited and
// been reaped.
type started struct {
	pid    int
	exited <-chan struct{}
}

// startDetached starts path in its own session, stdin from /dev/null and
// stdout/stderr appended to outPath, so it outlives the calling command. A
// goroutine reaps it if it exits while this process runs. With a cgroup
// directory, the process is created inside that cgroup (clone3
// CLONE_INTO_CGROUP): it never runs, nor opens a socket, anywhere else.
func startDetached(path string, args []string, outPath string, cgroup *os.File) (started, error) {
	out, err := os.OpenFile(outPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return started{}, fmt.Errorf("open %s: %w", outPath, err)
	}
	defer out.Close()
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if cgroup != nil {
		cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, int(cgroup.Fd())
	}
	if err := cmd.Start(); err != nil {
		return started{}, fmt.Errorf("start %s: %w", path, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	return started{pid: cmd.Process.Pid, exited: done}, nil
}

// tail returns the last n bytes of a file, for error messages.
func tail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	off := max(st.Size()-n, 0)
	b := make([]byte, st.Size()-off)
	_, _ = f.ReadAt(b, off)
	return strings.TrimSpace(string(b))
}

// logErrors returns the "[ERROR]" lines near the end of a mariadbd error log,
// or its last lines when there are none.
func logErrors(path string) string {
	t := tail(path, 8192)
	var errs []string
	for _, l := range strings.Split(t, "\n") {
		if strings.Contains(l, "[ERROR]") {
			errs = append(errs, strings.TrimSpace(l))
		}
	}
	if len(errs) == 0 {
		return tail(path, 600)
	}
	return strings.Join(errs, "; ")
}
