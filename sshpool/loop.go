package sshpool

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gomha/gomha/node"
)

// link is one live SSH connection and its SFTP client.
type link struct {
	sess  *node.SSHSession
	up    time.Time
	files filesSlot
}

// run keeps h connected until ctx ends: dial (with backoff while dials
// fail), keep alive, drop, re-dial.
func (p *Pool) run(ctx context.Context, h *host) {
	defer p.wg.Done()
	var wait time.Duration // the first dial, and the first re-dial, are immediate
	failing := false
	for {
		if !sleep(ctx, wait) {
			break
		}
		l, err := p.dial(ctx, h, failing)
		if err != nil {
			failing = true
			wait = min(max(2*wait, p.opts.RedialMin), p.opts.RedialMax)
			continue
		}
		failing = false
		reason := p.watch(ctx, h, l)
		p.drop(h, l, reason)
		if wait = 0; time.Since(l.up) < p.opts.RedialMin { // a flapping host
			wait = p.opts.RedialMin
		}
	}
	h.update(func() {
		h.dialing, h.lastErr, h.since = false, ErrClosed, time.Now()
	})
}

// dial connects h once and publishes the result.
func (p *Pool) dial(ctx context.Context, h *host, failing bool) (*link, error) {
	h.update(func() { h.dialing = true })
	start := time.Now()
	sess, err := node.DialSSH(ctx, h.cfg)
	now := time.Now()
	if err != nil {
		h.update(func() {
			h.dialing, h.lastErr, h.since = false, err, now
		})
		log := p.logger.Warn
		if failing || ctx.Err() != nil {
			log = p.logger.Debug // said once per outage
		}
		log("ssh dial failed", "endpoint", h.endpoint, "err", err)
		return nil, err
	}
	l := &link{sess: sess, up: now}
	h.update(func() {
		h.dialing, h.link, h.lastErr, h.lastOK, h.since = false, l, nil, now, now
	})
	p.logger.Info("ssh connected", "endpoint", h.endpoint, "took", now.Sub(start).Round(time.Millisecond))
	if p.opts.EagerSFTP {
		p.startFiles(l)
	}
	return l, nil
}

// watch sends keepalives on l until one fails, the connection breaks or
// ctx ends, and returns why l must go.
func (p *Pool) watch(ctx context.Context, h *host, l *link) error {
	t := time.NewTimer(p.opts.KeepaliveEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ErrClosed
		case <-l.sess.Done():
			return fmt.Errorf("ssh %s: connection lost: %w", l.sess.Addr(), node.ErrSSHUnreachable)
		case <-t.C:
		}
		start := time.Now()
		kctx, cancel := context.WithTimeout(ctx, p.opts.KeepaliveTimeout)
		err := l.sess.Keepalive(kctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return ErrClosed
		case err != nil:
			return err
		}
		h.markOK()
		t.Reset(max(0, p.opts.KeepaliveEvery-time.Since(start)))
	}
}

// drop unpublishes l, with reason as the host's error, and closes it.
func (p *Pool) drop(h *host, l *link, reason error) {
	now := time.Now()
	h.update(func() {
		if h.link == l {
			h.link = nil
		}
		h.lastErr, h.since = reason, now
	})
	if !errors.Is(reason, ErrClosed) {
		p.logger.Warn("ssh connection dropped, re-dialling", "endpoint", h.endpoint,
			"up", now.Sub(l.up).Round(time.Millisecond), "err", reason)
	}
	l.close()
}

// close closes the connection, then its SFTP client (whose Close waits for
// the channel to end, which a closed connection ends at once).
func (l *link) close() {
	_ = l.sess.Close()
	l.files.close()
}

// markOK records a keepalive answered now.
func (h *host) markOK() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lastOK = time.Now()
}

// sleep waits d, or until ctx ends; it reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
