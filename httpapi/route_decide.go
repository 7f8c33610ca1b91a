package httpapi

import (
	"fmt"

	"github.com/gomha/gomha/manager"
	"github.com/gomha/gomha/topology"
)

// masterFacts is what decides a route to the master: read from the
// manager's status and view files (written by the monitor every change,
// touched every ping), never from the servers.
type masterFacts struct {
	App      string
	Server   topology.Key // the configured server asked about
	Hostname string       // its hostname, as the status file names the master
	// NotLeading is the supervisor's state of the cluster when this
	// process does not lead it ("waiting for leadership", ...); "" when
	// it leads, or nobody says.
	NotLeading string
	Status     manager.StatusInfo
	StatusErr  error
	// View is the monitor's view; ViewOK says it was written by the
	// manager that runs now.
	View    manager.ManagerView
	ViewOK  bool
	ViewErr error
}

// decideMaster says whether clients may write to f.Server: only when the
// manager that runs here watches it as the master and finds it healthy.
// During a failover, or while the master is suspect or dead, no server
// is the master. why is one line for HAProxy's log.
func decideMaster(f masterFacts) (ok bool, why string) {
	switch {
	case f.StatusErr != nil:
		return false, "cannot read the manager's status: " + f.StatusErr.Error()
	case f.NotLeading != "":
		return false, fmt.Sprintf("this process does not run %s's manager (%s): no route from here", f.App, f.NotLeading)
	case f.Status.Standby:
		return false, fmt.Sprintf("the manager of %s here stands by (pid %d; another manager leads): no route from here", f.App, f.Status.PID)
	case f.Status.Code == manager.StatusFailoverRunning:
		return false, fmt.Sprintf("a failover of %s is running: no server takes writes", f.App)
	case f.Status.Code == manager.StatusPingFailing || f.Status.Code == manager.StatusPingFailed:
		return false, fmt.Sprintf("the master of %s (%s) is suspect or dead (%s): no server takes writes", f.App, f.Status.Master, f.Status.Code)
	case f.Status.Code != manager.StatusPingOK:
		return false, fmt.Sprintf("the manager of %s is %s: no server takes writes", f.App, f.Status.Code)
	case f.Status.Master != f.Hostname:
		return false, fmt.Sprintf("%s is not the master of %s: the manager watches %s", f.Server, f.App, f.Status.Master)
	case f.ViewErr != nil:
		return false, "cannot read the manager's view: " + f.ViewErr.Error()
	case !f.ViewOK:
		return false, fmt.Sprintf("the manager of %s has published no view of its master yet", f.App)
	case f.View.Master != f.Server.String():
		return false, fmt.Sprintf("%s is not the master of %s: the manager watches %s", f.Server, f.App, f.View.Master)
	case f.View.State != "healthy":
		return false, fmt.Sprintf("the manager's view of %s is %q: %s", f.Server, f.View.State, f.View.Reason)
	}
	for _, d := range f.View.Deposed {
		if d.Server == f.Server.String() {
			return false, fmt.Sprintf("%s is a deposed old master of %s (%s)", f.Server, f.App, d.State)
		}
	}
	return true, fmt.Sprintf("%s is the master of %s: %s, pid %d, healthy", f.Server, f.App, f.Status.Code, f.Status.PID)
}

// replicaFacts is what decides a route to a replica: the cluster's
// snapshot (cached) and the master the manager watches.
type replicaFacts struct {
	App    string
	Server topology.Key
	Show   *manager.Show
	// Watched is the master the manager watches (its view) when one runs
	// and is content; "" when unknown.
	Watched string
	// MaxLag bounds Seconds_Behind_Master when CheckLag (check_repl_delay).
	MaxLag   int64
	CheckLag bool
}

// decideReplica says whether clients may read from f.Server: an alive
// replica of the current master with both threads running, within the
// lag allowed.
func decideReplica(f replicaFacts) (ok bool, why string) {
	var srv *manager.ShowServer
	for i := range f.Show.Servers {
		if f.Show.Servers[i].Key == f.Server.String() {
			srv = &f.Show.Servers[i]
		}
	}
	switch {
	case srv == nil:
		return false, fmt.Sprintf("%s is not in the snapshot of %s", f.Server, f.App)
	case srv.State != "alive":
		return false, fmt.Sprintf("%s is %s", f.Server, srv.State)
	case f.Show.Master == "":
		return false, fmt.Sprintf("%s has no writable master in the snapshot: no replica is current", f.App)
	case f.Watched != "" && f.Watched != f.Show.Master:
		return false, fmt.Sprintf("the snapshot's master %s is not the master the manager watches (%s): the topology is changing", f.Show.Master, f.Watched)
	case srv.Role != "replica":
		return false, fmt.Sprintf("%s is not a replica of the master %s (role %s)", f.Server, f.Show.Master, srv.Role)
	case srv.IO != "Yes" || srv.SQL != "Yes":
		return false, fmt.Sprintf("%s: replication threads io=%s sql=%s", f.Server, srv.IO, srv.SQL)
	case f.CheckLag && srv.Lag == nil:
		return false, fmt.Sprintf("%s: lag unknown (Seconds_Behind_Master is NULL)", f.Server)
	case f.CheckLag && *srv.Lag > f.MaxLag:
		return false, fmt.Sprintf("%s: lag %d s exceeds %d s", f.Server, *srv.Lag, f.MaxLag)
	}
	lag := "not checked (check_repl_delay=0)"
	if srv.Lag != nil {
		lag = fmt.Sprintf("%d s", *srv.Lag)
	}
	return true, fmt.Sprintf("%s is a replica of %s, io=Yes sql=Yes, lag %s", f.Server, f.Show.Master, lag)
}
