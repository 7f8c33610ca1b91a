package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// managersFile records the managers the demo started, so that a rerun and
// `make demo-ha-down` stop exactly those.
const managersFile = "managers.json"

// managerProc is one `gomha manager --etcd` process, in a workdir of its
// own as if on its own host.
type managerProc struct {
	Name    string `json:"name"` // "A", "B"
	PID     int    `json:"pid"`
	Workdir string `json:"workdir"`
	Log     string `json:"log"`

	cmd  *exec.Cmd
	done chan struct{} // closed once the process is reaped
}

// startManager starts manager name on conf, coordinated through etcd.
func startManager(bin, dir, name, conf, endpoints string, ttl time.Duration) (*managerProc, error) {
	m := &managerProc{Name: name, Workdir: filepath.Join(dir, "manager-"+strings.ToLower(name))}
	m.Log = filepath.Join(m.Workdir, "manager.log")
	if err := os.MkdirAll(m.Workdir, 0o700); err != nil {
		return nil, err
	}
	args := []string{"manager", "--conf", conf, "--etcd", endpoints, "--etcd-lease-ttl", ttl.String(),
		"--workdir", m.Workdir, "--log-output", m.Log}
	fmt.Printf("$ %s %s &\n", filepath.Base(bin), strings.Join(args, " "))
	// Its output goes to its log, never to the demo's terminal: the
	// manager outlives the demo, and must not hold a pipe of `make` open.
	out, err := os.OpenFile(m.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, err
	}
	defer out.Close()
	m.cmd = exec.Command(bin, args...)
	m.cmd.Stdout, m.cmd.Stderr = out, out
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // not killed by a ^C of the demo
	if err := m.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start manager %s: %w", name, err)
	}
	m.PID, m.done = m.cmd.Process.Pid, make(chan struct{})
	go func() { _ = m.cmd.Wait(); close(m.done) }()
	return m, nil
}

// kill SIGKILLs the manager, as a host that dies would, and reaps it.
func (m *managerProc) kill() error {
	if err := m.cmd.Process.Kill(); err != nil {
		return fmt.Errorf("kill manager %s (pid %d): %w", m.Name, m.PID, err)
	}
	<-m.done
	return nil
}

func saveManagers(dir string, ms []*managerProc) error {
	data, err := json.MarshalIndent(ms, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, managersFile), append(data, '\n'), 0o600)
}

func readManagers(dir string) ([]*managerProc, error) {
	data, err := os.ReadFile(filepath.Join(dir, managersFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ms []*managerProc
	if err := json.Unmarshal(data, &ms); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, managersFile), err)
	}
	return ms, nil
}

// ours reports whether pid is still the manager recorded with workdir (a
// pid reused by another process is never signalled).
func ours(pid int, workdir string) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	args := strings.Split(string(data), "\x00")
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "--workdir" && args[i+1] == workdir {
			return true
		}
	}
	return false
}

// stopManager stops a recorded manager: SIGTERM (a manager never stops in
// the middle of a failover), SIGKILL if it is still there after grace.
func stopManager(ctx context.Context, m *managerProc, grace time.Duration) (bool, error) {
	if m.PID <= 0 || !ours(m.PID, m.Workdir) {
		return false, nil
	}
	for _, s := range []struct {
		sig  syscall.Signal
		wait time.Duration
	}{{syscall.SIGTERM, grace}, {syscall.SIGKILL, 5 * time.Second}} {
		if err := syscall.Kill(m.PID, s.sig); err != nil && !errors.Is(err, syscall.ESRCH) {
			return false, fmt.Errorf("stop manager %s (pid %d): %w", m.Name, m.PID, err)
		}
		deadline := time.Now().Add(s.wait)
		for ours(m.PID, m.Workdir) && time.Now().Before(deadline) {
			select {
			case <-ctx.Done():
				return false, ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
		if !ours(m.PID, m.Workdir) {
			return true, nil
		}
	}
	return false, fmt.Errorf("manager %s (pid %d) still runs after SIGKILL", m.Name, m.PID)
}
