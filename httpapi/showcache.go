package httpapi

import (
	"context"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/gomha/gomha/manager"
	"github.com/gomha/gomha/manager/config"
)

// showCache keeps each cluster's last snapshot for ttl: a dashboard, a
// Prometheus and HAProxy's replica checks together cause at most one
// manager.BuildShow per cluster per ttl, and concurrent requests for a
// stale one wait for a single build.
type showCache struct {
	ttl, timeout time.Duration
	build        func(ctx context.Context, cfg *config.Config) *manager.Show
	now          func() time.Time

	group   singleflight.Group
	mu      sync.Mutex
	entries map[string]snapshot
}

// snapshot is one cluster's show and when it was taken (when its build
// began: no server was read before).
type snapshot struct {
	cfg  *config.Config
	Show *manager.Show
	At   time.Time
}

// staleFor is how many ttls old a snapshot may be and still be returned
// while a newer one is built (a build waits up to ConnectTimeout on a
// server that does not answer).
const staleFor = 5

func newShowCache(ttl, timeout time.Duration, build func(context.Context, *config.Config) *manager.Show) *showCache {
	return &showCache{ttl: ttl, timeout: timeout, build: build, now: time.Now, entries: map[string]snapshot{}}
}

// get returns cfg's snapshot, built now when the cached one is older than
// the ttl or was taken with another configuration. The build is not
// cancelled with ctx (others may wait for it); it has its own deadline.
// While it runs, a cached snapshot younger than staleFor ttls is returned
// at once, with its age: a build that waits on a server that does not
// answer must not hold up HAProxy's checks (they time out, and every
// replica would go down). The show returned is shared: never modify it.
func (c *showCache) get(ctx context.Context, cfg *config.Config) (snapshot, error) {
	if sn, ok := c.fresh(cfg); ok {
		return sn, nil
	}
	if err := ctx.Err(); err != nil {
		return snapshot{}, err // no build for a caller that is gone
	}
	ch := c.group.DoChan(cfg.App, func() (any, error) {
		if sn, ok := c.fresh(cfg); ok { // built while this call waited its turn
			return sn, nil
		}
		bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.timeout)
		defer cancel()
		at := c.now()
		sn := snapshot{cfg: cfg, Show: c.build(bctx, cfg), At: at}
		c.mu.Lock()
		c.entries[cfg.App] = sn
		c.mu.Unlock()
		return sn, nil
	})
	if sn, ok := c.latest(cfg); ok && c.now().Sub(sn.At) < staleFor*c.ttl {
		return sn, nil
	}
	select {
	case r := <-ch:
		return r.Val.(snapshot), nil
	case <-ctx.Done():
		return snapshot{}, ctx.Err()
	}
}

// latest returns the cached snapshot however old it is.
func (c *showCache) latest(cfg *config.Config) (snapshot, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	sn, ok := c.entries[cfg.App]
	return sn, ok && sn.cfg == cfg
}

func (c *showCache) fresh(cfg *config.Config) (snapshot, bool) {
	sn, ok := c.latest(cfg)
	return sn, ok && c.now().Sub(sn.At) < c.ttl
}

// Age is how old the snapshot is.
func (sn snapshot) Age(now time.Time) time.Duration { return now.Sub(sn.At) }
