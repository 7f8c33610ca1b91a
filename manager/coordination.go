package manager

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/gomha/gomha/manager/config"

	"github.com/gomha/gomha/coord"
	"github.com/gomha/gomha/node"
	"github.com/gomha/gomha/topology"
)

// Coordination is what the managers of one cluster share when there are
// several (etcd, package coord/etcdcoord): the right to act, proved with
// every journal entry (the fencing token), the failover journal itself,
// and the state any host can read. Nil: this host alone, the journal in
// manager_workdir.
type Coordination interface {
	// Check returns an error once this manager may no longer act.
	Check(ctx context.Context) error
	// Journal reads the failover journal (empty: none is open).
	Journal(ctx context.Context) ([]coord.Entry, error)
	// Append records a step, atomically with the proof that this manager
	// still leads.
	Append(ctx context.Context, e coord.Entry) error
	// FinishJournal closes the journal of a failover that ended.
	FinishJournal(ctx context.Context) error
	// Publish stores a piece of the manager's state (status, view,
	// master, report) for other hosts.
	Publish(ctx context.Context, name string, data []byte) error
	// Published reads what was published under name (nil: nothing).
	Published(ctx context.Context, name string) ([]byte, error)
	// PublishedUnder reads everything published under prefix/, by the
	// rest of its name.
	PublishedUnder(ctx context.Context, prefix string) (map[string][]byte, error)
	// Unpublish removes what was published under name.
	Unpublish(ctx context.Context, name string) error
}

// publishTimeout bounds one Publish: state for readers is never worth
// delaying the monitor or a failover.
const publishTimeout = 2 * time.Second

// publish stores data under name when there is a coordination; a failure
// is logged by the caller's logger at debug level only (the state is
// refreshed at the next change).
func publish(c Coordination, name string, data []byte) error {
	if c == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), publishTimeout)
	defer cancel()
	return c.Publish(ctx, name, data)
}

// SharedInterruptedDead is the dead master of a failover left half-done
// in the shared journal; zero when there is none.
func SharedInterruptedDead(ctx context.Context, c Coordination) (topology.Key, error) {
	entries, err := c.Journal(ctx)
	if err != nil || len(entries) == 0 {
		return topology.Key{}, err
	}
	return topology.ParseKey(entries[0].Server)
}

// replacedMaster is published under replaced/<host:port> once a failover
// replaced that master: every manager that leads later leaves it out of
// the cluster it watches, as the one that failed over does, until it has
// been rebuilt as a replica of another server of the cluster (then the
// next manager to start gives it back), or the key is deleted (etcdctl
// del).
type replacedMaster struct {
	By        string    `json:"by"` // the manager: "pid 4242 on host mgr1"
	NewMaster string    `json:"new_master"`
	At        time.Time `json:"at"`
}

// publishReplaced records that a failover replaced dead by newMaster.
func publishReplaced(c Coordination, dead topology.Key, newMaster string) error {
	host, _ := os.Hostname()
	data, err := json.Marshal(replacedMaster{By: fmt.Sprintf("pid %d on host %s", os.Getpid(), host), NewMaster: newMaster, At: time.Now().UTC()})
	if err != nil {
		return err
	}
	return publish(c, "replaced/"+dead.String(), data)
}

// rebuiltProbe bounds the look at the replaced masters, which may well be
// down (a host that drops packets answers nothing): they are looked at
// together, and a manager's start never waits on them longer.
const rebuiltProbe = time.Second

// withoutReplaced leaves out of cfg the old masters a failover of any
// manager replaced (published in the coordination), except those rebuilt
// since: a server that replicates, both threads running, from the master
// the last leader published is given back and its key removed. When that
// master cannot be read, nothing is given back this time.
func withoutReplaced(ctx context.Context, c Coordination, cfg *config.Config, con *Console) (*config.Config, error) {
	rctx, cancel := context.WithTimeout(ctx, publishTimeout)
	defer cancel()
	all, err := c.PublishedUnder(rctx, "replaced")
	if err != nil {
		return cfg, err
	}
	type left struct {
		key topology.Key
		srv config.Server
		rec replacedMaster
	}
	var out []left
	for key, data := range all {
		k, err := topology.ParseKey(key)
		if err != nil {
			continue
		}
		if srv, ok := serverByKey(cfg, k.String()); ok {
			var r replacedMaster
			_ = json.Unmarshal(data, &r)
			out = append(out, left{k, srv, r})
		}
	}
	if len(out) == 0 {
		return cfg, nil
	}
	rebuilt := make([]bool, len(out))
	master, known := publishedMaster(ctx, c, cfg)
	if known {
		var wg sync.WaitGroup
		for i, l := range out {
			wg.Go(func() { rebuilt[i] = replicatesFrom(ctx, l.srv, master) })
		}
		wg.Wait()
	}
	for i, l := range out {
		k, r := l.key, l.rec
		if rebuilt[i] {
			uctx, cancel := context.WithTimeout(ctx, publishTimeout)
			err := c.Unpublish(uctx, "replaced/"+k.String())
			cancel()
			if err == nil {
				con.Infof("Giving back %s: a failover by %s replaced it with %s at %s; it has been rebuilt and replicates from %s (removed replaced/%s from etcd).",
					k, r.By, r.NewMaster, r.At.Local().Format(time.DateTime), master.Label(), k)
				continue
			}
			con.Warnf("%s replicates from %s again, but removing replaced/%s from etcd failed (%v): leaving it out.", k, master.Label(), k, err)
		}
		con.Infof("Leaving out %s: a failover by %s replaced it with %s at %s (published in etcd; rebuild it as a replica of the master, or delete replaced/%s there, to give it back).",
			k, r.By, r.NewMaster, r.At.Local().Format(time.DateTime), k)
		cfg = withoutServer(cfg, k)
	}
	return cfg, nil
}

// publishedMaster is the configured server the last leader published as
// the master; false when it cannot be read or is not in cfg.
func publishedMaster(ctx context.Context, c Coordination, cfg *config.Config) (topology.Server, bool) {
	mctx, cancel := context.WithTimeout(ctx, publishTimeout)
	defer cancel()
	data, err := c.Published(mctx, "master")
	if err != nil || data == nil {
		return topology.Server{}, false
	}
	srv, ok := serverByKey(cfg, string(data))
	return TopologyServer(srv), ok
}

// replicatesFrom reports whether s replicates, both threads running, from
// master. Any failure to tell (s down, a slow answer) is a no.
func replicatesFrom(ctx context.Context, s config.Server, master topology.Server) bool {
	pctx, cancel := context.WithTimeout(ctx, rebuiltProbe)
	defer cancel()
	sess, err := node.OpenMySQL(pctx, MySQLConfig(s, rebuiltProbe))
	if err != nil {
		return false
	}
	defer sess.Close()
	io, err := readSlaveStatus(pctx, sess)
	return err == nil && io.hasReplicaRow && io.running == "Yes" && io.sqlRunning && master.Matches(io.host, io.port)
}
