package sshpool

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/gomha/gomha/node"
)

// Defaults of Options.
const (
	DefaultKeepaliveEvery   = time.Second
	DefaultKeepaliveTimeout = 2 * time.Second
	DefaultRedialMin        = 200 * time.Millisecond
	DefaultRedialMax        = 30 * time.Second
	DefaultSFTPTimeout      = 5 * time.Second
)

// Sentinel errors, for errors.Is.
var (
	// ErrUnknownHost: no host was added under that name.
	ErrUnknownHost = errors.New("sshpool: unknown host")
	// ErrClosed: the pool was closed, or the host removed.
	ErrClosed = errors.New("sshpool: closed")
	// ErrNotConnected: the host has no live connection; the error also
	// wraps why (the last dial's or keepalive's error).
	ErrNotConnected = errors.New("sshpool: not connected")
)

// Options tune a Pool. Zero values take the defaults above.
type Options struct {
	Logger *slog.Logger
	// KeepaliveEvery is the interval between keepalives on a connection.
	KeepaliveEvery time.Duration
	// KeepaliveTimeout is how long a keepalive may go unanswered before the
	// connection is dropped and re-dialled.
	KeepaliveTimeout time.Duration
	// RedialMin and RedialMax bound the backoff between failed dials (it
	// doubles from RedialMin, with ±20% jitter); the first re-dial after a
	// lost connection is immediate, and a caller that finds the host down
	// brings the next dial forward (no sooner than RedialMin after the
	// last). RedialMax is what a host whose sshd stays down costs: one
	// dial per RedialMax (30 s by default).
	RedialMin, RedialMax time.Duration
	// EagerSFTP starts the SFTP client as soon as a connection is up, so
	// that the first Files call does not pay the subsystem start.
	EagerSFTP bool
	// SFTPTimeout bounds the start of the SFTP subsystem.
	SFTPTimeout time.Duration
}

// withDefaults fills the zero fields.
func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.KeepaliveEvery, DefaultKeepaliveEvery)
	def(&o.KeepaliveTimeout, DefaultKeepaliveTimeout)
	def(&o.RedialMin, DefaultRedialMin)
	def(&o.RedialMax, DefaultRedialMax)
	def(&o.SFTPTimeout, DefaultSFTPTimeout)
	o.RedialMax = max(o.RedialMax, o.RedialMin)
	return o
}

// Pool holds one SSH connection per endpoint (user, host, port, source
// address) and the names that use it. It is safe for concurrent use.
type Pool struct {
	opts   Options
	logger *slog.Logger
	ctx    context.Context // ends at Close
	cancel context.CancelFunc

	mu     sync.Mutex
	wg     sync.WaitGroup // every goroutine the pool started; Add under mu, while !closed
	closed bool
	names  map[string]*host // by name
	hosts  map[string]*host // by endpoint
}

// New returns an empty pool. Close it to stop its goroutines.
func New(opts Options) *Pool {
	opts = opts.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	return &Pool{opts: opts, logger: opts.Logger, ctx: ctx, cancel: cancel,
		names: map[string]*host{}, hosts: map[string]*host{}}
}

// Add registers a host under name (any key, e.g. "127.0.0.1:3306" of the
// server on it) and starts dialling it in the background. Names whose cfg
// has the same endpoint (cfg.Endpoint) share one connection, dialled with the
// first name's cfg. Adding a known name again moves it to cfg's endpoint.
// The error is for a cfg without a host, or a closed pool.
func (p *Pool) Add(name string, cfg node.SSHConfig) error {
	ep, err := cfg.Endpoint()
	if err != nil {
		return fmt.Errorf("sshpool %s: %w", name, err)
	}
	if cfg.Logger == nil {
		cfg.Logger = p.logger
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return fmt.Errorf("sshpool %s: %w", name, ErrClosed)
	}
	if old := p.names[name]; old != nil {
		if old.endpoint == ep {
			return nil
		}
		p.removeLocked(name)
	}
	h := p.hosts[ep]
	if h == nil {
		h = newHost(ep, cfg)
		p.hosts[ep] = h
		ctx, stop := context.WithCancel(p.ctx)
		h.stop = stop
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.run(ctx, h)
		}()
	}
	h.names[name] = true
	p.names[name] = h
	return nil
}

// Remove forgets name; the connection closes when no name uses it.
func (p *Pool) Remove(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.removeLocked(name)
}

// removeLocked is Remove with p.mu held.
func (p *Pool) removeLocked(name string) {
	h := p.names[name]
	if h == nil {
		return
	}
	delete(p.names, name)
	delete(h.names, name)
	if len(h.names) == 0 {
		delete(p.hosts, h.endpoint)
		h.stop()
		h.shutdown() // a host waiting in backoff has no loop to notice
	}
}

// Names returns the registered names, sorted.
func (p *Pool) Names() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]string, 0, len(p.names))
	for n := range p.names {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Close stops every loop, closes every connection and waits for every
// goroutine the pool started. Leases and SFTP clients handed out stop
// working. Close is idempotent.
func (p *Pool) Close() {
	p.mu.Lock()
	p.closed = true
	hosts := make([]*host, 0, len(p.hosts))
	for _, h := range p.hosts {
		hosts = append(hosts, h)
	}
	p.mu.Unlock()
	p.cancel()
	for _, h := range hosts {
		h.shutdown()
	}
	p.wg.Wait()
}

// goTracked runs f in a goroutine counted by Close, unless the pool is
// closed; it reports whether f was started.
func (p *Pool) goTracked(f func()) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		f()
	}()
	return true
}

// lookup returns the host registered under name.
func (p *Pool) lookup(name string) (*host, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, fmt.Errorf("sshpool %s: %w", name, ErrClosed)
	}
	h := p.names[name]
	if h == nil {
		return nil, fmt.Errorf("sshpool %s: %w", name, ErrUnknownHost)
	}
	return h, nil
}
