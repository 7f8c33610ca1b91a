package manager

import (
	"context"
	"time"

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
