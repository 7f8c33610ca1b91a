package failover

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/gomha/gomha/topology"
)

// farBehindBytes is MHA's check_repl_delay threshold: a replica whose SQL
// thread is more than this many bytes behind the latest replica's read
// position (in the same master binlog file) is not promoted.
const farBehindBytes = 100_000_000

// Candidate is the server chosen to become the new master, and why, in
// words a DBA reads in the plan.
type Candidate struct {
	Key    topology.Key
	Label  string
	Node   *topology.Node `json:"-"`
	Reason string
}

// selection is the input of selectNewMaster.
type selection struct {
	replicas       []*topology.Node // alive replicas, config order
	latest         []*topology.Node // ties kept, config order
	forced         topology.Key     // --new_master_host; zero = choose
	latestPriority bool
	checkReplDelay bool
}

// selectNewMaster applies MHA's rules (ServerManager::select_new_master):
// a forced server if it is not bad, else a latest candidate_master (with
// latest_priority), else any candidate_master in config order, else a latest
// replica (with latest_priority), else any replica in config order. It
// returns the chosen candidate and every replica that may not be master.
func selectNewMaster(s selection) (Candidate, []Excluded, error) {
	oldestMajor := oldestMajorVersion(s.replicas)
	var good []*topology.Node
	var rejected []Excluded
	for _, n := range s.replicas {
		if why := badReasons(n, s, oldestMajor); len(why) > 0 {
			rejected = append(rejected, Excluded{Key: n.Key(), Label: n.Server.Label(), Why: strings.Join(why, "; ")})
			continue
		}
		good = append(good, n)
	}
	pick := func(n *topology.Node, reason string) (Candidate, []Excluded, error) {
		return Candidate{Key: n.Key(), Label: n.Server.Label(), Node: n, Reason: reason}, rejected, nil
	}
	if !s.forced.IsZero() {
		for _, n := range good {
			if n.Key() == s.forced {
				return pick(n, "forced by --new_master_host"+latestNote(n, s.latest))
			}
		}
		if !isIn(s.forced, rejected) {
			rejected = append(rejected, Excluded{Key: s.forced, Label: s.forced.String(), Why: "not an alive replica of the dead master"})
		}
		return Candidate{}, rejected, &CandidateError{Forced: s.forced, Rejected: rejected}
	}
	if s.latestPriority {
		for _, n := range good {
			if n.Server.CandidateMaster && containsNode(s.latest, n) {
				return pick(n, "candidate_master and latest replica")
			}
		}
	}
	for _, n := range good {
		if n.Server.CandidateMaster {
			return pick(n, "candidate_master, first in configuration order")
		}
	}
	if s.latestPriority {
		for _, n := range good {
			if containsNode(s.latest, n) {
				return pick(n, "latest replica")
			}
		}
	}
	if len(good) > 0 {
		why := "first eligible replica in configuration order (no latest replica is eligible)"
		if !s.latestPriority {
			why = "first eligible replica in configuration order (latest_priority=0)"
		}
		return pick(good[0], why)
	}
	return Candidate{}, rejected, &CandidateError{Rejected: rejected}
}

// badReasons is MHA's get_bad_candidate_masters, plus a stopped SQL
// thread. An empty result means n may be promoted.
func badReasons(n *topology.Node, s selection, oldestMajor string) []string {
	var why []string
	st := n.Status
	if n.Server.NoMaster {
		why = append(why, "no_master=1")
	}
	if !st.LogBin {
		why = append(why, "log-bin is disabled")
	}
	if major := st.MajorVersion(); compareVersions(major, oldestMajor) > 0 {
		why = append(why, fmt.Sprintf("major version %s is newer than the oldest replica's %s", major, oldestMajor))
	}
	if r := st.Replica; !r.SQLRunning && r.LastSQLErrno != 0 {
		why = append(why, fmt.Sprintf("SQL thread stopped with error %d", r.LastSQLErrno))
	}
	if s.checkReplDelay && len(s.latest) > 0 {
		if d := farBehind(n, s.latest[0]); d != "" {
			why = append(why, d)
		}
	}
	return why
}

// farBehind applies check_repl_delay: the SQL thread is far behind the
// latest replica when the latest has read a later master binlog file than
// the one n executes from (any file difference, as MHA; the byte distance
// across files is unknown without file sizes), or, in the same file, more
// than 100,000,000 bytes ahead. Files are compared by numeric suffix, not as
// strings (MHA's bug). Only used when check_repl_delay is set.
func farBehind(n, latest *topology.Node) string {
	exec, read := n.Status.Replica.ExecCoord(), latest.Status.Replica.ReadCoord()
	if exec.File == "" || read.File == "" {
		return ""
	}
	c, err := topology.CompareBinlogFiles(read.File, exec.File)
	switch {
	case err != nil:
		return "check_repl_delay: cannot compare " + exec.File + " with " + read.File
	case c > 0:
		return fmt.Sprintf("check_repl_delay: SQL thread executes %s, the latest replica has read %s (an older binlog file)", exec.File, read.File)
	case c == 0 && read.Pos > exec.Pos+farBehindBytes:
		return fmt.Sprintf("check_repl_delay: SQL thread is %d bytes behind the latest replica (more than %d)", read.Pos-exec.Pos, farBehindBytes)
	}
	return ""
}

func latestNote(n *topology.Node, latest []*topology.Node) string {
	if containsNode(latest, n) {
		return ", latest replica"
	}
	return ""
}

func isIn(k topology.Key, ex []Excluded) bool {
	for _, e := range ex {
		if e.Key == k {
			return true
		}
	}
	return false
}

// oldestMajorVersion returns the lowest "major.minor" among the replicas.
func oldestMajorVersion(ns []*topology.Node) string {
	oldest := ""
	for _, n := range ns {
		v := n.Status.MajorVersion()
		if v == "" {
			continue
		}
		if oldest == "" || compareVersions(v, oldest) < 0 {
			oldest = v
		}
	}
	return oldest
}

// compareVersions compares dotted versions numerically ("10.11" > "10.6",
// which a string compare gets wrong). An empty or unparsable version
// compares equal, so it never rejects a server on its own.
func compareVersions(a, b string) int {
	if a == "" || b == "" {
		return 0
	}
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) && i < len(bs); i++ {
		x, err1 := strconv.Atoi(as[i])
		y, err2 := strconv.Atoi(bs[i])
		if err1 != nil || err2 != nil {
			return 0
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return len(as) - len(bs)
}
