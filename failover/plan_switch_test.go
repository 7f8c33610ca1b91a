package failover

import (
	"errors"
	"strings"
	"testing"

	"github.com/gomha/gomha/topology"
)

func TestPlanSwitchover(t *testing.T) {
	tests := []struct {
		name    string
		why     string
		nodes   []*topology.Node
		opts    SwitchOptions
		wantErr error
		errHas  string
		want    int
		repoint int
	}{
		{name: "healthy, candidate", why: "every replica is treated as latest, so the candidate_master wins whatever its position",
			nodes: []*topology.Node{aliveMaster(), replica(2, bin, 500, healthy), replica(3, bin, 300, healthy, candidate)},
			want:  3, repoint: 1},
		{name: "check_repl_delay off", why: "a switchover ignores check_repl_delay: a candidate whose SQL thread is in an older file still wins",
			nodes: []*topology.Node{aliveMaster(), replica(2, bin, 500, healthy), replica(3, bin, 500, healthy, candidate, exec("mysql-bin.000002", 4))},
			want:  3, repoint: 1},
		{name: "forced", why: "--new_master_host is honoured",
			nodes: []*topology.Node{aliveMaster(), replica(2, bin, 500, healthy), replica(3, bin, 300, healthy, candidate)},
			opts:  SwitchOptions{NewMasterHost: key(2)}, want: 2, repoint: 1},
		{name: "forced bad", why: "a forced no_master server is refused, no fallback",
			nodes:   []*topology.Node{aliveMaster(), replica(2, bin, 500, healthy, noMaster), replica(3, bin, 300, healthy)},
			opts:    SwitchOptions{NewMasterHost: key(2)},
			wantErr: ErrNoCandidate, errHas: "no_master=1"},
		{name: "a replica of a replica without multi_tier_slave", why: "it replicates from elsewhere: refused, as MHA does",
			nodes:   []*topology.Node{aliveMaster(), replica(2, bin, 500, healthy), replica(3, bin, 300, healthy, from("127.0.0.12"))},
			wantErr: ErrNotHealthy, errHas: "127.0.0.13"},
		{name: "a replica of a replica with multi_tier_slave", why: "allowed; it stays under its own master and is not repointed",
			nodes: []*topology.Node{aliveMaster(), replica(2, bin, 500, healthy), replica(3, bin, 300, healthy, from("127.0.0.12")),
				replica(4, bin, 500, healthy)},
			opts: SwitchOptions{MultiTierSlave: true}, want: 2, repoint: 1},
		{name: "replica IO thread down", why: "every replica must be healthy before writes are blocked",
			nodes:   []*topology.Node{aliveMaster(), replica(2, bin, 500), replica(3, bin, 300, healthy)},
			wantErr: ErrNotHealthy, errHas: "IO thread"},
		{name: "replica dead", why: "MHA aborts a switchover when any server is dead",
			nodes:   []*topology.Node{aliveMaster(), replica(2, bin, 500, healthy), replica(3, bin, 300, down)},
			wantErr: ErrNotHealthy, errHas: "127.0.0.13"},
		{name: "master dead", why: "a switchover needs a live master; a dead one is a failover",
			nodes:   []*topology.Node{deadMaster(), replica(2, bin, 500, healthy), replica(3, bin, 300, healthy)},
			wantErr: ErrNotHealthy},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sp, err := PlanSwitchover(snap(tc.nodes...), tc.opts)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.errHas) {
					t.Fatalf("%s: err = %v, want %v containing %q", tc.why, err, tc.wantErr, tc.errHas)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s: %v", tc.why, err)
			}
			if sp.NewMaster.Key != key(tc.want) || len(sp.Repoint) != tc.repoint || sp.OldMaster != key(1) {
				t.Errorf("%s: %s", tc.why, sp)
			}
			if !strings.Contains(sp.String(), "Switchover plan: 127.0.0.11(127.0.0.11:3306) -> ") {
				t.Errorf("plan text: %s", sp)
			}
		})
	}
}
