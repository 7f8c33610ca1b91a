package etcdsandbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/gomha/gomha/sandbox/internal/dirstate"
	"github.com/gomha/gomha/sandbox/internal/proc"
)

// Sentinel errors callers can test with errors.Is.
var (
	// ErrAddrInUse means a member's address and port are taken by a
	// process this cluster did not start.
	ErrAddrInUse = errors.New("address in use")
	// ErrNotSandbox means Dir is not empty and holds no etcd.json, or
	// holds one for other addresses or ports.
	ErrNotSandbox = errors.New("directory holds no etcd sandbox of these members")
	// ErrNoLeader means the members that answer agree on no live leader.
	ErrNoLeader = errors.New("no etcd leader")
	// ErrUnknownMember means a member index is out of range.
	ErrUnknownMember = errors.New("unknown etcd member")
)

// Fixed limits of the harness: every call to etcd or wait has a deadline
// even when the caller's context has none.
const (
	callTimeout  = time.Second      // one Status or Put
	readyTimeout = 60 * time.Second // Up and Start, when ctx has no deadline
	stopGrace    = 10 * time.Second // SIGTERM to SIGKILL
)

// Cluster is a running (or stopped) etcd sandbox. Fields are fixed after Up;
// the process ids are the small mutable state, guarded by mu.
type Cluster struct {
	Dir           string
	Members       []Member
	Token         string // --initial-cluster-token, from Dir
	FirewallChain string // this sandbox's chain in nft table inet gomha_sandbox
	Binary        string
	UpDuration    time.Duration // from Up's call until the cluster took a write

	timing timing
	tied   bool
	logger *slog.Logger

	mu     sync.Mutex
	pids   []int
	exited []<-chan struct{} // nil for a member this process did not start

	saveMu sync.Mutex
}

// Up starts the members that are not running, each its own /usr/bin/etcd
// process on its own address, and waits until the cluster has a leader and
// takes a write. A fresh Dir gets a new cluster (static initial cluster);
// a Dir left by Down restarts that cluster on its data. On failure the
// members it started are stopped again.
func Up(ctx context.Context, opts Options) (*Cluster, error) {
	start := time.Now()
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	c, err := prepare(o)
	if err != nil {
		return nil, err
	}
	var fresh []int
	for i := range c.Members {
		if c.Running(i) {
			continue
		}
		if err := c.startProcess(i); err != nil {
			c.stopAll(fresh)
			return nil, err
		}
		fresh = append(fresh, i)
	}
	if err := c.save(); err != nil {
		c.stopAll(fresh)
		return nil, err
	}
	if err := c.WaitReady(ctx); err != nil {
		c.stopAll(fresh)
		return nil, fmt.Errorf("etcd sandbox up in %s: %w", c.Dir, err)
	}
	c.UpDuration = time.Since(start)
	if err := c.save(); err != nil {
		return nil, err
	}
	c.logger.Info("etcd sandbox up", "dir", c.Dir, "members", len(c.Members), "endpoints", c.Endpoints(), "duration", c.UpDuration.Round(time.Millisecond))
	return c, nil
}

// prepare creates Dir, or loads the cluster it holds, and checks that no
// other process holds the addresses of the members not running.
func prepare(o Options) (*Cluster, error) {
	want := o.members()
	var c *Cluster
	fresh := false
	if r, err := readRecord(o.Dir); err == nil {
		c = fromRecord(r, o.Logger)
		if !slices.Equal(c.Members, want) {
			return nil, fmt.Errorf("etcd sandbox in %s: it has members %v, asked for %v: %w", o.Dir, c.Endpoints(), urls(want), ErrNotSandbox)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	} else {
		ents, err := os.ReadDir(o.Dir)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("etcd sandbox: read %s: %w", o.Dir, err)
		}
		if len(ents) > 0 {
			return nil, fmt.Errorf("etcd sandbox: %s is not empty: %w", o.Dir, ErrNotSandbox)
		}
		fresh = true
		id := dirstate.ID(o.Dir)
		c = &Cluster{
			Dir: o.Dir, Members: want, Token: "gomha-etcdsandbox-" + id,
			FirewallChain: "etcd_" + id, logger: o.Logger,
			pids: make([]int, len(want)), exited: make([]<-chan struct{}, len(want)),
		}
	}
	c.Binary = o.Binary
	c.tied = o.tied
	c.timing = timing{HeartbeatMS: o.HeartbeatInterval.Milliseconds(), ElectionMS: o.ElectionTimeout.Milliseconds()}
	for i, m := range c.Members {
		if c.Running(i) {
			continue
		}
		for _, u := range []string{m.ClientURL, m.PeerURL} {
			if err := free(hostPort(u)); err != nil {
				return nil, fmt.Errorf("etcd sandbox member %s: %w", m.Name, err)
			}
		}
		if err := os.MkdirAll(m.Dir, 0o700); err != nil {
			return nil, fmt.Errorf("etcd sandbox member %s: %w", m.Name, err)
		}
	}
	if fresh && o.TLS {
		if err := writeTLS(o.Dir, c.Members); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// free says whether addr can be listened on now.
func free(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("listen on %s: %w", addr, ErrAddrInUse)
		}
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	return l.Close()
}

func urls(ms []Member) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ClientURL
	}
	return out
}

// Endpoints are the members' client URLs, for clientv3.Config.Endpoints.
func (c *Cluster) Endpoints() []string { return urls(c.Members) }

// Member returns member i (0-based, in Members order: etcd1 is 0). It
// panics when i is out of range, as indexing Members would.
func (c *Cluster) Member(i int) Member { return c.Members[i] }

// PID is the recorded process id of member i, 0 when it is not running.
func (c *Cluster) PID(i int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if i < 0 || i >= len(c.pids) {
		return 0
	}
	return c.pids[i]
}

// Running says whether member i's recorded process still runs.
func (c *Cluster) Running(i int) bool {
	if i < 0 || i >= len(c.Members) {
		return false
	}
	return proc.Ours(c.PID(i), c.Members[i].marker())
}

// SetLogger replaces the logger (Open's discards).
func (c *Cluster) SetLogger(l *slog.Logger) { c.logger = l }

func (c *Cluster) member(i int) (Member, error) {
	if i < 0 || i >= len(c.Members) {
		return Member{}, fmt.Errorf("etcd sandbox member %d of %d: %w", i, len(c.Members), ErrUnknownMember)
	}
	return c.Members[i], nil
}

// stopAll SIGKILLs the given members, after a failed Up.
func (c *Cluster) stopAll(idx []int) {
	ctx, cancel := context.WithTimeout(context.Background(), stopGrace)
	defer cancel()
	for _, i := range idx {
		_ = c.signal(ctx, i, syscall.SIGKILL)
	}
	_ = c.save()
}

// Down stops every member and removes the Cut rules; data dirs stay, so Up
// on Dir starts the same cluster again. Members get SIGTERM (SIGKILL after
// 10 s), the leader last: stopped first, it would spend etcd's 7 s trying to
// hand its leadership to a follower that is stopping too.
func (c *Cluster) Down(ctx context.Context) error {
	lctx, cancel := context.WithTimeout(ctx, callTimeout)
	leader, _ := c.Leader(lctx)
	cancel()
	errs := make([]error, len(c.Members))
	var wg sync.WaitGroup
	for i := range c.Members {
		if i != leader {
			wg.Go(func() { errs[i] = c.signal(ctx, i, syscall.SIGTERM) })
		}
	}
	wg.Wait()
	if leader >= 0 {
		errs[leader] = c.signal(ctx, leader, syscall.SIGTERM)
	}
	errs = append(errs, c.removeFirewall(ctx), c.save())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("etcd sandbox down in %s: %w", c.Dir, err)
	}
	c.logger.Info("etcd sandbox down", "dir", c.Dir)
	return nil
}

// Destroy SIGKILLs every member, removes the Cut rules and removes Dir.
func (c *Cluster) Destroy(ctx context.Context) error {
	errs := make([]error, len(c.Members))
	var wg sync.WaitGroup
	for i := range c.Members {
		wg.Go(func() { errs[i] = c.signal(ctx, i, syscall.SIGKILL) })
	}
	wg.Wait()
	errs = append(errs, c.removeFirewall(ctx))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("etcd sandbox destroy in %s: %w", c.Dir, err)
	}
	if err := os.RemoveAll(c.Dir); err != nil {
		return fmt.Errorf("etcd sandbox: remove %s: %w", c.Dir, err)
	}
	c.logger.Info("etcd sandbox destroyed", "dir", c.Dir)
	return nil
}
