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
	// The output is bounded like a configuration file: a script that
	// writes without end is stopped by a broken pipe, not by memory.
	stdout := &cappedBuffer{limit: MaxFileSize}
	stderr := &cappedBuffer{limit: 64 << 10, truncate: true}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	err := cmd.Run()
	switch {
	case stdout.over:
		return nil, fmt.Errorf("run init_conf_load_script: its output is larger than %d MiB", MaxFileSize>>20)
	case err == nil:
		return stdout.buf.Bytes(), nil
	case ctx.Err() != nil:
		return nil, fmt.Errorf("run init_conf_load_script: %w", ctx.Err())
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if line := firstLine(stderr.buf.Bytes(), 200); line != "" {
			return nil, fmt.Errorf("run init_conf_load_script: %w: %s", err, line)
		}
	}
	return nil, fmt.Errorf("run init_conf_load_script: %w", err)
}

// errOutputTooLarge stops the copy of an output past its limit.
var errOutputTooLarge = errors.New("output too large")

// cappedBuffer keeps at most limit bytes. Past it, it fails the write (and
// records it), or with truncate set drops the rest quietly.
type cappedBuffer struct {
	buf      bytes.Buffer
	limit    int
	truncate bool
	over     bool
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	room := c.limit - c.buf.Len()
	if len(p) <= room {
		return c.buf.Write(p)
	}
	if c.truncate {
		c.buf.Write(p[:max(room, 0)])
		return len(p), nil
	}
	c.over = true
	return 0, errOutputTooLarge
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
