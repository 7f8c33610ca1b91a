package failover

import (
	"fmt"
	"slices"

	"github.com/gomha/gomha/topology"
)

// errantMaria finds MariaDB transactions outside the master's history. It
// is deliberately conservative and flags only what positions prove:
//
//  1. local writes: a GTID in a replica's gtid_current_pos carrying the
//     replica's own server_id and a seq beyond its gtid_slave_pos in that
//     domain (MariaDB takes such GTIDs from the replica's own binlog);
//  2. a foreign domain: a domain in a replica's gtid_current_pos or
//     gtid_binlog_pos that the latest replica does not have (neither
//     received nor in its gtid_current_pos), written by a server_id that is
//     neither the dead master's (when known) nor one in the latest's
//     received position. Events piped in by hand (mariadb-binlog | mariadb)
//     land in gtid_binlog_pos only, which is why it is read too.
//
// Errant transactions hidden below a domain's last GTID are not visible in
// positions; the binlogs would be needed. A legitimate local-only domain
// (gtid_domain_id set for maintenance on one replica) is flagged too: the
// operator must decide.
func (o *ordering) errantMaria(latest *topology.Node) error {
	latestCur, _ := topology.ParseGTIDPos(latest.Status.GTIDCurrentPos)
	known := topology.UnionGTIDDomains(o.maria[latest], latestCur)
	masterIDs := []uint32{}
	if o.dead.Alive() {
		masterIDs = append(masterIDs, o.dead.Status.ServerID)
	}
	for _, g := range o.maria[latest] {
		masterIDs = append(masterIDs, g.ServerID)
	}
	for _, n := range o.nodes {
		cur, err := topology.ParseGTIDPos(n.Status.GTIDCurrentPos)
		if err != nil {
			return fmt.Errorf("gtid_current_pos of %s: %w", n.Server.Label(), err)
		}
		binlog, err := topology.ParseGTIDPos(n.Status.GTIDBinlogPos)
		if err != nil {
			return fmt.Errorf("gtid_binlog_pos of %s: %w", n.Server.Label(), err)
		}
		slave, _ := topology.ParseGTIDPos(n.Status.GTIDSlavePos) // parsed in loadMaria already
		for _, g := range cur {
			if g.ServerID == n.Status.ServerID && g.Seq > slave.Seq(g.Domain) {
				return &ErrantError{Key: n.Key(), GTIDs: g.String(), Why: fmt.Sprintf(
					"written on the replica itself (server_id %d): gtid_current_pos %s is beyond gtid_slave_pos %s",
					g.ServerID, cur, orNone(slave.String()))}
			}
		}
		for _, g := range append(slices.Clone(cur), binlog...) {
			if n != latest && !slices.Contains(known, g.Domain) && !slices.Contains(masterIDs, g.ServerID) {
				return &ErrantError{Key: n.Key(), GTIDs: g.String(), Why: fmt.Sprintf(
					"domain %d is not in the latest replica %s's history and server_id %d is not the master's",
					g.Domain, latest.Server.Label(), g.ServerID)}
			}
		}
	}
	return nil
}

// errantMySQL finds MySQL transactions outside the master's history:
// executed GTIDs that not every replica holds, from a UUID that is not a
// source (in no replica's Retrieved_Gtid_Set, and not among the transactions
// every replica executed). Errant transactions under a source UUID are not
// detectable this way.
func (o *ordering) errantMySQL() error {
	common := o.commonExecuted()
	for _, n := range o.nodes {
		extra := o.exec[n].Subtract(common)
		errant := extra.Subtract(extra.Only(o.sources))
		if !errant.IsEmpty() {
			return &ErrantError{Key: n.Key(), GTIDs: errant.String(), Why: fmt.Sprintf(
				"executed here, missing on other replicas, from a source UUID no replica received from the master (sources: %v)", o.sources)}
		}
	}
	return nil
}

// errantLocalMaria finds writes made on a replica itself in file/position
// replication, where MariaDB still gives every transaction a GTID: its own
// server_id in its binlog (gtid_binlog_state) with a seq beyond what its SQL
// thread applied in that domain (gtid_slave_pos, kept in this mode too).
// A replica that was a master earlier has its own GTIDs below that.
func (o *ordering) errantLocalMaria() error {
	for _, n := range o.nodes {
		state, err := topology.ParseGTIDState(n.Status.GTIDBinlogState)
		if err != nil {
			return fmt.Errorf("gtid_binlog_state of %s: %w", n.Server.Label(), err)
		}
		slave, err := topology.ParseGTIDPos(n.Status.GTIDSlavePos)
		if err != nil {
			return fmt.Errorf("gtid_slave_pos of %s: %w", n.Server.Label(), err)
		}
		for _, g := range state {
			if g.ServerID == n.Status.ServerID && g.Seq > slave.Seq(g.Domain) {
				return &ErrantError{Key: n.Key(), GTIDs: g.String(), Why: fmt.Sprintf(
					"written on the replica itself (server_id %d, in its binlog) beyond what it replicated (gtid_slave_pos %s)",
					g.ServerID, orNone(slave.String()))}
			}
		}
	}
	return nil
}
