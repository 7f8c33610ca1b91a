package node

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"golang.org/x/crypto/ssh"
)

// Keepalive sends an OpenSSH keepalive (the global request
// "keepalive@openssh.com", reply wanted) and waits for the answer within
// ctx. Any answer proves the host's sshd serves this connection (OpenSSH
// answers "unsupported", which is enough). The error wraps ErrSSHUnreachable
// when the connection is gone and ErrSSHTimeout when ctx's deadline passed
// first. A request left unanswered stays pending until the connection is
// closed: close a session whose keepalive timed out.
func (s *SSHSession) Keepalive(ctx context.Context) error {
	if ctx.Err() != nil {
		return s.waitError(ctx, "keepalive", 0)
	}
	start := time.Now()
	ch := make(chan error, 1)
	go func() {
		_, _, err := s.client.SendRequest("keepalive@openssh.com", true, nil)
		ch <- err
	}()
	select {
	case err := <-ch:
		if err != nil {
			return &sshError{kind: ErrSSHUnreachable, cause: err, msg: fmt.Sprintf(
				"ssh %s: keepalive: connection lost: %v", s.addr, err)}
		}
		return nil
	case <-ctx.Done():
		return s.waitError(ctx, "keepalive", time.Since(start))
	}
}

// Done returns a channel that is closed when the connection has ended:
// closed by Close, by the server, or broken.
func (s *SSHSession) Done() <-chan struct{} {
	s.doneOnce.Do(func() {
		s.done = make(chan struct{})
		go func() {
			_ = s.client.Wait()
			close(s.done)
		}()
	})
	return s.done
}

// DialTCP opens a direct-tcpip channel: the host's sshd connects to addr
// ("host:port", resolved by the host) and the channel carries the bytes.
// Opening it is bounded by ctx. The connection supports deadlines. When sshd
// refuses forwarding the error wraps ErrSSHForwardingRefused; when sshd
// cannot reach addr it wraps the *ssh.OpenChannelError (Reason
// ssh.ConnectionFailed).
func (s *SSHSession) DialTCP(ctx context.Context, addr string) (net.Conn, error) {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return nil, fmt.Errorf("ssh %s: forward to %q: %w", s.addr, addr, err)
	}
	if ctx.Err() != nil {
		return nil, s.waitError(ctx, "forward to "+addr, 0)
	}
	start := time.Now()
	c, err := s.client.DialContext(ctx, "tcp", addr)
	if err == nil {
		return newSSHTCPConn(c), nil
	}
	var oe *ssh.OpenChannelError
	switch {
	case ctx.Err() != nil:
		return nil, s.waitError(ctx, "forward to "+addr, time.Since(start))
	case errors.As(err, &oe) && oe.Reason == ssh.Prohibited:
		return nil, &sshError{kind: ErrSSHForwardingRefused, cause: err, msg: fmt.Sprintf(
			"ssh %s: forward to %s: sshd refuses TCP forwarding (%s)", s.addr, addr, oe.Message)}
	case errors.As(err, &oe):
		return nil, fmt.Errorf("ssh %s: forward to %s: sshd could not connect: %w", s.addr, addr, err)
	}
	return nil, &sshError{kind: ErrSSHUnreachable, cause: err, msg: fmt.Sprintf(
		"ssh %s: forward to %s: %v", s.addr, addr, err)}
}

// waitError reports that ctx ended while this session waited for what,
// after took.
func (s *SSHSession) waitError(ctx context.Context, what string, took time.Duration) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &sshError{kind: ErrSSHTimeout, cause: ctx.Err(), msg: fmt.Sprintf(
			"ssh %s: %s: no answer within %s", s.addr, what, took.Round(time.Millisecond))}
	}
	return fmt.Errorf("ssh %s: %s: %w", s.addr, what, ctx.Err())
}
