package coord

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/gomha/gomha/node"
)

// Options say which cluster to lock, for what, and where.
type Options struct {
	Workdir string // manager_workdir: holds <App>.lock
	App     string // the cluster: the configuration file's base name
	Action  string // "failover", "switchover", "conf-host", ...
	Detail  string // free-form, shown to whoever is refused
	// Servers are locked too, so that an actor using another
	// manager_workdir (another machine) is refused. Empty: only the local
	// lock is taken.
	Servers []node.MySQLConfig
	Logger  *slog.Logger

	// ServerTimeout bounds connecting to and locking each server (default
	// 3 s); a server slower than that is skipped.
	ServerTimeout time.Duration
	// Keepalive is how often each server lock's connection is used and
	// checked (default 20 s); the server drops the connection, and so frees
	// the lock, after three intervals without one.
	Keepalive time.Duration
	Hostname  string           // the holder's host name (default os.Hostname())
	Now       func() time.Time // clock (default time.Now)
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.ServerTimeout <= 0 {
		o.ServerTimeout = 3 * time.Second
	}
	if o.Keepalive <= 0 {
		o.Keepalive = 20 * time.Second
	}
	if o.Hostname == "" {
		o.Hostname, _ = os.Hostname()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	o.Logger = o.Logger.With("app", o.App, "action", o.Action)
	return o
}

// Lock is the right to act on one cluster: the local lock file and the
// named lock of every server that answered.
type Lock struct {
	holder  Holder
	local   *localLock
	servers *serverLocks // nil without servers
	log     *slog.Logger

	mu       sync.Mutex
	released bool
}

// Acquire takes app's local lock, then its lock on every server of
// o.Servers that answers, without waiting for either. A lock held by
// another actor gives an error wrapping ErrHeld (a *HeldError naming it);
// servers none of which answer give ErrNoServer. On any error nothing is
// left held.
func Acquire(ctx context.Context, o Options) (*Lock, error) {
	o = o.withDefaults()
	if o.Action == "" {
		return nil, fmt.Errorf("lock %s: no action named", o.App)
	}
	now := o.Now().Round(0) // as it reads back from JSON
	h := Holder{Host: o.Hostname, PID: os.Getpid(), Action: o.Action, Since: now, Detail: o.Detail}
	local, err := acquireLocal(o.Workdir, o.App, h, now)
	if err != nil {
		return nil, err
	}
	l := &Lock{holder: h, local: local, log: o.Logger}
	if len(o.Servers) > 0 {
		if l.servers, err = acquireServers(ctx, o, h); err != nil {
			if rerr := local.release(); rerr != nil {
				o.Logger.Warn("release the local lock after a refusal", "err", rerr)
			}
			return nil, err
		}
	}
	o.Logger.Info("actor lock acquired", "lock", local.path, "servers", l.Servers(), "skipped", len(l.Skipped()))
	return l, nil
}

// Holder is the description this lock wrote for others to read.
func (l *Lock) Holder() Holder { return l.holder }

// Servers lists the servers ("host:port") whose lock is held.
func (l *Lock) Servers() []string {
	if l.servers == nil {
		return nil
	}
	return l.servers.servers()
}

// Skipped lists the servers that did not answer when the lock was taken.
func (l *Lock) Skipped() []SkippedServer {
	if l.servers == nil {
		return nil
	}
	return l.servers.skipped
}

// Check proves, before an irreversible step, that every server lock is
// still held. A lost one (its connection closed or killed, its server
// restarted, wait_timeout reached) gives an error wrapping ErrLost; the
// local lock cannot be lost while the process lives.
func (l *Lock) Check(ctx context.Context) error {
	l.mu.Lock()
	released := l.released
	l.mu.Unlock()
	if released {
		return fmt.Errorf("%w: lock released", ErrLost)
	}
	if l.servers == nil {
		return nil
	}
	return l.servers.check(ctx)
}

// Release deletes the gomha.actors rows, releases the server locks and
// then the local lock. It is idempotent; its error lists what could not
// be released cleanly (a server lock whose connection failed is free
// anyway).
func (l *Lock) Release(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.released {
		return nil
	}
	l.released = true
	var errs []error
	if l.servers != nil {
		errs = append(errs, l.servers.releaseAll(ctx))
	}
	errs = append(errs, l.local.release())
	err := errors.Join(errs...)
	l.log.Info("actor lock released", "err", err)
	return err
}
