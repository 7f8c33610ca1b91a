package etcdcoord

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/gomha/gomha/coord"
)

// Cluster is what one manager may do to one cluster in etcd: everything
// that changes the cluster's shared state is fenced by the leadership.
type Cluster struct {
	c   *Coordinator
	app string
}

// Cluster returns app's operations for this manager.
func (c *Coordinator) Cluster(app string) *Cluster { return &Cluster{c: c, app: app} }

func (cl *Cluster) lead() (*leadership, error) {
	cl.c.mu.Lock()
	l := cl.c.leads[cl.app]
	cl.c.mu.Unlock()
	if l == nil {
		return nil, fmt.Errorf("%s: %w", cl.app, ErrNotLeader)
	}
	return l, nil
}

// Check returns nil while this manager surely leads the cluster.
func (cl *Cluster) Check(context.Context) error {
	l, err := cl.lead()
	if err != nil {
		return err
	}
	if err := l.check(); err != nil {
		return fmt.Errorf("%s: %w", cl.app, err)
	}
	return nil
}

// Journal reads the cluster's failover journal (empty: no failover runs
// or was left half-done).
func (cl *Cluster) Journal(ctx context.Context) ([]coord.Entry, error) {
	return cl.c.journal(ctx, cl.app)
}

// Append records a step in the journal, in the transaction that proves
// this manager still leads.
func (cl *Cluster) Append(ctx context.Context, e coord.Entry) error {
	l, err := cl.lead()
	if err != nil {
		return err
	}
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	if e.PID == 0 {
		e.PID = os.Getpid()
	}
	if e.Host == "" {
		e.Host = cl.c.o.Host
	}
	data, err := json.Marshal(e)
	if err != nil {
		return err
	}
	// Parallel steps (every replica repointed at once) append together:
	// one at a time, so that each gets its own sequence number.
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	if err := l.fenced(ctx, clientv3.OpPut(cl.c.key(cl.app, "journal", fmt.Sprintf("%08d", l.seq)), string(data))); err != nil {
		return fmt.Errorf("%s: record %q: %w", cl.app, e.Step, err)
	}
	l.seq++
	return nil
}

// FinishJournal closes the journal: its entries move to journal-done in
// one fenced transaction.
func (cl *Cluster) FinishJournal(ctx context.Context) error {
	l, err := cl.lead()
	if err != nil {
		return err
	}
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	entries, err := cl.Journal(ctx)
	if err != nil {
		return err
	}
	if len(entries) == 0 {
		return nil
	}
	done, err := json.Marshal(entries)
	if err != nil {
		return err
	}
	if err := l.fenced(ctx, clientv3.OpPut(cl.c.key(cl.app, "journal-done"), string(done)),
		clientv3.OpDelete(cl.c.key(cl.app, "journal")+"/", clientv3.WithPrefix())); err != nil {
		return fmt.Errorf("%s: close the failover journal: %w", cl.app, err)
	}
	l.seq = 0
	return nil
}

// Publish stores what the leader knows under state/<name>, fenced: a
// deposed manager never overwrites its successor's state.
func (cl *Cluster) Publish(ctx context.Context, name string, data []byte) error {
	l, err := cl.lead()
	if err != nil {
		return err
	}
	return l.fenced(ctx, clientv3.OpPut(cl.c.key(cl.app, "state", name), string(data)))
}

// Unpublish removes state/<name>, fenced like Publish.
func (cl *Cluster) Unpublish(ctx context.Context, name string) error {
	l, err := cl.lead()
	if err != nil {
		return err
	}
	return l.fenced(ctx, clientv3.OpDelete(cl.c.key(cl.app, "state", name)))
}

// Published reads state/<name> (nil when nothing was published).
func (cl *Cluster) Published(ctx context.Context, name string) ([]byte, error) {
	resp, err := cl.c.get(ctx, cl.c.key(cl.app, "state", name))
	if err != nil {
		return nil, fmt.Errorf("%s: read %s from etcd: %w", cl.app, name, err)
	}
	if len(resp.Kvs) == 0 {
		return nil, nil
	}
	return resp.Kvs[0].Value, nil
}

// PublishedUnder reads every state/<prefix>/<name>, by name.
func (cl *Cluster) PublishedUnder(ctx context.Context, prefix string) (map[string][]byte, error) {
	base := cl.c.key(cl.app, "state", prefix) + "/"
	resp, err := cl.c.get(ctx, base, clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("%s: read %s from etcd: %w", cl.app, prefix, err)
	}
	out := make(map[string][]byte, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		out[strings.TrimPrefix(string(kv.Key), base)] = kv.Value
	}
	return out, nil
}

// get reads key within callTimeout.
func (c *Coordinator) get(ctx context.Context, key string, opts ...clientv3.OpOption) (*clientv3.GetResponse, error) {
	cli, err := c.client()
	if err != nil {
		return nil, err
	}
	var resp *clientv3.GetResponse
	err = c.call(ctx, func(ctx context.Context) (err error) {
		resp, err = cli.Get(ctx, key, opts...)
		return err
	})
	return resp, err
}

func (c *Coordinator) journal(ctx context.Context, app string) ([]coord.Entry, error) {
	resp, err := c.get(ctx, c.key(app, "journal")+"/", clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend))
	if err != nil {
		return nil, fmt.Errorf("%s: read the failover journal from etcd: %w", app, err)
	}
	out := make([]coord.Entry, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		var e coord.Entry
		if err := json.Unmarshal(kv.Value, &e); err != nil {
			return nil, fmt.Errorf("%s: journal entry %s: %w", app, kv.Key, err)
		}
		out = append(out, e)
	}
	return out, nil
}

// Snapshot is what etcd holds of one cluster, for gomha show on any host.
type Snapshot struct {
	App      string            `json:"app"`
	Leader   *Manager          `json:"leader"`   // nil: no manager leads
	Managers []Manager         `json:"managers"` // every manager campaigning, leader first
	Journal  []coord.Entry     `json:"journal"`  // a failover running or left half-done
	State    map[string][]byte `json:"-"`        // state/<name> as published
}

// Read returns what etcd holds of app.
func (c *Coordinator) Read(ctx context.Context, app string) (Snapshot, error) {
	s := Snapshot{App: app, State: map[string][]byte{}}
	resp, err := c.get(ctx, c.key(app, ""), clientv3.WithPrefix())
	if err != nil {
		return s, fmt.Errorf("%s: read from etcd: %w", app, err)
	}
	var leaderRev int64
	for _, kv := range resp.Kvs {
		k := strings.TrimPrefix(string(kv.Key), c.key(app, ""))
		switch {
		case strings.HasPrefix(k, "leader/"):
			if leaderRev == 0 || kv.CreateRevision < leaderRev {
				var m Manager
				if json.Unmarshal(kv.Value, &m) == nil {
					leaderRev, s.Leader = kv.CreateRevision, &m
				}
			}
		case strings.HasPrefix(k, "managers/"):
			var m Manager
			if json.Unmarshal(kv.Value, &m) == nil {
				s.Managers = append(s.Managers, m)
			}
		case strings.HasPrefix(k, "state/"):
			s.State[strings.TrimPrefix(k, "state/")] = kv.Value
		}
	}
	rank := func(m Manager) string {
		if s.Leader != nil && m.PID == s.Leader.PID && m.Host == s.Leader.Host {
			return "0"
		}
		return fmt.Sprintf("1%s-%010d", m.Host, m.PID)
	}
	sort.Slice(s.Managers, func(i, j int) bool { return rank(s.Managers[i]) < rank(s.Managers[j]) })
	if s.Journal, err = c.journal(ctx, app); err != nil {
		return s, err
	}
	return s, nil
}
