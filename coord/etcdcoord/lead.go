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
	o  Options
	id string // host-pid, unique per manager process

	cliMu  sync.Mutex
	cli    *clientv3.Client // nil until connected (see client)
	closed bool

	mu    sync.Mutex
	sess  *session               // the lease every campaign of this process uses
	leads map[string]*leadership // app -> current leadership
	said  map[string]string      // app -> last campaign problem logged
}

// New connects to etcd. It does not wait for etcd to answer: a cluster
// without a reachable etcd majority is simply never led (Lead waits).
// With a user, New logs in first (3 s at most) and fails when etcd
// refuses the password; when etcd does not answer, the connection is made
// again by the first call that needs it (Lead keeps trying), as it would
// be for a manager that lost etcd later.
func New(o Options) (*Coordinator, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	c := &Coordinator{o: o, id: fmt.Sprintf("%s-%d", o.Host, os.Getpid()),
		leads: map[string]*leadership{}, said: map[string]string{}}
	cli, err := dial(o)
	switch {
	case err == nil:
		c.cli = cli
	case o.Username != "" && !isEtcdAnswer(err):
		o.Logger.Debug("etcd: no answer to the login yet; trying again when campaigning", "error", err)
	default:
		return nil, err
	}
	return c, nil
}

// client is the connection to etcd, made now if New could not log in.
func (c *Coordinator) client() (*clientv3.Client, error) {
	c.cliMu.Lock()
	defer c.cliMu.Unlock()
	if c.closed {
		return nil, errors.New("etcd: connection closed")
	}
	if c.cli == nil {
		cli, err := dial(c.o)
		if err != nil {
			return nil, err
		}
		c.cli = cli
	}
	return c.cli, nil
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
	c.mu.Lock()
	sess := c.sess
	c.mu.Unlock()
	if sess != nil {
		sess.close()
	}
	c.cliMu.Lock()
	defer c.cliMu.Unlock()
	c.closed = true
	if c.cli == nil {
		return nil
	}
	return c.cli.Close()
}

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
// it returns an error only when ctx ends: ctx's error, with the last
// problem that kept this manager from campaigning (etcd not reached over
// TLS, a permission denied), if any.
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
			return nil, nil, c.gaveUp(ctx, app, err)
		}
		c.mu.Lock()
		if c.said[app] != err.Error() {
			c.said[app] = err.Error()
			c.o.Logger.Warn("etcd: cannot campaign for leadership; no failover of this cluster from here until it can", "app", app, "error", err)
		}
		c.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, nil, c.gaveUp(ctx, app, nil)
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// gaveUp is Lead's error once ctx ended: ctx's error and the last problem,
// that of the campaign ctx ended (err) unless it was only waiting (for
// another manager's leadership, or for etcd without saying why), else the
// last one logged.
func (c *Coordinator) gaveUp(ctx context.Context, app string, err error) error {
	var last string
	var unreached *unreachableError
	if err != nil && (errors.As(err, &unreached) || !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled)) {
		last = err.Error()
	} else {
		c.mu.Lock()
		last = c.said[app]
		c.mu.Unlock()
	}
	if last == "" {
		return ctx.Err()
	}
	return fmt.Errorf("%w before leading %s; last problem: %s", ctx.Err(), app, last)
}

// session is the lease this manager process campaigns with for all its
// clusters (one renewal stream, however many clusters), and how long it
// surely lives.
type session struct {
	c      *Coordinator
	cli    *clientv3.Client
	lease  clientv3.LeaseID
	cs     *concurrency.Session
	ctx    context.Context // ends when the lease may have expired
	cancel context.CancelCauseFunc
	stop   context.CancelFunc // ends the renewal loop

	mu        sync.Mutex
	validTill time.Time
	timer     *time.Timer
	lost      error
	once      sync.Once
}

// session returns the live session, granting a new lease when there is
// none or the last one was lost.
func (c *Coordinator) session(ctx context.Context) (*session, error) {
	c.mu.Lock()
	cur := c.sess
	c.mu.Unlock()
	if cur != nil && cur.check() == nil {
		return cur, nil
	}
	cli, err := c.client()
	if err != nil {
		return nil, err
	}
	ttl := c.o.TTL
	sent := time.Now()
	var grant *clientv3.LeaseGrantResponse
	err = c.call(ctx, func(ctx context.Context) (err error) {
		grant, err = cli.Grant(ctx, int64(ttl/time.Second))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("grant a %s lease: %w", ttl, err)
	}
	sctx, scancel := context.WithCancelCause(context.Background())
	rctx, rstop := context.WithCancel(context.Background())
	s := &session{c: c, cli: cli, lease: grant.ID, ctx: sctx, cancel: scancel, stop: rstop}
	s.renewed(sent)
	go s.renew(rctx)
	cs, err := concurrency.NewSession(cli, concurrency.WithLease(grant.ID), concurrency.WithContext(rctx))
	if err != nil {
		s.close()
		return nil, fmt.Errorf("open a session: %w", err)
	}
	s.mu.Lock()
	s.cs = cs
	s.mu.Unlock()
	c.mu.Lock()
	if c.sess != nil && c.sess.check() == nil { // another campaign made one meanwhile
		other := c.sess
		c.mu.Unlock()
		s.close()
		return other, nil
	}
	c.sess = s
	c.mu.Unlock()
	return s, nil
}

// renew renews the lease every TTL/6 (so that several attempts fit in the
// validity while etcd elects a new leader of its own); the session is
// valid until the last renewal's send time plus 3/4 of the TTL.
func (s *session) renew(ctx context.Context) {
	ttl := s.c.o.TTL
	t := time.NewTicker(ttl / 6)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		sent := time.Now()
		kctx, cancel := context.WithTimeout(ctx, ttl/6)
		_, err := s.cli.KeepAliveOnce(kctx, s.lease)
		cancel()
		switch {
		case err == nil:
			s.renewed(sent)
		case errors.Is(err, rpctypes.ErrLeaseNotFound):
			s.lose(fmt.Errorf("%w: the lease expired in etcd", ErrNotLeader))
			return
		case ctx.Err() != nil:
			return
		default:
			s.c.o.Logger.Debug("etcd: lease renewal failed", "error", err)
		}
	}
}

// renewed extends the validity from a renewal sent at sent.
func (s *session) renewed(sent time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lost != nil {
		return
	}
	s.validTill = sent.Add(s.c.o.TTL * 3 / 4)
	d := time.Until(s.validTill)
	if s.timer == nil {
		s.timer = time.AfterFunc(d, s.expire)
	} else {
		s.timer.Reset(d)
	}
}

// expire runs when the validity passed without a renewal.
func (s *session) expire() {
	s.mu.Lock()
	late := time.Now().After(s.validTill)
	since := s.validTill.Add(-s.c.o.TTL * 3 / 4)
	s.mu.Unlock()
	if late {
		s.lose(fmt.Errorf("%w: etcd has not renewed the lease since %s (TTL %s)", ErrNotLeader, since.Format("15:04:05.000"), s.c.o.TTL))
	}
}

// lose ends the session with a cause, once. Its renewals stop for good
// (concurrency.Session's own keepalive included): a lease this manager no
// longer counts on must expire, or its old leader keys would hold every
// later campaign back once etcd answers again.
func (s *session) lose(cause error) {
	s.mu.Lock()
	first := s.lost == nil
	if first {
		s.lost = cause
		if s.timer != nil {
			s.timer.Stop()
		}
	}
	s.mu.Unlock()
	if first {
		s.cancel(cause)
		s.stop()
		go s.close() // revoke it if etcd still answers
	}
}

// check is nil while the lease surely lives.
func (s *session) check() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lost != nil {
		return s.lost
	}
	if time.Now().After(s.validTill) {
		return fmt.Errorf("%w: the lease is not surely renewed", ErrNotLeader)
	}
	return nil
}

// close revokes the lease (every election it holds ends at once).
func (s *session) close() {
	s.once.Do(func() {
		s.mu.Lock()
		lostBefore := s.lost != nil
		s.mu.Unlock()
		s.lose(fmt.Errorf("%w: resigned", ErrNotLeader))
		// A lease already lost was most likely lost to an etcd out of
		// reach: do not hold the caller long for a revocation that cannot
		// arrive (the lease expires by itself).
		limit := callTimeout
		if lostBefore {
			limit = time.Second
		}
		ctx, cancel := context.WithTimeout(context.Background(), limit)
		s.mu.Lock()
		cs := s.cs
		s.mu.Unlock()
		if cs != nil {
			cs.Orphan()
		}
		_, _ = s.cli.Revoke(ctx, s.lease)
		cancel()
	})
}

// leadership is one won election.
type leadership struct {
	c      *Coordinator
	app    string
	sess   *session
	elec   *concurrency.Election
	key    string // the leader key
	rev    int64  // its create revision: the fencing token
	ctx    context.Context
	cancel context.CancelCauseFunc

	mu   sync.Mutex
	lost error
	once sync.Once

	appendMu sync.Mutex // serialises journal writes; guards seq
	seq      int        // next journal sequence number
}

// campaign campaigns for app on the process's session until elected.
func (c *Coordinator) campaign(ctx context.Context, app string) (*leadership, error) {
	sess, err := c.session(ctx)
	if err != nil {
		return nil, err
	}
	lctx, lcancel := context.WithCancelCause(ctx)
	stopAfter := context.AfterFunc(sess.ctx, func() { lcancel(context.Cause(sess.ctx)) })
	l := &leadership{c: c, app: app, sess: sess, ctx: lctx, cancel: func(err error) { stopAfter(); lcancel(err) }}
	fail := func(err error) (*leadership, error) {
		l.release()
		return nil, err
	}
	me, _ := json.Marshal(Manager{Host: c.o.Host, PID: os.Getpid(), Since: time.Now().UTC()})
	err = c.call(lctx, func(ctx context.Context) error {
		_, err := sess.cli.Put(ctx, c.key(app, "managers", c.id), string(me), clientv3.WithLease(sess.lease))
		return err
	})
	if err != nil {
		return fail(fmt.Errorf("register this manager: %w", err))
	}
	l.elec = concurrency.NewElection(sess.cs, c.key(app, "leader"))
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
// surely alive and the leadership not given up.
func (l *leadership) check() error {
	if err := l.sess.check(); err != nil {
		l.lose(err)
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lost
}

// fenced runs ops in one transaction that succeeds only while the leader
// key has this leadership's create revision.
func (l *leadership) fenced(ctx context.Context, ops ...clientv3.Op) error {
	if err := l.check(); err != nil {
		return err
	}
	var resp *clientv3.TxnResponse
	err := l.c.call(ctx, func(ctx context.Context) (err error) {
		resp, err = l.sess.cli.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(l.key), "=", l.rev)).Then(ops...).Commit()
		return err
	})
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

// release resigns (deletes the leader key: a follower is elected at once)
// and ends the context. The session stays for the process's other
// clusters.
func (l *leadership) release() {
	l.once.Do(func() {
		l.mu.Lock()
		lostBefore := l.lost != nil
		l.mu.Unlock()
		l.lose(fmt.Errorf("%w: resigned", ErrNotLeader))
		limit := callTimeout
		if lostBefore || l.sess.check() != nil {
			limit = time.Second
		}
		ctx, cancel := context.WithTimeout(context.Background(), limit)
		if l.key != "" {
			_ = l.elec.Resign(ctx)
		}
		cancel()
		l.c.mu.Lock()
		if l.c.leads[l.app] == l {
			delete(l.c.leads, l.app)
		}
		l.c.mu.Unlock()
	})
}
