package topology

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// cluster builds a healthy 3-server snapshot: s1 master, s2/s3 replicas.
func cluster() *Snapshot {
	s := &Snapshot{}
	for i := 1; i <= 3; i++ {
		addr := fmt.Sprintf("127.0.0.1%d", i)
		st := &Status{Key: Key{addr, 3306}, Flavor: MariaDB, Version: "10.11.19-MariaDB", ServerID: uint32(100 + i), LogBin: true}
		if i > 1 {
			lag := int64(0)
			st.ReadOnly = true
			st.Replica = &Replica{MasterHost: "127.0.0.11", MasterPort: 3306, IORunning: "Yes", SQLRunning: true,
				SecondsBehindMaster: &lag, UsingGTID: "Slave_Pos"}
		}
		s.Nodes = append(s.Nodes, &Node{Server: Server{Name: fmt.Sprintf("server%d", i), Hostname: addr, IP: addr, Port: 3306}, Status: st})
	}
	return s
}

func TestAnalyze(t *testing.T) {
	opts := CheckOptions{SecondsBehindMaster: 30, CheckReplFilter: true}
	tests := []struct {
		name    string
		why     string
		mutate  func(s *Snapshot)
		opts    *CheckOptions
		want    []ProblemCode // error-severity codes expected
		warn    []ProblemCode
		master  string
		healthy bool
	}{
		{name: "healthy", why: "baseline: one writable master, two replicas in sync", mutate: func(*Snapshot) {}, master: "127.0.0.11:3306", healthy: true},
		{name: "master listed last", why: "the master is found from the topology, not from config order",
			mutate: func(s *Snapshot) {
				s.Nodes[0], s.Nodes[2] = s.Nodes[2], s.Nodes[0]
			}, master: "127.0.0.11:3306", healthy: true},
		{name: "sql thread stopped on an error", why: "a replica that cannot apply events cannot be trusted in a failover",
			mutate: func(s *Snapshot) {
				s.Nodes[1].Status.Replica.SQLRunning = false
				s.Nodes[1].Status.Replica.LastSQLErrno = 1062
			}, want: []ProblemCode{ProblemSQLThread}, master: "127.0.0.11:3306"},
		{name: "sql thread stopped without an error", why: "an operator or a backup tool stopped it: a warning, the manager starts (as MHA)",
			mutate: func(s *Snapshot) { s.Nodes[1].Status.Replica.SQLRunning = false },
			master: "127.0.0.11:3306", healthy: true},
		{name: "io thread connecting", why: "IO thread not connected to the master",
			mutate: func(s *Snapshot) { s.Nodes[2].Status.Replica.IORunning = "Connecting" },
			want:   []ProblemCode{ProblemIOThread}, master: "127.0.0.11:3306"},
		{name: "replica from elsewhere", why: "a replica chained under another replica is not managed without multi_tier_slave",
			mutate: func(s *Snapshot) { s.Nodes[2].Status.Replica.MasterHost = "127.0.0.12" },
			want:   []ProblemCode{ProblemReplicatesElsewhere}, master: "127.0.0.11:3306"},
		{name: "replica from elsewhere multi tier", why: "multi_tier_slave marks such replicas unmanaged instead of failing",
			mutate: func(s *Snapshot) { s.Nodes[2].Status.Replica.MasterHost = "127.0.0.12" },
			opts:   &CheckOptions{SecondsBehindMaster: 30, MultiTierSlave: true}, master: "127.0.0.11:3306", healthy: true},
		{name: "replica of unknown host", why: "a master outside the configuration cannot be managed",
			mutate: func(s *Snapshot) { s.Nodes[2].Status.Replica.MasterHost = "10.9.9.9" },
			want:   []ProblemCode{ProblemUnknownMaster}, master: "127.0.0.11:3306"},
		{name: "duplicate server id", why: "duplicate server_ids break replication silently",
			mutate: func(s *Snapshot) { s.Nodes[2].Status.ServerID = 102 },
			want:   []ProblemCode{ProblemDuplicateServerID}, master: "127.0.0.11:3306"},
		{name: "filters differ", why: "different filters mean replicas hold different data",
			mutate: func(s *Snapshot) { s.Nodes[2].Status.Replica.Filters.ReplicateIgnoreDB = "scratch" },
			want:   []ProblemCode{ProblemFilterMismatch}, master: "127.0.0.11:3306"},
		{name: "binlog filters differ", why: "a promoted replica would log differently from the master",
			mutate: func(s *Snapshot) { s.Nodes[1].Status.Filters.BinlogDoDB = "app" },
			want:   []ProblemCode{ProblemFilterMismatch}, master: "127.0.0.11:3306"},
		{name: "filters differ unchecked", why: "check_repl_filter=0 turns the filter check off",
			mutate: func(s *Snapshot) { s.Nodes[2].Status.Replica.Filters.ReplicateIgnoreDB = "scratch" },
			opts:   &CheckOptions{SecondsBehindMaster: 30}, master: "127.0.0.11:3306", healthy: true},
		{name: "two writable masters", why: "a detached writable server is a split brain waiting to happen",
			mutate: func(s *Snapshot) { s.Nodes[2].Status.Replica = nil; s.Nodes[2].Status.ReadOnly = false },
			want:   []ProblemCode{ProblemMultipleWritable}},
		{name: "detached read-only server", why: "a server not replicating at all is not part of the cluster",
			mutate: func(s *Snapshot) { s.Nodes[2].Status.Replica = nil },
			want:   []ProblemCode{ProblemNotReplicating}, master: "127.0.0.11:3306"},
		{name: "lag", why: "a lagging replica makes failover slow and switchover unsafe",
			mutate: func(s *Snapshot) { lag := int64(31); s.Nodes[1].Status.Replica.SecondsBehindMaster = &lag },
			want:   []ProblemCode{ProblemLag}, master: "127.0.0.11:3306"},
		{name: "access denied", why: "a wrong password is named as such, not as a dead server",
			mutate: func(s *Snapshot) {
				s.Nodes[1].Status = nil
				s.Nodes[1].Err = &ConnError{Key: Key{"127.0.0.12", 3306}, Kind: ConnAccessDenied, Err: errors.New("Error 1045")}
			}, want: []ProblemCode{ProblemAccessDenied}, master: "127.0.0.11:3306"},
		{name: "master down", why: "replicas still point at a master that cannot be read",
			mutate: func(s *Snapshot) {
				s.Nodes[0].Status = nil
				s.Nodes[0].Err = &ConnError{Key: Key{"127.0.0.11", 3306}, Kind: ConnRefused, Err: errors.New("refused")}
			}, want: []ProblemCode{ProblemUnreachable, ProblemMasterUnreachable}, master: "127.0.0.11:3306"},
		{name: "candidate and no_master", why: "contradictory flags are a configuration error",
			mutate: func(s *Snapshot) { s.Nodes[1].Server.CandidateMaster = true; s.Nodes[1].Server.NoMaster = true },
			want:   []ProblemCode{ProblemCandidateConflict}, master: "127.0.0.11:3306"},
		{name: "candidate without log-bin", why: "a candidate that cannot be master is a configuration error",
			mutate: func(s *Snapshot) { s.Nodes[1].Server.CandidateMaster = true; s.Nodes[1].Status.LogBin = false },
			want:   []ProblemCode{ProblemNoLogBin}, master: "127.0.0.11:3306"},
		{name: "no promotable replica", why: "MHA refuses to monitor when no replica can be promoted",
			mutate: func(s *Snapshot) { s.Nodes[1].Server.NoMaster = true; s.Nodes[2].Status.LogBin = false },
			want:   []ProblemCode{ProblemNoCandidate}, warn: []ProblemCode{ProblemNoLogBin}, master: "127.0.0.11:3306"},
		{name: "writable replica and relay purge", why: "warnings only, as in MHA",
			mutate: func(s *Snapshot) {
				s.Nodes[1].Status.ReadOnly = false
				s.Nodes[2].Status.RelayLogPurge = true
				s.Nodes[2].Status.Replica.UsingGTID = "No"
				s.Nodes[1].Status.Replica.UsingGTID = "No"
			}, warn: []ProblemCode{ProblemReplicaWritable, ProblemRelayLogPurge}, master: "127.0.0.11:3306", healthy: true},
		{name: "master master", why: "in master-master the writable one of the pair is the master",
			mutate: func(s *Snapshot) {
				lag := int64(0)
				s.Nodes[0].Status.Replica = &Replica{MasterHost: "127.0.0.12", MasterPort: 3306, IORunning: "Yes", SQLRunning: true, SecondsBehindMaster: &lag}
			}, master: "127.0.0.11:3306", healthy: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := cluster()
			tc.mutate(s)
			o := opts
			if tc.opts != nil {
				o = *tc.opts
			}
			a := Analyze(s, o)
			if a.Healthy() != tc.healthy {
				t.Fatalf("%s: healthy=%v, want %v; problems %v", tc.why, a.Healthy(), tc.healthy, a.Problems)
			}
			for _, c := range tc.want {
				if !hasSev(a, c, SeverityError) {
					t.Errorf("%s: want error %s, got %v", tc.why, c, a.Problems)
				}
			}
			for _, c := range tc.warn {
				if !hasSev(a, c, SeverityWarning) {
					t.Errorf("%s: want warning %s, got %v", tc.why, c, a.Problems)
				}
			}
			got := ""
			if a.Master != nil {
				got = a.Master.Key().String()
			}
			if tc.master != "" && got != tc.master {
				t.Errorf("master = %q, want %q", got, tc.master)
			}
		})
	}
}

func hasSev(a *Analysis, c ProblemCode, sev Severity) bool {
	for _, p := range a.Problems {
		if p.Code == c && p.Severity == sev {
			return true
		}
	}
	return false
}

func TestTree(t *testing.T) {
	s := cluster()
	s.Nodes[2].Status.Replica.MasterHost = "127.0.0.12"
	a := Analyze(s, CheckOptions{SecondsBehindMaster: 30, MultiTierSlave: true})
	want := "127.0.0.11(127.0.0.11:3306) (current master)\n +--127.0.0.12(127.0.0.12:3306)\n     +--127.0.0.13(127.0.0.13:3306)\n"
	if got := a.Tree(s); got != want {
		t.Fatalf("tree:\n%s\nwant:\n%s", got, want)
	}
	s.Nodes[1].Status, s.Nodes[1].Err = nil, &ConnError{Kind: ConnTimeout, Err: errors.New("i/o timeout")}
	a = Analyze(s, CheckOptions{SecondsBehindMaster: 30})
	if got := a.Tree(s); !strings.Contains(got, "127.0.0.12(127.0.0.12:3306) (not in the tree[timed out") {
		t.Fatalf("dead server not listed:\n%s", got)
	}
}

func TestMajorVersion(t *testing.T) {
	for in, want := range map[string]string{"10.11.19-MariaDB-0+deb12u1-log": "10.11", "8.0.36": "8.0", "5.7": "5.7"} {
		if got := (&Status{Version: in}).MajorVersion(); got != want {
			t.Errorf("MajorVersion(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestOnlyMasterDown: a manager starting beside a dead master watches it
// (and fails over) only when nothing else is wrong.
func TestOnlyMasterDown(t *testing.T) {
	masterDown := func(s *Snapshot) {
		s.Nodes[0].Status = nil
		s.Nodes[0].Err = &ConnError{Key: Key{"127.0.0.11", 3306}, Kind: ConnRefused, Err: errors.New("refused")}
		for _, n := range s.Nodes[1:] {
			n.Status.Replica.IORunning, n.Status.Replica.LastIOErrno = "Connecting", 2003
		}
	}
	tests := []struct {
		name   string
		mutate func(*Snapshot)
		want   bool
	}{
		{"healthy cluster", func(*Snapshot) {}, false},
		{"master down, replicas reconnecting", masterDown, true},
		{"master down, replicas not noticed yet", func(s *Snapshot) {
			s.Nodes[0].Status = nil
			s.Nodes[0].Err = &ConnError{Key: Key{"127.0.0.11", 3306}, Kind: ConnTimeout, Err: errors.New("timeout")}
		}, true},
		{"master down and a replica's SQL thread broken", func(s *Snapshot) {
			masterDown(s)
			s.Nodes[2].Status.Replica.SQLRunning, s.Nodes[2].Status.Replica.LastSQLErrno = false, 1062
		}, false},
		{"master down and a replica's IO thread stopped by hand", func(s *Snapshot) {
			masterDown(s)
			s.Nodes[2].Status.Replica.IORunning = "No"
		}, false},
		{"master refuses the manager's password", func(s *Snapshot) {
			s.Nodes[0].Status = nil
			s.Nodes[0].Err = &ConnError{Key: Key{"127.0.0.11", 3306}, Kind: ConnAccessDenied, Err: errors.New("Error 1045")}
		}, false},
	}
	for _, tc := range tests {
		s := cluster()
		tc.mutate(s)
		a := Analyze(s, CheckOptions{SecondsBehindMaster: 30})
		if got := a.OnlyMasterDown(); got != tc.want {
			t.Errorf("%s: OnlyMasterDown = %v, want %v; problems %v", tc.name, got, tc.want, a.Problems)
		}
	}
}

// TestStartBlockersIgnoreFail: MHA's --ignore_fail_on_start lets a manager
// start while a replica marked ignore_fail is down, and only then.
func TestStartBlockersIgnoreFail(t *testing.T) {
	down := func(ignoreFail bool) *Analysis {
		s := cluster()
		s.Nodes[2].Status = nil
		s.Nodes[2].Err = &ConnError{Key: Key{"127.0.0.13", 3306}, Kind: ConnRefused, Err: errors.New("refused")}
		s.Nodes[2].Server.IgnoreFail = ignoreFail
		return Analyze(s, CheckOptions{SecondsBehindMaster: 30})
	}
	if got := down(true).StartBlockers(true); len(got) != 0 {
		t.Errorf("ignore_fail replica down with --ignore_fail_on_start: blockers %v, want none", got)
	}
	if got := down(true).StartBlockers(false); len(got) == 0 {
		t.Error("ignore_fail replica down without --ignore_fail_on_start: no blocker, want one (as MHA)")
	}
	if got := down(false).StartBlockers(true); len(got) == 0 {
		t.Error("a replica without ignore_fail down: no blocker, want one")
	}
}

// A replica whose heartbeat period exceeds the master's ping_interval
// notices a silent master late: a warning, with the fix.
func TestHeartbeatTooLong(t *testing.T) {
	master := Key{"127.0.0.11", 3306}
	tests := []struct {
		why       string
		flavor    Flavor
		periods   [2]time.Duration // of the replicas s2, s3
		intervals map[Key]time.Duration
		warned    []string // keys of the replicas warned about
		msg       []string // in every warning's message
	}{
		{why: "half the ping_interval (what gomha and the sandbox set): nothing to say",
			flavor: MariaDB, periods: [2]time.Duration{500 * time.Millisecond, 500 * time.Millisecond},
			intervals: map[Key]time.Duration{master: time.Second}},
		{why: "a period equal to the ping_interval still shows a silent master within one interval",
			flavor: MariaDB, periods: [2]time.Duration{time.Second, time.Second},
			intervals: map[Key]time.Duration{master: time.Second}},
		{why: "MariaDB's default (slave_net_timeout/2 = 30 s) on one replica: that one is named, with its period, the interval and the fix",
			flavor: MariaDB, periods: [2]time.Duration{30 * time.Second, 500 * time.Millisecond},
			intervals: map[Key]time.Duration{master: time.Second},
			warned:    []string{"127.0.0.12:3306"},
			msg:       []string{"heartbeat period 30s", "ping_interval 1s", "CHANGE MASTER TO MASTER_HEARTBEAT_PERIOD=0.5", "next failover or switchover"}},
		{why: "the fix is half the master's ping_interval, whatever it is (MHA's default 3 s: 1.5)",
			flavor: MariaDB, periods: [2]time.Duration{5 * time.Second, 5 * time.Second},
			intervals: map[Key]time.Duration{master: 3 * time.Second},
			warned:    []string{"127.0.0.12:3306", "127.0.0.13:3306"},
			msg:       []string{"heartbeat period 5s", "ping_interval 3s", "MASTER_HEARTBEAT_PERIOD=1.5;"}},
		{why: "heartbeats off (period 0 on MariaDB, which reports it): the replica notices only after slave_net_timeout",
			flavor: MariaDB, periods: [2]time.Duration{0, 500 * time.Millisecond},
			intervals: map[Key]time.Duration{master: time.Second},
			warned:    []string{"127.0.0.12:3306"},
			msg:       []string{"heartbeats are off", "slave_net_timeout", "MASTER_HEARTBEAT_PERIOD=0.5"}},
		{why: "the master's ping_interval counts, not a replica's",
			flavor: MariaDB, periods: [2]time.Duration{2 * time.Second, 500 * time.Millisecond},
			intervals: map[Key]time.Duration{master: time.Second, {"127.0.0.12", 3306}: 10 * time.Second},
			warned:    []string{"127.0.0.12:3306"}},
		{why: "MySQL: gomha does not read the period (it stays 0), unknown is no warning",
			flavor: MySQL, intervals: map[Key]time.Duration{master: time.Second}},
		{why: "no ping_interval given: nothing to compare with",
			flavor: MariaDB, periods: [2]time.Duration{30 * time.Second, 30 * time.Second}},
	}
	for _, tc := range tests {
		t.Run(tc.why, func(t *testing.T) {
			s := cluster()
			for i, n := range s.Nodes {
				n.Status.Flavor = tc.flavor
				if i > 0 {
					n.Status.Replica.HeartbeatPeriod = tc.periods[i-1]
				}
			}
			a := Analyze(s, CheckOptions{SecondsBehindMaster: 30, PingIntervals: tc.intervals})
			if !a.Healthy() {
				t.Fatalf("a heartbeat period is a warning, never an error: %v", a.Problems)
			}
			var warned []string
			for _, p := range a.Problems {
				if p.Code != ProblemHeartbeatTooLong {
					continue
				}
				warned = append(warned, p.Key.String())
				if p.Severity != SeverityWarning {
					t.Errorf("severity %s, want warning: %s", p.Severity, p)
				}
				for _, m := range tc.msg {
					if !strings.Contains(p.Msg, m) {
						t.Errorf("message lacks %q: %s", m, p)
					}
				}
			}
			if fmt.Sprint(warned) != fmt.Sprint(tc.warned) {
				t.Errorf("warned about %v, want %v (problems %v)", warned, tc.warned, a.Problems)
			}
		})
	}
}
