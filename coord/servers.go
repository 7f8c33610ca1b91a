package coord

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// SkippedServer is a server Acquire did not lock because it did not answer
// within Options.ServerTimeout (down, unreachable, refusing sessions, hung).
type SkippedServer struct {
	Server string // host:port
	Err    error  // what connecting or locking gave
}

// serverLocks are the named locks of one Acquire, kept alive by a
// goroutine that also notices when one is lost.
type serverLocks struct {
	app     string
	locks   []*serverLock
	skipped []SkippedServer
	log     *slog.Logger

	mu   sync.Mutex
	lost map[string]error // by server, the first proof it is lost

	stop context.CancelFunc
	done chan struct{}
}

// acquireServers tries every server in parallel, each bounded by
// o.ServerTimeout, and keeps the locks only when no answering server
// reports the lock taken, none failed and at least one was locked.
func acquireServers(ctx context.Context, o Options, h Holder) (*serverLocks, error) {
	tries := make([]attempt, len(o.Servers))
	var wg sync.WaitGroup
	for i, cfg := range o.Servers {
		wg.Go(func() { tries[i] = tryServer(ctx, cfg, o, h) })
	}
	wg.Wait()
	g := &serverLocks{app: o.App, log: o.Logger, lost: map[string]error{}}
	var held *HeldError
	var fails, skips []error
	for i, t := range tries {
		switch {
		case t.lock != nil:
			g.locks = append(g.locks, t.lock)
		case t.held != nil:
			if held == nil {
				held = t.held
			}
		case t.fail != nil:
			fails = append(fails, t.fail)
		default:
			g.skipped = append(g.skipped, SkippedServer{Server: o.Servers[i].Key.String(), Err: t.skip})
			skips = append(skips, t.skip)
			o.Logger.Warn("server skipped by the actor lock", "server", o.Servers[i].Key.String(), "err", t.skip)
		}
	}
	if held == nil && len(fails) == 0 && len(g.locks) > 0 {
		g.startKeepalive(o.Keepalive)
		return g, nil
	}
	if err := g.releaseAll(context.WithoutCancel(ctx)); err != nil {
		o.Logger.Warn("release server locks after a refusal", "err", err)
	}
	switch {
	case held != nil:
		return nil, held
	case len(fails) > 0:
		return nil, fmt.Errorf("lock %s on the servers: %w", o.App, errors.Join(fails...))
	}
	return nil, fmt.Errorf("lock %s on %d servers: %w: %s", o.App, len(o.Servers), ErrNoServer, oneLine(joinErrs(skips)))
}

func joinErrs(errs []error) string {
	s := make([]string, len(errs))
	for i, e := range errs {
		s[i] = e.Error()
	}
	return strings.Join(s, "; ")
}

// startKeepalive runs a statement on every lock connection each interval,
// so that wait_timeout never closes a live holder's connection, and
// records the locks it finds lost.
func (g *serverLocks) startKeepalive(every time.Duration) {
	ctx, cancel := context.WithCancel(context.Background())
	g.stop, g.done = cancel, make(chan struct{})
	go func() {
		defer close(g.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				_ = g.check(ctx)
			}
		}
	}()
}

// check proves every lock is still held, or returns the losses, joined.
func (g *serverLocks) check(ctx context.Context) error {
	var errs []error
	for _, sl := range g.locks {
		g.mu.Lock()
		err := g.lost[sl.key]
		g.mu.Unlock()
		if err == nil {
			if err = sl.check(ctx); err != nil && ctx.Err() == nil {
				g.mu.Lock()
				g.lost[sl.key] = err
				g.mu.Unlock()
				g.log.Error("actor lock lost on a server", "server", sl.key, "err", err)
			}
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// releaseAll stops the keepalive and releases every lock in parallel.
func (g *serverLocks) releaseAll(ctx context.Context) error {
	if g.stop != nil {
		g.stop()
		<-g.done
		g.stop = nil
	}
	errs := make([]error, len(g.locks))
	var wg sync.WaitGroup
	for i, sl := range g.locks {
		wg.Go(func() { errs[i] = sl.release(ctx, g.app) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// servers lists the servers whose lock is held.
func (g *serverLocks) servers() []string {
	s := make([]string, len(g.locks))
	for i, sl := range g.locks {
		s[i] = sl.key
	}
	return s
}
