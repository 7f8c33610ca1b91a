package sshpool

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gomha/gomha/node"
)

// host is one endpoint: its configuration, its live connection if any, and
// what the last dial or keepalive said. Its loop (Pool.run) is the only
// writer of link.
type host struct {
	endpoint string
	cfg      node.SSHConfig
	names    map[string]bool    // guarded by Pool.mu
	stop     context.CancelFunc // ends the loop

	// Owned by the host's loop (one run at a time, see Pool.run).
	failing bool          // the last dial failed
	backoff time.Duration // the current wait between failed dials

	mu       sync.Mutex
	link     *link // nil when down
	dialing  bool  // the first dial, or a re-dial, is under way
	lastOK   time.Time
	lastErr  error         // nil after a success
	since    time.Time     // when link or lastErr last changed
	changed  chan struct{} // closed and replaced at every change
	lastDial time.Time     // when the last dial started
	retry    *time.Timer   // the next dial, while the host waits in backoff
	retryAt  time.Time     // when retry fires
	closed   bool          // removed, or the pool closed: no more dials
}

func newHost(ep string, cfg node.SSHConfig) *host {
	now := time.Now()
	return &host{endpoint: ep, cfg: cfg, names: map[string]bool{}, dialing: true, since: now,
		changed: make(chan struct{})}
}

// update changes the state under h.mu and wakes the waiters.
func (h *host) update(f func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	f()
	close(h.changed)
	h.changed = make(chan struct{})
}

// current returns the live link, or why there is none (neither while the
// first dial is under way), and the channel closed at the next change.
func (h *host) current(name string) (*link, chan struct{}, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if l := h.link; l != nil {
		select {
		case <-l.sess.Done(): // broken; the loop has not noticed yet
			return nil, h.changed, h.notConnected(name, errors.New("connection lost"))
		default:
			return l, h.changed, nil
		}
	}
	if h.lastErr != nil || !h.dialing {
		return nil, h.changed, h.notConnected(name, h.lastErr)
	}
	return nil, h.changed, nil
}

// live returns the live link. While a first dial is under way it waits for
// it within ctx; otherwise it returns at once.
func (h *host) live(ctx context.Context, name string) (*link, error) {
	for {
		l, changed, err := h.current(name)
		if l != nil || err != nil {
			return l, err
		}
		select {
		case <-changed:
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return nil, fmt.Errorf("sshpool %s (%s): still connecting: %w: %w",
					name, h.endpoint, node.ErrSSHTimeout, ctx.Err())
			}
			return nil, fmt.Errorf("sshpool %s (%s): still connecting: %w", name, h.endpoint, ctx.Err())
		}
	}
}

// live is h.live; a host found down is kicked (see Pool.kick).
func (p *Pool) live(ctx context.Context, h *host, name string) (*link, error) {
	l, err := h.live(ctx, name)
	if errors.Is(err, ErrNotConnected) {
		p.kick(h)
	}
	return l, err
}

// notConnected builds the error of a host without a link; h.mu is held.
func (h *host) notConnected(name string, why error) error {
	if why == nil {
		why = errors.New("no connection")
	}
	return &NotConnectedError{Name: name, Endpoint: h.endpoint, Since: h.since, Err: why}
}

// NotConnectedError is returned when a host has no live connection: Err says
// why (the last dial's or keepalive's error, or ErrClosed). It matches
// ErrNotConnected and whatever Err matches (node.ErrSSHUnreachable, ...).
type NotConnectedError struct {
	Name     string    // as given to Add
	Endpoint string    // user@host:port
	Since    time.Time // when the state last changed
	Err      error
}

func (e *NotConnectedError) Error() string {
	return fmt.Sprintf("sshpool %s (%s): not connected since %s: %v",
		e.Name, e.Endpoint, e.Since.Format("15:04:05.000"), e.Err)
}

// Unwrap lets errors.Is match ErrNotConnected and the cause.
func (e *NotConnectedError) Unwrap() []error { return []error{ErrNotConnected, e.Err} }

// notConnectedNow is notConnected, taking h.mu.
func (h *host) notConnectedNow(name string, why error) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.notConnected(name, why)
}
