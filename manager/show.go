package manager

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/gomha/gomha/coord"
	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/node"
	"github.com/gomha/gomha/topology"
)

// ShowServer is one server in `gomha show`.
type ShowServer struct {
	Name     string `json:"name"`
	Key      string `json:"key"`
	Label    string `json:"label"`
	Role     string `json:"role"`  // master, replica, unmanaged, detached, dead, deposed
	State    string `json:"state"` // alive, or the connection error
	Source   string `json:"source,omitempty"`
	Depth    int    `json:"depth"`
	ReadOnly *bool  `json:"read_only"` // null when down
	IO       string `json:"io_running,omitempty"`
	SQL      string `json:"sql_running,omitempty"`
	Lag      *int64 `json:"lag_seconds,omitempty"`
	GTID     string `json:"gtid,omitempty"`
	Binlog   string `json:"binlog,omitempty"`   // SHOW MASTER STATUS file:pos
	Executed string `json:"executed,omitempty"` // replica: Relay_Master_Log_File:Exec_Master_Log_Pos
	Flags    string `json:"flags,omitempty"`    // candidate_master, no_master, ignore_fail
	Version  string `json:"version,omitempty"`
}

// Show is the one-screen view of a cluster: topology, positions and the
// manager's own view.
type Show struct {
	App     string `json:"app"`
	Master  string `json:"master,omitempty"`
	Mode    string `json:"mode"` // GTID, file/position, or unknown (no replica answers)
	Healthy bool   `json:"healthy"`
	Manager string `json:"manager"`      // running (0:PING_OK) / not running / ...
	View    string `json:"manager_view"` // healthy / suspect / dead / failing over / -
	// ViewReason is why, in one line, when the manager is not content
	// (e.g. no quorum to fail over).
	ViewReason string        `json:"manager_view_reason,omitempty"`
	Deposed    []DeposedView `json:"deposed,omitempty"` // old masters the manager keeps from taking writes
	// Interrupted says what an unfinished failover did last (its journal).
	Interrupted string `json:"interrupted_failover,omitempty"`
	// Shared is what the managers share in etcd (gomha show --etcd).
	Shared   *SharedView     `json:"etcd,omitempty"`
	Servers  []ShowServer    `json:"servers"`
	Problems []ProblemReport `json:"problems"`
	Took     string          `json:"took"`
}

// BuildShow reads every server and the manager's status file.
func BuildShow(ctx context.Context, cfg *config.Config, connectTimeout time.Duration) *Show {
	start := time.Now()
	snap := node.GatherSnapshot(ctx, Targets(cfg, connectTimeout))
	a := topology.Analyze(snap, CheckOptions(cfg, 30))
	rep := buildReport(cfg, snap, a)
	sh := &Show{App: cfg.App, Master: rep.Master, Healthy: a.Healthy(), Problems: rep.Problems, Mode: "unknown"}
	switch {
	case len(a.Replicas) == 0:
	case a.GTID:
		sh.Mode = "GTID"
	default:
		sh.Mode = "file/position"
	}
	st, err := ReadStatus(cfg.ManagerWorkdir, cfg.App, 0)
	switch {
	case err != nil:
		sh.Manager, sh.View = "unknown ("+err.Error()+")", "-"
	default:
		sh.Manager, sh.View = managerState(st)
	}
	if entries, _, err := coord.ReadJournal(cfg.ManagerWorkdir, cfg.App); err == nil && len(entries) > 0 && st.Code != StatusFailoverRunning {
		sh.Interrupted = coord.Summary(entries) + "; finish it with " + resumeCommand(cfg)
	}
	if v, ok, _ := ReadView(cfg.ManagerWorkdir, cfg.App); ok && st.Code != StatusNotRunning {
		sh.Deposed = v.Deposed
		if v.State != "healthy" {
			sh.View, sh.ViewReason = v.State, v.Reason
		}
	}
	placed := map[*topology.Node]bool{}
	if a.Master != nil {
		sh.addTree(snap, a, a.Master, 0, placed)
	}
	for _, n := range snap.Nodes {
		if !placed[n] {
			sh.Servers = append(sh.Servers, showServer(a, n, 0))
		}
	}
	for i := range sh.Servers {
		for _, d := range sh.Deposed {
			if sh.Servers[i].Key == d.Server {
				sh.Servers[i].Role = "deposed"
			}
		}
	}
	sh.Took = time.Since(start).Round(time.Millisecond).String()
	return sh
}

func managerState(st StatusInfo) (string, string) {
	switch st.Code {
	case StatusNotRunning:
		return "not running", "-"
	case StatusPingOK:
		if st.Standby {
			return fmt.Sprintf("standing by, pid %d (another manager leads)", st.PID), "-"
		}
		return fmt.Sprintf("running, pid %d (%s)", st.PID, st.Code), "healthy"
	case StatusPingFailing:
		return fmt.Sprintf("running, pid %d (%s)", st.PID, st.Code), "suspect"
	case StatusPingFailed:
		return fmt.Sprintf("running, pid %d (%s)", st.PID, st.Code), "dead"
	case StatusFailoverRunning:
		return fmt.Sprintf("running, pid %d (%s)", st.PID, st.Code), "failing over"
	}
	return fmt.Sprintf("pid %d (%s)", st.PID, st.Code), strings.ToLower(st.Code.Name())
}

func (sh *Show) addTree(snap *topology.Snapshot, a *topology.Analysis, n *topology.Node, depth int, placed map[*topology.Node]bool) {
	if placed[n] {
		return
	}
	placed[n] = true
	sh.Servers = append(sh.Servers, showServer(a, n, depth))
	for _, c := range snap.Nodes {
		if c != n && c.Alive() && c.Status.IsReplica() && n.Server.Matches(c.Status.Replica.MasterHost, c.Status.Replica.MasterPort) {
			sh.addTree(snap, a, c, depth+1, placed)
		}
	}
}

func showServer(a *topology.Analysis, n *topology.Node, depth int) ShowServer {
	s := ShowServer{Name: n.Server.Name, Key: n.Key().String(), Label: n.Server.Label(), Role: RoleOf(a, n), Depth: depth, State: "alive"}
	var flags []string
	for _, f := range []struct {
		on   bool
		name string
	}{{n.Server.CandidateMaster, "candidate_master"}, {n.Server.NoMaster, "no_master"}, {n.Server.IgnoreFail, "ignore_fail"}} {
		if f.on {
			flags = append(flags, f.name)
		}
	}
	s.Flags = strings.Join(flags, ",")
	if !n.Alive() {
		s.State = "down: " + topology.ConnErrorKindOf(n.Err).String()
		return s
	}
	st := n.Status
	s.ReadOnly, s.Version = ptr(st.ReadOnly), st.Version
	s.GTID = st.GTIDCurrentPos
	if st.Flavor == topology.MySQL {
		s.GTID = st.GTIDExecuted
	}
	if st.BinlogFile != "" {
		s.Binlog = fmt.Sprintf("%s:%d", st.BinlogFile, st.BinlogPos)
	}
	if r := st.Replica; r != nil {
		s.Source = r.MasterKey().String()
		s.IO, s.SQL, s.Lag = r.IORunning, yesNo(r.SQLRunning), r.SecondsBehindMaster
		s.Executed = r.ExecCoord().String()
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "Yes"
	}
	return "No"
}

// Text renders the show for a terminal.
func (sh *Show) Text() string {
	var b strings.Builder
	health := "healthy"
	if !sh.Healthy {
		health = "NOT healthy"
	}
	mode := sh.Mode + " replication"
	if sh.Mode == "unknown" {
		mode = "replication mode unknown (no replica answers)"
	}
	fmt.Fprintf(&b, "%s: master %s, %s, %s\n", sh.App, dashIfEmpty(sh.Master), mode, health)
	fmt.Fprintf(&b, "manager: %s; its view of the master: %s\n", sh.Manager, sh.View)
	if sh.ViewReason != "" {
		fmt.Fprintf(&b, "  %s\n", sh.ViewReason)
	}
	if sh.Interrupted != "" {
		fmt.Fprintf(&b, "INTERRUPTED failover: %s\n", sh.Interrupted)
	}
	if sh.Shared != nil {
		b.WriteString(sh.Shared.text())
	}
	for _, d := range sh.Deposed {
		fmt.Fprintf(&b, "deposed old master %s: %s (checked %s)\n", d.Server, d.State, d.Checked.Format("15:04:05"))
	}
	b.WriteString("\n")
	for _, s := range sh.Servers {
		prefix := ""
		if s.Depth > 0 {
			prefix = strings.Repeat("    ", s.Depth-1) + " +--"
		}
		ro := "read-write"
		if s.ReadOnly != nil && *s.ReadOnly {
			ro = "read-only"
		}
		line := fmt.Sprintf("%s%s  %s  %s", prefix, s.Label, s.Role, s.State)
		if s.State == "alive" {
			line += "  " + ro
			if s.Source != "" {
				lag := "NULL"
				if s.Lag != nil {
					lag = fmt.Sprintf("%ds", *s.Lag)
				}
				line += fmt.Sprintf("  io=%s sql=%s lag=%s  exec=%s", s.IO, s.SQL, lag, s.Executed)
			}
			if s.GTID != "" {
				line += "  gtid=" + s.GTID
			}
			if s.Binlog != "" {
				line += "  binlog=" + s.Binlog
			}
		}
		if s.Flags != "" {
			line += "  [" + s.Flags + "]"
		}
		b.WriteString(line + "\n")
	}
	if len(sh.Problems) > 0 {
		b.WriteString("\nproblems:\n")
		for _, p := range sh.Problems {
			srv := ""
			if p.Server != "" {
				srv = p.Server + ": "
			}
			fmt.Fprintf(&b, "  %-7s %s%s [%s]\n", p.Severity, srv, p.Message, p.Code)
		}
	}
	return b.String()
}

func dashIfEmpty(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
