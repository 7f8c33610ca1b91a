package manager

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/node"
	"github.com/gomha/gomha/topology"
)

// ErrReplicationNotOK is returned by CheckRepl when the cluster is unhealthy.
var ErrReplicationNotOK = errors.New("MySQL Replication Health is NOT OK")

// CheckReplOptions mirror masterha_check_repl's options.
type CheckReplOptions struct {
	SecondsBehindMaster int64         // default 30
	ConnectTimeout      time.Duration // default 4 s
	HookTimeout         time.Duration // the hooks' status commands (default 60 s)
}

// ReplReport is the outcome of CheckRepl, for people and for JSON.
type ReplReport struct {
	App      string          `json:"app"`
	Healthy  bool            `json:"healthy"`
	Master   string          `json:"master,omitempty"`
	GTID     *bool           `json:"gtid"` // null: no replica answers, so no mode
	Servers  []ServerReport  `json:"servers"`
	Problems []ProblemReport `json:"problems"`
	Tree     string          `json:"tree"`
	Took     string          `json:"took"`
	snap     *topology.Snapshot
	analysis *topology.Analysis
}

// ServerReport is one server's line in a report.
type ServerReport struct {
	Name     string `json:"name"`
	Key      string `json:"key"`
	Alive    bool   `json:"alive"`
	Role     string `json:"role"`
	Version  string `json:"version,omitempty"`
	ServerID uint32 `json:"server_id,omitempty"`
	LogBin   *bool  `json:"log_bin"`   // null: the server did not answer
	ReadOnly *bool  `json:"read_only"` // null: the server did not answer
	Error    string `json:"error,omitempty"`
}

// ProblemReport is one finding.
type ProblemReport struct {
	Code     string `json:"code"`
	Severity string `json:"severity"`
	Server   string `json:"server,omitempty"`
	Message  string `json:"message"`
}

// Analysis returns the underlying analysis (for callers that decide on it).
func (r *ReplReport) Analysis() (*topology.Snapshot, *topology.Analysis) { return r.snap, r.analysis }

// CheckRepl reads every configured server and checks replication as
// masterha_check_repl does, writing MHA-style lines to con. It returns the
// report and ErrReplicationNotOK when an error-severity problem was found.
func CheckRepl(ctx context.Context, cfg *config.Config, opts CheckReplOptions, con *Console) (*ReplReport, error) {
	if opts.SecondsBehindMaster == 0 {
		opts.SecondsBehindMaster = 30
	}
	if opts.ConnectTimeout == 0 {
		opts.ConnectTimeout = 4 * time.Second
	}
	start := time.Now()
	con.Infof("Reading server configuration from %s..", cfg.File)
	snap := node.GatherSnapshot(ctx, Targets(cfg, opts.ConnectTimeout))
	a := topology.Analyze(snap, CheckOptions(cfg, opts.SecondsBehindMaster))
	rep := buildReport(cfg, snap, a)
	printServers(con, snap, a)
	con.Infof("Checking slave configurations..")
	con.Infof("Checking replication filtering settings..")
	for _, p := range a.Problems {
		logProblem(con, p)
	}
	con.Infof("Current topology:")
	con.Raw(rep.Tree)
	for _, n := range a.Replicas {
		if !hasServerError(a, n.Key()) {
			con.Infof("Checking replication health on %s.. ok.", n.Server.Label())
		} else {
			con.Errorf("Checking replication health on %s.. NOT OK.", n.Server.Label())
		}
	}
	for _, p := range hookPasswordProblems(cfg) {
		a.Problems = append(a.Problems, p)
		logProblem(con, p)
	}
	if a.Master != nil && a.Master.Alive() {
		checkHookStatus(ctx, cfg, a, opts.HookTimeout, con)
	}
	rep.Problems = buildReport(cfg, snap, a).Problems
	rep.Healthy = a.Healthy()
	rep.Took = time.Since(start).Round(time.Millisecond).String()
	if !a.Healthy() {
		con.Raw("\nMySQL Replication Health is NOT OK!\n")
		return rep, fmt.Errorf("%w: %s", ErrReplicationNotOK, summarize(a))
	}
	con.Raw("\nMySQL Replication Health is OK.\n")
	return rep, nil
}

func buildReport(cfg *config.Config, snap *topology.Snapshot, a *topology.Analysis) *ReplReport {
	rep := &ReplReport{App: cfg.App, Healthy: a.Healthy(), Tree: a.Tree(snap), snap: snap, analysis: a}
	if len(a.Replicas) > 0 {
		rep.GTID = ptr(a.GTID)
	}
	if a.Master != nil {
		rep.Master = a.Master.Key().String()
	}
	for _, n := range snap.Nodes {
		sr := ServerReport{Name: n.Server.Name, Key: n.Key().String(), Alive: n.Alive(), Role: RoleOf(a, n)}
		if n.Alive() {
			sr.Version, sr.ServerID, sr.LogBin, sr.ReadOnly = n.Status.Version, n.Status.ServerID, ptr(n.Status.LogBin), ptr(n.Status.ReadOnly)
		} else if n.Err != nil {
			sr.Error = n.Err.Error()
		}
		rep.Servers = append(rep.Servers, sr)
	}
	rep.Problems = []ProblemReport{}
	for _, p := range a.Problems {
		pr := ProblemReport{Code: string(p.Code), Severity: p.Severity.String(), Message: p.Msg}
		if !p.Key.IsZero() {
			pr.Server = p.Key.String()
		}
		rep.Problems = append(rep.Problems, pr)
	}
	return rep
}

func ptr[T any](v T) *T { return &v }

// RoleOf names a node's place in the analysed topology.
func RoleOf(a *topology.Analysis, n *topology.Node) string {
	switch {
	case a.Master == n:
		return "master"
	case !n.Alive():
		return "dead"
	}
	for _, r := range a.Replicas {
		if r == n {
			return "replica"
		}
	}
	for _, r := range a.Unmanaged {
		if r == n {
			return "unmanaged"
		}
	}
	return "detached"
}

func printServers(con *Console, snap *topology.Snapshot, a *topology.Analysis) {
	var dead, alive []string
	for _, n := range snap.Nodes {
		if n.Alive() {
			alive = append(alive, "  "+n.Server.Label())
		} else {
			dead = append(dead, fmt.Sprintf("  %s: %v", n.Server.Label(), n.Err))
		}
	}
	con.Infof("Dead Servers:")
	for _, d := range dead {
		con.Raw(d + "\n")
	}
	con.Infof("Alive Servers:")
	for _, l := range alive {
		con.Raw(l + "\n")
	}
	if a.Master != nil && a.Master.Alive() {
		st := a.Master.Status
		con.Infof("Current Alive Master: %s Version=%s server_id=%d", a.Master.Server.Label(), st.Version, st.ServerID)
	}
	con.Infof("Alive Slaves:")
	for _, n := range a.Replicas {
		st := n.Status
		con.Raw(fmt.Sprintf("  %s  Version=%s log-bin:%s\n", n.Server.Label(), st.Version, enabled(st.LogBin)))
		r := st.Replica
		mode := "file/position"
		if r.UsesGTID() {
			mode = "GTID (" + r.UsingGTID + ")"
			if st.Flavor == topology.MySQL {
				mode = "GTID (auto-position)"
			}
		}
		con.Raw(fmt.Sprintf("    Replicating from %s:%d using %s\n", r.MasterHost, r.MasterPort, mode))
		if st.Flavor == topology.MariaDB {
			con.Raw(fmt.Sprintf("    Heartbeat every %s (MASTER_HEARTBEAT_PERIOD), %d received\n", r.HeartbeatPeriod, r.ReceivedHeartbeats))
		}
		if n.Server.CandidateMaster {
			con.Raw("    Primary candidate for the new Master (candidate_master is set)\n")
		}
		if n.Server.NoMaster {
			con.Raw("    Not candidate for the new Master (no_master is set)\n")
		}
	}
}

func enabled(b bool) string {
	if b {
		return "enabled"
	}
	return "disabled"
}

func logProblem(con *Console, p topology.Problem) {
	switch p.Severity {
	case topology.SeverityError:
		con.Errorf("%s", p)
	case topology.SeverityWarning:
		con.Warnf("%s", p)
	default:
		con.Infof("%s", p)
	}
}

func hasServerError(a *topology.Analysis, k topology.Key) bool {
	for _, p := range a.Errors() {
		if p.Key == k {
			return true
		}
	}
	return false
}

func summarize(a *topology.Analysis) string {
	var parts []string
	for _, p := range a.Errors() {
		parts = append(parts, p.String())
	}
	return strings.Join(parts, "; ")
}

// checkHookStatus runs the status commands of master_ip_failover_script and
// shutdown_script as MHA does before monitoring; a non-zero exit is a
// problem of error severity.
func checkHookStatus(ctx context.Context, cfg *config.Config, a *topology.Analysis, timeout time.Duration, con *Console) {
	runs := NewHooks(cfg, timeout).CheckStatus(ctx, a.Master.Key())
	if len(runs) == 0 {
		con.Warnf("master_ip_failover_script is not defined.")
		return
	}
	for _, h := range runs {
		if h.ExitCode == 0 {
			con.Infof("Checking %s: %s.. OK.", h.Name, h.Command)
			continue
		}
		p := topology.Problem{Code: topology.ProblemHookStatus, Severity: topology.SeverityError, Key: a.Master.Key(),
			Msg: fmt.Sprintf("%s exited %d: %s", h.Name, h.ExitCode, firstLine(h.Output))}
		a.Problems = append(a.Problems, p)
		logProblem(con, p)
	}
}
