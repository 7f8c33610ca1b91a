// Package failover holds gomha's failover and switchover procedures. The
// planning half (plan*.go, candidate*.go, gtid*.go) is pure: it turns a
// topology.Snapshot into a Plan (who is the latest replica, who becomes the
// new master and why, what every surviving replica lacks and where those
// events come from) or into an error a DBA can act on. The execution half
// carries a Plan out against real servers.
package failover

import (
	"fmt"

	"github.com/gomha/gomha/topology"
)

// Mode is how replicas are positioned during recovery.
type Mode string

// Modes.
const (
	ModeGTID Mode = "gtid" // GTID positioning: MASTER_USE_GTID / MASTER_AUTO_POSITION
	ModeFile Mode = "file" // binlog file and position, relay-log differences
)

// PlanOptions steer PlanFailover. They mirror MHA's parameters.
type PlanOptions struct {
	NewMasterHost    topology.Key // --new_master_host/port; zero = choose
	LatestPriority   bool         // latest_priority (MHA default 1)
	CheckReplDelay   bool         // check_repl_delay (MHA default 1)
	SSHReachable     bool         // the dead master's host answers SSH: salvage its binlog tail
	GTID             bool         // use GTID mode when every alive replica positions by GTID
	IgnoreFailOnDead bool         // treat every dead replica as if it had ignore_fail=1
	MultiTierSlave   bool         // multi_tier_slave: leave replicas of replicas alone
}

// Plan is what a failover will do, decided from one snapshot. It marshals to
// JSON and prints for --dry-run with String.
type Plan struct {
	DeadMaster topology.Key
	DeadLabel  string
	Mode       Mode
	Flavor     topology.Flavor
	Latest     []topology.Key // replicas that received the most of the master's events
	Oldest     []topology.Key // replicas that received the least
	Base       topology.Key   // the latest replica others catch up from
	NewMaster  Candidate
	Recoveries []Recovery // new master first, then the other replicas in config order
	Salvage    *Salvage   // nil when the dead master's host is not reachable over SSH
	Rejected   []Excluded // alive replicas that may not become master, and why
	Excluded   []Excluded // servers left out of the recovery, and why
	Warnings   []string
}

// GapKind says where a replica's missing events come from.
type GapKind string

// Kinds of Gap.
const (
	GapOwnRelayLog    GapKind = "own-relay-log"    // received but not applied yet: its SQL thread applies them
	GapLatestRelayLog GapKind = "latest-relay-log" // file mode: the base replica's relay log
	GapReplicate      GapKind = "replicate"        // GTID mode: replicate from Holder until caught up
	GapMasterBinlog   GapKind = "master-binlog"    // the dead master's binlog tail, salvaged over SSH
)

// Gap is one range of events a replica lacks and where it comes from.
// From and To are coordinates in the dead master's binlog; a zero To means
// "to the end".
type Gap struct {
	Kind       GapKind
	Holder     topology.Key // the server whose logs hold the events
	From, To   topology.BinlogCoord
	GTIDs      []topology.DomainGap `json:",omitempty"` // MariaDB GTID mode: per domain
	MySQLGTIDs string               `json:",omitempty"` // MySQL GTID mode: the missing set
	Note       string               `json:",omitempty"`
}

// Repoint is how a replica is attached to the new master at the end.
type Repoint string

// Ways to repoint.
const (
	RepointNone         Repoint = "none"               // the new master: RESET SLAVE ALL, read_only=OFF
	RepointFile         Repoint = "file"               // CHANGE MASTER TO the new master's binlog file:pos after recovery
	RepointSlavePos     Repoint = "gtid-slave-pos"     // MariaDB: MASTER_USE_GTID=slave_pos
	RepointAutoPosition Repoint = "gtid-auto-position" // MySQL: MASTER_AUTO_POSITION=1
)

// Recovery is what one surviving replica lacks, in order, and how it is
// repointed.
type Recovery struct {
	Key       topology.Key
	Label     string
	NewMaster bool
	Read      topology.BinlogCoord // Master_Log_File:Read_Master_Log_Pos
	Exec      topology.BinlogCoord // Relay_Master_Log_File:Exec_Master_Log_Pos
	Received  string               `json:",omitempty"` // GTID mode: what it received (position or set)
	Gaps      []Gap                // empty: it already has everything the base has
	Repoint   Repoint
}

// Salvage is the dead master's binlog tail that no replica received, read
// over SSH from the base replica's executed position (all it received, once
// the relay logs are applied; a transaction cut off at the end of its relay
// log is salvaged whole) to the end of its binlog. Each target gets it cut
// by what it already holds.
// gomha salvages in both modes (MHA skips it in GTID mode, issue #81).
type Salvage struct {
	Host      topology.Key
	From      topology.BinlogCoord // the base replica's Relay_Master_Log_File:Exec_Master_Log_Pos
	To        topology.BinlogCoord // last known SHOW MASTER STATUS; zero = to the end of its binlogs
	AfterGTID string               `json:",omitempty"` // GTID mode: the tail starts after this position
	ApplyTo   []topology.Key       // file mode: every survivor; GTID mode: the new master
}

// PlanFailover decides a failover of the dead master from a snapshot. It
// never talks to a server. Errors are the sentinels of this package, wrapped
// with the servers concerned.
func PlanFailover(snap *topology.Snapshot, dead topology.Key, opts PlanOptions) (*Plan, error) {
	if snap == nil {
		return nil, fmt.Errorf("plan failover of %s: %w: no snapshot", dead, ErrBadSnapshot)
	}
	deadNode := snap.ByKey(dead)
	if deadNode == nil {
		return nil, fmt.Errorf("plan failover of %s: %w: the dead master is not in the configuration", dead, ErrBadSnapshot)
	}
	p := &Plan{DeadMaster: dead, DeadLabel: deadNode.Server.Label()}
	if deadNode.Alive() {
		p.warn("the dead master %s answered when the snapshot was taken; failing over anyway as asked", p.DeadLabel)
	}
	replicas, err := gatherReplicas(snap, deadNode, opts, p)
	if err != nil {
		return nil, fmt.Errorf("plan failover of %s: %w", dead, err)
	}
	p.Flavor, p.Mode = chooseMode(replicas, opts.GTID, p.warn)
	ord, err := newOrdering(p.Mode, p.Flavor, replicas, deadNode)
	if err != nil {
		return nil, fmt.Errorf("plan failover of %s: %w", dead, err)
	}
	latest, oldest, err := ord.extremes()
	if err != nil {
		return nil, fmt.Errorf("plan failover of %s: %w", dead, err)
	}
	if err := ord.checkErrant(latest[0]); err != nil {
		return nil, fmt.Errorf("plan failover of %s: %w", dead, err)
	}
	p.Latest, p.Oldest = keys(latest), keys(oldest)
	for _, n := range replicas {
		warnSQLError(p, n)
	}
	sel := selection{
		replicas: replicas, latest: latest, forced: opts.NewMasterHost,
		latestPriority: opts.LatestPriority, checkReplDelay: opts.CheckReplDelay,
	}
	cand, rejected, err := selectNewMaster(sel)
	p.Rejected = rejected
	if err != nil {
		return nil, fmt.Errorf("plan failover of %s: %w", dead, err)
	}
	base := latest[0]
	if containsNode(latest, cand.Node) {
		base = cand.Node
	} else {
		cand.Reason += fmt.Sprintf("; not the latest: catches up from %s first", base.Server.Label())
	}
	p.NewMaster, p.Base = cand, base.Key()
	if opts.SSHReachable {
		p.Salvage = planSalvage(p, deadNode, base, replicas, ord)
	} else {
		p.warn("the dead master's host %s does not answer SSH: transactions it wrote that %s did not receive are lost", p.DeadLabel, base.Server.Label())
	}
	p.Recoveries = planRecoveries(p, replicas, cand.Node, base, ord)
	return p, nil
}

func planSalvage(p *Plan, dead, base *topology.Node, replicas []*topology.Node, ord *ordering) *Salvage {
	s := &Salvage{Host: dead.Key(), From: base.Status.Replica.ExecCoord()}
	if dead.Alive() && dead.Status.BinlogFile != "" {
		s.To = topology.BinlogCoord{File: dead.Status.BinlogFile, Pos: dead.Status.BinlogPos}
	}
	if p.Mode == ModeGTID {
		s.AfterGTID = ord.received(base)
		s.ApplyTo = []topology.Key{p.NewMaster.Key}
		return s
	}
	for _, n := range replicas {
		s.ApplyTo = append(s.ApplyTo, n.Key())
	}
	return s
}

func (p *Plan) warn(format string, args ...any) {
	p.Warnings = append(p.Warnings, fmt.Sprintf(format, args...))
}

func warnSQLError(p *Plan, n *topology.Node) {
	r := n.Status.Replica
	if !r.SQLRunning && r.LastSQLErrno != 0 {
		p.warn("%s: SQL thread stopped with error %d (%s): applying its relay log will fail until that is fixed",
			n.Server.Label(), r.LastSQLErrno, r.LastSQLError)
	}
}

func keys(ns []*topology.Node) []topology.Key {
	out := make([]topology.Key, len(ns))
	for i, n := range ns {
		out[i] = n.Key()
	}
	return out
}

func containsNode(ns []*topology.Node, n *topology.Node) bool {
	for _, m := range ns {
		if m == n {
			return true
		}
	}
	return false
}
