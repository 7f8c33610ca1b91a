package failover

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/gomha/gomha/topology"
)

const bin = "mysql-bin.000003"

var defaults = PlanOptions{LatestPriority: true, CheckReplDelay: true}

func TestPlanFailover(t *testing.T) {
	tests := []struct {
		name     string
		why      string
		nodes    []*topology.Node
		opts     *PlanOptions // nil = defaults
		wantErr  error
		errHas   []string // substrings the error message must contain
		newMstr  int      // expected new master server number
		latest   []int
		reasonIn string
		check    func(t *testing.T, p *Plan)
	}{
		{
			name: "candidate not the latest", why: "candidate_master wins over the latest replica, and the plan says it must catch up from the latest first",
			nodes:   []*topology.Node{deadMaster(), replica(2, bin, 500), replica(3, bin, 300, candidate)},
			newMstr: 3, latest: []int{2}, reasonIn: "catches up from 127.0.0.12",
			check: func(t *testing.T, p *Plan) {
				g := onlyGap(t, p, 3, GapLatestRelayLog)
				if g.Holder != key(2) || g.From.Pos != 300 || g.To.Pos != 500 {
					t.Errorf("new master gap = %+v, want 300..500 from server 2's relay log", g)
				}
				if p.Base != key(2) || !p.Recoveries[0].NewMaster || p.Recoveries[0].Key != key(3) {
					t.Errorf("base %v, first recovery %+v: want base 2 and new master 3 first", p.Base, p.Recoveries[0])
				}
			},
		},
		{
			name: "file mode: a write made on a replica is errant", why: "MariaDB gives it the replica's own server_id beyond gtid_slave_pos even without GTID positioning",
			nodes: []*topology.Node{deadMaster(), replica(2, bin, 500, gtidState("0-101-100", "0-101-100")),
				replica(3, bin, 500, gtidState("0-101-100", "0-101-100,0-103-101"))},
			wantErr: ErrErrantTransactions, errHas: []string{"127.0.0.13:3306 has 0-103-101", "written on the replica itself"},
		},
		{
			name: "file mode: a former master's own GTIDs are history", why: "a replica that was the master earlier has its own server_id below what it replicated since",
			nodes: []*topology.Node{deadMaster(), replica(2, bin, 500, gtidState("0-101-100", "0-101-100,0-102-40")),
				replica(3, bin, 500, gtidState("0-101-100", "0-101-100,0-102-40"))},
			newMstr: 2,
		},
		{
			name: "latest candidate preferred", why: "with latest_priority a candidate_master that is also latest beats an earlier-configured candidate",
			nodes:   []*topology.Node{deadMaster(), replica(2, bin, 300, candidate), replica(3, bin, 500, candidate)},
			newMstr: 3, reasonIn: "candidate_master and latest",
		},
		{
			name: "no_master on the latest", why: "the latest replica may never be master, but stays the base others catch up from",
			nodes:   []*topology.Node{deadMaster(), replica(2, bin, 500, noMaster), replica(3, bin, 300)},
			newMstr: 3, latest: []int{2}, reasonIn: "no latest replica is eligible",
			check: func(t *testing.T, p *Plan) {
				if p.Base != key(2) || len(p.Rejected) != 1 || !strings.Contains(p.Rejected[0].Why, "no_master=1") {
					t.Errorf("base %v rejected %v: want base 2, server 2 rejected for no_master", p.Base, p.Rejected)
				}
				onlyGap(t, p, 3, GapLatestRelayLog)
			},
		},
		{
			name: "latest_priority=0", why: "without latest_priority the first eligible replica in config order wins even if behind",
			nodes:   []*topology.Node{deadMaster(), replica(2, bin, 300), replica(3, bin, 500)},
			opts:    &PlanOptions{CheckReplDelay: true},
			newMstr: 2, latest: []int{3}, reasonIn: "latest_priority=0",
		},
		{
			name: "latest_priority=1 same topology", why: "control for the case above: the latest wins",
			nodes:   []*topology.Node{deadMaster(), replica(2, bin, 300), replica(3, bin, 500)},
			newMstr: 3, reasonIn: "latest replica",
		},
		{
			name: "forced new master", why: "--new_master_host picks a good server even when it is not the latest",
			nodes:   []*topology.Node{deadMaster(), replica(2, bin, 500), replica(3, bin, 300)},
			opts:    &PlanOptions{NewMasterHost: key(3), LatestPriority: true},
			newMstr: 3, reasonIn: "forced by --new_master_host",
		},
		{
			name: "forced new master is bad", why: "a forced no_master server is an error, with no fallback to another replica",
			nodes:   []*topology.Node{deadMaster(), replica(2, bin, 500), replica(3, bin, 300, noMaster)},
			opts:    &PlanOptions{NewMasterHost: key(3), LatestPriority: true},
			wantErr: ErrNoCandidate, errHas: []string{"127.0.0.13:3306 (--new_master_host)", "no_master=1", "no fallback"},
		},
		{
			name: "forced new master is dead", why: "a forced server that is not an alive replica is an error",
			nodes:   []*topology.Node{deadMaster(), replica(2, bin, 500), replica(3, bin, 300, ignoreFail, down)},
			opts:    &PlanOptions{NewMasterHost: key(3)},
			wantErr: ErrNoCandidate, errHas: []string{"not an alive replica"},
		},
		{
			name: "replica dead", why: "MHA refuses to fail over when a replica without ignore_fail is dead",
			nodes:   []*topology.Node{deadMaster(), replica(2, bin, 500), replica(3, bin, 300, down)},
			wantErr: ErrReplicaDead, errHas: []string{"127.0.0.13", "ignore_fail=1"},
		},
		{
			name: "replica dead with ignore_fail", why: "an ignore_fail replica may be dead: it is left out and named",
			nodes:   []*topology.Node{deadMaster(), replica(2, bin, 500), replica(3, bin, 300, ignoreFail, down)},
			newMstr: 2,
			check: func(t *testing.T, p *Plan) {
				if len(p.Excluded) != 1 || p.Excluded[0].Key != key(3) || len(p.Recoveries) != 1 {
					t.Errorf("excluded %v, %d recoveries: want server 3 left out, one recovery", p.Excluded, len(p.Recoveries))
				}
			},
		},
		{
			name: "dead replica ignored by option", why: "IgnoreFailOnDead treats every dead replica as ignore_fail",
			nodes:   []*topology.Node{deadMaster(), replica(2, bin, 500), replica(3, bin, 300, down)},
			opts:    &PlanOptions{IgnoreFailOnDead: true, LatestPriority: true},
			newMstr: 2,
		},
		{
			name: "all replicas no_master", why: "no candidate: the error lists every replica and why it was rejected",
			nodes:   []*topology.Node{deadMaster(), replica(2, bin, 500, noMaster), replica(3, bin, 300, noLogBin)},
			wantErr: ErrNoCandidate, errHas: []string{"127.0.0.12:3306): no_master=1", "127.0.0.13:3306): log-bin is disabled"},
		},
		{
			name: "binlog files compared numerically", why: "mysql-bin.000010 is after mysql-bin.000009 whatever the positions",
			nodes:   []*topology.Node{deadMaster(), replica(2, "mysql-bin.000009", 99999), replica(3, "mysql-bin.000010", 4)},
			newMstr: 3, latest: []int{3},
		},
		{
			name: "6-digit vs 7-digit suffix", why: "mysql-bin.1000000 follows mysql-bin.999999; MHA's string compare picks the wrong latest",
			nodes:   []*topology.Node{deadMaster(), replica(2, "mysql-bin.999999", 500), replica(3, "mysql-bin.1000000", 4)},
			newMstr: 3, latest: []int{3},
			check: func(t *testing.T, p *Plan) {
				if len(p.Oldest) != 1 || p.Oldest[0] != key(2) {
					t.Errorf("oldest = %v, want server 2", p.Oldest)
				}
			},
		},
		{
			name: "unorderable binlog names", why: "two different base names cannot be ordered: refuse rather than guess",
			nodes:   []*topology.Node{deadMaster(), replica(2, "mysql-bin.000003", 500), replica(3, "other-bin.000003", 4)},
			wantErr: ErrUnorderedCoords,
		},
		{
			name: "ties kept", why: "two replicas at the same position are both latest; config order picks among them",
			nodes:   []*topology.Node{deadMaster(), replica(2, bin, 500), replica(3, bin, 500)},
			newMstr: 2, latest: []int{2, 3},
		},
		{
			name: "file mode lag between replicas", why: "each replica gets its own exec->read gap and the read->latest gap from the base's relay log",
			nodes: []*topology.Node{deadMaster(), replica(2, bin, 500, exec(bin, 400)),
				replica(3, "mysql-bin.000002", 900, exec("mysql-bin.000002", 700))},
			newMstr: 2,
			check: func(t *testing.T, p *Plan) {
				r2, r3 := recovery(t, p, 2), recovery(t, p, 3)
				if len(r2.Gaps) != 1 || r2.Gaps[0].Kind != GapOwnRelayLog || r2.Gaps[0].From.Pos != 400 {
					t.Errorf("server 2 gaps = %+v, want its own relay log from 400", r2.Gaps)
				}
				if len(r3.Gaps) != 2 || r3.Gaps[0].Kind != GapOwnRelayLog || r3.Gaps[1].Kind != GapLatestRelayLog ||
					r3.Gaps[1].From.String() != "mysql-bin.000002:900" || r3.Gaps[1].To.String() != bin+":500" {
					t.Errorf("server 3 gaps = %+v, want own 700..900 then 000002:900..000003:500 from server 2", r3.Gaps)
				}
				if r3.Repoint != RepointFile || r2.Repoint != RepointNone {
					t.Errorf("repoint %v/%v", r2.Repoint, r3.Repoint)
				}
			},
		},
		{
			name: "newer major version", why: "never promote 10.11 above a 10.6 replica; versions compare numerically (\"10.11\" < \"10.6\" as strings)",
			nodes:   []*topology.Node{deadMaster(), replica(2, bin, 500), replica(3, bin, 300, version("10.6.18-MariaDB"))},
			newMstr: 3, reasonIn: "no latest replica is eligible",
			check: func(t *testing.T, p *Plan) {
				if len(p.Rejected) != 1 || !strings.Contains(p.Rejected[0].Why, "10.11 is newer than the oldest replica's 10.6") {
					t.Errorf("rejected = %v", p.Rejected)
				}
			},
		},
		{
			name: "check_repl_delay older file", why: "a candidate whose SQL thread is in an older master file is far behind (check_repl_delay=1)",
			nodes:   []*topology.Node{deadMaster(), replica(2, bin, 500), replica(3, bin, 500, candidate, exec("mysql-bin.000002", 100))},
			newMstr: 2,
		},
		{
			name: "check_repl_delay off", why: "the same candidate is promoted when check_repl_delay=0",
			nodes:   []*topology.Node{deadMaster(), replica(2, bin, 500), replica(3, bin, 500, candidate, exec("mysql-bin.000002", 100))},
			opts:    &PlanOptions{LatestPriority: true},
			newMstr: 3,
		},
		{
			name: "check_repl_delay bytes", why: "same file, SQL thread more than 100,000,000 bytes behind the latest read position",
			nodes:   []*topology.Node{deadMaster(), replica(2, bin, 200_000_000), replica(3, bin, 200_000_000, candidate, exec(bin, 50_000_000))},
			newMstr: 2,
		},
		{
			name: "check_repl_delay numeric files", why: "SQL thread in mysql-bin.999999 is behind a latest reading mysql-bin.1000000 (MHA's string compare says it is not)",
			nodes:   []*topology.Node{deadMaster(), replica(2, "mysql-bin.1000000", 500), replica(3, "mysql-bin.1000000", 500, candidate, exec("mysql-bin.999999", 100))},
			newMstr: 2,
			check: func(t *testing.T, p *Plan) {
				if len(p.Rejected) != 1 || !strings.Contains(p.Rejected[0].Why, "check_repl_delay") {
					t.Errorf("rejected = %v, want server 3 for check_repl_delay", p.Rejected)
				}
			},
		},
		{
			name: "SQL thread error", why: "a replica whose SQL thread stopped on an error is not promoted, and the plan warns",
			nodes:   []*topology.Node{deadMaster(), replica(2, bin, 500, candidate, sqlError(1062)), replica(3, bin, 500)},
			newMstr: 3,
			check: func(t *testing.T, p *Plan) {
				if len(p.Warnings) == 0 || !strings.Contains(strings.Join(p.Warnings, "\n"), "error 1062") {
					t.Errorf("warnings = %v", p.Warnings)
				}
			},
		},
		{
			name: "not a replica of the dead master", why: "an alive server replicating elsewhere is refused, as MHA does",
			nodes:   []*topology.Node{deadMaster(), replica(2, bin, 500), replica(3, bin, 300, from("127.0.0.12"))},
			wantErr: ErrNotReplicaOfDead, errHas: []string{"127.0.0.13", "replicates from 127.0.0.12:3306"},
		},
		{
			name: "multi tier replica", why: "with multi_tier_slave a replica of a replica is left as it is",
			nodes:   []*topology.Node{deadMaster(), replica(2, bin, 500), replica(3, bin, 300, from("127.0.0.12"))},
			opts:    &PlanOptions{MultiTierSlave: true, LatestPriority: true},
			newMstr: 2,
			check: func(t *testing.T, p *Plan) {
				if len(p.Excluded) != 1 || !strings.Contains(p.Excluded[0].Why, "multi_tier_slave") {
					t.Errorf("excluded = %v", p.Excluded)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := defaults
			if tc.opts != nil {
				opts = *tc.opts
			}
			p, err := PlanFailover(snap(tc.nodes...), deadKey, opts)
			runPlanCase(t, tc.why, p, err, tc.wantErr, tc.errHas, tc.newMstr, tc.latest, tc.reasonIn)
			if err == nil && tc.check != nil {
				tc.check(t, p)
			}
		})
	}
}

func runPlanCase(t *testing.T, why string, p *Plan, err, wantErr error, errHas []string, newMstr int, latest []int, reasonIn string) {
	t.Helper()
	if wantErr != nil {
		if !errors.Is(err, wantErr) {
			t.Fatalf("%s: err = %v, want %v", why, err, wantErr)
		}
		for _, s := range errHas {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("%s: error %q lacks %q", why, err, s)
			}
		}
		return
	}
	if err != nil {
		t.Fatalf("%s: unexpected error: %v", why, err)
	}
	if p.NewMaster.Key != key(newMstr) {
		t.Errorf("%s: new master = %v (%s), want server %d", why, p.NewMaster.Key, p.NewMaster.Reason, newMstr)
	}
	if reasonIn != "" && !strings.Contains(p.NewMaster.Reason, reasonIn) {
		t.Errorf("%s: reason %q lacks %q", why, p.NewMaster.Reason, reasonIn)
	}
	if latest != nil {
		var want []topology.Key
		for _, i := range latest {
			want = append(want, key(i))
		}
		if keyList(p.Latest) != keyList(want) {
			t.Errorf("%s: latest = %v, want %v", why, p.Latest, want)
		}
	}
}

func recovery(t *testing.T, p *Plan, i int) Recovery {
	t.Helper()
	for _, r := range p.Recoveries {
		if r.Key == key(i) {
			return r
		}
	}
	t.Fatalf("no recovery for server %d in %+v", i, p.Recoveries)
	return Recovery{}
}

// onlyGap asserts server i's recovery has exactly one gap, of kind k.
func onlyGap(t *testing.T, p *Plan, i int, k GapKind) Gap {
	t.Helper()
	r := recovery(t, p, i)
	if len(r.Gaps) != 1 || r.Gaps[0].Kind != k {
		t.Fatalf("server %d gaps = %+v, want one %s gap", i, r.Gaps, k)
	}
	return r.Gaps[0]
}

func TestPlanSalvage(t *testing.T) {
	tests := []struct {
		name string
		why  string
		gtid bool
		ssh  bool
	}{
		{name: "file mode, ssh", why: "the dead master's tail is read from the latest's read position and applied to every survivor", ssh: true},
		{name: "file mode, no ssh", why: "without SSH there is no salvage, and a warning says what is lost"},
		{name: "gtid mode, ssh", why: "unlike MHA, GTID mode salvages too, starting after the latest's GTID position", gtid: true, ssh: true},
		{name: "gtid mode, no ssh", why: "no SSH: no salvage in GTID mode either", gtid: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g2, g3 := gtid("0-101-100", "0-101-100"), gtid("0-101-90", "0-101-90")
			nodes := []*topology.Node{deadMaster(), replica(2, bin, 500, g2), replica(3, bin, 300, g3)}
			p, err := PlanFailover(snap(nodes...), deadKey, PlanOptions{LatestPriority: true, SSHReachable: tc.ssh, GTID: tc.gtid})
			if err != nil {
				t.Fatal(err)
			}
			if (p.Salvage != nil) != tc.ssh {
				t.Fatalf("%s: salvage = %+v, want present=%v", tc.why, p.Salvage, tc.ssh)
			}
			warned := strings.Contains(strings.Join(p.Warnings, "\n"), "does not answer SSH")
			if warned == tc.ssh {
				t.Errorf("%s: SSH warning present=%v, want %v (%v)", tc.why, warned, !tc.ssh, p.Warnings)
			}
			if !tc.ssh {
				return
			}
			s := p.Salvage
			if s.Host != deadKey || s.From.String() != bin+":500" {
				t.Errorf("%s: salvage %+v, want from %s:500 on the dead master", tc.why, s, bin)
			}
			wantApply := 2
			if tc.gtid {
				wantApply = 1
				if s.AfterGTID != "0-101-100" {
					t.Errorf("%s: AfterGTID = %q", tc.why, s.AfterGTID)
				}
			}
			if len(s.ApplyTo) != wantApply {
				t.Errorf("%s: apply to %v, want %d servers", tc.why, s.ApplyTo, wantApply)
			}
			nm := recovery(t, p, 2)
			if last := nm.Gaps[len(nm.Gaps)-1]; last.Kind != GapMasterBinlog || last.Holder != deadKey {
				t.Errorf("%s: the new master's last gap = %+v, want the master binlog", tc.why, last)
			}
		})
	}
}

func TestPlanStringAndJSON(t *testing.T) {
	nodes := []*topology.Node{deadMaster(), replica(2, bin, 500, noMaster), replica(3, bin, 300, candidate),
		replica(4, bin, 100, ignoreFail, down)}
	p, err := PlanFailover(snap(nodes...), deadKey, PlanOptions{LatestPriority: true, SSHReachable: true})
	if err != nil {
		t.Fatal(err)
	}
	out := p.String()
	for _, want := range []string{
		"New master: 127.0.0.13(127.0.0.13:3306): candidate_master",
		"catches up from 127.0.0.12(127.0.0.12:3306) first",
		"master binlog " + bin + ":300 to " + bin + ":500 [latest-relay-log, from 127.0.0.12:3306]",
		"Salvage: over SSH, read 127.0.0.11:3306's binlog from " + bin + ":500 to the end of its binlog",
		"Cannot become master:\n  127.0.0.12(127.0.0.12:3306): no_master=1",
		"Left out:\n  127.0.0.14(127.0.0.14:3306): dead",
		"then: CHANGE MASTER TO 127.0.0.13(127.0.0.13:3306) at its binlog position after recovery",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("plan text lacks %q:\n%s", want, out)
		}
	}
	raw, err := json.Marshal(p)
	if err != nil {
		t.Fatalf("marshal plan: %v", err)
	}
	var back Plan
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatalf("unmarshal plan: %v\n%s", err, raw)
	}
	if back.NewMaster.Key != key(3) || len(back.Recoveries) != 2 || back.Salvage == nil || back.Mode != ModeFile {
		t.Errorf("JSON round trip lost data: %s", raw)
	}
}

func TestPlanBadInput(t *testing.T) {
	tests := []struct {
		name string
		why  string
		s    *topology.Snapshot
		dead topology.Key
		want error
	}{
		{name: "nil snapshot", why: "no snapshot, no plan", want: ErrBadSnapshot, dead: deadKey},
		{name: "unknown dead master", why: "the dead master must be configured", s: snap(replica(2, bin, 1)), dead: deadKey, want: ErrBadSnapshot},
		{name: "no replicas", why: "nothing to promote", s: snap(deadMaster()), dead: deadKey, want: ErrNoCandidate},
	}
	for _, tc := range tests {
		if _, err := PlanFailover(tc.s, tc.dead, defaults); !errors.Is(err, tc.want) {
			t.Errorf("%s (%s): err = %v, want %v", tc.name, tc.why, err, tc.want)
		}
	}
}

func TestPlanStringGTID(t *testing.T) {
	nodes := []*topology.Node{deadMaster(), replica(2, bin, 500, noMaster, gtid("0-101-100,1-101-7", "0-101-100,1-101-7")),
		replica(3, bin, 300, candidate, exec(bin, 200), gtid("0-101-90,1-101-7", "0-101-88,1-101-7")),
		replica(4, bin, 100, gtid("0-101-80", "0-101-80")), replica(5, bin, 100, ignoreFail, down)}
	p, err := PlanFailover(snap(nodes...), deadKey, PlanOptions{LatestPriority: true, SSHReachable: true, GTID: true})
	if err != nil {
		t.Fatal(err)
	}
	out := p.String()
	for _, want := range []string{
		"gtid mode (mariadb)",
		"(after GTID 0-101-100,1-101-7); apply to 127.0.0.13:3306",
		"[new master]: read " + bin + ":300, executed " + bin + ":200, received GTIDs 0-101-90,1-101-7",
		"GTIDs domain 0: seq 91..100 (up to 0-101-100) [replicate, from 127.0.0.12:3306]: replicate from 127.0.0.12(127.0.0.12:3306) until caught up",
		"GTIDs domain 0: seq 81..100 (up to 0-101-100), domain 1: seq 1..7 (up to 1-101-7) [replicate, from 127.0.0.13:3306]",
		"MASTER_USE_GTID=slave_pos",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("plan text lacks %q:\n%s", want, out)
		}
	}
}
