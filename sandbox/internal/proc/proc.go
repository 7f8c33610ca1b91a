// Package proc starts and stops the processes of the sandboxes (mariadbd,
// sshd, etcd). A process is started detached, in its own session, so that
// a CLI's `up` can return, and recorded by pid; a recorded pid is only ever
// signalled while its command line still holds the marker it was started
// with, so a pid the kernel has since handed to another program is left
// alone.
package proc

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// state reads the state letter of a /proc stat file ("" if it is gone).
func state(path string) string {
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

// ThreadStates lists the state letters of pid's threads ("R", "S", "T",
// "Z"...), nil when pid is gone.
func ThreadStates(pid int) []string {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return nil
	}
	var out []string
	for _, t := range tasks {
		if s := state(fmt.Sprintf("/proc/%d/task/%s/stat", pid, t.Name())); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func running(s string) bool { return s != "" && s != "Z" && s != "X" }

// Alive says whether any thread of pid still runs. The group leader of a
// killed multi-threaded process (mariadbd, etcd) turns zombie before its
// other threads have exited and closed its sockets, so every thread is
// checked.
func Alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	if s := state(fmt.Sprintf("/proc/%d/stat", pid)); s == "" {
		return false
	} else if running(s) {
		return true
	}
	for _, s := range ThreadStates(pid) {
		if running(s) {
			return true
		}
	}
	return false
}

// CmdlineHas says whether the command line of pid, its arguments joined by
// spaces, contains marker.
func CmdlineHas(pid int, marker string) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	return bytes.Contains(bytes.ReplaceAll(b, []byte{0}, []byte{' '}), []byte(marker))
}

// Ours says whether pid is alive and still the process recorded with marker.
func Ours(pid int, marker string) bool { return Alive(pid) && CmdlineHas(pid, marker) }

// Descendants lists the live descendants of pid, children first.
func Descendants(pid int) []int {
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

// WaitGone polls until pid is gone or a zombie, or ctx ends.
func WaitGone(ctx context.Context, pid int) error {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for Alive(pid) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// Stop sends sig to pid if it is still ours, waits until it is gone and
// escalates to SIGKILL after grace. A pid that is gone or now runs
// something else is left alone. A stopped process (a frozen mariadbd) is
// continued after sig, or it would not act on it before grace ends.
func Stop(ctx context.Context, pid int, marker string, sig syscall.Signal, grace time.Duration) error {
	if !Ours(pid, marker) {
		return nil
	}
	if err := syscall.Kill(pid, sig); err != nil && err != syscall.ESRCH {
		return fmt.Errorf("signal %v to pid %d: %w", sig, pid, err)
	}
	if sig != syscall.SIGKILL {
		_ = syscall.Kill(pid, syscall.SIGCONT)
	}
	gctx, cancel := context.WithTimeout(ctx, grace)
	err := WaitGone(gctx, pid)
	cancel()
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("wait for pid %d to exit: %w", pid, ctx.Err())
	}
	if sig != syscall.SIGKILL && Ours(pid, marker) {
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && err != syscall.ESRCH {
			return fmt.Errorf("SIGKILL pid %d: %w", pid, err)
		}
	}
	kctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := WaitGone(kctx, pid); err != nil {
		return fmt.Errorf("pid %d still alive after SIGKILL: %w", pid, err)
	}
	return nil
}

// KillTree SIGKILLs pid (if still ours) and every descendant it had, and
// waits until all are gone: for sshd, whose sessions are its children.
func KillTree(ctx context.Context, pid int, marker string) error {
	if !Ours(pid, marker) {
		return nil
	}
	kids := Descendants(pid)
	if err := Stop(ctx, pid, marker, syscall.SIGKILL, 10*time.Second); err != nil {
		return err
	}
	for _, k := range kids {
		_ = syscall.Kill(k, syscall.SIGKILL)
	}
	for _, k := range kids {
		if err := WaitGone(ctx, k); err != nil {
			return fmt.Errorf("wait for child %d of pid %d: %w", k, pid, err)
		}
	}
	return nil
}
