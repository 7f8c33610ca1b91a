package etcdsandbox

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// readyKey is the key WaitReady writes to prove the cluster takes writes.
const readyKey = "/gomha-etcdsandbox/ready"

// client opens a client on every member, over TLS with the client
// certificate when the members require it. It dials lazily, so it cannot
// fail on a member that is down; with asRoot (once EnableAuth ran) it logs
// in as root, which takes a quorum: status calls go without.
func (c *Cluster) client(asRoot bool) (*clientv3.Client, error) {
	cfg := clientv3.Config{Endpoints: c.Endpoints(), DialTimeout: callTimeout, Logger: zap.NewNop()}
	t, err := c.tlsConfig()
	if err != nil {
		return nil, err
	}
	cfg.TLS = t
	if pw := c.rootPassword(); asRoot && pw != "" {
		cfg.Username, cfg.Password = "root", pw
	}
	cli, err := clientv3.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("etcd client for %v: %w", c.Endpoints(), err)
	}
	return cli, nil
}

// withDefaultDeadline bounds ctx by d when it has no deadline of its own.
func withDefaultDeadline(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}

// WaitReady waits until the cluster has a leader and takes a write (60 s
// when ctx has no deadline). It fails at once when a member this process
// started exits, naming it and the end of its log.
func (c *Cluster) WaitReady(ctx context.Context) error {
	ctx, cancel := withDefaultDeadline(ctx, readyTimeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last error
	for attempt := 1; ; attempt++ {
		for i := range c.Members {
			if err := c.exitedErr(i); err != nil {
				return err
			}
		}
		// A client per attempt: one that dialled a member before it
		// listened would wait out gRPC's reconnect backoff (1 s, then more).
		// Short attempts first: a member that listens before it serves
		// holds a call until its deadline.
		if last = c.putReady(ctx, min(time.Duration(attempt)*250*time.Millisecond, callTimeout)); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no write taken by %v: %w (last: %v; %s)", c.Endpoints(), ctx.Err(), last, c.describe())
		case <-tick.C:
		}
	}
}

// putReady writes readyKey within d.
func (c *Cluster) putReady(ctx context.Context, d time.Duration) error {
	cli, err := c.client(true)
	if err != nil {
		return err
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	_, err = cli.Put(ctx, readyKey, time.Now().UTC().Format(time.RFC3339Nano))
	return err
}

// describe says, for an error, which members run and where their logs are.
func (c *Cluster) describe() string {
	parts := make([]string, len(c.Members))
	for i, m := range c.Members {
		state := "down"
		if c.Running(i) {
			state = fmt.Sprintf("pid %d", c.PID(i))
		}
		parts[i] = fmt.Sprintf("%s %s %s, log %s: %s", m.Name, m.Addr, state, m.LogPath, logTail(m.LogPath))
	}
	return strings.Join(parts, "; ")
}

// waitMember waits until member i serves clients and knows a leader.
func (c *Cluster) waitMember(ctx context.Context, i int) error {
	ctx, cancel := withDefaultDeadline(ctx, readyTimeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last error
	for attempt := 1; ; attempt++ {
		if err := c.exitedErr(i); err != nil {
			return err
		}
		// As in WaitReady: a fresh client, short calls first.
		if last = c.memberStatus(ctx, i, min(time.Duration(attempt)*250*time.Millisecond, callTimeout)); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not serving: %w (last: %v): %s", ctx.Err(), last, logTail(c.Members[i].LogPath))
		case <-tick.C:
		}
	}
}

// memberStatus asks member i for its status within d: nil when it answers
// and names a leader.
func (c *Cluster) memberStatus(ctx context.Context, i int, d time.Duration) error {
	cli, err := c.client(false)
	if err != nil {
		return err
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	st, err := cli.Status(ctx, c.Members[i].ClientURL)
	if err != nil {
		return err
	}
	if st.Leader == 0 {
		return ErrNoLeader
	}
	return nil
}

// Leader returns the index of the leader: the member that a quorum of
// members answering a status call (1 s each; members whose process is not
// running are not asked) names as leader, and that answers itself. ErrNoLeader otherwise, for example just after the leader
// was killed and before another is elected.
func (c *Cluster) Leader(ctx context.Context) (int, error) {
	cli, err := c.client(false)
	if err != nil {
		return -1, err
	}
	defer cli.Close()
	views := make([]memberView, len(c.Members))
	done := make(chan struct{})
	for i, m := range c.Members {
		go func() {
			defer func() { done <- struct{}{} }()
			if !c.Running(i) { // no call: a refused dial waits out the deadline
				views[i].Err = fmt.Errorf("%s (%s): not running", m.Name, m.Addr)
				return
			}
			sctx, cancel := context.WithTimeout(ctx, callTimeout)
			defer cancel()
			st, err := cli.Status(sctx, m.ClientURL)
			if err != nil {
				views[i].Err = fmt.Errorf("%s (%s): %w", m.Name, m.Addr, err)
				return
			}
			views[i] = memberView{ID: st.Header.MemberId, Leader: st.Leader}
		}()
	}
	for range c.Members {
		<-done
	}
	return leaderOf(views)
}

// memberView is one member's answer to a status call.
type memberView struct {
	ID, Leader uint64
	Err        error
}

// leaderOf decides from the members' answers: the index of the member that
// answered and that a quorum of answers names as leader.
func leaderOf(views []memberView) (int, error) {
	quorum := len(views)/2 + 1
	votes := map[uint64]int{}
	var errs []error
	for _, v := range views {
		if v.Err != nil {
			errs = append(errs, v.Err)
			continue
		}
		if v.Leader != 0 {
			votes[v.Leader]++
		}
	}
	for i, v := range views {
		if v.Err == nil && v.ID != 0 && votes[v.ID] >= quorum {
			return i, nil
		}
	}
	if len(errs) > 0 {
		return -1, fmt.Errorf("%w: %d of %d members answered: %w", ErrNoLeader, len(views)-len(errs), len(views), errors.Join(errs...))
	}
	return -1, ErrNoLeader
}

// WaitLeader polls Leader every 50 ms until there is one or ctx ends.
func (c *Cluster) WaitLeader(ctx context.Context) (int, error) {
	ctx, cancel := withDefaultDeadline(ctx, readyTimeout)
	defer cancel()
	for {
		i, err := c.Leader(ctx)
		if err == nil {
			return i, nil
		}
		select {
		case <-ctx.Done():
			return -1, fmt.Errorf("wait for an etcd leader: %w (last: %v)", ctx.Err(), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
