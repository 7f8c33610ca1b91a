package proc

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"syscall"
)

// Started is a detached child; Exited closes once it has exited and been
// reaped (only while the process that started it runs).
type Started struct {
	PID    int
	Exited <-chan struct{}
}

// StartOptions are what the two kinds of sandbox ask of a child beyond
// its own session.
type StartOptions struct {
	// Cgroup, when set, is the cgroup v2 directory the child is created in
	// (clone3 CLONE_INTO_CGROUP): it never runs, nor opens a socket,
	// anywhere else.
	Cgroup *os.File
	// Tied SIGKILLs the child when this process dies (Pdeathsig follows
	// the OS thread that forked, so the reaping goroutine keeps its thread
	// locked for the child's whole life): a test that panics or times out
	// leaves nothing holding the addresses.
	Tied bool
}

// StartDetached starts path in its own session, stdin from /dev/null and
// stdout/stderr appended to logPath, so that it outlives the calling
// command; a goroutine reaps it if it exits while this process runs.
func StartDetached(path string, args []string, logPath string, o StartOptions) (Started, error) {
	out, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return Started{}, fmt.Errorf("open %s: %w", logPath, err)
	}
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if o.Cgroup != nil {
		cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, int(o.Cgroup.Fd())
	}
	if o.Tied {
		cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	}
	done := make(chan struct{})
	startErr := make(chan error, 1)
	go func() {
		defer close(done)
		if o.Tied {
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
		return Started{}, fmt.Errorf("start %s: %w", path, err)
	}
	return Started{PID: cmd.Process.Pid, Exited: done}, nil
}
