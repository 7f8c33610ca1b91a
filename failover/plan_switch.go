package failover

import (
	"fmt"
	"strings"

	"github.com/gomha/gomha/topology"
)

// SwitchOptions steer PlanSwitchover (masterha_master_switch
// --master_state=alive).
type SwitchOptions struct {
	NewMasterHost       topology.Key // --new_master_host/port; zero = choose
	SecondsBehindMaster int64        // --seconds_behind_master; 0 means MHA's 30
	GTID                bool         // use GTID mode when every replica positions by GTID
	// MultiTierSlave (multi_tier_slave): a replica of a replica is allowed
	// and stays under its own master.
	MultiTierSlave bool
}

// SwitchPlan is what an online switchover will do.
type SwitchPlan struct {
	OldMaster topology.Key
	OldLabel  string
	Mode      Mode
	Flavor    topology.Flavor
	NewMaster Candidate
	Repoint   []topology.Key // the other replicas, moved under the new master
	Rejected  []Excluded
	Warnings  []string
}

// PlanSwitchover decides an online switchover: the master must be alive and
// every replica healthy (threads running, lag within the limit); the new
// master is chosen as in MHA's MasterRotate, with every replica treated as
// latest and check_repl_delay off, or forced with --new_master_host.
func PlanSwitchover(snap *topology.Snapshot, opts SwitchOptions) (*SwitchPlan, error) {
	if snap == nil {
		return nil, fmt.Errorf("plan switchover: %w: no snapshot", ErrBadSnapshot)
	}
	sbm := opts.SecondsBehindMaster
	if sbm == 0 {
		sbm = 30
	}
	a := topology.Analyze(snap, topology.CheckOptions{SecondsBehindMaster: sbm, MultiTierSlave: opts.MultiTierSlave})
	// A replica whose SQL thread was stopped by hand does not stop a
	// manager, but it stops a switchover: every replica must apply the old
	// master's last write before it is moved.
	var msgs []string
	for _, pr := range a.Problems {
		switch {
		case pr.Severity == topology.SeverityError:
			msgs = append(msgs, pr.Key.String()+": "+pr.Msg)
		case pr.Code == topology.ProblemSQLThread:
			msgs = append(msgs, pr.Key.String()+": SQL thread stopped (Slave_SQL_Running=No): start it (START SLAVE SQL_THREAD) before a switchover")
		}
	}
	if a.Master == nil || !a.Master.Alive() || len(msgs) > 0 {
		return nil, fmt.Errorf("plan switchover: %w: %s", ErrNotHealthy, strings.Join(msgs, "; "))
	}
	sp := &SwitchPlan{OldMaster: a.Master.Key(), OldLabel: a.Master.Server.Label()}
	for _, pr := range a.Problems {
		if pr.Severity == topology.SeverityWarning && pr.Code != topology.ProblemSQLThread {
			sp.Warnings = append(sp.Warnings, pr.Key.String()+": "+pr.Msg)
		}
	}
	if len(a.Replicas) == 0 {
		return nil, fmt.Errorf("plan switchover from %s: %w", sp.OldLabel, &CandidateError{})
	}
	warn := func(f string, args ...any) { sp.Warnings = append(sp.Warnings, fmt.Sprintf(f, args...)) }
	sp.Flavor, sp.Mode = chooseMode(a.Replicas, opts.GTID, warn)
	cand, rejected, err := selectNewMaster(selection{
		replicas: a.Replicas, latest: a.Replicas, forced: opts.NewMasterHost, latestPriority: true,
	})
	sp.Rejected = rejected
	if err != nil {
		return nil, fmt.Errorf("plan switchover from %s: %w", sp.OldLabel, err)
	}
	sp.NewMaster = cand
	for _, n := range a.Replicas {
		if n != cand.Node {
			sp.Repoint = append(sp.Repoint, n.Key())
		}
	}
	return sp, nil
}

// String renders the switchover plan for --dry-run.
func (sp *SwitchPlan) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Switchover plan: %s -> %s, %s mode (%s)\n", sp.OldLabel, sp.NewMaster.Label, sp.Mode, sp.Flavor)
	fmt.Fprintf(&b, "New master: %s: %s\n", sp.NewMaster.Label, sp.NewMaster.Reason)
	fmt.Fprintf(&b, "Repoint under the new master: %s\n", keyList(sp.Repoint))
	writeExcluded(&b, "Cannot become master", sp.Rejected)
	for _, w := range sp.Warnings {
		fmt.Fprintf(&b, "Warning: %s\n", w)
	}
	return b.String()
}
