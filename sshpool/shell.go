package sshpool

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"time"

	"github.com/gomha/gomha/node"
)

// Shell is a lease of a pooled connection: Run and Stream open channels on
// it as node.SSHSession does, and Close returns the lease without closing
// the connection. When the pool drops the connection, calls fail; take a
// new lease.
type Shell struct {
	name   string
	host   *host
	sess   *node.SSHSession
	closed atomic.Bool
}

// Shell returns a lease of name's live connection. While the first dial is
// under way it waits for it within ctx; when the host is not connected it
// returns at once a *NotConnectedError saying why (it never dials itself;
// the pool's next dial of the host is brought forward).
func (p *Pool) Shell(ctx context.Context, name string) (*Shell, error) {
	h, err := p.lookup(name)
	if err != nil {
		return nil, err
	}
	l, err := p.live(ctx, h, name)
	if err != nil {
		return nil, err
	}
	return &Shell{name: name, host: h, sess: l.sess}, nil
}

// Run runs cmd on the host: see node.SSHSession.Run. When the connection
// was lost the error is a *NotConnectedError: take a new lease.
func (s *Shell) Run(ctx context.Context, cmd string) (stdout, stderr []byte, err error) {
	if s.closed.Load() {
		return nil, nil, s.closedError()
	}
	stdout, stderr, err = s.sess.Run(ctx, cmd)
	return stdout, stderr, s.dropped(err)
}

// Stream starts cmd on the host and returns its stdout: see
// node.SSHSession.Stream. When the connection was lost the error is a
// *NotConnectedError: take a new lease.
func (s *Shell) Stream(ctx context.Context, cmd string) (io.ReadCloser, error) {
	if s.closed.Load() {
		return nil, s.closedError()
	}
	r, err := s.sess.Stream(ctx, cmd)
	return r, s.dropped(err)
}

// dropped turns the error of a call on a connection that has ended into a
// *NotConnectedError wrapping it.
func (s *Shell) dropped(err error) error {
	if err == nil {
		return nil
	}
	select {
	case <-s.sess.Done():
		return s.host.notConnectedNow(s.name, err)
	default:
		return err
	}
}

// Addr returns the "host:port" of the SSH connection.
func (s *Shell) Addr() string { return s.sess.Addr() }

// Close returns the lease; the pooled connection stays open. Commands and
// streams already started go on.
func (s *Shell) Close() error {
	s.closed.Store(true)
	return nil
}

func (s *Shell) closedError() error {
	return fmt.Errorf("sshpool %s (ssh %s): lease already closed", s.name, s.sess.Addr())
}

// DialTCP opens a direct-tcpip channel through name's live connection: the
// host's sshd connects to addr. See node.SSHSession.DialTCP (deadlines
// work; ErrSSHForwardingRefused when sshd forbids forwarding).
func (p *Pool) DialTCP(ctx context.Context, name, addr string) (net.Conn, error) {
	h, err := p.lookup(name)
	if err != nil {
		return nil, err
	}
	l, err := p.live(ctx, h, name)
	if err != nil {
		return nil, err
	}
	return l.sess.DialTCP(ctx, addr)
}

// State returns what the keepalives say of name, without I/O: whether a
// connection is up and its keepalives answered, when one last did (or the
// connection was made), and the last dial's or keepalive's error (nil while
// all is well). While the first dial is under way it is (false, zero, nil).
// A connection stays live until a keepalive has gone unanswered for
// KeepaliveTimeout: compare lastOK with the time for a finer view.
func (p *Pool) State(name string) (live bool, lastOK time.Time, lastErr error) {
	h, err := p.lookup(name)
	if err != nil {
		return false, time.Time{}, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.link != nil, h.lastOK, h.lastErr
}

// Check sends one keepalive on name's live connection now and waits for the
// answer within ctx and Options.KeepaliveTimeout: it proves the host's sshd
// answers. It never dials: without a connection it returns a
// *NotConnectedError at once, and the pool's next dial of the host is
// brought forward (see Options.RedialMin).
func (p *Pool) Check(ctx context.Context, name string) error {
	h, err := p.lookup(name)
	if err != nil {
		return err
	}
	l, _, err := h.current(name)
	if err != nil {
		p.kick(h)
		return err
	}
	if l == nil {
		return h.notConnectedNow(name, fmt.Errorf("first dial under way"))
	}
	ctx, cancel := context.WithTimeout(ctx, p.opts.KeepaliveTimeout)
	defer cancel()
	if err := l.sess.Keepalive(ctx); err != nil {
		return fmt.Errorf("sshpool %s: %w", name, err)
	}
	h.markOK()
	return nil
}
