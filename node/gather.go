package node

import (
	"context"
	"sync"

	"github.com/gomha/gomha/topology"
)

// Target is one configured server with the credentials to read it.
type Target struct {
	Server topology.Server
	MySQL  MySQLConfig
}

// GatherSnapshot reads every target in parallel. A server that cannot be
// read appears in the snapshot with its classified error; gathering never
// fails as a whole, so that the analysis can name every problem at once.
func GatherSnapshot(ctx context.Context, targets []Target) *topology.Snapshot {
	snap := &topology.Snapshot{Nodes: make([]*topology.Node, len(targets))}
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := &topology.Node{Server: t.Server}
			n.Status, n.Err = readOne(ctx, t)
			snap.Nodes[i] = n
		}()
	}
	wg.Wait()
	return snap
}

func readOne(ctx context.Context, t Target) (*topology.Status, error) {
	cfg := t.MySQL
	cfg.Key = t.Server.Key()
	s, err := OpenMySQL(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	return s.Discover(ctx)
}
