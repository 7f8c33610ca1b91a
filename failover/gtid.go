package failover

import (
	"fmt"
	"slices"

	"github.com/gomha/gomha/topology"
)

// loadMaria parses what each MariaDB replica received from the master:
// Gtid_IO_Pos (what its IO thread wrote to the relay log), or
// gtid_current_pos when the IO position is empty. The master's domains are
// those that reached any replica through replication (Gtid_IO_Pos and
// gtid_slave_pos), so a replica's local domain does not make it "later".
func (o *ordering) loadMaria() error {
	o.maria = map[*topology.Node]topology.GTIDPos{}
	var viaRepl []topology.GTIDPos
	for _, n := range o.nodes {
		st := n.Status
		io, err := topology.ParseGTIDPos(st.Replica.GTIDIOPos)
		if err != nil {
			return fmt.Errorf("Gtid_IO_Pos of %s: %w", n.Server.Label(), err)
		}
		slave, err := topology.ParseGTIDPos(st.GTIDSlavePos)
		if err != nil {
			return fmt.Errorf("gtid_slave_pos of %s: %w", n.Server.Label(), err)
		}
		recv := io
		if len(io) == 0 {
			if recv, err = topology.ParseGTIDPos(st.GTIDCurrentPos); err != nil {
				return fmt.Errorf("gtid_current_pos of %s: %w", n.Server.Label(), err)
			}
		}
		o.maria[n] = recv
		viaRepl = append(viaRepl, io, slave)
	}
	o.domains = topology.UnionGTIDDomains(viaRepl...)
	if len(o.domains) == 0 {
		var all []topology.GTIDPos
		for _, p := range o.maria {
			all = append(all, p)
		}
		o.domains = topology.UnionGTIDDomains(all...)
	}
	return nil
}

// compareMaria orders two MariaDB replicas in the master's domains. The
// same seq under two server_ids, or one replica ahead in one domain and
// behind in another, means their histories cannot be ordered.
func (o *ordering) compareMaria(a, b *topology.Node) (int, error) {
	c := topology.CompareGTIDPos(o.maria[a], o.maria[b], o.domains)
	switch c.Order {
	case topology.GTIDAhead:
		return 1, nil
	case topology.GTIDBehind:
		return -1, nil
	case topology.GTIDEqual:
		return 0, nil
	}
	detail := fmt.Sprintf("both wrote seq %d in domain %d under different server_ids: alternate histories", c.A.Seq, c.Domain)
	aGTID, bGTID := c.A.String(), c.B.String()
	if c.Order == topology.GTIDIncomparable {
		detail = fmt.Sprintf("%s is ahead in domain %d but behind in another: neither received a prefix of the other's stream",
			a.Server.Label(), c.Domain)
		aGTID, bGTID = o.maria[a].String(), o.maria[b].String()
	}
	return 0, &DivergenceError{A: a.Key(), B: b.Key(), AGTID: aGTID, BGTID: bGTID, Detail: detail}
}

// loadMySQL parses what each MySQL replica received: Retrieved_Gtid_Set ∪
// Executed_Gtid_Set, restricted to the source UUIDs (those in any replica's
// Retrieved_Gtid_Set, or with transactions every replica executed) so that
// a replica's own writes do not make it later.
func (o *ordering) loadMySQL() error {
	o.mysql = map[*topology.Node]topology.MySQLGTIDSet{}
	o.exec = map[*topology.Node]topology.MySQLGTIDSet{}
	retrieved := map[*topology.Node]topology.MySQLGTIDSet{}
	for _, n := range o.nodes {
		r := n.Status.Replica
		got, err := topology.ParseMySQLGTIDSet(r.RetrievedGTIDSet)
		if err != nil {
			return fmt.Errorf("Retrieved_Gtid_Set of %s: %w", n.Server.Label(), err)
		}
		execStr := r.ExecutedGTIDSet
		if execStr == "" {
			execStr = n.Status.GTIDExecuted
		}
		exec, err := topology.ParseMySQLGTIDSet(execStr)
		if err != nil {
			return fmt.Errorf("Executed_Gtid_Set of %s: %w", n.Server.Label(), err)
		}
		retrieved[n], o.exec[n] = got, exec
		for _, u := range got.UUIDs() {
			if !slices.Contains(o.sources, u) {
				o.sources = append(o.sources, u)
			}
		}
	}
	for _, u := range o.commonExecuted().UUIDs() {
		if !slices.Contains(o.sources, u) {
			o.sources = append(o.sources, u)
		}
	}
	for _, n := range o.nodes {
		recv := retrieved[n].Union(o.exec[n])
		if len(o.sources) > 0 {
			recv = recv.Only(o.sources)
		}
		o.mysql[n] = recv
	}
	return nil
}

// compareMySQL orders two MySQL replicas by set inclusion; when each holds
// transactions the other lacks, they diverged.
func (o *ordering) compareMySQL(a, b *topology.Node) (int, error) {
	aOnly := o.mysql[a].Subtract(o.mysql[b])
	bOnly := o.mysql[b].Subtract(o.mysql[a])
	switch {
	case aOnly.IsEmpty() && bOnly.IsEmpty():
		return 0, nil
	case bOnly.IsEmpty():
		return 1, nil
	case aOnly.IsEmpty():
		return -1, nil
	}
	return 0, &DivergenceError{A: a.Key(), B: b.Key(), AGTID: aOnly.String(), BGTID: bOnly.String(),
		Detail: "each holds master transactions the other lacks"}
}

// commonExecuted is the set of transactions every replica executed: they
// came from the master's lineage.
func (o *ordering) commonExecuted() topology.MySQLGTIDSet {
	var common topology.MySQLGTIDSet
	for i, n := range o.nodes {
		if i == 0 {
			common = o.exec[n]
			continue
		}
		common = common.Subtract(common.Subtract(o.exec[n]))
	}
	return common
}
