package httpapi

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gomha/gomha/manager"
	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/topology"
)

// routeTarget parses the {addr} of a route check and finds the
// configured server it names (by hostname or IP), or answers 400 / 404.
func (s *Server) routeTarget(w http.ResponseWriter, r *http.Request) (Cluster, config.Server, bool) {
	c, ok := s.lookup(w, r)
	if !ok {
		return Cluster{}, config.Server{}, false
	}
	addr := r.PathValue("addr")
	key, err := topology.ParseKey(addr)
	if err != nil || key.Host == "" {
		writeError(w, http.StatusBadRequest, fmt.Errorf("server %q: want host:port", addr))
		return Cluster{}, config.Server{}, false
	}
	for _, srv := range c.Config.Servers {
		if manager.TopologyServer(srv).Matches(key.Host, key.Port) {
			return c, srv, true
		}
	}
	writeError(w, http.StatusNotFound, fmt.Errorf("%s is not a server of %s", key, c.App))
	return Cluster{}, config.Server{}, false
}

// pingLimit is how old the status file of a PING_OK manager may be
// before it counts as hung (TIMESTAMP_OLD): three ping intervals (the
// monitor touches it on every ping), at least 3 s.
func pingLimit(cfg *config.Config) time.Duration {
	iv := 0
	for _, srv := range cfg.Servers {
		iv = max(iv, srv.PingInterval)
	}
	if iv <= 0 {
		iv = 3
	}
	return max(3*time.Duration(iv)*time.Second, 3*time.Second)
}

// masterFacts reads what decides a route to srv: two small files.
func (s *Server) masterFacts(c Cluster, srv config.Server) masterFacts {
	f := masterFacts{App: c.App, Server: manager.TopologyServer(srv).Key(), Hostname: srv.Hostname}
	if leading, known := c.Leading(); known && !leading {
		f.NotLeading = c.State
	}
	f.Status, f.StatusErr = manager.ReadStatus(c.Config.ManagerWorkdir, c.App, pingLimit(c.Config))
	f.View, f.ViewOK, f.ViewErr = manager.ReadView(c.Config.ManagerWorkdir, c.App)
	return f
}

// routeMaster is GET /api/v1/clusters/{name}/route/{addr}: 200 when addr
// is the master the manager watches and finds healthy, else 503, with
// one line saying why. It reads two files and no server: HAProxy may ask
// every second for every server.
func (s *Server) routeMaster(w http.ResponseWriter, r *http.Request) {
	c, srv, ok := s.routeTarget(w, r)
	if !ok {
		return
	}
	if ok, why := decideMaster(s.masterFacts(c, srv)); ok {
		writeLine(w, http.StatusOK, "%s", why)
	} else {
		writeLine(w, http.StatusServiceUnavailable, "%s", why)
	}
}

// routeReplica is GET /api/v1/clusters/{name}/route-replica/{addr}: 200
// for a healthy replica of the current master (both threads running,
// lag within ?max_lag=N seconds, default Options.MaxReplicaLag, when the
// server's check_repl_delay is set), else 503, with one line saying why.
// It reads the cached snapshot (at most one per Options.ShowTTL).
func (s *Server) routeReplica(w http.ResponseWriter, r *http.Request) {
	c, srv, ok := s.routeTarget(w, r)
	if !ok {
		return
	}
	maxLag := s.opts.MaxReplicaLag
	if v := r.URL.Query().Get("max_lag"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, fmt.Errorf("max_lag %q: want a number of seconds", v))
			return
		}
		maxLag = n
	}
	sn, err := s.shows.get(r.Context(), c.Config)
	if err != nil {
		writeLine(w, http.StatusServiceUnavailable, "no snapshot of %s: %v", c.App, err)
		return
	}
	f := replicaFacts{App: c.App, Server: manager.TopologyServer(srv).Key(), Show: sn.Show, MaxLag: maxLag, CheckLag: srv.CheckReplDelay}
	if st, err := manager.ReadStatus(c.Config.ManagerWorkdir, c.App, pingLimit(c.Config)); err == nil && st.Code == manager.StatusPingOK {
		if v, ok, err := manager.ReadView(c.Config.ManagerWorkdir, c.App); err == nil && ok && v.State == "healthy" {
			f.Watched = v.Master
		}
	}
	setAge(w, sn)
	if ok, why := decideReplica(f); ok {
		writeLine(w, http.StatusOK, "%s", why)
	} else {
		writeLine(w, http.StatusServiceUnavailable, "%s", why)
	}
}
