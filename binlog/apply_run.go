package binlog

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

const (
	// waitDelay bounds how long Wait waits for a killed tool and its pipes.
	waitDelay = 2 * time.Second
	// copyBuffer is the one buffer between mariadb-binlog and the client.
	copyBuffer = 64 << 10
	// defaultLockWait is ApplyOptions.LockWaitTimeout's default.
	defaultLockWait = 10 * time.Second
)

// fileRun is `mariadb-binlog FILE | mariadb` for one file with the Go side
// in the middle: it sends the session preamble, reads the connection id and
// copies the events, counting how far they got.
type fileRun struct {
	ctx    context.Context
	tools  applyTools
	cnf    string // the client's option file, until removed
	target Target
	file   string
	opts   ApplyOptions

	client, dump *exec.Cmd
	stdin        io.WriteCloser // the client's
	stdout       *bufio.Reader  // the client's
	drained      chan struct{}  // closed once the client's stdout is at EOF; nil before it is drained
	offsets      eventOffsets   // writes to stdin, following the events' offsets
	clientOut    limitedBuffer  // the client's stdout after the connection id
	clientErr    limitedBuffer  // the client's stderr
	dumpErr      limitedBuffer  // mariadb-binlog's stderr
	stepTool     string         // the tool a failed step of the Go side dealt with
}

// applyFile applies one file. The goroutine keeps its OS thread until the
// tools are reaped: Pdeathsig fires when the thread that started a child
// ends, and the Go runtime may end a thread while the process lives on.
func applyFile(ctx context.Context, tools applyTools, t Target, file string, opts ApplyOptions) error {
	r := &fileRun{ctx: ctx, tools: tools, target: t, file: file, opts: opts}
	fi, err := os.Stat(file)
	if err != nil {
		return r.error(err, nil, nil)
	}
	r.offsets.size = fi.Size()
	if ctx.Err() != nil {
		return r.error(nil, nil, nil)
	}
	if r.cnf, err = writeClientOptions(t, opts); err != nil {
		return r.error(err, nil, nil)
	}
	defer r.removeOptions()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	err = r.run()
	if opts.Progress != nil {
		opts.Progress(file, r.offsets.at.Load(), r.offsets.size)
	}
	return err
}

// run starts the tools, streams the file and reaps the tools; nil only if
// the whole file went through and both tools exited cleanly.
func (r *fileRun) run() error {
	stepErr := r.stream()
	if stepErr != nil {
		r.kill()
	}
	var dumpErr, clientErr error
	if r.dump != nil {
		if dumpErr = r.dump.Wait(); dumpErr != nil {
			r.kill() // the client must not finish a stream cut short
		}
	}
	if r.client != nil {
		_ = r.stdin.Close()
		if r.drained != nil {
			<-r.drained
		}
		clientErr = r.client.Wait()
	}
	if stepErr == nil && dumpErr == nil && clientErr == nil {
		r.offsets.at.Store(r.offsets.size)
		return nil
	}
	return r.error(stepErr, dumpErr, clientErr)
}

// stream starts the client, sends the preamble, hands the connection id to
// OnSession, then starts mariadb-binlog and copies its output to the client.
func (r *fileRun) stream() error {
	if err := r.startClient(); err != nil {
		return err
	}
	connID, err := r.sessionID()
	r.removeOptions() // the client has connected or given up: no longer needed
	if err != nil {
		return err
	}
	if err := r.announce(connID); err != nil {
		return err
	}
	events, err := r.startDump()
	if err != nil {
		return err
	}
	return r.copyEvents(events)
}

// command is a tool of the file in process group pgid (0: a new group,
// led by the client), killed with the whole group when ctx is done.
func (r *fileRun) command(bin string, pgid int, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(r.ctx, bin, args...)
	cmd.SysProcAttr = groupAttr(pgid)
	cmd.Cancel = func() error { return killGroup(r.client.Process.Pid) }
	cmd.WaitDelay = waitDelay
	return cmd
}

// kill SIGKILLs the group (and mariadb-binlog by pid, where there are no
// groups). The client is reaped last, so its pid still names the group.
func (r *fileRun) kill() {
	if r.client != nil {
		_ = killGroup(r.client.Process.Pid)
	}
	if r.dump != nil {
		_ = r.dump.Process.Kill()
	}
}

// removeOptions removes the client's option file, once.
func (r *fileRun) removeOptions() {
	if r.cnf != "" {
		_ = os.Remove(r.cnf)
		r.cnf = ""
	}
}

// stepError records which tool a failed step of the Go side dealt with.
func (r *fileRun) stepError(tool, step string, err error) error {
	r.stepTool = tool
	return fmt.Errorf("%s: %w", step, err)
}

func (r *fileRun) startClient() error {
	cmd := r.command(r.tools.client, 0, "--defaults-file="+r.cnf,
		"--binary-mode", "--batch", "--skip-reconnect", "--skip-column-names", "--unbuffered",
		"--max-allowed-packet=1G")
	cmd.Stderr = &r.clientErr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return r.stepError(r.tools.client, "client stdin", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return r.stepError(r.tools.client, "client stdout", err)
	}
	r.client = cmd
	if err := cmd.Start(); err != nil {
		r.client = nil
		return r.stepError(r.tools.client, "start", err)
	}
	r.stdin, r.stdout = stdin, bufio.NewReader(stdout)
	return nil
}

// sessionID sets the session's lock wait timeouts and reads its connection
// id, the first line of the client's output; the rest is drained.
func (r *fileRun) sessionID() (uint64, error) {
	n := lockWaitSeconds(r.opts.LockWaitTimeout)
	preamble := fmt.Sprintf("SET SESSION lock_wait_timeout=%d, innodb_lock_wait_timeout=%d;\nSELECT CONNECTION_ID();\n", n, n)
	if _, err := io.WriteString(r.stdin, preamble); err != nil {
		return 0, r.stepError(r.tools.client, "send session settings", err)
	}
	line, err := r.stdout.ReadString('\n')
	r.drained = make(chan struct{})
	go func() {
		defer close(r.drained)
		_, _ = io.Copy(&r.clientOut, r.stdout)
	}()
	if err != nil {
		return 0, r.stepError(r.tools.client, "read connection id", err)
	}
	id, err := strconv.ParseUint(strings.TrimSpace(line), 10, 64)
	if err != nil {
		return 0, r.stepError(r.tools.client, "read connection id", fmt.Errorf("unexpected output %q", line))
	}
	return id, nil
}

// lockWaitSeconds rounds ApplyOptions.LockWaitTimeout up to whole seconds.
func lockWaitSeconds(d time.Duration) int64 {
	if d <= 0 {
		d = defaultLockWait
	}
	return int64((d + time.Second - 1) / time.Second)
}

// announce runs OnSession on a goroutine of its own and waits for it or ctx.
func (r *fileRun) announce(connID uint64) error {
	if r.opts.OnSession == nil {
		return nil
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.opts.OnSession(connID)
	}()
	select {
	case <-done:
		return nil
	case <-r.ctx.Done():
		return r.ctx.Err()
	}
}

func (r *fileRun) startDump() (io.Reader, error) {
	args := []string{"--no-defaults"}
	if r.opts.DisableLogBin {
		args = append(args, "--disable-log-bin")
	}
	cmd := r.command(r.tools.binlog, r.client.Process.Pid, append(args, r.file)...)
	cmd.Stderr = &r.dumpErr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, r.stepError(r.tools.binlog, "stdout", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, r.stepError(r.tools.binlog, "start", err)
	}
	r.dump = cmd
	return out, nil
}

// copyEvents copies mariadb-binlog's output to the client through one
// buffer, reporting progress meanwhile.
func (r *fileRun) copyEvents(events io.Reader) error {
	r.offsets.w = r.stdin
	stop, reported := make(chan struct{}), make(chan struct{})
	go reportProgress(r.opts.Progress, r.file, &r.offsets, stop, reported)
	// Hide *os.File's WriteTo so that the copy uses this buffer.
	_, err := io.CopyBuffer(&r.offsets, struct{ io.Reader }{events}, make([]byte, copyBuffer))
	close(stop)
	<-reported
	if err != nil {
		return r.stepError(r.tools.client, "copy events to the client", err)
	}
	return nil
}

// error says why the file was not applied: the stop, else the tool that
// failed on its own (the client first: mariadb-binlog dies of its broken
// pipe), else the Go side's step, else a tool killed otherwise.
func (r *fileRun) error(stepErr, dumpErr, clientErr error) error {
	e := &ApplyError{File: r.file, Target: r.target.String(), Offset: r.offsets.at.Load(), Size: r.offsets.size}
	clientMsg := strings.TrimSpace(r.clientErr.String() + "\n" + r.clientOut.String())
	switch {
	case r.ctx.Err() != nil:
		e.Err = stopCause(r.ctx)
	case exitedWithError(clientErr):
		e.Tool, e.Err, e.Message = r.tools.client, clientErr, clientMsg
	case exitedWithError(dumpErr):
		e.Tool, e.Err, e.Message = r.tools.binlog, dumpErr, r.dumpErr.String()
	case stepErr != nil:
		e.Tool, e.Err, e.Message = r.stepTool, stepErr, clientMsg
	case clientErr != nil:
		e.Tool, e.Err, e.Message = r.tools.client, clientErr, clientMsg
	default:
		e.Tool, e.Err, e.Message = r.tools.binlog, dumpErr, r.dumpErr.String()
	}
	if e.Tool != "" {
		e.Tool = filepath.Base(e.Tool)
		e.Message = scrub(e.Message, r.target.Password)
	}
	if e.Tool == filepath.Base(r.tools.client) {
		e.Code = errorCode(e.Message)
	}
	return e
}

// exitedWithError: the tool ran and exited with a status of its own, not
// killed by a signal.
func exitedWithError(err error) bool {
	var ee *exec.ExitError
	return errors.As(err, &ee) && ee.ExitCode() > 0
}
