package manager

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/gomha/gomha/manager/config"

	"github.com/gomha/gomha/coord"
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
// the cluster it watches, as the one that failed over does. Deleting the
// key (etcdctl del) gives the server back to the managers once it has
// been rebuilt.
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

// withoutReplaced leaves out of cfg the old masters a failover of any
// manager replaced (published in the coordination).
func withoutReplaced(ctx context.Context, c Coordination, cfg *config.Config, con *Console) (*config.Config, error) {
	rctx, cancel := context.WithTimeout(ctx, publishTimeout)
	defer cancel()
	all, err := c.PublishedUnder(rctx, "replaced")
	if err != nil {
		return cfg, err
	}
	for key, data := range all {
		k, err := topology.ParseKey(key)
		if err != nil {
			continue
		}
		if _, ok := serverByKey(cfg, k.String()); !ok {
			continue
		}
		var r replacedMaster
		_ = json.Unmarshal(data, &r)
		con.Infof("Leaving out %s: a failover by %s replaced it with %s at %s (published in etcd; delete replaced/%s there to give it back).",
			k, r.By, r.NewMaster, r.At.Local().Format(time.DateTime), k)
		cfg = withoutServer(cfg, k)
	}
	return cfg, nil
}
