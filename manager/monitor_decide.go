package manager

import (
	"fmt"
	"strings"
	"time"

	"github.com/gomha/gomha/topology"
)

// managerView is what the manager's own reconnect attempts found.
type managerView struct {
	Kind      topology.ConnErrorKind // 0: connected
	Attempts  int
	Persisted bool // a timeout (or unreachable) seen in two consecutive ping intervals
	Err       string
}

// probeResult is the outcome of a TCP connect to the master's port run on
// another host over SSH.
type probeResult int

const (
	probeNotRun     probeResult = iota
	probeOpen                   // connected: the master's port answers from there
	probeRefused                // refused: host up, mysqld down
	probeTimeout                // no greeting (or no connection) in time: hung, frozen or cut off
	probeFailed                 // the probe could not be run (SSH failed, no bash/timeout)
	probeNoGreeting             // the connection closed before the server greeted
)

func (p probeResult) String() string {
	return [...]string{"not run", "greets", "refused", "no greeting in time", "failed", "closed without a greeting"}[p]
}

// replicaView is one replica's view of the master.
type replicaView struct {
	Key         topology.Key
	Asked       bool // its replication status could be read
	Replicates  bool // it replicates from the monitored master
	IORunning   string
	LastIOErrno int
	LastIOError string
	Probe       probeResult // the port probe run from its host, when its IO thread still said Yes
	// Silent: its IO thread says Yes, but neither a heartbeat nor an event
	// arrived for two heartbeat periods (MASTER_HEARTBEAT_PERIOD).
	Silent bool
	Err    string
}

// witness says whether the replica's view counts.
func (r replicaView) witness() bool { return r.Asked && r.Replicates }

// lost says whether the replica has lost the master: IO thread not running or
// in error, or the master's port unreachable from its host.
func (r replicaView) lost() bool {
	return r.IORunning != "Yes" || r.LastIOErrno != 0 || r.Silent ||
		r.Probe == probeRefused || r.Probe == probeTimeout || r.Probe == probeNoGreeting
}

func (r replicaView) String() string {
	switch {
	case !r.Asked:
		return fmt.Sprintf("replica %s: could not be asked: %s", r.Key, r.Err)
	case !r.Replicates:
		return fmt.Sprintf("replica %s: does not replicate from the master (%s)", r.Key, r.Err)
	}
	s := fmt.Sprintf("replica %s: Slave_IO_Running=%s Last_IO_Errno=%d", r.Key, r.IORunning, r.LastIOErrno)
	if r.LastIOError != "" {
		s += fmt.Sprintf(" (%s)", r.LastIOError)
	}
	if r.Silent {
		s += "; no heartbeat nor event for two heartbeat periods"
	}
	if r.Probe != probeNotRun {
		s += "; master port probe from its host: " + r.Probe.String()
		if r.Err != "" {
			s += " (" + r.Err + ")"
		}
	}
	if r.lost() {
		return s + ": lost the master"
	}
	return s + ": still sees the master"
}

// secondaryView is the secondary_check_script's answer.
type secondaryView struct {
	Configured bool
	ExitCode   int
	Err        string // the script could not run or timed out
	Output     string
}

func (s secondaryView) String() string {
	switch {
	case !s.Configured:
		return "secondary check: not configured"
	case s.Err != "":
		return "secondary check: error: " + s.Err
	}
	meaning := map[int]string{0: "master unreachable from all routes", 2: "a monitoring host is unreachable", 3: "master reachable from some route"}[s.ExitCode]
	if meaning == "" {
		meaning = "script error"
	}
	out := ""
	if s.Output != "" {
		out = ": " + firstLine(s.Output)
	}
	return fmt.Sprintf("secondary check: exit %d (%s)%s", s.ExitCode, meaning, out)
}

// sshView is the manager's SSH check of the master's host.
type sshView struct {
	Pending   bool // not answered within the grace: the failover checks again
	Reachable bool
	Port      probeResult // mysqld's port probed locally on the master's host
	Err       string
}

func (s sshView) String() string {
	if s.Pending {
		return "ssh to master host: not waited for (the other views agree)"
	}
	if !s.Reachable {
		return "ssh to master host: unreachable: " + s.Err
	}
	return "ssh to master host: reachable; mysqld port probed there: " + s.Port.String()
}

// views are everything gathered about a suspect master.
type views struct {
	Master    topology.Key
	Manager   managerView
	Replicas  []replicaView
	Secondary secondaryView
	SSH       sshView
	// Took is how long each view took, in evidence order (manager,
	// replicas, secondary, ssh); nil when not measured.
	Took []time.Duration
	// Configured is how many replicas the master has in the configuration,
	// those that could not be asked included (0: len(Replicas)).
	Configured int
}

// quorum is the number of configured replicas that must have lost the
// master: a strict majority.
func (v views) quorum() int {
	n := max(v.Configured, len(v.Replicas))
	return n/2 + 1
}

// outcome is what the monitor does with a suspect master.
type outcome int

const (
	outcomeUndecided              outcome = iota // not enough evidence yet: keep checking
	outcomeAlive                                 // the manager reconnected
	outcomeAliveRefusing                         // mysqld answers but refuses us: a configuration error
	outcomeUnreachableFromManager                // replicas still see the master
	outcomeManagerPartitioned                    // neither the master nor any replica answers
	outcomeSecondaryVeto                         // secondary_check_script exit 2 or 3
	outcomeSecondaryError                        // secondary_check_script failed
	outcomeNoQuorum                              // fewer than a majority of the configured replicas lost it
	outcomeDead
)

// decision is the result of decide.
type decision struct {
	Outcome outcome
	Reason  string
}

// decide says whether the master is dead, from the views alone: dead when
// the manager cannot connect (refused, or a timeout that persisted), a
// majority of the replicas configured for it have lost it (a replica that
// cannot be asked is no vote for dead) and none still sees it, and the
// secondary check (if set) agrees. A master that some replica still sees is
// only unreachable from the manager; when no replica can be asked at all the
// manager itself is probably cut off; when too few can be asked to make a
// majority, the manager may be on the minority side of a partition. None of
// these gets a failover.
func decide(v views) decision {
	m := v.Manager
	switch {
	case m.Kind == 0:
		return decision{outcomeAlive, fmt.Sprintf("master %s answers the manager again", v.Master)}
	case m.Kind.ServerAlive():
		return decision{outcomeAliveRefusing, fmt.Sprintf("master %s is alive but refuses the manager (%s): check the configuration", v.Master, m.Kind)}
	case m.Kind != topology.ConnRefused && !m.Persisted:
		return decision{outcomeUndecided, fmt.Sprintf("master %s %s once; waiting for it to persist", v.Master, m.Kind)}
	}
	var parts []string
	parts = append(parts, m.Kind.String())
	if len(v.Replicas) > 0 {
		var witnesses, seeing, probed int
		for _, r := range v.Replicas {
			if !r.witness() {
				continue
			}
			witnesses++
			if !r.lost() {
				seeing++
			} else if r.IORunning == "Yes" && r.LastIOErrno == 0 {
				probed++
			}
		}
		if seeing > 0 {
			return decision{outcomeUnreachableFromManager, fmt.Sprintf(
				"master %s unreachable from the manager but replicas still see it: no failover (%d/%d replicas still connected)", v.Master, seeing, witnesses)}
		}
		configured := max(v.Configured, len(v.Replicas))
		if witnesses == 0 {
			return decision{outcomeManagerPartitioned, fmt.Sprintf(
				"master %s unreachable and none of %d replicas could be asked: the manager itself looks partitioned: no failover", v.Master, configured)}
		}
		if witnesses < v.quorum() {
			return decision{outcomeNoQuorum, fmt.Sprintf(
				"master %s unreachable, but only %d of %d configured replicas confirm they lost it (%d needed; %d could not be asked): "+
					"the manager may be on the minority side of a partition: no failover", v.Master, witnesses, configured, v.quorum(), configured-witnesses)}
		}
		p := fmt.Sprintf("%d/%d replicas lost their IO connection", witnesses-probed, configured)
		if probed > 0 {
			p = fmt.Sprintf("%d/%d replicas lost their IO connection or cannot reach the master's port (%d by port probe)", witnesses, configured, probed)
		}
		parts = append(parts, p)
	} else {
		parts = append(parts, "no replicas to confirm")
	}
	if s := v.Secondary; s.Configured {
		switch {
		case s.Err != "":
			return decision{outcomeSecondaryError, fmt.Sprintf("master %s: secondary check failed (%s): no failover", v.Master, s.Err)}
		case s.ExitCode == 2 || s.ExitCode == 3:
			return decision{outcomeSecondaryVeto, fmt.Sprintf("master %s: secondary check exit %d: no failover", v.Master, s.ExitCode)}
		case s.ExitCode != 0:
			return decision{outcomeSecondaryError, fmt.Sprintf("master %s: secondary check exit %d (error): no failover", v.Master, s.ExitCode)}
		}
		parts = append(parts, "secondary check agrees")
	}
	if v.SSH.Reachable && v.SSH.Port == probeRefused {
		parts = append(parts, "port refused on the master's host")
	} else if !v.SSH.Reachable && !v.SSH.Pending {
		parts = append(parts, "master host unreachable over ssh")
	}
	return decision{outcomeDead, strings.Join(parts, "; ")}
}

// evidence is one line per view, for the Verdict and the failover report.
func (v views) evidence() []string {
	m := v.Manager
	mv := fmt.Sprintf("manager: connected after %d attempt(s)", m.Attempts)
	if m.Kind != 0 {
		mv = fmt.Sprintf("manager: %s after %d attempt(s): %s", m.Kind, m.Attempts, m.Err)
	}
	ev := []string{mv}
	for _, r := range v.Replicas {
		ev = append(ev, r.String())
	}
	ev = append(ev, v.Secondary.String(), v.SSH.String())
	if len(v.Took) == len(ev) {
		for i := range ev {
			ev[i] += fmt.Sprintf(" [%s]", v.Took[i].Round(time.Millisecond))
		}
	}
	return ev
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}
