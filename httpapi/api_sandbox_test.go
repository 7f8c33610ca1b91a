package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomha/gomha/failover"
	"github.com/gomha/gomha/internal/testkit"
	"github.com/gomha/gomha/manager"
	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/node"
	"github.com/gomha/gomha/sandbox"
	"github.com/gomha/gomha/sandbox/sandboxtest"
	"github.com/gomha/gomha/supervisor"
)

// live is a real 3-host sandbox (127.0.5.11-13; this package's tests use
// 127.0.5.x only) watched by a supervisor in this process, and the HTTP
// API of that supervisor on 127.0.5.1, with basic authentication.
type live struct {
	t    *testing.T
	c    *sandbox.Cluster
	srv  *Server
	base string
	log  *testkit.Buffer

	mu      sync.Mutex
	reports []*failover.Report
}

func upLive(t *testing.T) *live {
	node.QuietDriverLogs()
	c := sandboxtest.Up(t, sandbox.Options{Hosts: 3, GTID: true, Subnet: "127.0.5", BaseOctet: 10})
	l := &live{t: t, c: c, log: &testkit.Buffer{}}
	ctx, cancel := context.WithCancel(context.Background())
	var sup *supervisor.Supervisor
	l.srv = New(Options{Clusters: func() []Cluster { return SupervisorClusters(sup)() },
		Auth: Auth{User: "ops", Password: "pw #1"}})
	sup = supervisor.New(ctx, supervisor.Options{
		Manager: manager.ManagerOptions{Observer: l.srv.Observer()},
		Load: func(ctx context.Context, file string) (*config.Config, error) {
			return config.Load(ctx, file, config.Options{NoGlobal: true})
		},
		OnFailover: func(app string, rep *failover.Report, err error) {
			l.srv.OnFailover(app, rep, err)
			l.mu.Lock()
			l.reports = append(l.reports, rep)
			l.mu.Unlock()
		},
		Out: l.log, Err: l.log, StopPoll: 100 * time.Millisecond,
	})
	ln, err := l.srv.Listen("127.0.5.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- l.srv.ServeListener(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		sup.Wait()
		if err := <-served; err != nil {
			t.Errorf("HTTP server: %v", err)
		}
	})
	l.base = "http://" + ln.Addr().String()
	if err := sup.Reload([]string{c.ConfPath}); err != nil {
		t.Fatal(err)
	}
	return l
}

func (l *live) addr(host string) string {
	h, err := l.c.Host(host)
	if err != nil {
		l.t.Fatal(err)
	}
	return fmt.Sprintf("%s:%d", h.Addr, h.Port)
}

// get asks the API, with the credentials unless bare.
func (l *live) get(path string, bare bool) (int, http.Header, string) {
	l.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, l.base+path, nil)
	if err != nil {
		l.t.Fatal(err)
	}
	if !bare {
		req.SetBasicAuth("ops", "pw #1")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		l.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(body)
}

func (l *live) getJSON(path string, v any) http.Header {
	l.t.Helper()
	code, h, body := l.get(path, false)
	if code != 200 {
		l.t.Fatalf("GET %s: %d %s", path, code, body)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		l.t.Fatalf("GET %s: %v\n%s", path, err, body)
	}
	return h
}

func (l *live) route(kind, host string) (int, string) {
	code, _, body := l.get("/api/v1/clusters/app1/"+kind+"/"+l.addr(host), false)
	return code, strings.TrimSpace(body)
}

// waitRoute waits until kind/host answers want; it returns when.
func (l *live) waitRoute(kind, host string, want int, limit time.Duration) time.Time {
	l.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		code, body := l.route(kind, host)
		if code == want {
			return time.Now()
		}
		if time.Now().After(deadline) {
			l.t.Fatalf("%s %s: %d %q, want %d after %s\n%s", kind, host, code, body, want, limit, l.log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (l *live) metrics() (string, map[string]float64) {
	l.t.Helper()
	code, _, body := l.get("/metrics", false)
	if code != 200 {
		l.t.Fatalf("/metrics: %d %s", code, body)
	}
	return body, samples(l.t, body)
}

// TestAPISandbox runs a live manager on a real sandbox and asks its API:
// the list, the show with the master, the routes (200 on the master only,
// replicas readable), the credentials, the metrics (promtool passes,
// values as the cluster is); then kills the master and asks again: the
// route follows the new master, the old one gets 503, the failover is
// the newest report, counted once as a success.
func TestAPISandbox(t *testing.T) {
	l := upLive(t)
	start := time.Now()
	l.waitRoute("route", "host1", 200, 30*time.Second)
	t.Logf("route to the master answered 200 %s after the manager's start", time.Since(start).Round(time.Millisecond))
	l.beforeFailover()
	kill := time.Now()
	if err := l.c.KillMysqld(context.Background(), "host1"); err != nil {
		t.Fatal(err)
	}
	closed := l.waitRoute("route", "host1", 503, 10*time.Second)
	opened := l.waitRoute("route", "host2", 200, 30*time.Second)
	t.Logf("after the master's kill: its route closed in %s, the new master's opened in %s",
		closed.Sub(kill).Round(time.Millisecond), opened.Sub(kill).Round(time.Millisecond))
	l.afterFailover()
}

func (l *live) beforeFailover() {
	t := l.t
	if code, h, _ := l.get("/api/v1/clusters", true); code != 401 || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Basic") {
		t.Errorf("without credentials: %d %v, want 401 with a Basic challenge", code, h)
	}
	var list ClusterList
	l.getJSON("/api/v1/clusters", &list)
	if len(list.Clusters) != 1 || list.Clusters[0].Name != "app1" || list.Clusters[0].Master != l.addr("host1") ||
		list.Clusters[0].ManagerStatus != "PING_OK" || list.Clusters[0].Leader == nil || !*list.Clusters[0].Leader {
		t.Errorf("list: %+v", list)
	}
	var sh manager.Show
	h := l.getJSON("/api/v1/clusters/app1", &sh)
	if sh.App != "app1" || sh.Master != l.addr("host1") || len(sh.Servers) != 3 || sh.View != "healthy" || h.Get(SnapshotAgeHeader) == "" {
		t.Errorf("show: %+v (age %q)", sh, h.Get(SnapshotAgeHeader))
	}
	for host, want := range map[string]int{"host2": 503, "host3": 503} {
		if code, body := l.route("route", host); code != want {
			t.Errorf("route %s: %d %q, want %d", host, code, body, want)
		}
	}
	for _, host := range []string{"host2", "host3"} {
		l.waitRoute("route-replica", host, 200, 10*time.Second)
	}
	if code, body := l.route("route-replica", "host1"); code != 503 {
		t.Errorf("route-replica to the master: %d %q", code, body)
	}
	text, m := l.metrics()
	promtoolCheck(t, text)
	for _, host := range []string{"host1", "host2", "host3"} {
		if v := m[fmt.Sprintf(`gomha_server_up{cluster="app1",server=%q}`, l.addr(host))]; v != 1 {
			t.Errorf("gomha_server_up of %s = %v, want 1", host, v)
		}
	}
	if v := m[fmt.Sprintf(`gomha_ping_duration_seconds_count{cluster="app1",server=%q}`, l.addr("host1"))]; v < 1 {
		t.Errorf("no ping observed by the monitor: count %v", v)
	}
	// An older report of another process, to check the order afterwards.
	writeReport(t, l.c.Dir+"/manager", "app1", "switchover", time.Now().Add(-time.Hour), true, "")
}

func (l *live) afterFailover() {
	t := l.t
	if code, body := l.route("route", "host1"); code != 503 {
		t.Errorf("the dead master still routed: %d %q", code, body)
	}
	if code, body := l.route("route", "host3"); code != 503 {
		t.Errorf("route to a replica after the failover: %d %q", code, body)
	}
	var reps Reports
	l.getJSON("/api/v1/clusters/app1/failovers", &reps)
	var kinds []string
	newest := &failover.Report{}
	for i, raw := range reps.Reports {
		r := &failover.Report{}
		if err := json.Unmarshal(raw, r); err != nil {
			t.Fatal(err)
		}
		kinds = append(kinds, r.Kind)
		if i == 0 {
			newest = r
		}
	}
	if strings.Join(kinds, ",") != "failover,switchover" || newest.NewMaster != l.addr("host2") || !newest.Succeeded {
		t.Errorf("failovers: %v, newest to %s (succeeded %v)", kinds, newest.NewMaster, newest.Succeeded)
	}
	var m map[string]float64
	var text string
	deadline := time.Now().Add(10 * time.Second)
	for { // the snapshot is at most a second old
		text, m = l.metrics()
		if m[fmt.Sprintf(`gomha_server_up{cluster="app1",server=%q}`, l.addr("host1"))] == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	promtoolCheck(t, text)
	want := map[string]float64{
		`gomha_failovers_total{cluster="app1",result="success"}`:                                  1,
		`gomha_failovers_total{cluster="app1",result="failure"}`:                                  0,
		`gomha_manager_leader{cluster="app1"}`:                                                    1,
		fmt.Sprintf(`gomha_server_up{cluster="app1",server=%q}`, l.addr("host1")):                 0,
		fmt.Sprintf(`gomha_server_role{cluster="app1",role="master",server=%q}`, l.addr("host2")): 1,
		fmt.Sprintf(`gomha_server_read_only{cluster="app1",server=%q}`, l.addr("host2")):          0,
	}
	for k, v := range want {
		if got, ok := m[k]; !ok || got != v {
			t.Errorf("%s = %v (present %v), want %v", k, got, ok, v)
		}
	}
	if d := m[`gomha_last_failover_detection_seconds{cluster="app1"}`]; d <= 0 || d > 5 {
		t.Errorf("last failover detection %v s", d)
	}
	l.mu.Lock()
	n := len(l.reports)
	l.mu.Unlock()
	t.Logf("%d failover(s) seen by OnFailover; last failover took %.3f s, detection %.3f s", n,
		m[`gomha_last_failover_duration_seconds{cluster="app1"}`], m[`gomha_last_failover_detection_seconds{cluster="app1"}`])
}
