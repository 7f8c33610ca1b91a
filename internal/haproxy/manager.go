package haproxy

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gomha/gomha/failover"
	"github.com/gomha/gomha/httpapi"
	"github.com/gomha/gomha/internal/testkit"
	"github.com/gomha/gomha/manager"
	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/supervisor"
)

// ManagerOptions configure StartManager.
type ManagerOptions struct {
	// Conf is the cluster's configuration file.
	Conf string
	// Listen is the API's address (host:port; port 0 picks one).
	Listen string
	// Token is the bearer token the API requires ("" for none).
	Token  string
	Logger *slog.Logger
	// OnFailover receives every failover's report.
	OnFailover func(rep *failover.Report, err error)
}

// Manager is what gomha manager --conf-dir D --http ADDR runs for one
// cluster, in this process: a supervisor with one unit (the cluster of
// Conf) and the HTTP API that HAProxy's checks ask. (One --conf runs the
// manager without a supervisor; the API and its route checks are the same.)
type Manager struct {
	// Addr is the API's address (host:port).
	Addr string
	// Config is the cluster's configuration (its manager_workdir, app).
	Config *config.Config

	conf   string
	token  string
	sup    *supervisor.Supervisor
	cancel context.CancelFunc
	served chan error
	out    *testkit.Buffer
}

// stopPoll is how often the unit looks for a stop request (gomha stop);
// gomha manager's is 1 s, shortened so that a test or a benchmark run does
// not wait for it. The client's downtime does not include it: writes go
// on until the unit has stopped.
const stopPoll = 100 * time.Millisecond

// StartManager starts the API and the cluster's manager. The API listens
// before the manager runs, as gomha manager --http does.
func StartManager(o ManagerOptions) (*Manager, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	load := func(ctx context.Context, file string) (*config.Config, error) {
		return config.Load(ctx, file, config.Options{NoGlobal: true})
	}
	lctx, lcancel := context.WithTimeout(context.Background(), 30*time.Second)
	cfg, err := load(lctx, o.Conf)
	lcancel()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &Manager{Config: cfg, conf: o.Conf, token: o.Token, cancel: cancel, served: make(chan error, 1), out: &testkit.Buffer{}}
	var sup *supervisor.Supervisor
	srv := httpapi.New(httpapi.Options{
		Clusters: func() []httpapi.Cluster { return httpapi.SupervisorClusters(sup)() },
		Auth:     httpapi.Auth{Token: o.Token},
		Logger:   o.Logger,
	})
	sup = supervisor.New(ctx, supervisor.Options{
		Manager: manager.ManagerOptions{Observer: srv.Observer(), Logger: o.Logger},
		Load:    load,
		OnFailover: func(app string, rep *failover.Report, err error) {
			srv.OnFailover(app, rep, err)
			if o.OnFailover != nil {
				o.OnFailover(rep, err)
			}
		},
		Out: m.out, Err: m.out, StopPoll: stopPoll,
	})
	m.sup = sup
	ln, err := srv.Listen(o.Listen)
	if err != nil {
		cancel()
		return nil, err
	}
	m.Addr = ln.Addr().String()
	go func() { m.served <- srv.ServeListener(ctx, ln) }()
	if err := sup.Reload([]string{o.Conf}); err != nil {
		m.Stop()
		return nil, err
	}
	return m, nil
}

// Output is what the supervisor and the manager printed (console lines
// and one-line reports).
func (m *Manager) Output() string { return m.out.String() }

// StopCluster is gomha stop --conf F on a manager that runs several
// clusters: it writes the stop request and waits until the unit has
// stopped (its status file removed), as before an online switchover.
func (m *Manager) StopCluster(ctx context.Context) error {
	if err := supervisor.RequestStop(m.Config.ManagerWorkdir, m.Config.App); err != nil {
		return err
	}
	for {
		for _, u := range m.sup.Units() {
			if u.App == m.Config.App && u.State == supervisor.StateStopped {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the manager of %s did not stop: %w\n%s", m.Config.App, ctx.Err(), m.Output())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Restart is the SIGHUP after a switchover: the stopped cluster starts
// again (its start-up checks, then the watch of the new master).
func (m *Manager) Restart() error { return m.sup.Reload([]string{m.conf}) }

// Stop stops the manager and the API (a failover under way finishes
// first).
func (m *Manager) Stop() error {
	m.cancel()
	m.sup.Wait()
	select {
	case err := <-m.served:
		return err
	case <-time.After(10 * time.Second):
		return fmt.Errorf("the HTTP API on %s did not stop", m.Addr)
	}
}

// Route asks the API, as HAProxy's check does: kind is "route" or
// "route-replica", server a host:port. It returns the status and the
// one-line reason.
func (m *Manager) Route(ctx context.Context, kind, server string) (int, string, error) {
	url := "http://" + m.Addr + "/api/v1/clusters/" + m.Config.App + "/" + kind + "/" + server
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	if m.token != "" {
		req.Header.Set("Authorization", "Bearer "+m.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, strings.TrimSpace(string(body)), nil
}

// WaitRoute waits until the route of server answers want, and returns
// when it did.
func (m *Manager) WaitRoute(ctx context.Context, kind, server string, want int) (time.Time, error) {
	var last string
	for {
		code, why, err := m.Route(ctx, kind, server)
		if err == nil && code == want {
			return time.Now(), nil
		}
		last = fmt.Sprintf("%d %s (%v)", code, why, err)
		select {
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("%s %s never answered %d: last %s: %w", kind, server, want, last, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}
