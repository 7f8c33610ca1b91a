package httpapi

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gomha/gomha/manager"
)

// The metrics read at scrape time. Names follow Prometheus's conventions:
// gomha_ prefix, base units (seconds), _total counters; labels cluster
// (the application), server (host:port), role, state, result.
var (
	descClusters = prometheus.NewDesc("gomha_clusters", "Clusters this process serves.", nil, nil)
	descHealthy  = prometheus.NewDesc("gomha_cluster_healthy",
		"1 when the cluster's replication is healthy (gomha show says healthy), else 0.", []string{"cluster"}, nil)
	descSnapAge = prometheus.NewDesc("gomha_snapshot_age_seconds",
		"Age of the cluster's snapshot these metrics were read from.", []string{"cluster"}, nil)
	descUp = prometheus.NewDesc("gomha_server_up",
		"1 when the server answered the snapshot's connection, else 0.", []string{"cluster", "server"}, nil)
	descRole = prometheus.NewDesc("gomha_server_role",
		"1 for the server's role in the snapshot (master, replica, unmanaged, detached, dead, deposed), 0 for the others.",
		[]string{"cluster", "server", "role"}, nil)
	descReadOnly = prometheus.NewDesc("gomha_server_read_only",
		"1 when the server's read_only is ON, 0 when OFF; absent while it is down.", []string{"cluster", "server"}, nil)
	descIO = prometheus.NewDesc("gomha_replica_io_running",
		"1 when the replica's IO thread runs (Slave_IO_Running: Yes), else 0.", []string{"cluster", "server"}, nil)
	descSQL = prometheus.NewDesc("gomha_replica_sql_running",
		"1 when the replica's SQL thread runs, else 0.", []string{"cluster", "server"}, nil)
	descLag = prometheus.NewDesc("gomha_replica_lag_seconds",
		"The replica's Seconds_Behind_Master; absent when NULL.", []string{"cluster", "server"}, nil)
	descStatusCode = prometheus.NewDesc("gomha_manager_status_code",
		"MHA's status code of the cluster's manager, as masterha_check_status exits (0 PING_OK, 2 NOT_RUNNING, 20 PING_FAILING, 50 FAILOVER_RUNNING, ...).",
		[]string{"cluster"}, nil)
	descState = prometheus.NewDesc("gomha_manager_state",
		"1 for the manager's current MHA state (PING_OK, NOT_RUNNING, ...), 0 for the others.", []string{"cluster", "state"}, nil)
	descLeader = prometheus.NewDesc("gomha_manager_leader",
		"1 while this process leads the cluster and runs its manager (through etcd with --etcd, by the local lock otherwise), else 0.",
		[]string{"cluster"}, nil)
	descFailovers = prometheus.NewDesc("gomha_failovers_total",
		"Automatic failovers this process made, by result (success, partial: some replica not recovered, failure, refused: not started).",
		[]string{"cluster", "result"}, nil)
	descSwitchovers = prometheus.NewDesc("gomha_switchovers_total",
		"Online switchovers of the cluster since this process started, counted from their reports in manager_workdir, by result.",
		[]string{"cluster", "result"}, nil)
	descLastTime = prometheus.NewDesc("gomha_last_failover_timestamp_seconds",
		"Start of the cluster's last failover (its newest report in manager_workdir), as a Unix time.", []string{"cluster"}, nil)
	descLastDetect = prometheus.NewDesc("gomha_last_failover_detection_seconds",
		"Time from the first failed check of the master to its confirmed death, in the last failover.", []string{"cluster"}, nil)
	descLastTook = prometheus.NewDesc("gomha_last_failover_duration_seconds",
		"Duration of the last failover, from its start to its report.", []string{"cluster"}, nil)
)

var allDescs = []*prometheus.Desc{descClusters, descHealthy, descSnapAge, descUp, descRole, descReadOnly, descIO, descSQL, descLag,
	descStatusCode, descState, descLeader, descFailovers, descSwitchovers, descLastTime, descLastDetect, descLastTook}

// roles are gomha show's roles.
var roles = []string{"master", "replica", "unmanaged", "detached", "dead", "deposed"}

// states are MHA's status codes.
var states = []manager.StatusCode{
	manager.StatusPingOK, manager.StatusNotRunning, manager.StatusPartiallyRunning, manager.StatusInitializingMonitor,
	manager.StatusPingFailing, manager.StatusPingFailed, manager.StatusRetryingMonitor, manager.StatusConfigError,
	manager.StatusTimestampOld, manager.StatusFailoverRunning, manager.StatusFailoverError,
}

// collector reads the metrics on scrape: from each cluster's cached
// snapshot (built when older than Options.ShowTTL), its status file and
// its reports. Nothing polls the servers in the background.
type collector struct{ s *Server }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range allDescs {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	s := c.s
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.ShowTimeout)
	defer cancel()
	cs := s.clusters()
	ch <- gauge(descClusters, float64(len(cs)))
	sns, errs := s.snapshots(ctx, cs)
	now := time.Now()
	for i, cl := range cs {
		if errs[i] == nil {
			ch <- gauge(descSnapAge, sns[i].Age(now).Seconds(), cl.App)
			collectShow(ch, cl.App, sns[i].Show)
		}
		s.collectManager(ch, cl)
		s.collectReports(ch, cl)
	}
}

func gauge(d *prometheus.Desc, v float64, labels ...string) prometheus.Metric {
	return prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}

func counter(d *prometheus.Desc, v float64, labels ...string) prometheus.Metric {
	return prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
}

func bool01(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// collectShow gives the per-server metrics of one snapshot.
func collectShow(ch chan<- prometheus.Metric, app string, sh *manager.Show) {
	ch <- gauge(descHealthy, bool01(sh.Healthy), app)
	for _, srv := range sh.Servers {
		up := srv.State == "alive"
		ch <- gauge(descUp, bool01(up), app, srv.Key)
		for _, r := range roles {
			ch <- gauge(descRole, bool01(srv.Role == r), app, srv.Key, r)
		}
		if !up {
			continue
		}
		if srv.ReadOnly != nil {
			ch <- gauge(descReadOnly, bool01(*srv.ReadOnly), app, srv.Key)
		}
		if srv.Source == "" {
			continue
		}
		ch <- gauge(descIO, bool01(srv.IO == "Yes"), app, srv.Key)
		ch <- gauge(descSQL, bool01(srv.SQL == "Yes"), app, srv.Key)
		if srv.Lag != nil {
			ch <- gauge(descLag, float64(*srv.Lag), app, srv.Key)
		}
	}
}

// collectManager gives the manager's status, leadership and failovers.
func (s *Server) collectManager(ch chan<- prometheus.Metric, cl Cluster) {
	if st, err := manager.ReadStatus(cl.Config.ManagerWorkdir, cl.App, pingLimit(cl.Config)); err == nil {
		ch <- gauge(descStatusCode, float64(st.Code), cl.App)
		for _, code := range states {
			ch <- gauge(descState, bool01(st.Code == code), cl.App, code.Name())
		}
	}
	if leading, known := cl.Leading(); known {
		ch <- gauge(descLeader, bool01(leading), cl.App)
	}
	for _, r := range failoverResults {
		ch <- counter(descFailovers, s.metrics.failoverCount(cl.App, r), cl.App, r)
	}
}

// collectReports gives the switchovers since this process started and
// the last failover's figures, from the report files.
func (s *Server) collectReports(ch chan<- prometheus.Metric, cl Cluster) {
	files, err := listReports(cl.Config.ManagerWorkdir, cl.App)
	if err != nil {
		s.log.Warn("metrics: reports not read", "app", cl.App, "error", err)
	}
	since := s.started.Truncate(time.Millisecond) // report names have milliseconds
	lastDone := false
	for _, f := range files {
		switch {
		case f.Kind == "switchover" && !f.Time.Before(since):
			_, _ = s.reports.summary(f) // counted below; one being written is read by the next scrape
		case f.Kind == "failover" && !lastDone:
			sum, err := s.reports.summary(f)
			if err != nil {
				continue
			}
			lastDone = true
			ch <- gauge(descLastTime, float64(sum.Started.UnixNano())/1e9, cl.App)
			ch <- gauge(descLastTook, sum.Took.Seconds(), cl.App)
			if sum.Detected {
				ch <- gauge(descLastDetect, sum.Detection.Seconds(), cl.App)
			}
		}
	}
	switches := s.reports.count(cl.App, "switchover", since)
	for _, r := range switchoverResults {
		ch <- counter(descSwitchovers, switches[r], cl.App, r)
	}
}
