package sshpool

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/pkg/sftp"
)

// filesSlot holds the SFTP client of one connection: opened once, kept,
// re-opened when the last attempt failed or the client died.
type filesSlot struct {
	mu     sync.Mutex
	closed bool       // the connection is gone: open nothing more
	cur    *filesOpen // the last open; nil when none, or its client died
}

// filesOpen is one attempt to open the client; client and err are set
// before ready is closed, and never change after.
type filesOpen struct {
	ready  chan struct{}
	client *sftp.Client
	err    error
}

// Files returns the SFTP client of name's connection, opening it if needed
// (bounded by ctx for this caller; the open itself is bounded by
// Options.SFTPTimeout and serves every caller). The client is shared: do
// not Close it. Its calls take no context; on a dead host they fail when
// the pool drops the connection, within KeepaliveEvery+KeepaliveTimeout.
func (p *Pool) Files(ctx context.Context, name string) (*sftp.Client, error) {
	h, err := p.lookup(name)
	if err != nil {
		return nil, err
	}
	l, err := p.live(ctx, h, name)
	if err != nil {
		return nil, err
	}
	o := p.startFiles(l)
	select {
	case <-o.ready:
	case <-ctx.Done():
		return nil, fmt.Errorf("sshpool %s (%s): sftp subsystem still starting: %w", name, h.endpoint, ctx.Err())
	}
	if o.err != nil {
		return nil, fmt.Errorf("sshpool %s: %w", name, o.err)
	}
	return o.client, nil
}

// startFiles starts opening l's SFTP client unless an open is under way or
// a client is ready, and returns that open.
func (p *Pool) startFiles(l *link) *filesOpen {
	s := &l.files
	s.mu.Lock()
	defer s.mu.Unlock()
	if o := s.cur; o != nil && (!isClosed(o.ready) || o.err == nil) {
		return o
	}
	o := &filesOpen{ready: make(chan struct{})}
	s.cur = o
	if s.closed || !p.goTracked(func() { p.openFiles(l, o) }) {
		o.err = fmt.Errorf("ssh %s: sftp: %w", l.sess.Addr(), ErrClosed)
		close(o.ready)
	}
	return o
}

// openFiles opens the client, publishes it and watches it: a client that
// dies is forgotten, so that the next Files opens another.
func (p *Pool) openFiles(l *link, o *filesOpen) {
	ctx, cancel := context.WithTimeout(p.ctx, p.opts.SFTPTimeout)
	c, err := l.sess.OpenSFTP(ctx)
	cancel()
	s := &l.files
	s.mu.Lock()
	late := err == nil && s.closed
	if late {
		err = fmt.Errorf("ssh %s: sftp: %w", l.sess.Addr(), ErrClosed)
	}
	if err != nil {
		o.err = err
	} else {
		o.client = c
	}
	close(o.ready)
	s.mu.Unlock()
	if late {
		_ = c.Close() // the connection is closed: this returns at once
	}
	if err != nil {
		return
	}
	werr := c.Wait() // until the client or its channel ends
	s.mu.Lock()
	if s.cur == o {
		s.cur = nil
	}
	s.mu.Unlock()
	_ = c.Close()
	if werr != nil && !errors.Is(werr, sftp.ErrSSHFxConnectionLost) {
		p.logger.Debug("sftp client ended", "host", l.sess.Addr(), "err", werr)
	}
}

// close forbids new opens and closes the client, if one is open.
func (s *filesSlot) close() {
	s.mu.Lock()
	s.closed = true
	o := s.cur
	s.mu.Unlock()
	if o != nil && isClosed(o.ready) && o.client != nil {
		_ = o.client.Close()
	}
}

// isClosed reports whether ch is closed.
func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
