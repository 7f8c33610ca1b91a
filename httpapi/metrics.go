package httpapi

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/gomha/gomha/failover"
	"github.com/gomha/gomha/manager"
	"github.com/gomha/gomha/topology"
)

// metrics is what this process measures itself: the monitor's pings and
// the failovers it made. Everything else is read at scrape time (see
// collector).
type metrics struct {
	ping     *prometheus.HistogramVec
	pingFail *prometheus.CounterVec

	mu        sync.Mutex
	failovers map[string]map[string]float64 // cluster -> result -> count
	masters   map[string]string             // cluster -> the master its pings last went to
	// staleAfter is how long the ping series of a master the manager no
	// longer watches stay, so that the last failures that led to its
	// failover are scraped before they go.
	staleAfter time.Duration
}

// staleSeriesAfter is metrics.staleAfter: several scrape intervals.
const staleSeriesAfter = 10 * time.Minute

// Failover results (gomha_failovers_total's result label).
var failoverResults = []string{"success", "partial", "failure", "refused"}

// Switchover results (gomha_switchovers_total's result label).
var switchoverResults = []string{"success", "partial", "failure"}

// pingBuckets span a ping on a LAN (0.5 ms) to one that times out (ping
// intervals are seconds).
var pingBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

func newMetrics() *metrics {
	return &metrics{
		ping: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gomha_ping_duration_seconds",
			Help:    "Duration of the manager's periodic checks of the master (ping_type), failed ones included.",
			Buckets: pingBuckets,
		}, []string{"cluster", "server"}),
		pingFail: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gomha_ping_failures_total",
			Help: "Periodic checks of the master that failed.",
		}, []string{"cluster", "server"}),
		failovers:  map[string]map[string]float64{},
		masters:    map[string]string{},
		staleAfter: staleSeriesAfter,
	}
}

// Ping implements manager.Observer.
// When app's master changes, the former master's series go staleAfter
// later, unless it is the master again by then.
func (m *metrics) Ping(app string, master topology.Key, took time.Duration, err error) {
	server := master.String()
	m.mu.Lock()
	old := m.masters[app]
	m.masters[app] = server // before the series: a drop under way then spares them
	m.mu.Unlock()
	if old != "" && old != server {
		time.AfterFunc(m.staleAfter, func() { m.dropPingSeries(app, old) })
	}
	m.ping.WithLabelValues(app, server).Observe(took.Seconds())
	if err != nil {
		m.pingFail.WithLabelValues(app, server).Inc()
	}
}

// dropPingSeries deletes server's ping series of app unless the manager
// pings it again.
func (m *metrics) dropPingSeries(app, server string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.masters[app] == server {
		return
	}
	m.ping.DeleteLabelValues(app, server)
	m.pingFail.DeleteLabelValues(app, server)
}

// failover counts one failover of app.
func (m *metrics) failover(app string, rep *failover.Report, err error) {
	result := "failure"
	switch {
	case rep == nil:
		result = "refused" // not started: a recent failover, a journal to resume, ...
	case err == nil:
		result = "success"
	case manager.ExitCode(err) == manager.ExitFailoverPartial:
		result = "partial"
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failovers[app] == nil {
		m.failovers[app] = map[string]float64{}
	}
	m.failovers[app][result]++
}

func (m *metrics) failoverCount(app, result string) float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.failovers[app][result]
}

// Observer is what manager.ManagerOptions.Observer (or
// supervisor.Options.Manager.Observer) must be for
// gomha_ping_duration_seconds.
func (s *Server) Observer() manager.Observer { return s.metrics }

// OnFailover counts a failover made by this process in
// gomha_failovers_total: give it to manager.ManagerOptions.OnFailover (with
// the cluster's name) or supervisor.Options.OnFailover.
func (s *Server) OnFailover(app string, rep *failover.Report, err error) {
	s.metrics.failover(app, rep, err)
}

func (s *Server) registerMetrics() {
	s.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		s.metrics.ping, s.metrics.pingFail,
		collector{s},
	)
}
