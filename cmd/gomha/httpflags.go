package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"

	"github.com/spf13/cobra"

	"github.com/gomha/gomha/httpapi"
	"github.com/gomha/gomha/httpapi/statuspage"
	"github.com/gomha/gomha/manager"
	"github.com/gomha/gomha/supervisor"
)

// httpFlags are gomha manager's HTTP API options.
type httpFlags struct {
	addr                 string
	user, passwordFile   string
	tokenFile            string
	cert, key            string
	openHealthAndMetrics bool
}

func (h *httpFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&h.addr, "http", "", "serve the HTTP API and /metrics on `host:port` (off by default)")
	fl.StringVar(&h.user, "http-user", "", "require HTTP basic authentication with this `name` (its password from --http-password-file)")
	fl.StringVar(&h.passwordFile, "http-password-file", "", "`file` whose first line is the --http-user's password")
	fl.StringVar(&h.tokenFile, "http-token-file", "", "require \"Authorization: Bearer <token>\", the token being the first line of `file`")
	fl.StringVar(&h.cert, "http-cert", "", "serve HTTPS with this certificate `file` (PEM; with --http-key)")
	fl.StringVar(&h.key, "http-key", "", "private key `file` (PEM) of --http-cert")
	fl.BoolVar(&h.openHealthAndMetrics, "http-open-metrics", false, "leave /healthz and /metrics without authentication (the API and route checks keep it)")
}

// set reports whether --http was given.
func (h *httpFlags) set() bool { return h.addr != "" }

// options checks the flags and reads the secrets they name.
func (h *httpFlags) options(log *slog.Logger) (httpapi.Options, error) {
	o := httpapi.Options{CertFile: h.cert, KeyFile: h.key, OpenHealthAndMetrics: h.openHealthAndMetrics, Logger: log}
	if !h.set() {
		for _, f := range []struct{ name, v string }{{"--http-user", h.user}, {"--http-password-file", h.passwordFile},
			{"--http-token-file", h.tokenFile}, {"--http-cert", h.cert}, {"--http-key", h.key}} {
			if f.v != "" {
				return o, fmt.Errorf("%s needs --http host:port", f.name)
			}
		}
		if h.openHealthAndMetrics {
			return o, errors.New("--http-open-metrics needs --http host:port")
		}
		return o, nil
	}
	host, port, err := net.SplitHostPort(h.addr)
	if n, perr := strconv.Atoi(port); err != nil || perr != nil || n < 0 || n > 65535 {
		return o, fmt.Errorf("--http %q: want host:port, e.g. 127.0.0.1:8080", h.addr)
	}
	_ = host // "" listens on every address, as Go does
	switch {
	case h.user != "" && h.passwordFile == "":
		return o, errors.New("--http-user needs --http-password-file")
	case h.passwordFile != "" && h.user == "":
		return o, errors.New("--http-password-file needs --http-user")
	case (h.cert == "") != (h.key == ""):
		return o, errors.New("--http-cert and --http-key go together")
	case h.openHealthAndMetrics && h.user == "" && h.tokenFile == "":
		return o, errors.New("--http-open-metrics needs --http-user or --http-token-file: without them everything is open")
	}
	if h.passwordFile != "" {
		pw, err := httpapi.ReadSecret(h.passwordFile)
		if err != nil {
			return o, fmt.Errorf("--http-password-file: %w", err)
		}
		o.Auth.User, o.Auth.Password = h.user, pw
	}
	if h.tokenFile != "" {
		tok, err := httpapi.ReadSecret(h.tokenFile)
		if err != nil {
			return o, fmt.Errorf("--http-token-file: %w", err)
		}
		o.Auth.Token = tok
	}
	return o, nil
}

// httpService is the HTTP API of a gomha manager process: listening
// before any cluster starts, serving until stop.
type httpService struct {
	srv  *httpapi.Server
	ln   net.Listener
	stop func()
}

// listen checks the flags and opens the listener (nil service without
// --http): a port in use is an error before any cluster starts. The
// server has the API, the metrics and the status page.
func (h *httpFlags) listen(clusters func() []httpapi.Cluster, log *slog.Logger) (*httpService, error) {
	o, err := h.options(log)
	if err != nil || !h.set() {
		return nil, withCode(1, err)
	}
	o.Clusters = clusters
	srv := httpapi.New(o)
	// The status page, at / alone, behind the same authentication: here
	// so that one --conf and --conf-dir both serve it.
	srv.Handle("GET /{$}", statuspage.Handler())
	ln, err := srv.Listen(h.addr)
	if err != nil {
		return nil, withCode(1, fmt.Errorf("--http: %w", err))
	}
	return &httpService{srv: srv, ln: ln, stop: func() { ln.Close() }}, nil
}

// serve serves until ctx ends or stop is called (stop waits for the
// server to be down). A server that fails is one line on errW; the
// clusters go on.
func (s *httpService) serve(ctx context.Context, errW io.Writer) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := s.srv.ServeListener(ctx, s.ln); err != nil {
			fmt.Fprintf(errW, "gomha: %s; the clusters are still watched\n", oneLine(err.Error()))
		}
	})
	s.stop = func() { cancel(); wg.Wait() }
}

// leadership remembers whether this process leads each cluster through
// etcd, for the HTTP API of a one-cluster manager (a supervisor knows it
// for its units).
type leadership struct {
	l  manager.Leader
	mu sync.Mutex
	on map[string]bool
}

func (t *leadership) Lead(ctx context.Context, app string) (context.Context, func(), error) {
	lctx, resign, err := t.l.Lead(ctx, app)
	if err != nil {
		return lctx, resign, err
	}
	t.set(app, true)
	context.AfterFunc(lctx, func() { t.set(app, false) })
	return lctx, resign, nil
}

func (t *leadership) set(app string, on bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.on == nil {
		t.on = map[string]bool{}
	}
	t.on[app] = on
}

// state is the cluster's state as a supervisor would say it.
func (t *leadership) state(app string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.on[app] {
		return string(supervisor.StateRunning)
	}
	return string(supervisor.StateLeading)
}
