package config

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"syscall"
	"time"
)

// runShell runs script with /bin/sh -c and returns its standard output.
// The error carries the exit status and the first line of standard error,
// never standard output (which holds the secrets the script hands over).
func runShell(ctx context.Context, script string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, DefaultScriptTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", script)
	// The script runs in its own process group, so that a timeout kills the
	// commands it started too, not only the shell.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	out, err := cmd.Output()
	if err == nil {
		return out, nil
	}
	if ctx.Err() != nil {
		return nil, fmt.Errorf("run init_conf_load_script: %w", ctx.Err())
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if line := firstLine(ee.Stderr, 200); line != "" {
			return nil, fmt.Errorf("run init_conf_load_script: %w: %s", err, line)
		}
	}
	return nil, fmt.Errorf("run init_conf_load_script: %w", err)
}

func firstLine(b []byte, limit int) string {
	b = bytes.TrimSpace(b)
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	}
	if len(b) > limit {
		b = b[:limit]
	}
	return string(bytes.TrimSpace(b))
}
