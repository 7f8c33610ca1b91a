//go:build !linux

package binlog

import (
	"os"
	"syscall"
)

// gomha targets Linux; elsewhere Apply builds but its children are neither
// grouped nor tied to the manager's life: a kill reaches the client only,
// and mariadb-binlog ends on the broken pipe.

func groupAttr(int) *syscall.SysProcAttr { return nil }

func killGroup(pid int) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	return p.Kill()
}
