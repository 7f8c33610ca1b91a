package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

const (
	// sshKillGrace is how long a killed remote command may take to report
	// its end before Run or Stream give up waiting for it.
	sshKillGrace = 500 * time.Millisecond
	// sshStreamStderrLimit caps the stderr kept from a streamed command.
	sshStreamStderrLimit = 64 << 10
)

// SSHExitError reports a remote command that ended with a non-zero exit
// status or was killed by a signal.
type SSHExitError struct {
	Host   string // host:port
	Cmd    string
	Status int    // exit status (meaningless when Signal is set)
	Signal string // signal name without "SIG" when killed by one, e.g. "KILL"
	Stderr []byte
}

func (e *SSHExitError) Error() string {
	what := fmt.Sprintf("exit status %d", e.Status)
	if e.Signal != "" {
		what = "killed by signal SIG" + e.Signal
	}
	msg := fmt.Sprintf("ssh %s: %q: %s", e.Host, e.Cmd, what)
	if se := strings.TrimSpace(string(e.Stderr)); se != "" {
		if len(se) > 512 {
			se = se[:512] + "..."
		}
		msg += ": " + se
	}
	return msg
}

// Run runs cmd through the remote user's shell and returns its output. cmd
// is POSIX shell text: quote arguments with ShellQuote. A non-zero exit gives
// an *SSHExitError. When ctx ends first the remote command is sent SIGKILL
// (to its process group) and its channel closed, and the error wraps
// ErrSSHTimeout (deadline) or context.Canceled. When ctx has a deadline the
// command also runs under the remote timeout(1), if there is one, because
// OpenSSH ignores signal requests on root sessions (see sshDeadlineCommand).
func (s *SSHSession) Run(ctx context.Context, cmd string) (stdout []byte, stderr []byte, err error) {
	sess, err := s.openSession(ctx, cmd)
	if err != nil {
		return nil, nil, err
	}
	defer sess.Close()
	var outBuf, errBuf bytes.Buffer
	sess.Stdout, sess.Stderr = &outBuf, &errBuf
	done := make(chan error, 1)
	go func() { done <- sess.Run(sshDeadlineCommand(ctx, cmd)) }()
	select {
	case err = <-done:
	case <-ctx.Done():
		sshKill(sess)
		select {
		case <-done:
			return outBuf.Bytes(), errBuf.Bytes(), s.ctxError(ctx, cmd)
		case <-time.After(sshKillGrace): // the buffers may still be written to
			return nil, nil, s.ctxError(ctx, cmd)
		}
	}
	if err != nil {
		return outBuf.Bytes(), errBuf.Bytes(), s.exitError(cmd, err, errBuf.Bytes())
	}
	return outBuf.Bytes(), errBuf.Bytes(), nil
}

// Stream starts cmd (for example `cat binlog` or `tail -c +N file`) and
// returns its stdout. Read returns io.EOF only after the command exited 0;
// a non-zero exit, a kill or the end of ctx is returned by Read instead of
// io.EOF, so a truncated stream never looks complete. Close before the end
// kills the command and returns nil; Close after the end returns the
// command's result.
func (s *SSHSession) Stream(ctx context.Context, cmd string) (io.ReadCloser, error) {
	sess, err := s.openSession(ctx, cmd)
	if err != nil {
		return nil, err
	}
	stdout, err := sess.StdoutPipe()
	if err != nil {
		sess.Close()
		return nil, fmt.Errorf("ssh %s: %q: stdout: %w", s.addr, cmd, err)
	}
	stderr := &sshCappedBuffer{limit: sshStreamStderrLimit}
	sess.Stderr = stderr
	if err := sess.Start(sshDeadlineCommand(ctx, cmd)); err != nil {
		sess.Close()
		return nil, fmt.Errorf("ssh %s: start %q: %w", s.addr, cmd, err)
	}
	pr, pw := io.Pipe()
	st := &sshStream{pr: pr, sess: sess, done: make(chan struct{})}
	st.stopCtx = context.AfterFunc(ctx, func() {
		sshKill(sess)
		pw.CloseWithError(s.ctxError(ctx, cmd))
	})
	go func() {
		_, cerr := io.Copy(pw, stdout)
		if cerr != nil { // the reader closed the stream, or ctx ended
			sshKill(sess)
		}
		werr := sess.Wait()
		switch {
		case ctx.Err() != nil:
			st.err = s.ctxError(ctx, cmd)
		case cerr != nil:
			st.err = fmt.Errorf("ssh %s: %q: stream: %w", s.addr, cmd, cerr)
		case werr != nil:
			st.err = s.exitError(cmd, werr, stderr.buf.Bytes())
		}
		sess.Close()
		close(st.done)
		pw.CloseWithError(st.err) // nil: the reader gets io.EOF
	}()
	return st, nil
}

// sshStream is the stdout of a streamed remote command.
type sshStream struct {
	pr      *io.PipeReader
	sess    *ssh.Session
	done    chan struct{} // closed when the command's end is known
	err     error         // its result, set before done is closed
	stopCtx func() bool
}

func (st *sshStream) Read(p []byte) (int, error) { return st.pr.Read(p) }

// Close ends the stream: see SSHSession.Stream.
func (st *sshStream) Close() error {
	defer st.stopCtx()
	select {
	case <-st.done:
		return st.err
	default:
	}
	st.pr.Close()
	sshKill(st.sess)
	select {
	case <-st.done:
	case <-time.After(sshKillGrace):
	}
	return nil
}

// sshCappedBuffer keeps the first limit bytes written to it.
type sshCappedBuffer struct {
	buf   bytes.Buffer
	limit int
}

func (b *sshCappedBuffer) Write(p []byte) (int, error) {
	if room := b.limit - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// openSession opens a channel, bounded by ctx.
func (s *SSHSession) openSession(ctx context.Context, cmd string) (*ssh.Session, error) {
	if ctx.Err() != nil {
		return nil, s.ctxError(ctx, cmd)
	}
	type result struct {
		sess *ssh.Session
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		sess, err := s.client.NewSession()
		ch <- result{sess, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, fmt.Errorf("ssh %s: open session for %q: %w", s.addr, cmd, r.err)
		}
		return r.sess, nil
	case <-ctx.Done():
		go func() {
			if r := <-ch; r.sess != nil {
				r.sess.Close()
			}
		}()
		return nil, s.ctxError(ctx, cmd)
	}
}

// sshDeadlineCommand bounds cmd on the remote side when ctx has a deadline:
// `timeout -s KILL N sh -c cmd`, N being the time left plus a second, so
// the local kill normally acts first. The SSH "signal" request alone is not
// enough: OpenSSH's sshd refuses it ("session signalling requires privilege
// separation") when the login user is root, which is how MHA is usually
// run, and closing the channel does not stop a command that writes nothing.
// Hosts without timeout(1) run cmd unbounded, as before.
func sshDeadlineCommand(ctx context.Context, cmd string) string {
	d, ok := ctx.Deadline()
	if !ok {
		return cmd
	}
	secs := int(time.Until(d).Seconds()+0.999) + 1
	q := ShellQuote(cmd)
	return fmt.Sprintf("if command -v timeout >/dev/null 2>&1; then exec timeout -s KILL %d sh -c %s; else exec sh -c %s; fi",
		secs, q, q)
}

// sshKill sends SIGKILL to the remote command (OpenSSH signals its process
// group) and closes the channel.
func sshKill(sess *ssh.Session) {
	_ = sess.Signal(ssh.SIGKILL)
	_ = sess.Close()
}

// ctxError reports that ctx ended while cmd ran on this host.
func (s *SSHSession) ctxError(ctx context.Context, cmd string) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &sshError{kind: ErrSSHTimeout, cause: ctx.Err(), msg: fmt.Sprintf(
			"ssh %s: %q: deadline exceeded, remote command killed", s.addr, cmd)}
	}
	return fmt.Errorf("ssh %s: %q: %w", s.addr, cmd, ctx.Err())
}

// exitError turns the error of Session.Run or Wait into *SSHExitError when
// the command ended with a status or a signal.
func (s *SSHSession) exitError(cmd string, err error, stderr []byte) error {
	var ee *ssh.ExitError
	if errors.As(err, &ee) {
		return &SSHExitError{Host: s.addr, Cmd: cmd, Status: ee.ExitStatus(), Signal: ee.Signal(),
			Stderr: bytes.Clone(stderr)}
	}
	var em *ssh.ExitMissingError
	if errors.As(err, &em) {
		return fmt.Errorf("ssh %s: %q: connection ended without an exit status: %w", s.addr, cmd, err)
	}
	return fmt.Errorf("ssh %s: %q: %w", s.addr, cmd, err)
}
