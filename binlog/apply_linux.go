package binlog

import (
	"errors"
	"os"
	"syscall"
)

// groupAttr puts a child in process group pgid (0: a new group led by the
// child) and has the kernel SIGKILL it when the thread that started it
// dies: applyFile locks its goroutine to that thread until the children
// are reaped, so this means when the manager process dies.
func groupAttr(pgid int) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pgid: pgid, Pdeathsig: syscall.SIGKILL}
}

// killGroup SIGKILLs process group pgid. The leader is not reaped before
// the group is done with (applyFile waits for it last), so pgid cannot
// name another group.
func killGroup(pgid int) error {
	err := syscall.Kill(-pgid, syscall.SIGKILL)
	if errors.Is(err, syscall.ESRCH) {
		return os.ErrProcessDone
	}
	return err
}
