package failover

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gomha/gomha/topology"
)

// gatherReplicas returns the alive replicas of the dead master in config
// order, records the servers left out in p.Excluded, and refuses (as MHA
// does) when a replica without ignore_fail is dead or replicates from
// somewhere else.
func gatherReplicas(snap *topology.Snapshot, dead *topology.Node, opts PlanOptions, p *Plan) ([]*topology.Node, error) {
	var replicas []*topology.Node
	var deadOnes, strays []string
	exclude := func(n *topology.Node, why string) {
		p.Excluded = append(p.Excluded, Excluded{Key: n.Key(), Label: n.Server.Label(), Why: why, Down: !n.Alive()})
	}
	for _, n := range snap.Nodes {
		if n == dead {
			continue
		}
		if !n.Alive() {
			why := "dead: " + errText(n)
			switch {
			case n.Server.IgnoreFail:
				exclude(n, why+" (ignore_fail=1)")
			case opts.IgnoreFailOnDead:
				exclude(n, why+" (dead replicas ignored as asked)")
			default:
				deadOnes = append(deadOnes, n.Server.Label()+" ("+errText(n)+")")
			}
			continue
		}
		r := n.Status.Replica
		if r != nil && dead.Server.Matches(r.MasterHost, r.MasterPort) {
			replicas = append(replicas, n)
			continue
		}
		why := "replicates from nobody"
		if r != nil {
			why = "replicates from " + r.MasterKey().String()
			if src := snap.Find(r.MasterHost, r.MasterPort); src != nil && opts.MultiTierSlave && isReplicaOf(src, dead) {
				exclude(n, why+", a replica of the dead master (multi_tier_slave): left as it is")
				continue
			}
		}
		if n.Server.IgnoreFail {
			exclude(n, why+", not from the dead master (ignore_fail=1)")
			continue
		}
		strays = append(strays, n.Server.Label()+" "+why)
	}
	var errs []error
	if len(deadOnes) > 0 {
		errs = append(errs, fmt.Errorf("%w: %s; bring it back, or set ignore_fail=1 for it", ErrReplicaDead, strings.Join(deadOnes, ", ")))
	}
	if len(strays) > 0 {
		errs = append(errs, fmt.Errorf("%w %s: %s", ErrNotReplicaOfDead, dead.Key(), strings.Join(strays, ", ")))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if len(replicas) == 0 {
		return nil, &CandidateError{}
	}
	return replicas, nil
}

func isReplicaOf(n, master *topology.Node) bool {
	return n.Alive() && n.Status.IsReplica() && master.Server.Matches(n.Status.Replica.MasterHost, n.Status.Replica.MasterPort)
}

func errText(n *topology.Node) string {
	if n.Err == nil {
		return "no status"
	}
	return n.Err.Error()
}

// chooseMode picks GTID mode when asked and every replica positions by GTID
// on one flavour; otherwise file mode, with a warning when the replicas
// disagree.
func chooseMode(replicas []*topology.Node, gtid bool, warn func(string, ...any)) (topology.Flavor, Mode) {
	flavor := replicas[0].Status.Flavor
	for _, n := range replicas[1:] {
		if n.Status.Flavor != flavor {
			warn("replicas mix flavours (%s is %s, %s is %s): using file/position mode",
				replicas[0].Server.Label(), flavor, n.Server.Label(), n.Status.Flavor)
			return flavor, ModeFile
		}
	}
	if !gtid {
		return flavor, ModeFile
	}
	// use_gtid_auto_pos=1 is MHA's default: it means "GTID when the
	// replicas use it", so replicas that all position by file are file mode
	// without a word; only a mix deserves one.
	var byFile *topology.Node
	users := 0
	for _, n := range replicas {
		if n.Status.Replica.UsesGTID() && n.Status.GTIDEnabled() {
			users++
		} else if byFile == nil {
			byFile = n
		}
	}
	switch {
	case byFile == nil:
		return flavor, ModeGTID
	case users > 0:
		warn("%d replicas position by GTID but %s positions by file and position: using file/position mode", users, byFile.Server.Label())
	}
	return flavor, ModeFile
}

// planRecoveries lists, for the new master and then every other replica,
// what it lacks relative to the base replica and where that comes from.
func planRecoveries(p *Plan, replicas []*topology.Node, newMaster, base *topology.Node, ord *ordering) []Recovery {
	order := append([]*topology.Node{newMaster}, replicas...)
	var out []Recovery
	for _, n := range order {
		if n == newMaster && len(out) > 0 {
			continue
		}
		r := n.Status.Replica
		rec := Recovery{Key: n.Key(), Label: n.Server.Label(), NewMaster: n == newMaster,
			Read: r.ReadCoord(), Exec: r.ExecCoord(), Repoint: repointFor(p, n == newMaster)}
		if c, err := topology.CompareBinlogCoords(rec.Exec, rec.Read); err == nil && c < 0 && rec.Exec.File != "" {
			rec.Gaps = append(rec.Gaps, Gap{Kind: GapOwnRelayLog, Holder: n.Key(), From: rec.Exec, To: rec.Read,
				Note: "received, not yet applied: its SQL thread applies it from " + r.RelayCoord().String()})
		}
		if p.Mode == ModeGTID {
			rec.Received = ord.received(n)
			rec.Gaps = append(rec.Gaps, gtidGaps(p, n, newMaster, base, ord)...)
		} else {
			rec.Gaps = append(rec.Gaps, fileGaps(p, n, base)...)
		}
		out = append(out, rec)
	}
	return out
}

func repointFor(p *Plan, newMaster bool) Repoint {
	switch {
	case newMaster:
		return RepointNone
	case p.Mode == ModeFile:
		return RepointFile
	case p.Flavor == topology.MySQL:
		return RepointAutoPosition
	}
	return RepointSlavePos
}

func fileGaps(p *Plan, n, base *topology.Node) []Gap {
	var gaps []Gap
	read, baseRead := n.Status.Replica.ReadCoord(), base.Status.Replica.ReadCoord()
	if c, err := topology.CompareBinlogCoords(read, baseRead); err == nil && c < 0 {
		gaps = append(gaps, Gap{Kind: GapLatestRelayLog, Holder: base.Key(), From: read, To: baseRead,
			Note: "from the relay log of " + base.Server.Label()})
	}
	if s := p.Salvage; s != nil {
		gaps = append(gaps, Gap{Kind: GapMasterBinlog, Holder: s.Host, From: s.From, To: s.To,
			Note: "the dead master's binlog tail, salvaged over SSH"})
	}
	return gaps
}

func gtidGaps(p *Plan, n, newMaster, base *topology.Node, ord *ordering) []Gap {
	var gaps []Gap
	domains, set := ord.lacks(n, base)
	if len(domains) > 0 || set != "" {
		g := Gap{Kind: GapReplicate, Holder: base.Key(), From: n.Status.Replica.ReadCoord(), To: base.Status.Replica.ReadCoord(),
			GTIDs: domains, MySQLGTIDs: set}
		if n == newMaster {
			g.Note = "replicate from " + base.Server.Label() + " until caught up, then stop"
		} else {
			g.Holder = newMaster.Key()
			g.Note = "events of " + base.Server.Label() + ", replicated through the new master once it caught up"
		}
		gaps = append(gaps, g)
	}
	if s := p.Salvage; s != nil {
		if n == newMaster {
			gaps = append(gaps, Gap{Kind: GapMasterBinlog, Holder: s.Host, From: s.From, To: s.To,
				Note: "the dead master's binlog tail after " + orNone(s.AfterGTID) + ", salvaged over SSH, applied after catching up"})
		} else {
			gaps = append(gaps, Gap{Kind: GapReplicate, Holder: newMaster.Key(), From: s.From, To: s.To,
				Note: "the dead master's salvaged tail, replicated through the new master"})
		}
	}
	return gaps
}
