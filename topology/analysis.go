package topology

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// CheckOptions tune Analyze; they mirror MHA's parameters and options.
type CheckOptions struct {
	SecondsBehindMaster int64 // --seconds_behind_master (MHA default 30)
	CheckReplFilter     bool  // check_repl_filter
	MultiTierSlave      bool  // multi_tier_slave
	// PingIntervals is each server's ping_interval, by key. The master's
	// bounds its replicas' heartbeat period; absent or 0: not checked.
	PingIntervals map[Key]time.Duration
}

// Analysis is the outcome of analysing a Snapshot.
type Analysis struct {
	Master    *Node   // the current master, nil when it could not be determined
	Replicas  []*Node // alive servers replicating from Master
	Unmanaged []*Node // alive servers replicating from a replica (multi_tier_slave)
	Dead      []*Node // servers that could not be read
	GTID      bool    // every alive replica of Master positions itself by GTID
	Problems  []Problem
}

// Healthy reports whether no problem of error severity was found.
func (a *Analysis) Healthy() bool { return len(a.Errors()) == 0 }

// Errors returns the problems of error severity.
func (a *Analysis) Errors() []Problem {
	var out []Problem
	for _, p := range a.Problems {
		if p.Severity == SeverityError {
			out = append(out, p)
		}
	}
	return out
}

// StartBlockers returns the errors that keep a manager from starting. A
// master that is merely down is not one: every error that is the master's
// own, or a replica of it whose IO thread is trying to reconnect
// (Connecting), is left out, and the manager watches the master as usual
// (MHA does the same): the usual confirmation decides whether it is dead.
// With ignoreFailDown (MHA's --ignore_fail_on_start), servers marked
// ignore_fail that do not answer are left out too.
func (a *Analysis) StartBlockers(ignoreFailDown bool) []Problem {
	var mk Key
	if a.Master != nil && !a.Master.Alive() {
		mk = a.Master.Key()
	}
	var out []Problem
	for _, p := range a.Errors() {
		switch {
		case !mk.IsZero() && p.Key == mk && (p.Code == ProblemMasterUnreachable || p.Code == ProblemUnreachable):
		case !mk.IsZero() && p.Code == ProblemIOThread && a.reconnecting(p.Key):
		case ignoreFailDown && p.Code == ProblemUnreachable && a.ignoreFail(p.Key):
		default:
			out = append(out, p)
		}
	}
	return out
}

// OnlyMasterDown reports whether the master is unreachable and that is all
// that is wrong (see StartBlockers).
func (a *Analysis) OnlyMasterDown() bool {
	return a.Master != nil && !a.Master.Alive() && len(a.StartBlockers(false)) == 0
}

// ignoreFail reports whether the dead server at k is marked ignore_fail.
func (a *Analysis) ignoreFail(k Key) bool {
	for _, n := range a.Dead {
		if n.Key() == k {
			return n.Server.IgnoreFail
		}
	}
	return false
}

// reconnecting reports whether the replica at k retries its master.
func (a *Analysis) reconnecting(k Key) bool {
	for _, n := range a.Replicas {
		if n.Key() == k {
			return n.Status.Replica.IORunning == "Connecting"
		}
	}
	return false
}

// Has reports whether a problem with that code was found.
func (a *Analysis) Has(code ProblemCode) bool {
	for _, p := range a.Problems {
		if p.Code == code {
			return true
		}
	}
	return false
}

func (a *Analysis) add(code ProblemCode, sev Severity, k Key, format string, args ...any) {
	a.Problems = append(a.Problems, Problem{Code: code, Severity: sev, Key: k, Msg: fmt.Sprintf(format, args...)})
}

// Analyze works out the current master from the topology itself (not from
// the configuration) and checks what MHA's masterha_check_repl checks: one
// writable master, every other server replicating from it with both threads
// running and acceptable lag, unique server_ids, log-bin on candidates,
// identical replication filters, candidate_master/no_master consistency.
func Analyze(s *Snapshot, opts CheckOptions) *Analysis {
	a := &Analysis{}
	alive := checkReachability(a, s)
	a.Master = findMaster(a, s, alive)
	if a.Master != nil {
		classifyServers(a, s, alive, opts)
		checkReplicaThreads(a, opts)
		checkHeartbeats(a, opts)
		checkCandidates(a)
		if opts.CheckReplFilter {
			checkFilters(a)
		}
		checkGTIDUsage(a)
	}
	checkServerIDs(a, alive)
	sort.SliceStable(a.Problems, func(i, j int) bool { return a.Problems[i].Severity > a.Problems[j].Severity })
	return a
}

func checkReachability(a *Analysis, s *Snapshot) []*Node {
	var alive []*Node
	for _, n := range s.Nodes {
		if n.Alive() {
			alive = append(alive, n)
			continue
		}
		a.Dead = append(a.Dead, n)
		code := ProblemUnreachable
		if ConnErrorKindOf(n.Err) == ConnAccessDenied {
			code = ProblemAccessDenied
		}
		a.add(code, SeverityError, n.Key(), "%v", errText(n))
	}
	return alive
}

func errText(n *Node) string {
	if n.Err == nil {
		return "no status"
	}
	if ce, ok := n.Err.(*ConnError); ok {
		return ce.Detail()
	}
	return n.Err.Error()
}

// findMaster picks the primary: the servers that replicas point at or that
// replicate from nobody; among several, the single writable one.
func findMaster(a *Analysis, s *Snapshot, alive []*Node) *Node {
	var cands []*Node
	seen := map[*Node]bool{}
	addCand := func(n *Node) {
		if n != nil && !seen[n] {
			seen[n] = true
			cands = append(cands, n)
		}
	}
	for _, n := range alive {
		if !n.Status.IsReplica() {
			addCand(n)
		}
	}
	for _, n := range alive {
		if r := n.Status.Replica; r != nil {
			if m := s.Find(r.MasterHost, r.MasterPort); m != nil && (!m.Alive() || !m.Status.IsReplica()) {
				addCand(m)
			}
		}
	}
	if len(cands) == 0 {
		// Master-master: everyone is a replica; the writable one leads.
		for _, n := range alive {
			addCand(n)
		}
	}
	var writable, deadCands []*Node
	for _, n := range cands {
		switch {
		case !n.Alive():
			deadCands = append(deadCands, n)
		case !n.Status.ReadOnly:
			writable = append(writable, n)
		}
	}
	switch {
	case len(cands) == 1:
		m := cands[0]
		if !m.Alive() {
			a.add(ProblemMasterUnreachable, SeverityError, m.Key(), "the current master is not reachable: %s", errText(m))
		} else if m.Status.ReadOnly {
			a.add(ProblemMasterReadOnly, SeverityWarning, m.Key(), "the current master has read_only=ON")
		}
		return m
	case len(writable) == 1 && len(deadCands) == 0:
		return writable[0]
	case len(writable) > 1:
		a.add(ProblemMultipleWritable, SeverityError, Key{}, "more than one writable master: %s (exactly one may have read_only=OFF)", nodeList(writable))
		return pickPointedAt(s, writable)
	case len(deadCands) == 1 && len(writable) == 0:
		m := deadCands[0]
		a.add(ProblemMasterUnreachable, SeverityError, m.Key(), "the current master is not reachable: %s", errText(m))
		return m
	}
	if len(cands) == 0 {
		a.add(ProblemNoMaster, SeverityError, Key{}, "cannot tell the current master: no server answers")
		return nil
	}
	a.add(ProblemNoMaster, SeverityError, Key{}, "cannot tell the current master: candidates %s, none alone writable", nodeList(cands))
	return nil
}

// pickPointedAt returns the node most replicas replicate from, to keep the
// rest of the analysis useful when the master is ambiguous.
func pickPointedAt(s *Snapshot, among []*Node) *Node {
	best, bestN := among[0], -1
	for _, c := range among {
		n := 0
		for _, o := range s.Nodes {
			if o.Alive() && o.Status.IsReplica() && c.Server.Matches(o.Status.Replica.MasterHost, o.Status.Replica.MasterPort) {
				n++
			}
		}
		if n > bestN {
			best, bestN = c, n
		}
	}
	return best
}

func nodeList(ns []*Node) string {
	parts := make([]string, len(ns))
	for i, n := range ns {
		parts[i] = n.Key().String()
	}
	return strings.Join(parts, ", ")
}

func classifyServers(a *Analysis, s *Snapshot, alive []*Node, opts CheckOptions) {
	m := a.Master
	for _, n := range alive {
		if n == m {
			continue
		}
		r := n.Status.Replica
		if r == nil {
			sev := SeverityError
			if !n.Status.ReadOnly && m.Alive() && !m.Status.ReadOnly {
				a.add(ProblemNotReplicating, sev, n.Key(), "not replicating from anyone and writable (read_only=OFF): a second master beside %s", m.Key())
			} else {
				a.add(ProblemNotReplicating, sev, n.Key(), "not replicating from anyone (expected a replica of %s)", m.Key())
			}
			continue
		}
		if m.Server.Matches(r.MasterHost, r.MasterPort) {
			a.Replicas = append(a.Replicas, n)
			continue
		}
		src := s.Find(r.MasterHost, r.MasterPort)
		switch {
		case src == nil:
			a.add(ProblemUnknownMaster, SeverityError, n.Key(), "replicates from %s, which is not in the configuration (master is %s)", r.MasterKey(), m.Key())
		case opts.MultiTierSlave:
			a.Unmanaged = append(a.Unmanaged, n)
			a.add(ProblemReplicatesElsewhere, SeverityInfo, n.Key(), "replicates from %s, not from the master %s: unmanaged (multi_tier_slave)", src.Key(), m.Key())
		default:
			a.add(ProblemReplicatesElsewhere, SeverityError, n.Key(), "replicates from %s, not from the master %s", src.Key(), m.Key())
		}
	}
}

func checkReplicaThreads(a *Analysis, opts CheckOptions) {
	for _, n := range a.Replicas {
		r, k := n.Status.Replica, n.Key()
		if !r.IORunningOK() {
			msg := fmt.Sprintf("IO thread is %s (Slave_IO_Running=%s)", ioState(r.IORunning), r.IORunning)
			if r.LastIOErrno != 0 {
				msg += fmt.Sprintf(": error %d: %s", r.LastIOErrno, r.LastIOError)
			}
			a.add(ProblemIOThread, SeverityError, k, "%s", msg)
		}
		switch {
		case !r.SQLRunning && r.LastSQLErrno != 0:
			a.add(ProblemSQLThread, SeverityError, k, "SQL thread stopped on error %d: %s", r.LastSQLErrno, r.LastSQLError)
		case !r.SQLRunning:
			// An operator or a backup tool stopped it: as MHA, the manager
			// starts anyway and leaves it; a failover starts it and lets it
			// apply what it received.
			a.add(ProblemSQLThread, SeverityWarning, k, "SQL thread stopped without an error (Slave_SQL_Running=No): "+
				"left as it is while monitoring; a failover starts it and lets it apply what it received")
		}
		if r.IORunningOK() && r.SQLRunning {
			switch sbm := r.SecondsBehindMaster; {
			case sbm == nil:
				a.add(ProblemLag, SeverityError, k, "Seconds_Behind_Master is NULL")
			case *sbm > opts.SecondsBehindMaster:
				a.add(ProblemLag, SeverityError, k, "replication lag %d s exceeds %d s", *sbm, opts.SecondsBehindMaster)
			}
		}
		if !n.Status.ReadOnly {
			a.add(ProblemReplicaWritable, SeverityWarning, k, "read_only=OFF on a replica: writes there would diverge from the master")
		}
		if n.Status.RelayLogPurge && !r.UsesGTID() {
			a.add(ProblemRelayLogPurge, SeverityWarning, k, "relay_log_purge=ON: relay logs needed to recover other replicas may be gone (set relay_log_purge=0)")
		}
	}
}

// checkHeartbeats warns about replicas of the master whose heartbeat period
// (MASTER_HEARTBEAT_PERIOD) is longer than the master's ping_interval, or
// zero (heartbeats off): an idle master that goes silent (its host's packets
// dropped) leaves their IO thread saying Yes, and their heartbeat count is
// what shows the loss; with a long period it shows that much later. Only
// MariaDB reports the period (Slave_heartbeat_period); elsewhere it is
// unknown and not judged.
func checkHeartbeats(a *Analysis, opts CheckOptions) {
	iv := opts.PingIntervals[a.Master.Key()]
	if iv <= 0 {
		return
	}
	fix := fmt.Sprintf("fix: STOP SLAVE; CHANGE MASTER TO MASTER_HEARTBEAT_PERIOD=%s; START SLAVE on this replica, "+
		"or let gomha set it at the next failover or switchover", strconv.FormatFloat((iv/2).Seconds(), 'f', -1, 64))
	for _, n := range a.Replicas {
		if n.Status.Flavor != MariaDB {
			continue
		}
		switch p := n.Status.Replica.HeartbeatPeriod; {
		case p <= 0:
			a.add(ProblemHeartbeatTooLong, SeverityWarning, n.Key(), "heartbeats are off (MASTER_HEARTBEAT_PERIOD=0), the master's ping_interval is %s: "+
				"a master that goes silent is noticed by this replica only after slave_net_timeout; %s", iv, fix)
		case p > iv:
			a.add(ProblemHeartbeatTooLong, SeverityWarning, n.Key(), "heartbeat period %s (MASTER_HEARTBEAT_PERIOD) is longer than the master's ping_interval %s: "+
				"a master that goes silent is noticed by this replica only after %s or more; %s", p, iv, p, fix)
		}
	}
}

func ioState(s string) string {
	if s == "Connecting" {
		return "connecting (not connected to its master)"
	}
	return "not running"
}

func checkCandidates(a *Analysis) {
	promotable := 0
	for _, n := range a.Replicas {
		srv, k := n.Server, n.Key()
		if srv.CandidateMaster && srv.NoMaster {
			a.add(ProblemCandidateConflict, SeverityError, k, "candidate_master=1 and no_master=1 on the same server")
		}
		if !n.Status.LogBin {
			sev := SeverityWarning
			if srv.CandidateMaster {
				sev = SeverityError
			}
			a.add(ProblemNoLogBin, sev, k, "log-bin is disabled: this server cannot become master")
			continue
		}
		if !srv.NoMaster {
			promotable++
		}
	}
	if len(a.Replicas) > 0 && promotable == 0 {
		a.add(ProblemNoCandidate, SeverityError, Key{}, "none of the replicas can become master (no_master or log-bin disabled on all)")
	}
}

func checkFilters(a *Analysis) {
	var ref *Node
	for _, n := range a.Replicas {
		if ref == nil {
			ref = n
			continue
		}
		if d := replicateDiff(ref.Status.Replica.Filters, n.Status.Replica.Filters); d != "" {
			a.add(ProblemFilterMismatch, SeverityError, n.Key(), "replication filters differ from %s: %s", ref.Key(), d)
		}
	}
	var bref *Node
	for _, n := range append([]*Node{a.Master}, a.Replicas...) {
		if !n.Alive() || !n.Status.LogBin {
			continue
		}
		if bref == nil {
			bref = n
			continue
		}
		f, g := bref.Status.Filters, n.Status.Filters
		if f.BinlogDoDB != g.BinlogDoDB || f.BinlogIgnoreDB != g.BinlogIgnoreDB {
			a.add(ProblemFilterMismatch, SeverityError, n.Key(), "binlog filters differ from %s: binlog_do_db=%q binlog_ignore_db=%q vs %q %q",
				bref.Key(), g.BinlogDoDB, g.BinlogIgnoreDB, f.BinlogDoDB, f.BinlogIgnoreDB)
		}
	}
}

func replicateDiff(x, y Filters) string {
	var d []string
	cmp := func(name, a, b string) {
		if a != b {
			d = append(d, fmt.Sprintf("%s=%q vs %q", name, b, a))
		}
	}
	cmp("replicate_do_db", x.ReplicateDoDB, y.ReplicateDoDB)
	cmp("replicate_ignore_db", x.ReplicateIgnoreDB, y.ReplicateIgnoreDB)
	cmp("replicate_do_table", x.ReplicateDoTable, y.ReplicateDoTable)
	cmp("replicate_ignore_table", x.ReplicateIgnoreTable, y.ReplicateIgnoreTable)
	cmp("replicate_wild_do_table", x.ReplicateWildDoTable, y.ReplicateWildDoTable)
	cmp("replicate_wild_ignore_table", x.ReplicateWildIgnoreTable, y.ReplicateWildIgnoreTable)
	return strings.Join(d, ", ")
}

func checkGTIDUsage(a *Analysis) {
	gtid, file := 0, 0
	for _, n := range a.Replicas {
		if n.Status.Replica.UsesGTID() {
			gtid++
		} else {
			file++
		}
	}
	a.GTID = gtid > 0 && file == 0
	if gtid > 0 && file > 0 {
		a.add(ProblemMixedGTID, SeverityWarning, Key{}, "%d replicas use GTID positioning and %d use file/position; failover will use file/position", gtid, file)
	}
}

func checkServerIDs(a *Analysis, alive []*Node) {
	byID := map[uint32][]*Node{}
	for _, n := range alive {
		byID[n.Status.ServerID] = append(byID[n.Status.ServerID], n)
	}
	for _, n := range alive {
		same := byID[n.Status.ServerID]
		if len(same) > 1 && same[0] == n {
			a.add(ProblemDuplicateServerID, SeverityError, Key{}, "server_id %d is used by %s", n.Status.ServerID, nodeList(same))
		}
	}
}
