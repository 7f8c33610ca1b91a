package httpapi

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gomha/gomha/manager"
	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/supervisor"
)

// Cluster is one cluster the server answers for.
type Cluster struct {
	App    string
	Config *config.Config
	// State is the supervisor unit's state (supervisor.StateRunning while
	// this process leads the cluster and runs its manager, ...); "" when
	// unknown. It gives gomha_manager_leader, the list's unit_state, and a
	// route to the master is refused unless it is running (or unknown).
	State string
}

// Leading reports whether this process leads the cluster (runs its
// manager): known is false when no state was given.
func (c Cluster) Leading() (leading, known bool) {
	if c.State == "" {
		return false, false
	}
	return c.State == string(supervisor.StateRunning), true
}

// Auth is what a request must present. With neither set, the server is
// open.
type Auth struct {
	// User and Password: HTTP basic authentication (when User is set).
	User, Password string
	// Token: "Authorization: Bearer <token>" (when set).
	Token string
}

func (a Auth) enabled() bool { return a.User != "" || a.Token != "" }

// Options configure a Server. Clusters is required.
type Options struct {
	// Clusters lists the clusters served; it is called on every request
	// and scrape, so it must be cheap and safe for concurrent use.
	Clusters func() []Cluster
	// Auth, when set, is required on every path but, with
	// OpenHealthAndMetrics, /healthz and /metrics.
	Auth Auth
	// OpenHealthAndMetrics leaves /healthz and /metrics open (a load
	// balancer's or Prometheus's probe without credentials). They tell the
	// clusters' names, servers, roles and states, nothing else.
	OpenHealthAndMetrics bool
	// CertFile and KeyFile (PEM), when set, make the server speak HTTPS
	// only (TLS 1.2 or newer).
	CertFile, KeyFile string
	Logger            *slog.Logger
	// ShowTTL is how long a cluster's snapshot (manager.BuildShow, which
	// connects to every server) is served before it is built again
	// (default 1 s). Show, list, replica routes and metrics share it.
	ShowTTL time.Duration
	// ConnectTimeout bounds each server's connection in a snapshot
	// (default 2 s, as gomha show); ShowTimeout bounds a whole snapshot
	// (default 10 s).
	ConnectTimeout, ShowTimeout time.Duration
	// MaxReplicaLag is the largest Seconds_Behind_Master (in seconds) of a
	// replica that route-replica accepts, when the cluster's
	// check_repl_delay is set (default 30, as --seconds-behind-master).
	MaxReplicaLag int64
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clusters == nil {
		o.Clusters = func() []Cluster { return nil }
	}
	if o.ShowTTL <= 0 {
		o.ShowTTL = time.Second
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 2 * time.Second
	}
	if o.ShowTimeout <= 0 {
		o.ShowTimeout = 10 * time.Second
	}
	if o.MaxReplicaLag <= 0 {
		o.MaxReplicaLag = 30
	}
	return o
}

// The HTTP server's deadlines: a slow client cannot hold a connection,
// and a response may take as long as one snapshot (ShowTimeout) and more.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 10 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 2 * time.Minute
	shutdownTimeout   = 5 * time.Second
)

// Server is gomha's HTTP API and metrics. Its handlers only read: status
// files, reports, and snapshots of the servers (cached). Safe for
// concurrent use.
type Server struct {
	opts    Options
	log     *slog.Logger
	mux     *http.ServeMux
	handler http.Handler
	started time.Time
	shows   *showCache
	reports *reportCache
	metrics *metrics
	reg     *prometheus.Registry
}

// New returns a server for opts; it serves nothing until Serve (or its
// Handler is mounted somewhere).
func New(opts Options) *Server {
	o := opts.withDefaults()
	s := &Server{opts: o, log: o.Logger.With("component", "http"), mux: http.NewServeMux(), started: time.Now()}
	s.shows = newShowCache(o.ShowTTL, o.ShowTimeout, func(ctx context.Context, cfg *config.Config) *manager.Show {
		return manager.BuildShow(ctx, cfg, o.ConnectTimeout)
	})
	s.reports = newReportCache()
	s.metrics = newMetrics()
	s.reg = prometheus.NewRegistry()
	s.registerMetrics()
	s.routes()
	s.handler = s.authenticate(s.mux)
	return s
}

// Handler is the server's handler: every route, behind the
// authentication.
func (s *Server) Handler() http.Handler { return s.handler }

// Handle adds a route to the server, behind the same authentication as
// the API, with a Go 1.22 ServeMux pattern ("GET /{$}", "GET
// /api/v1/clusters/{name}/something"). Call it before Serve. It panics,
// as ServeMux does, on a pattern that conflicts with one already
// registered.
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// Listen opens addr (host:port), with TLS when Options.CertFile is set:
// a port already in use, or a certificate that cannot be loaded, is an
// error here, before anything else starts.
func (s *Server) Listen(addr string) (net.Listener, error) {
	var tc *tls.Config
	if s.opts.CertFile != "" || s.opts.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(s.opts.CertFile, s.opts.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("HTTP TLS certificate %s and key %s: %w", s.opts.CertFile, s.opts.KeyFile, err)
		}
		tc = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("HTTP address %s is already in use", addr)
		}
		return nil, fmt.Errorf("HTTP address %s: %w", addr, err)
	}
	if tc != nil {
		ln = tls.NewListener(ln, tc)
	}
	return ln, nil
}

// Serve listens on addr and serves until ctx ends, then shuts down
// gracefully (requests in flight get a few seconds). A clean stop
// returns nil.
func (s *Server) Serve(ctx context.Context, addr string) error {
	ln, err := s.Listen(addr)
	if err != nil {
		return err
	}
	return s.ServeListener(ctx, ln)
}

// ServeListener serves on ln (from Listen) until ctx ends; see Serve.
func (s *Server) ServeListener(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
		defer cancel()
		if err := hs.Shutdown(sctx); err != nil {
			s.log.Warn("HTTP server shutdown", "error", err)
			_ = hs.Close()
		}
	}()
	s.log.Info("HTTP API listening", "addr", ln.Addr().String())
	err := hs.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		<-done
		return nil
	}
	return fmt.Errorf("HTTP server on %s: %w", ln.Addr(), err)
}

// cluster finds a cluster by name.
func (s *Server) cluster(name string) (Cluster, bool) {
	for _, c := range s.opts.Clusters() {
		if c.App == name && c.Config != nil {
			return c, true
		}
	}
	return Cluster{}, false
}

// clusters lists the clusters that have a configuration.
func (s *Server) clusters() []Cluster {
	var out []Cluster
	for _, c := range s.opts.Clusters() {
		if c.Config != nil {
			out = append(out, c)
		}
	}
	return out
}

// ErrUnknownCluster is returned for a name no cluster served has.
var ErrUnknownCluster = errors.New("unknown cluster")

// SupervisorClusters lists the clusters of a supervisor's units, each
// with its configuration and state: Options.Clusters of gomha manager
// --conf-dir.
func SupervisorClusters(sup *supervisor.Supervisor) func() []Cluster {
	return func() []Cluster {
		us := sup.Units()
		out := make([]Cluster, 0, len(us))
		for _, u := range us {
			out = append(out, Cluster{App: u.App, Config: u.Config, State: string(u.State)})
		}
		return out
	}
}
