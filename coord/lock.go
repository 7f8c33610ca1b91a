package coord

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// Options say which cluster to lock, for what, and where.
type Options struct {
	Workdir string // manager_workdir: holds <App>.lock
	App     string // the cluster: the configuration file's base name
	Action  string // "failover", "switchover", "conf-host", ...
	Detail  string // free-form, shown to whoever is refused
	Logger  *slog.Logger

	Hostname string           // the holder's host name (default os.Hostname())
	Now      func() time.Time // clock (default time.Now)
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
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

// Lock is the right to act on one cluster: the local lock file.
type Lock struct {
	holder Holder
	local  *localLock
	log    *slog.Logger

	mu       sync.Mutex
	released bool
}

// Acquire takes app's local lock without waiting. A lock held by another
// actor gives an error wrapping ErrHeld (a *HeldError naming it).
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
	o.Logger.Info("actor lock acquired", "lock", local.path)
	return l, nil
}

// Holder is the description this lock wrote for others to read.
func (l *Lock) Holder() Holder { return l.holder }

// Release releases the local lock. It is idempotent.
func (l *Lock) Release(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.released {
		return nil
	}
	l.released = true
	err := l.local.release()
	l.log.Info("actor lock released", "err", err)
	return err
}
