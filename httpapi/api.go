package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gomha/gomha/manager"
)

// routes registers the API. Every route of the API is read-only.
func (s *Server) routes() {
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{
		ErrorLog: slogPrinter{s}, ErrorHandling: promhttp.ContinueOnError, Timeout: writeTimeout - time.Second,
	}))
	s.mux.HandleFunc("GET /api/v1/clusters", s.list)
	s.mux.HandleFunc("GET /api/v1/clusters/{name}", s.show)
	s.mux.HandleFunc("GET /api/v1/clusters/{name}/failovers", s.failovers)
	s.mux.HandleFunc("GET /api/v1/clusters/{name}/route/{addr}", s.routeMaster)
	s.mux.HandleFunc("GET /api/v1/clusters/{name}/route-replica/{addr}", s.routeReplica)
	// Anything else under /api/ is a JSON 404; other methods get the
	// mux's 405. "GET /api/" rather than "/api/": a route added with
	// Handle may then be "GET /" (a page and its assets) without a
	// conflict.
	s.mux.HandleFunc("GET /api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Errorf("no such endpoint: %s", r.URL.Path))
	})
}

// Health is GET /healthz.
type Health struct {
	Status   string `json:"status"`   // always "ok": the process answers
	Clusters int    `json:"clusters"` // clusters served
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, Health{Status: "ok", Clusters: len(s.clusters())})
}

// ClusterSummary is one cluster in GET /api/v1/clusters.
type ClusterSummary struct {
	Name    string `json:"name"`
	Master  string `json:"master"` // host:port of the writable master in the snapshot; "" when none
	Healthy bool   `json:"healthy"`
	// Manager is show's sentence ("running, pid 4242 (0:PING_OK)");
	// ManagerStatus and ManagerStatusCode are MHA's status, as
	// masterha_check_status gives it (PING_OK 0, NOT_RUNNING 2, ...).
	Manager           string `json:"manager"`
	ManagerStatus     string `json:"manager_status"`
	ManagerStatusCode int    `json:"manager_status_code"`
	View              string `json:"manager_view"` // healthy, suspect, dead, failing over, ... or "-"
	// UnitState is the supervisor's state of the cluster ("running",
	// "waiting for leadership", ...), Leader whether this process leads
	// it; both absent when unknown.
	UnitState   string  `json:"unit_state,omitempty"`
	Leader      *bool   `json:"leader,omitempty"`
	SnapshotAge float64 `json:"snapshot_age_seconds"`
	Error       string  `json:"error,omitempty"` // why the rest is missing
}

// ClusterList is GET /api/v1/clusters.
type ClusterList struct {
	Clusters []ClusterSummary `json:"clusters"`
}

// snapshotConcurrency bounds the snapshots built at once for a list or a
// scrape of many clusters.
const snapshotConcurrency = 8

// snapshots returns every cluster's snapshot (errors when a build did not
// finish before ctx), in the order of cs.
func (s *Server) snapshots(ctx context.Context, cs []Cluster) ([]snapshot, []error) {
	sns, errs := make([]snapshot, len(cs)), make([]error, len(cs))
	sem := make(chan struct{}, snapshotConcurrency)
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Go(func() {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				errs[i] = ctx.Err()
				return
			}
			defer func() { <-sem }()
			sns[i], errs[i] = s.shows.get(ctx, c.Config)
		})
	}
	wg.Wait()
	return sns, errs
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	cs := s.clusters()
	sns, errs := s.snapshots(r.Context(), cs)
	out := ClusterList{Clusters: make([]ClusterSummary, 0, len(cs))}
	now := time.Now()
	for i, c := range cs {
		sum := ClusterSummary{Name: c.App, UnitState: c.State}
		if leading, known := c.Leading(); known {
			sum.Leader = &leading
		}
		if st, err := manager.ReadStatus(c.Config.ManagerWorkdir, c.App, pingLimit(c.Config)); err == nil {
			sum.ManagerStatus, sum.ManagerStatusCode = st.Code.Name(), int(st.Code)
		}
		if errs[i] != nil {
			sum.Error = "snapshot: " + errs[i].Error()
		} else {
			sh := sns[i].Show
			sum.Master, sum.Healthy, sum.Manager, sum.View = sh.Master, sh.Healthy, sh.Manager, sh.View
			sum.SnapshotAge = sns[i].Age(now).Seconds()
		}
		out.Clusters = append(out.Clusters, sum)
	}
	writeJSON(w, http.StatusOK, out)
}

// SnapshotAgeHeader tells how old the snapshot served is, in seconds
// (e.g. "0.412"); SnapshotTimeHeader when it was taken (RFC 3339).
const (
	SnapshotAgeHeader  = "X-Gomha-Snapshot-Age"
	SnapshotTimeHeader = "X-Gomha-Snapshot-Time"
)

func (s *Server) show(w http.ResponseWriter, r *http.Request) {
	c, ok := s.lookup(w, r)
	if !ok {
		return
	}
	sn, err := s.shows.get(r.Context(), c.Config)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, fmt.Errorf("snapshot of %s: %w", c.App, err))
		return
	}
	setAge(w, sn)
	writeJSON(w, http.StatusOK, sn.Show)
}

func setAge(w http.ResponseWriter, sn snapshot) {
	w.Header().Set(SnapshotAgeHeader, strconv.FormatFloat(sn.Age(time.Now()).Seconds(), 'f', 3, 64))
	w.Header().Set(SnapshotTimeHeader, sn.At.Format(time.RFC3339Nano))
}

// lookup finds the cluster the request names, or answers 404.
func (s *Server) lookup(w http.ResponseWriter, r *http.Request) (Cluster, bool) {
	name := r.PathValue("name")
	c, ok := s.cluster(name)
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Errorf("unknown cluster %q", name))
	}
	return c, ok
}

// Reports is GET /api/v1/clusters/{name}/failovers: the reports the
// manager wrote in manager_workdir (<app>.failover.<time>.json and
// <app>.switchover.<time>.json), newest first, each as written.
type Reports struct {
	Cluster string            `json:"cluster"`
	Reports []json.RawMessage `json:"reports"`
}

// Limits of ?limit=N.
const (
	defaultReports = 20
	maxReports     = 1000
)

func (s *Server) failovers(w http.ResponseWriter, r *http.Request) {
	c, ok := s.lookup(w, r)
	if !ok {
		return
	}
	limit := defaultReports
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxReports {
			writeError(w, http.StatusBadRequest, fmt.Errorf("limit %q: want a number from 1 to %d", v, maxReports))
			return
		}
		limit = n
	}
	kind := r.URL.Query().Get("kind")
	if kind != "" && kind != "failover" && kind != "switchover" {
		writeError(w, http.StatusBadRequest, fmt.Errorf("kind %q: want failover or switchover", kind))
		return
	}
	reps, err := s.Reports(c.App, kind, limit)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	writeJSON(w, http.StatusOK, Reports{Cluster: c.App, Reports: reps})
}

// Reports returns up to limit of the cluster's reports of kind
// ("failover", "switchover", or "" for both), newest first, each as the
// manager wrote it (failover.Report in JSON).
func (s *Server) Reports(name, kind string, limit int) ([]json.RawMessage, error) {
	c, ok := s.cluster(name)
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownCluster, name)
	}
	files, err := listReports(c.Config.ManagerWorkdir, c.App)
	if err != nil {
		return nil, err
	}
	out := []json.RawMessage{}
	for _, f := range files {
		if len(out) == limit {
			break
		}
		if kind != "" && f.Kind != kind {
			continue
		}
		data, err := os.ReadFile(f.Path)
		if err != nil || !json.Valid(data) { // gone, or being written
			continue
		}
		out = append(out, json.RawMessage(data))
	}
	return out, nil
}

// slogPrinter is promhttp's error log.
type slogPrinter struct{ s *Server }

func (p slogPrinter) Println(v ...any) { p.s.log.Warn("metrics: " + fmt.Sprint(v...)) }
