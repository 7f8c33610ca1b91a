package httpapi

import (
	"errors"
	"strings"
	"testing"

	"github.com/gomha/gomha/manager"
	"github.com/gomha/gomha/topology"
)

func TestDecideMaster(t *testing.T) {
	m := topology.Key{Host: "10.0.0.1", Port: 3306}
	good := func() masterFacts {
		return masterFacts{App: "app1", Server: m, Hostname: "db1",
			Status: manager.StatusInfo{Code: manager.StatusPingOK, PID: 42, Master: "db1"},
			View:   manager.ManagerView{Master: m.String(), State: "healthy"}, ViewOK: true}
	}
	cases := []struct {
		name string
		edit func(*masterFacts)
		ok   bool
		why  string // a part of the line
	}{
		{"the watched, healthy master takes writes", func(*masterFacts) {}, true, "is the master of app1"},
		{"a status file that cannot be read is no proof", func(f *masterFacts) { f.StatusErr = errors.New("permission denied") }, false, "permission denied"},
		{"a standby of etcd does not vouch for the leader's master", func(f *masterFacts) { f.NotLeading = "waiting for leadership" }, false, "does not run app1's manager"},
		{"a one-cluster manager standing by does not vouch either", func(f *masterFacts) { f.Status.Standby, f.Status.Master = true, "" }, false, "stands by"},
		{"during a failover nobody takes writes", func(f *masterFacts) { f.Status.Code = manager.StatusFailoverRunning }, false, "failover of app1 is running"},
		{"a suspect master takes no writes", func(f *masterFacts) { f.Status.Code = manager.StatusPingFailing }, false, "suspect or dead"},
		{"a dead master takes no writes", func(f *masterFacts) { f.Status.Code = manager.StatusPingFailed }, false, "suspect or dead"},
		{"no manager, no route", func(f *masterFacts) { f.Status.Code = manager.StatusNotRunning }, false, "NOT_RUNNING"},
		{"a hung manager (old status file) is not trusted", func(f *masterFacts) { f.Status.Code = manager.StatusTimestampOld }, false, "TIMESTAMP_OLD"},
		{"a manager starting after a failover routes nowhere yet", func(f *masterFacts) { f.Status.Code = manager.StatusInitializingMonitor }, false, "INITIALIZING_MONITOR"},
		{"another server is the master", func(f *masterFacts) { f.Status.Master = "db2" }, false, "watches db2"},
		{"no view yet", func(f *masterFacts) { f.ViewOK = false }, false, "no view"},
		{"the view names another master (same host, other port)", func(f *masterFacts) { f.View.Master = "10.0.0.1:3307" }, false, "watches 10.0.0.1:3307"},
		{"the view is not healthy while the status still says PING_OK", func(f *masterFacts) { f.View.State, f.View.Reason = "suspect", "watch query late" }, false, "watch query late"},
		{"a deposed old master is never routed to", func(f *masterFacts) {
			f.View.Deposed = []manager.DeposedView{{Server: m.String(), State: "fenced (read_only=ON)"}}
		}, false, "deposed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := good()
			c.edit(&f)
			ok, why := decideMaster(f)
			if ok != c.ok || !strings.Contains(why, c.why) || strings.Contains(why, "\n") {
				t.Errorf("decideMaster = %v, %q; want %v and a line with %q", ok, why, c.ok, c.why)
			}
		})
	}
}

func TestDecideReplica(t *testing.T) {
	r := topology.Key{Host: "10.0.0.2", Port: 3306}
	lag := func(n int64) *int64 { return &n }
	good := func() replicaFacts {
		return replicaFacts{App: "app1", Server: r, Watched: "10.0.0.1:3306", MaxLag: 30, CheckLag: true,
			Show: &manager.Show{Master: "10.0.0.1:3306", Servers: []manager.ShowServer{
				{Key: "10.0.0.1:3306", Role: "master", State: "alive"},
				{Key: r.String(), Role: "replica", State: "alive", Source: "10.0.0.1:3306", IO: "Yes", SQL: "Yes", Lag: lag(2)},
			}}}
	}
	srv := func(f *replicaFacts) *manager.ShowServer { return &f.Show.Servers[1] }
	cases := []struct {
		name string
		edit func(*replicaFacts)
		ok   bool
		why  string
	}{
		{"a replica in sync serves reads", func(*replicaFacts) {}, true, "lag 2 s"},
		{"a server the snapshot lacks", func(f *replicaFacts) { f.Server.Port = 3307 }, false, "not in the snapshot"},
		{"a dead replica", func(f *replicaFacts) { srv(f).State = "down: refused" }, false, "down: refused"},
		{"no master: nothing is current", func(f *replicaFacts) { f.Show.Master, f.Watched = "", "" }, false, "no writable master"},
		{"the snapshot and the manager disagree on the master (a failover)", func(f *replicaFacts) { f.Watched = "10.0.0.3:3306" }, false, "topology is changing"},
		{"the master is not a replica", func(f *replicaFacts) { f.Server = topology.Key{Host: "10.0.0.1", Port: 3306} }, false, "role master"},
		{"a detached server (replicates from elsewhere)", func(f *replicaFacts) { srv(f).Role = "detached" }, false, "role detached"},
		{"IO thread stopped", func(f *replicaFacts) { srv(f).IO = "Connecting" }, false, "io=Connecting"},
		{"SQL thread stopped", func(f *replicaFacts) { srv(f).SQL = "No" }, false, "sql=No"},
		{"lag unknown", func(f *replicaFacts) { srv(f).Lag = nil }, false, "NULL"},
		{"too far behind", func(f *replicaFacts) { srv(f).Lag = lag(31) }, false, "lag 31 s exceeds 30 s"},
		{"far behind but check_repl_delay=0", func(f *replicaFacts) { srv(f).Lag, f.CheckLag = lag(500), false }, true, "lag 500 s"},
		{"no manager view: the snapshot decides", func(f *replicaFacts) { f.Watched = "" }, true, "replica of 10.0.0.1:3306"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := good()
			c.edit(&f)
			ok, why := decideReplica(f)
			if ok != c.ok || !strings.Contains(why, c.why) {
				t.Errorf("decideReplica = %v, %q; want %v and a line with %q", ok, why, c.ok, c.why)
			}
		})
	}
}
