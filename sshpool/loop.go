package sshpool

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/gomha/gomha/node"
)

// link is one live SSH connection and its SFTP client.
type link struct {
	sess  *node.SSHSession
	up    time.Time
	files filesSlot
}

// run keeps h connected until ctx ends: dial, keep alive, drop, re-dial.
// When a dial fails it schedules the next one after the backoff and
// returns: a host that is down holds a timer, not a goroutine, and costs
// one dial per backoff period (RedialMax at most) until it answers or a
// caller asks for it (kick). Only one run of a host is under way at a time:
// Add starts the first, the retry timer (or a kick that stopped it) the
// next.
func (p *Pool) run(ctx context.Context, h *host) {
	for ctx.Err() == nil {
		h.setLastDial(time.Now())
		l, err := p.dial(ctx, h, h.failing)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			h.failing = true
			h.backoff = min(max(2*h.backoff, p.opts.RedialMin), p.opts.RedialMax)
			p.retryLater(ctx, h, jitter(h.backoff))
			return
		}
		h.failing, h.backoff = false, 0
		reason := p.watch(ctx, h, l)
		p.drop(h, l, reason)
		if ctx.Err() == nil && time.Since(l.up) < p.opts.RedialMin { // a flapping host
			p.retryLater(ctx, h, p.opts.RedialMin)
			return
		}
		// The first re-dial after a lost connection is immediate.
	}
	h.shutdown()
}

// jitter spreads d by ±20%, so that hosts that failed together (a network
// cut, a restart of many sshd) are not all re-dialled in the same instant.
func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// retryLater runs h's loop again after d (or sooner, on a kick).
func (p *Pool) retryLater(ctx context.Context, h *host, d time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	var t *time.Timer
	t = time.AfterFunc(d, func() {
		h.mu.Lock()
		if h.retry == t {
			h.retry = nil
		}
		h.mu.Unlock()
		p.goTracked(func() { p.run(ctx, h) })
	})
	h.retry, h.retryAt = t, time.Now().Add(d)
}

// kick brings h's next dial forward to now when it waits in backoff and a
// caller wants the host: a host whose sshd came back is found at once by
// whoever needs it (the monitor's checks of a suspect master, a failover),
// without dialling every host often. Dials stay at least RedialMin apart.
func (p *Pool) kick(h *host) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.retry == nil || h.closed {
		return // connected, dialling, or closed
	}
	due := h.lastDial.Add(p.opts.RedialMin)
	if !due.Before(h.retryAt) {
		return // due sooner anyway
	}
	if !h.retry.Stop() {
		return // it fired: its run is starting
	}
	h.retryAt = due
	h.retry.Reset(max(0, time.Until(due)))
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

// setLastDial records when a dial started (kicks keep RedialMin after it).
func (h *host) setLastDial(t time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lastDial = t
}

// shutdown stops h's retry timer and publishes that it is closed.
func (h *host) shutdown() {
	h.update(func() {
		if h.retry != nil {
			h.retry.Stop()
			h.retry = nil
		}
		h.closed = true
		h.dialing, h.lastErr, h.since = false, ErrClosed, time.Now()
	})
}
