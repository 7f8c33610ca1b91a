package failover

import (
	"fmt"

	"github.com/gomha/gomha/topology"
)

// ordering compares replicas by how much of the dead master's binlog they
// received: by master binlog coordinates in file mode, by GTIDs in GTID
// mode (gtid.go).
type ordering struct {
	mode   Mode
	flavor topology.Flavor
	nodes  []*topology.Node
	dead   *topology.Node

	maria   map[*topology.Node]topology.GTIDPos      // MariaDB: Gtid_IO_Pos, else gtid_current_pos
	domains []uint32                                 // MariaDB: the master's domains
	mysql   map[*topology.Node]topology.MySQLGTIDSet // MySQL: retrieved ∪ executed, source UUIDs only
	exec    map[*topology.Node]topology.MySQLGTIDSet // MySQL: Executed_Gtid_Set
	sources []string                                 // MySQL: UUIDs seen in any Retrieved_Gtid_Set
}

func newOrdering(mode Mode, flavor topology.Flavor, replicas []*topology.Node, dead *topology.Node) (*ordering, error) {
	o := &ordering{mode: mode, flavor: flavor, nodes: replicas, dead: dead}
	if mode != ModeGTID {
		return o, nil
	}
	if flavor == topology.MySQL {
		return o, o.loadMySQL()
	}
	return o, o.loadMaria()
}

// compare returns >0 when a received more of the master's events than b,
// <0 when less, 0 when the same.
func (o *ordering) compare(a, b *topology.Node) (int, error) {
	if o.mode == ModeGTID {
		if o.flavor == topology.MySQL {
			return o.compareMySQL(a, b)
		}
		return o.compareMaria(a, b)
	}
	ra, rb := a.Status.Replica.ReadCoord(), b.Status.Replica.ReadCoord()
	c, err := topology.CompareBinlogCoords(ra, rb)
	if err != nil {
		return 0, fmt.Errorf("%w: %s read up to %s, %s up to %s: %v",
			ErrUnorderedCoords, a.Server.Label(), ra, b.Server.Label(), rb, err)
	}
	return c, nil
}

// extremes returns the latest and the oldest replicas (ties kept, config
// order). Every pair is compared, so a divergence between two replicas that
// are both behind is found too.
func (o *ordering) extremes() (latest, oldest []*topology.Node, err error) {
	n := len(o.nodes)
	greater := make([]bool, n) // some replica is ahead of i
	smaller := make([]bool, n) // some replica is behind i
	for i := 0; i < n; i++ {
		for j := i + 1; j < n; j++ {
			c, err := o.compare(o.nodes[i], o.nodes[j])
			if err != nil {
				return nil, nil, err
			}
			switch {
			case c > 0:
				greater[j], smaller[i] = true, true
			case c < 0:
				greater[i], smaller[j] = true, true
			}
		}
	}
	for i, nd := range o.nodes {
		if !greater[i] {
			latest = append(latest, nd)
		}
		if !smaller[i] {
			oldest = append(oldest, nd)
		}
	}
	return latest, oldest, nil
}

// received describes what a replica received, for plans and salvage.
func (o *ordering) received(n *topology.Node) string {
	switch {
	case o.mode != ModeGTID:
		return n.Status.Replica.ReadCoord().String()
	case o.flavor == topology.MySQL:
		return o.mysql[n].String()
	}
	return o.maria[n].String()
}

// lacks returns what n lacks relative to base: MariaDB per-domain gaps in
// the master's domains, or the MySQL set difference.
func (o *ordering) lacks(n, base *topology.Node) ([]topology.DomainGap, string) {
	if o.flavor == topology.MySQL {
		return nil, o.mysql[base].Subtract(o.mysql[n]).String()
	}
	var out []topology.DomainGap
	for _, g := range o.maria[n].Lacks(o.maria[base]) {
		for _, d := range o.domains {
			if g.Domain == d {
				out = append(out, g)
			}
		}
	}
	return out, ""
}

// checkErrant looks for transactions outside the master's history. In
// GTID mode they would be replicated to (or lost from) the others; in
// file/position mode a promoted replica would serve them to the others and
// a repointed one would keep data nobody else has.
func (o *ordering) checkErrant(latest *topology.Node) error {
	if o.mode != ModeGTID {
		if o.flavor == topology.MariaDB {
			return o.errantLocalMaria()
		}
		return nil
	}
	if o.flavor == topology.MySQL {
		return o.errantMySQL()
	}
	return o.errantMaria(latest)
}
