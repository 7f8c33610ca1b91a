package failover

import (
	"errors"
	"strings"
	"testing"

	"github.com/gomha/gomha/topology"
)

func TestPlanFailoverGTID(t *testing.T) {
	gtidOn := PlanOptions{LatestPriority: true, CheckReplDelay: true, GTID: true}
	tests := []struct {
		name     string
		why      string
		nodes    []*topology.Node
		opts     *PlanOptions // nil = gtidOn
		wantErr  error
		errHas   []string
		newMstr  int
		latest   []int
		reasonIn string
		check    func(t *testing.T, p *Plan)
	}{
		{
			name: "latest by Gtid_IO_Pos", why: "GTID mode orders by what the IO thread received, not by file coordinates",
			nodes: []*topology.Node{deadMaster(),
				replica(2, bin, 900, gtid("0-101-90", "0-101-90")),
				replica(3, bin, 500, gtid("0-101-100", "0-101-95"))},
			newMstr: 3, latest: []int{3},
			check: func(t *testing.T, p *Plan) {
				if p.Mode != ModeGTID {
					t.Fatalf("mode = %s", p.Mode)
				}
				r := recovery(t, p, 2)
				if len(r.Gaps) != 1 || len(r.Gaps[0].GTIDs) != 1 || r.Gaps[0].GTIDs[0].String() != "domain 0: seq 91..100 (up to 0-101-100)" {
					t.Errorf("server 2 gaps = %+v", r.Gaps)
				}
				if r.Repoint != RepointSlavePos || r.Gaps[0].Holder != key(3) {
					t.Errorf("server 2 repoint %s from %v, want slave_pos under server 3", r.Repoint, r.Gaps[0].Holder)
				}
			},
		},
		{
			name: "fallback to gtid_current_pos", why: "an empty Gtid_IO_Pos falls back to gtid_current_pos",
			nodes: []*topology.Node{deadMaster(),
				replica(2, bin, 500, gtid("", "0-101-90")),
				replica(3, bin, 500, gtid("0-101-80", "0-101-80"))},
			newMstr: 2, latest: []int{2},
		},
		{
			name: "same seq different server_id", why: "0-101-100 vs 0-102-100 is a divergence, not equality (go-mysql's Contain ignores server_id)",
			nodes: []*topology.Node{deadMaster(),
				replica(2, bin, 500, gtid("0-101-100", "0-101-100")),
				replica(3, bin, 500, gtid("0-102-100", "0-102-100"))},
			wantErr: ErrDivergedReplicas, errHas: []string{"127.0.0.12:3306 has 0-101-100", "127.0.0.13:3306 has 0-102-100", "domain 0"},
		},
		{
			name: "divergence between two behind replicas", why: "every pair is compared, not only against the latest",
			nodes: []*topology.Node{deadMaster(),
				replica(2, bin, 500, gtid("0-101-120", "0-101-120")),
				replica(3, bin, 500, gtid("0-101-100", "0-101-100")),
				replica(4, bin, 500, gtid("0-104-100", "0-104-100"))},
			wantErr: ErrDivergedReplicas, errHas: []string{"127.0.0.13:3306", "127.0.0.14:3306"},
		},
		{
			name: "multi-domain ahead and behind", why: "ahead in domain 0 and behind in domain 1 cannot be ordered",
			nodes: []*topology.Node{deadMaster(),
				replica(2, bin, 500, gtid("0-101-100,1-101-5", "0-101-100,1-101-5")),
				replica(3, bin, 500, gtid("0-101-90,1-101-9", "0-101-90,1-101-9"))},
			wantErr: ErrDivergedReplicas, errHas: []string{"ahead in domain 0"},
		},
		{
			name: "multi-domain ordered", why: "a replica behind in one domain lacks a per-domain range; the candidate replicates it from the latest",
			nodes: []*topology.Node{deadMaster(),
				replica(2, bin, 500, gtid("0-101-100,1-101-50", "0-101-100,1-101-50")),
				replica(3, bin, 400, candidate, gtid("0-101-100,1-101-40", "0-101-100,1-101-40"))},
			newMstr: 3, latest: []int{2}, reasonIn: "catches up from 127.0.0.12",
			check: func(t *testing.T, p *Plan) {
				g := onlyGap(t, p, 3, GapReplicate)
				if g.Holder != key(2) || len(g.GTIDs) != 1 || g.GTIDs[0] != (topology.DomainGap{Domain: 1, ServerID: 101, FromSeq: 40, ToSeq: 50}) {
					t.Errorf("candidate gap = %+v, want domain 1 seq 41..50 from server 2", g)
				}
			},
		},
		{
			name: "local domain does not make a replica later", why: "only the master's domains order replicas; a local domain is reported as errant instead",
			nodes: []*topology.Node{deadMaster(),
				replica(2, bin, 500, gtid("0-101-100", "0-101-100")),
				replica(3, bin, 500, gtid("", "0-101-90", "0-101-90,7-103-5"))},
			wantErr: ErrErrantTransactions, errHas: []string{"127.0.0.13:3306 has 7-103-5", "server_id 103"},
		},
		{
			name: "local writes in the master's domain", why: "gtid_current_pos with the replica's own server_id beyond gtid_slave_pos: written on the replica",
			nodes: []*topology.Node{deadMaster(),
				replica(2, bin, 500, gtid("0-101-100", "0-101-100", "0-102-101")),
				replica(3, bin, 500, gtid("0-101-100", "0-101-100"))},
			wantErr: ErrErrantTransactions, errHas: []string{"127.0.0.12:3306 has 0-102-101", "beyond gtid_slave_pos 0-101-100"},
		},
		{
			name: "foreign domain from another server", why: "a domain in a replica's binlog that the latest lacks, from a server_id that is not the master's (e.g. events piped in by hand), is errant",
			nodes: []*topology.Node{deadMaster(),
				replica(2, bin, 500, gtid("0-101-100", "0-101-100")),
				replica(3, bin, 500, gtid("0-101-100", "0-101-100"), binlogPos("0-101-100,3-777-2"))},
			wantErr: ErrErrantTransactions, errHas: []string{"domain 3", "server_id 777"},
		},
		{
			name: "foreign domain received from the master", why: "a domain that arrived through replication (in Gtid_IO_Pos) is the master's history, and makes that replica later",
			nodes: []*topology.Node{deadMaster(),
				replica(2, bin, 500, gtid("0-101-100", "0-101-100")),
				replica(3, bin, 500, gtid("0-101-100,3-777-2", "0-101-100,3-777-2"))},
			newMstr: 3, latest: []int{3},
		},
		{
			name: "old master's server_id is history", why: "a GTID from a former master (an earlier failover) behind slave_pos is not errant",
			nodes: []*topology.Node{deadMaster(),
				replica(2, bin, 500, gtid("0-101-100", "0-101-100")),
				replica(3, bin, 500, gtid("0-101-100", "0-101-100", "0-101-100"))},
			newMstr: 2, latest: []int{2, 3},
		},
		{
			name: "GTID asked, a replica uses file", why: "GTID mode needs every replica on GTID positioning; otherwise file mode with a warning",
			nodes: []*topology.Node{deadMaster(),
				replica(2, bin, 500, gtid("0-101-100", "0-101-100")),
				replica(3, bin, 300)},
			newMstr: 2,
			check: func(t *testing.T, p *Plan) {
				if p.Mode != ModeFile || !strings.Contains(strings.Join(p.Warnings, "\n"), "positions by file") {
					t.Errorf("mode %s warnings %v", p.Mode, p.Warnings)
				}
			},
		},
		{
			name: "GTID asked, every replica uses file", why: "use_gtid_auto_pos=1 is MHA's default: file positioning everywhere is file mode without a warning",
			nodes: []*topology.Node{deadMaster(),
				replica(2, bin, 500),
				replica(3, bin, 300)},
			newMstr: 2,
			check: func(t *testing.T, p *Plan) {
				if p.Mode != ModeFile || strings.Contains(strings.Join(p.Warnings, "\n"), "positions by file") {
					t.Errorf("mode %s warnings %v", p.Mode, p.Warnings)
				}
			},
		},
		{
			name: "MySQL GTID sets", why: "MySQL replicas are ordered by retrieved+executed sets; the lagging one lacks the difference",
			nodes: []*topology.Node{deadMaster(),
				replica(2, bin, 300, mysqlGTID(uuidM+":1-90", uuidM+":1-90")),
				replica(3, bin, 300, mysqlGTID(uuidM+":50-100", uuidM+":1-95"))},
			newMstr: 3, latest: []int{3},
			check: func(t *testing.T, p *Plan) {
				g := onlyGap(t, p, 2, GapReplicate)
				if g.MySQLGTIDs != uuidM+":91-100" || recovery(t, p, 2).Repoint != RepointAutoPosition {
					t.Errorf("server 2 gap %+v repoint %s", g, recovery(t, p, 2).Repoint)
				}
			},
		},
		{
			name: "MySQL latest ignores a replica's own writes", why: "a replica's own UUID does not make it later; it is reported as errant",
			nodes: []*topology.Node{deadMaster(),
				replica(2, bin, 300, mysqlGTID(uuidM+":1-100", uuidM+":1-100")),
				replica(3, bin, 300, mysqlGTID(uuidM+":1-90", uuidM+":1-90,"+uuidX+":1-2"))},
			wantErr: ErrErrantTransactions, errHas: []string{"127.0.0.13:3306 has " + uuidX + ":1-2"},
		},
		{
			name: "MySQL diverged sets", why: "each replica holding master transactions the other lacks cannot be ordered",
			nodes: []*topology.Node{deadMaster(),
				replica(2, bin, 300, mysqlGTID(uuidM+":1-90:95", uuidM+":1-90:95")),
				replica(3, bin, 300, mysqlGTID(uuidM+":1-93", uuidM+":1-93"))},
			wantErr: ErrDivergedReplicas, errHas: []string{uuidM + ":95", uuidM + ":91-93"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := gtidOn
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

func TestDivergenceErrorTyped(t *testing.T) {
	nodes := []*topology.Node{deadMaster(),
		replica(2, bin, 500, gtid("0-101-100", "0-101-100")),
		replica(3, bin, 500, gtid("0-102-100", "0-102-100"))}
	_, err := PlanFailover(snap(nodes...), deadKey, PlanOptions{GTID: true})
	var de *DivergenceError
	if !errors.As(err, &de) || de.A != key(2) || de.B != key(3) || de.AGTID != "0-101-100" || de.BGTID != "0-102-100" {
		t.Fatalf("want a *DivergenceError naming both servers and GTIDs (a caller reports them), got %#v", err)
	}
}
