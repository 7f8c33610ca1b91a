package etcdcoord

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// Manager describes a manager in etcd: who campaigns, who leads.
type Manager struct {
	Host  string    `json:"host"`
	PID   int       `json:"pid"`
	Since time.Time `json:"since"` // when it began to campaign, or to lead
}

// String is e.g. "pid 4242 on host mgr1".
func (m Manager) String() string { return fmt.Sprintf("pid %d on host %s", m.PID, m.Host) }

// Coordinator is one manager process's connection to etcd: it campaigns
// for the clusters it watches and fences what it does to them.
type Coordinator struct {
	cli *clientv3.Client
	o   Options
	id  string // host-pid, unique per manager process

	mu    sync.Mutex
	leads map[string]*leadership // app -> current leadership
	said  map[string]string      // app -> last campaign problem logged
}

// New connects to etcd. It does not wait for etcd to answer: a cluster
// without a reachable etcd majority is simply never led (Lead waits).
func New(o Options) (*Coordinator, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	cli, err := dial(o)
	if err != nil {
		return nil, err
	}
	return &Coordinator{cli: cli, o: o, id: fmt.Sprintf("%s-%d", o.Host, os.Getpid()),
		leads: map[string]*leadership{}, said: map[string]string{}}, nil
}

// Close resigns every leadership and closes the connection.
func (c *Coordinator) Close() error {
	c.mu.Lock()
	var ls []*leadership
	for _, l := range c.leads {
		ls = append(ls, l)
	}
	c.mu.Unlock()
	for _, l := range ls {
		l.release()
	}
	return c.cli.Close()
}

// Client is the etcd client (for readers such as gomha show).
func (c *Coordinator) Client() *clientv3.Client { return c.cli }

// TTL is the leadership lease's time to live.
func (c *Coordinator) TTL() time.Duration { return c.o.TTL }

func (c *Coordinator) key(app string, parts ...string) string {
	k := c.o.Prefix + app + "/"
	for i, p := range parts {
		if i > 0 {
			k += "/"
		}
		k += p
	}
	return k
}

// Lead waits until this manager leads app, and returns a context that ends
// when the leadership ends or might have ended (lease not surely renewed,
// key gone, ctx done), and the function that resigns it. While etcd does
// not answer, Lead keeps trying (saying so once per change of problem);
// it returns an error only when ctx ends.
func (c *Coordinator) Lead(ctx context.Context, app string) (context.Context, func(), error) {
	wait := 500 * time.Millisecond
	for {
		l, err := c.campaign(ctx, app)
		if err == nil {
			c.mu.Lock()
			delete(c.said, app)
			c.leads[app] = l
			c.mu.Unlock()
			c.o.Logger.Info("leading the cluster's managers", "app", app, "lease_ttl", c.o.TTL, "leader_key", l.key)
			return l.ctx, l.release, nil
		}
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		c.mu.Lock()
		if c.said[app] != err.Error() {
			c.said[app] = err.Error()
			c.o.Logger.Warn("etcd: cannot campaign for leadership; no failover of this cluster from here until it can", "app", app, "error", err)
		}
		c.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// leadership is one won election.
type leadership struct {
	c      *Coordinator
	app    string
	sess   *concurrency.Session
	elec   *concurrency.Election
	lease  clientv3.LeaseID
	key    string // the leader key
	rev    int64  // its create revision: the fencing token
	ctx    context.Context
	cancel context.CancelCauseFunc
	stop   context.CancelFunc // ends the renewal loop

	mu        sync.Mutex
	validTill time.Time
	timer     *time.Timer
	lost      error
	seq       int // next journal sequence number
	once      sync.Once
}

// campaign grants a lease, renews it, and campaigns with it until elected.
func (c *Coordinator) campaign(ctx context.Context, app string) (*leadership, error) {
	ttl := c.o.TTL
	sent := time.Now()
	gctx, cancel := context.WithTimeout(ctx, callTimeout)
	grant, err := c.cli.Grant(gctx, int64(ttl/time.Second))
	cancel()
	if err != nil {
		return nil, fmt.Errorf("grant a %s lease: %w", ttl, err)
	}
	lctx, lcancel := context.WithCancelCause(ctx)
	rctx, rstop := context.WithCancel(context.Background())
	l := &leadership{c: c, app: app, lease: grant.ID, ctx: lctx, cancel: lcancel, stop: rstop}
	l.renewed(sent)
	go l.renew(rctx, grant.ID)
	fail := func(err error) (*leadership, error) {
		l.release()
		return nil, err
	}
	sess, err := concurrency.NewSession(c.cli, concurrency.WithLease(grant.ID), concurrency.WithContext(rctx))
	if err != nil {
		return fail(fmt.Errorf("open a session: %w", err))
	}
	l.sess = sess
	me, _ := json.Marshal(Manager{Host: c.o.Host, PID: os.Getpid(), Since: time.Now().UTC()})
	pctx, pcancel := context.WithTimeout(lctx, callTimeout)
	_, err = c.cli.Put(pctx, c.key(app, "managers", c.id), string(me), clientv3.WithLease(grant.ID))
	pcancel()
	if err != nil {
		return fail(fmt.Errorf("register this manager: %w", err))
	}
	l.elec = concurrency.NewElection(sess, c.key(app, "leader"))
	// Campaign blocks while another manager leads; lctx ends it if this
	// manager's own lease can no longer be proved alive meanwhile.
	if err := l.elec.Campaign(lctx, string(me)); err != nil {
		if cause := context.Cause(lctx); cause != nil && !errors.Is(cause, context.Canceled) {
			err = cause
		}
		return fail(fmt.Errorf("campaign: %w", err))
	}
	l.key, l.rev = l.elec.Key(), l.elec.Rev()
	// The election is won when the older keys are gone; prove this one is
	// still there (a lease that expired while waiting took it along).
	if err := l.fenced(lctx); err != nil {
		return fail(err)
	}
	entries, err := c.journal(lctx, app)
	if err != nil {
		return fail(err)
	}
	l.seq = len(entries)
	return l, nil
}

// renew renews the lease every TTL/4 and counts the leadership valid
// until the renewal's send time plus 3/4 of the TTL.
func (l *leadership) renew(ctx context.Context, id clientv3.LeaseID) {
	ttl := l.c.o.TTL
	t := time.NewTicker(ttl / 4)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		sent := time.Now()
		kctx, cancel := context.WithTimeout(ctx, ttl/4)
		_, err := l.c.cli.KeepAliveOnce(kctx, id)
		cancel()
		switch {
		case err == nil:
			l.renewed(sent)
		case errors.Is(err, rpctypes.ErrLeaseNotFound):
			l.lose(fmt.Errorf("%w: the lease expired in etcd", ErrNotLeader))
			return
		case ctx.Err() != nil:
			return
		default:
			l.c.o.Logger.Debug("etcd: lease renewal failed", "app", l.app, "error", err)
		}
	}
}

// renewed extends the validity from a renewal sent at sent.
func (l *leadership) renewed(sent time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lost != nil {
		return
	}
	l.validTill = sent.Add(l.c.o.TTL * 3 / 4)
	d := time.Until(l.validTill)
	if l.timer == nil {
		l.timer = time.AfterFunc(d, l.expire)
	} else {
		l.timer.Reset(d)
	}
}

// expire runs when the validity passed without a renewal.
func (l *leadership) expire() {
	l.mu.Lock()
	late := time.Now().After(l.validTill)
	since := l.validTill.Add(-l.c.o.TTL * 3 / 4)
	l.mu.Unlock()
	if late {
		l.lose(fmt.Errorf("%w: etcd has not renewed the lease since %s (TTL %s)", ErrNotLeader, since.Format("15:04:05.000"), l.c.o.TTL))
	}
}

// lose ends the leadership with a cause, once.
func (l *leadership) lose(cause error) {
	l.mu.Lock()
	first := l.lost == nil
	if first {
		l.lost = cause
	}
	l.mu.Unlock()
	if first {
		if l.key != "" {
			l.c.o.Logger.Warn("leadership lost: not acting on the cluster any more", "app", l.app, "reason", cause)
		}
		l.cancel(cause)
	}
}

// check is the local half of the fencing token: nil while the lease is
// surely alive.
func (l *leadership) check() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lost != nil {
		return l.lost
	}
	if time.Now().After(l.validTill) {
		return fmt.Errorf("%w: the lease is not surely renewed", ErrNotLeader)
	}
	return nil
}

// fenced runs ops in one transaction that succeeds only while the leader
// key has this leadership's create revision.
func (l *leadership) fenced(ctx context.Context, ops ...clientv3.Op) error {
	if err := l.check(); err != nil {
		return err
	}
	tctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	resp, err := l.c.cli.Txn(tctx).If(clientv3.Compare(clientv3.CreateRevision(l.key), "=", l.rev)).Then(ops...).Commit()
	if err != nil {
		return fmt.Errorf("etcd: %w", err)
	}
	if !resp.Succeeded {
		err := fmt.Errorf("%w: the leader key %s is gone", ErrNotLeader, l.key)
		l.lose(err)
		return err
	}
	return nil
}

// release resigns and revokes the lease; the context ends.
func (l *leadership) release() {
	l.once.Do(func() {
		l.mu.Lock()
		lostBefore := l.lost != nil
		l.mu.Unlock()
		l.lose(fmt.Errorf("%w: resigned", ErrNotLeader))
		l.mu.Lock()
		if l.timer != nil {
			l.timer.Stop()
		}
		l.mu.Unlock()
		// A leadership already lost was most likely lost to an etcd out of
		// reach: do not hold the caller long for a resignation that cannot
		// arrive (the lease expires by itself).
		limit := callTimeout
		if lostBefore {
			limit = time.Second
		}
		ctx, cancel := context.WithTimeout(context.Background(), limit)
		if l.key != "" {
			_ = l.elec.Resign(ctx)
		}
		// Revoking the lease frees the election at once (Session.Close
		// would wait up to its default TTL of a minute on a dead etcd).
		if l.sess != nil {
			l.sess.Orphan()
		}
		_, _ = l.c.cli.Revoke(ctx, l.lease)
		cancel()
		l.stop()
		l.c.mu.Lock()
		if l.c.leads[l.app] == l {
			delete(l.c.leads, l.app)
		}
		l.c.mu.Unlock()
	})
}
