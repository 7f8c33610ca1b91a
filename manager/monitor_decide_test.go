package manager

import (
	"strings"
	"testing"
	"time"

	"github.com/gomha/gomha/topology"
)

func TestDecide(t *testing.T) {
	refused := managerView{Kind: topology.ConnRefused, Attempts: 1}
	timeoutOnce := managerView{Kind: topology.ConnTimeout, Attempts: 1}
	timeoutPersisted := managerView{Kind: topology.ConnTimeout, Attempts: 2, Persisted: true}
	lostConnecting := replicaView{Asked: true, Replicates: true, IORunning: "Connecting", LastIOErrno: 2003}
	lostNo := replicaView{Asked: true, Replicates: true, IORunning: "No"}
	lostErrno := replicaView{Asked: true, Replicates: true, IORunning: "Yes", LastIOErrno: 2013}
	stillYes := replicaView{Asked: true, Replicates: true, IORunning: "Yes"}
	yesProbeOpen := replicaView{Asked: true, Replicates: true, IORunning: "Yes", Probe: probeOpen}
	yesProbeTimeout := replicaView{Asked: true, Replicates: true, IORunning: "Yes", Probe: probeTimeout}
	yesProbeFailed := replicaView{Asked: true, Replicates: true, IORunning: "Yes", Probe: probeFailed}
	unasked := replicaView{Err: "connection refused"}
	elsewhere := replicaView{Asked: true, IORunning: "Yes", Err: "Master_Host 10.0.0.9:3306"}
	sshDown := sshView{Err: "ssh refused"}
	sshUp := sshView{Reachable: true, Port: probeRefused}
	cases := []struct {
		why       string
		v         views
		want      outcome
		reasonHas string
	}{
		{"the manager reconnected: nothing to do",
			views{Manager: managerView{Attempts: 1}, Replicas: []replicaView{lostNo}}, outcomeAlive, "answers"},
		{"too many connections proves mysqld alive: a configuration problem, never a failover",
			views{Manager: managerView{Kind: topology.ConnRefusedByServer}, Replicas: []replicaView{lostNo}}, outcomeAliveRefusing, "refuses"},
		{"access denied is alive too",
			views{Manager: managerView{Kind: topology.ConnAccessDenied}}, outcomeAliveRefusing, "configuration"},
		{"one timeout is not enough, even if replicas agree",
			views{Manager: timeoutOnce, Replicas: []replicaView{lostNo}, SSH: sshDown}, outcomeUndecided, "persist"},
		{"refused and every replica disconnected: dead",
			views{Manager: refused, Replicas: []replicaView{lostConnecting, lostNo}, SSH: sshUp}, outcomeDead, "connection refused; 2/2 replicas lost their IO connection"},
		{"Last_IO_Errno set counts as lost even while Yes",
			views{Manager: refused, Replicas: []replicaView{lostErrno}, SSH: sshUp}, outcomeDead, "1/1 replicas"},
		{"a persistent timeout with replicas agreeing: dead",
			views{Manager: timeoutPersisted, Replicas: []replicaView{lostNo, lostNo}, SSH: sshDown}, outcomeDead, "master host unreachable over ssh"},
		{"a replica that still receives: unreachable from the manager only",
			views{Manager: timeoutPersisted, Replicas: []replicaView{lostNo, yesProbeOpen}}, outcomeUnreachableFromManager, "1/2 replicas still connected"},
		{"IO thread Yes without a probe result is taken as seeing the master",
			views{Manager: refused, Replicas: []replicaView{stillYes}}, outcomeUnreachableFromManager, "replicas still see it"},
		{"a probe that could not run does not count as lost",
			views{Manager: timeoutPersisted, Replicas: []replicaView{yesProbeFailed}}, outcomeUnreachableFromManager, "no failover"},
		{"master cut off from everyone: the port probe from the replicas fails",
			views{Manager: timeoutPersisted, Replicas: []replicaView{yesProbeTimeout, yesProbeTimeout}, SSH: sshDown}, outcomeDead, "by port probe"},
		{"no replica could be asked: the manager is probably partitioned",
			views{Manager: timeoutPersisted, Replicas: []replicaView{unasked, unasked}}, outcomeManagerPartitioned, "partitioned"},
		{"replicas of another master are no witnesses",
			views{Manager: refused, Replicas: []replicaView{elsewhere}}, outcomeManagerPartitioned, "none of 1"},
		{"an IO thread that says Yes but hears no heartbeat has lost the master",
			views{Manager: timeoutPersisted, Replicas: []replicaView{{Asked: true, Replicates: true, IORunning: "Yes", Silent: true}, lostNo}, SSH: sshDown},
			outcomeDead, "2/2 replicas"},
		{"a replica that cannot be asked is no vote for dead: 1 of 2 is no majority",
			views{Manager: refused, Replicas: []replicaView{unasked, lostNo}, SSH: sshUp}, outcomeNoQuorum, "only 1 of 2 configured replicas"},
		{"2 of 3 configured replicas lost it, the third cannot be asked: a majority",
			views{Manager: refused, Replicas: []replicaView{unasked, lostNo, lostConnecting}, SSH: sshUp}, outcomeDead, "2/3 replicas"},
		{"a replica configured but dead since the start counts against the quorum",
			views{Manager: refused, Replicas: []replicaView{lostNo}, Configured: 2, SSH: sshUp}, outcomeNoQuorum, "1 could not be asked"},
		{"a partition: the manager sees one replica that lost the master, the other is with the master",
			views{Manager: timeoutPersisted, Replicas: []replicaView{yesProbeTimeout, unasked}, SSH: sshDown}, outcomeNoQuorum, "minority side"},
		{"no replicas at all: rely on the manager (and ssh/secondary)",
			views{Manager: refused, SSH: sshUp}, outcomeDead, "no replicas to confirm"},
		{"secondary check exit 0 agrees",
			views{Manager: refused, Replicas: []replicaView{lostNo}, Secondary: secondaryView{Configured: true}, SSH: sshUp}, outcomeDead, "secondary check agrees"},
		{"secondary check exit 3 (reachable from some route) vetoes",
			views{Manager: refused, Replicas: []replicaView{lostNo}, Secondary: secondaryView{Configured: true, ExitCode: 3}}, outcomeSecondaryVeto, "exit 3"},
		{"secondary check exit 2 (a monitoring host is down) vetoes",
			views{Manager: refused, Replicas: []replicaView{lostNo}, Secondary: secondaryView{Configured: true, ExitCode: 2}}, outcomeSecondaryVeto, "exit 2"},
		{"secondary check exit 1 is an error: no failover",
			views{Manager: refused, Replicas: []replicaView{lostNo}, Secondary: secondaryView{Configured: true, ExitCode: 1}}, outcomeSecondaryError, "error"},
		{"secondary check timing out is an error: no failover",
			views{Manager: refused, Replicas: []replicaView{lostNo}, Secondary: secondaryView{Configured: true, ExitCode: -1, Err: "hook timed out"}}, outcomeSecondaryError, "timed out"},
		{"replicas that see the master win over a secondary check saying 0",
			views{Manager: refused, Replicas: []replicaView{yesProbeOpen}, Secondary: secondaryView{Configured: true}}, outcomeUnreachableFromManager, "still see it"},
	}
	for _, tc := range cases {
		tc.v.Master = topology.Key{Host: "127.0.0.101", Port: 3306}
		d := decide(tc.v)
		if d.Outcome != tc.want || !strings.Contains(d.Reason, tc.reasonHas) {
			t.Errorf("%s:\n got outcome %d reason %q\nwant outcome %d reason containing %q", tc.why, d.Outcome, d.Reason, tc.want, tc.reasonHas)
		}
		if ev := tc.v.evidence(); len(ev) != len(tc.v.Replicas)+3 {
			t.Errorf("%s: %d evidence lines, want one per view (%d)", tc.why, len(ev), len(tc.v.Replicas)+3)
		}
	}
}

func TestReplicaSilence(t *testing.T) {
	at := replicaIO{running: "Yes", hbPeriod: 500 * time.Millisecond, heartbeats: 40, readPos: "mysql-bin.000001:500"}
	cases := []struct {
		why     string
		now     replicaIO
		elapsed time.Duration
		want    bool
	}{
		{"nothing for two periods: silent", at, time.Second, true},
		{"too soon to say", at, 900 * time.Millisecond, false},
		{"a heartbeat arrived", replicaIO{running: "Yes", hbPeriod: at.hbPeriod, heartbeats: 41, readPos: at.readPos}, time.Second, false},
		{"events arrived (a busy master sends no heartbeats)", replicaIO{running: "Yes", hbPeriod: at.hbPeriod, heartbeats: 40, readPos: "mysql-bin.000001:900"}, time.Second, false},
		{"no heartbeat configured: no verdict", replicaIO{running: "Yes", readPos: at.readPos}, time.Minute, false},
	}
	for _, c := range cases {
		if got := c.now.silentSince(at, c.elapsed); got != c.want {
			t.Errorf("%s: silent=%v, want %v", c.why, got, c.want)
		}
	}
}
