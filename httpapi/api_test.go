package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gomha/gomha/coord"
	"github.com/gomha/gomha/failover"
	"github.com/gomha/gomha/manager"
	"github.com/gomha/gomha/manager/config"
)

// fake is a server over one cluster, app1, whose snapshots come from a
// counted function instead of the servers; status and view files are
// real, in a temporary manager_workdir.
type fake struct {
	t      testing.TB
	s      *Server
	cfg    *config.Config
	builds atomic.Int32
	show   *manager.Show
	state  string
}

func newFake(t testing.TB, opts Options) *fake {
	t.Helper()
	dir := t.TempDir()
	srv := func(name, ip string) config.Server {
		return config.Server{Name: name, Hostname: ip, IP: ip, Port: 3306, PingInterval: 1, CheckReplDelay: true}
	}
	f := &fake{t: t, cfg: &config.Config{App: "app1", ManagerWorkdir: dir,
		Servers: []config.Server{srv("server1", "10.9.0.1"), srv("server2", "10.9.0.2")}}}
	lag, ro, rw := int64(0), true, false
	f.show = &manager.Show{App: "app1", Master: "10.9.0.1:3306", Mode: "GTID", Healthy: true, Manager: "running", View: "healthy",
		Servers: []manager.ShowServer{
			{Name: "server1", Key: "10.9.0.1:3306", Role: "master", State: "alive", ReadOnly: &rw},
			{Name: "server2", Key: "10.9.0.2:3306", Role: "replica", State: "alive", ReadOnly: &ro, Source: "10.9.0.1:3306",
				Depth: 1, IO: "Yes", SQL: "Yes", Lag: &lag},
		}, Problems: []manager.ProblemReport{}}
	opts.Clusters = func() []Cluster { return []Cluster{{App: "app1", Config: f.cfg, State: f.state}} }
	f.s = New(opts)
	f.s.shows.build = func(ctx context.Context, cfg *config.Config) *manager.Show {
		f.builds.Add(1)
		time.Sleep(20 * time.Millisecond)
		return f.show
	}
	return f
}

// get answers path with the server's handler; hdr are header pairs.
func (f *fake) get(path string, hdr ...string) (int, http.Header, string) {
	f.t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	f.s.Handler().ServeHTTP(rec, req)
	return rec.Code, rec.Header(), rec.Body.String()
}

func (f *fake) getJSON(path string, want int, v any) http.Header {
	f.t.Helper()
	code, h, body := f.get(path)
	if code != want {
		f.t.Fatalf("GET %s: %d, want %d: %s", path, code, want, body)
	}
	if ct := h.Get("Content-Type"); ct != "application/json" {
		f.t.Fatalf("GET %s: Content-Type %q", path, ct)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		f.t.Fatalf("GET %s: %v\n%s", path, err, body)
	}
	return h
}

func TestHealthAndList(t *testing.T) {
	f := newFake(t, Options{})
	var h Health
	f.getJSON("/healthz", 200, &h)
	if h != (Health{Status: "ok", Clusters: 1}) {
		t.Errorf("healthz: %+v", h)
	}
	f.state = "running"
	var l ClusterList
	f.getJSON("/api/v1/clusters", 200, &l)
	if len(l.Clusters) != 1 {
		t.Fatalf("list: %+v", l)
	}
	c := l.Clusters[0]
	if c.Name != "app1" || c.Master != "10.9.0.1:3306" || !c.Healthy || c.View != "healthy" || c.ManagerStatus != "NOT_RUNNING" ||
		c.ManagerStatusCode != 2 || c.UnitState != "running" || c.Leader == nil || !*c.Leader || c.Error != "" {
		t.Errorf("list entry: %+v", c)
	}
}

// TestShowIsGomhaShowCached: the document is what gomha show -o json
// prints (the same encoder settings), a dashboard polling it causes one
// snapshot per TTL, and concurrent requests wait for one build.
func TestShowIsGomhaShowCached(t *testing.T) {
	f := newFake(t, Options{ShowTTL: 300 * time.Millisecond})
	var want bytes.Buffer
	enc := json.NewEncoder(&want)
	enc.SetIndent("", "  ")
	if err := enc.Encode(f.show); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			if code, _, body := f.get("/api/v1/clusters/app1"); code != 200 || body != want.String() {
				t.Errorf("show: %d\n%s\nwant\n%s", code, body, want.String())
			}
		})
	}
	wg.Wait()
	code, h, _ := f.get("/api/v1/clusters/app1")
	if n := f.builds.Load(); code != 200 || n != 1 {
		t.Fatalf("11 requests within the TTL built %d snapshots, want 1", n)
	}
	if age := h.Get(SnapshotAgeHeader); age == "" || h.Get(SnapshotTimeHeader) == "" {
		t.Errorf("no snapshot age headers: %v", h)
	}
	time.Sleep(350 * time.Millisecond)
	f.get("/api/v1/clusters/app1")
	// The stale snapshot is answered at once; the new one is built
	// meanwhile.
	deadline := time.Now().Add(2 * time.Second)
	for f.builds.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := f.builds.Load(); n != 2 {
		t.Errorf("a request after the TTL: %d builds, want 2", n)
	}
}

func TestErrors(t *testing.T) {
	f := newFake(t, Options{})
	for _, c := range []struct {
		path string
		code int
		want string
	}{
		{"/api/v1/clusters/nope", 404, `unknown cluster \"nope\"`},
		{"/api/v1/clusters/nope/failovers", 404, "unknown cluster"},
		{"/api/v1/clusters/nope/route/10.9.0.1:3306", 404, "unknown cluster"},
		{"/api/v1/clusters/app1/route/10.9.0.1", 400, "want host:port"},
		{"/api/v1/clusters/app1/route/10.9.0.1:33o6", 400, "want host:port"},
		{"/api/v1/clusters/app1/route-replica/:3306", 400, "want host:port"},
		{"/api/v1/clusters/app1/route/10.9.0.7:3306", 404, "10.9.0.7:3306 is not a server of app1"},
		{"/api/v1/clusters/app1/route-replica/10.9.0.2:3306?max_lag=x", 400, "max_lag"},
		{"/api/v1/clusters/app1/failovers?limit=0", 400, "limit"},
		{"/api/v1/clusters/app1/failovers?limit=x", 400, "limit"},
		{"/api/v1/clusters/app1/failovers?kind=other", 400, "kind"},
		{"/api/v1/nothing", 404, "no such endpoint"},
	} {
		code, h, body := f.get(c.path)
		var e errorBody
		if code != c.code || h.Get("Content-Type") != "application/json" || json.Unmarshal([]byte(body), &e) != nil ||
			!strings.Contains(body, c.want) {
			t.Errorf("GET %s: %d %q %s; want %d with %q", c.path, code, h.Get("Content-Type"), body, c.code, c.want)
		}
	}
	for _, path := range []string{"/api/v1/clusters", "/api/v1/clusters/app1/route/10.9.0.1:3306", "/api/other"} {
		req := httptest.NewRequest(http.MethodPost, path, nil)
		rec := httptest.NewRecorder()
		f.s.Handler().ServeHTTP(rec, req)
		if rec.Code != http.StatusMethodNotAllowed {
			t.Errorf("POST %s: %d, want 405 (read-only API)", path, rec.Code)
		}
	}
	// Routes added later may take the rest of the URL space, "GET /"
	// included, without a conflict with the API's.
	f.s.Handle("GET /", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) }))
	if code, _, _ := f.get("/status.css"); code != http.StatusTeapot {
		t.Errorf("a route added at GET /: %d", code)
	}
	if code, _, _ := f.get("/api/v1/nothing"); code != 404 {
		t.Errorf("the API's 404 after a route at GET /: %d", code)
	}
}

// writeReport writes a report as manager does: <app>.<kind>.<time>.json.
func writeReport(t *testing.T, dir, app, kind string, started time.Time, succeeded bool, errText string) {
	t.Helper()
	rep := failover.Report{Kind: kind, App: app, Started: started, Finished: started.Add(250 * time.Millisecond),
		Succeeded: succeeded, Error: errText, NewMaster: "10.9.0.2:3306"}
	if kind == "failover" {
		rep.Detection = &failover.Detection{FirstFailure: started.Add(-2 * time.Second), Confirmed: started.Add(-500 * time.Millisecond)}
	}
	data, err := rep.JSON()
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("%s.%s.%s.json", app, kind, started.Format(reportStamp))
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o640); err != nil {
		t.Fatal(err)
	}
}

func TestFailoversNewestFirst(t *testing.T) {
	f := newFake(t, Options{})
	dir := f.cfg.ManagerWorkdir
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.Local)
	writeReport(t, dir, "app1", "failover", t0, true, "")
	writeReport(t, dir, "app1", "switchover", t0.Add(time.Hour), true, "")
	writeReport(t, dir, "app1", "failover", t0.Add(2*time.Hour), false, "no candidate")
	writeReport(t, dir, "app10", "failover", t0.Add(3*time.Hour), true, "") // another cluster's
	torn := filepath.Join(dir, "app1.failover."+t0.Add(4*time.Hour).Format(reportStamp)+".json")
	if err := os.WriteFile(torn, []byte(`{"kind":"failo`), 0o640); err != nil { // being written
		t.Fatal(err)
	}
	started := func(r Reports) []string {
		var out []string
		for _, raw := range r.Reports {
			var rep failover.Report
			if err := json.Unmarshal(raw, &rep); err != nil {
				t.Fatal(err)
			}
			out = append(out, rep.Kind+"@"+rep.Started.Format("15"))
		}
		return out
	}
	var r Reports
	f.getJSON("/api/v1/clusters/app1/failovers", 200, &r)
	if got := strings.Join(started(r), " "); r.Cluster != "app1" || got != "failover@12 switchover@11 failover@10" {
		t.Errorf("reports: %s", got)
	}
	f.getJSON("/api/v1/clusters/app1/failovers?limit=2", 200, &r)
	if got := strings.Join(started(r), " "); got != "failover@12 switchover@11" {
		t.Errorf("limit=2: %s", got)
	}
	f.getJSON("/api/v1/clusters/app1/failovers?kind=switchover", 200, &r)
	if got := strings.Join(started(r), " "); got != "switchover@11" {
		t.Errorf("kind=switchover: %s", got)
	}
	os.RemoveAll(dir)
	f.getJSON("/api/v1/clusters/app1/failovers", 200, &r)
	if r.Reports == nil || len(r.Reports) != 0 {
		t.Errorf("no workdir: %v, want an empty list", r.Reports)
	}
}

// manage makes the fake's manager_workdir look like a running manager's:
// its presence lock held, its status and view written.
func (f *fake) manage(code manager.StatusCode, master, view string) {
	f.t.Helper()
	p, err := coord.ClaimManager(f.cfg.ManagerWorkdir, "app1")
	if err == nil {
		f.t.Cleanup(func() { _ = p.Release() })
	}
	st := manager.NewStatusFile(f.cfg.ManagerWorkdir, "app1")
	if err := st.Set(code, master); err != nil {
		f.t.Fatal(err)
	}
	if err := st.SetView(manager.ManagerView{Master: master + ":3306", State: view, Reason: "test"}); err != nil {
		f.t.Fatal(err)
	}
}

func TestRouteFromStatusFiles(t *testing.T) {
	f := newFake(t, Options{})
	route := func(kind, addr string) (int, string) {
		code, h, body := f.get("/api/v1/clusters/app1/" + kind + "/" + addr)
		if h.Get("Content-Type") != "text/plain; charset=utf-8" || strings.Count(body, "\n") != 1 {
			t.Errorf("%s %s: %q %q: want one line of text", kind, addr, h.Get("Content-Type"), body)
		}
		return code, body
	}
	if code, body := route("route", "10.9.0.1:3306"); code != 503 || !strings.Contains(body, "NOT_RUNNING") {
		t.Errorf("no manager: %d %s", code, body)
	}
	f.manage(manager.StatusPingOK, "10.9.0.1", "healthy")
	for addr, want := range map[string]int{"10.9.0.1:3306": 200, "10.9.0.2:3306": 503} {
		if code, body := route("route", addr); code != want {
			t.Errorf("route %s: %d %s, want %d", addr, code, body, want)
		}
	}
	for addr, want := range map[string]int{"10.9.0.1:3306": 503, "10.9.0.2:3306": 200} {
		if code, body := route("route-replica", addr); code != want {
			t.Errorf("route-replica %s: %d %s, want %d", addr, code, body, want)
		}
	}
	f.state = "waiting for leadership"
	if code, body := route("route", "10.9.0.1:3306"); code != 503 || !strings.Contains(body, "waiting for leadership") {
		t.Errorf("a standby: %d %s", code, body)
	}
	f.state = "running"
	f.manage(manager.StatusFailoverRunning, "10.9.0.1", "dead")
	if code, body := route("route", "10.9.0.1:3306"); code != 503 || !strings.Contains(body, "failover") {
		t.Errorf("during a failover: %d %s", code, body)
	}
}

func TestAuth(t *testing.T) {
	dir := t.TempDir()
	pw, tok := filepath.Join(dir, "pw"), filepath.Join(dir, "tok")
	os.WriteFile(pw, []byte("s3cret #1\n"), 0o600)
	os.WriteFile(tok, []byte("tok-123\r\n"), 0o600)
	password, err := ReadSecret(pw)
	token, err2 := ReadSecret(tok)
	if err != nil || err2 != nil || password != "s3cret #1" || token != "tok-123" {
		t.Fatalf("ReadSecret: %q %v, %q %v", password, err, token, err2)
	}
	os.WriteFile(pw, []byte("\n"), 0o600)
	if _, err := ReadSecret(pw); err == nil {
		t.Errorf("an empty secret file was accepted")
	}
	basic := func(u, p string) string {
		req := httptest.NewRequest("GET", "/", nil)
		req.SetBasicAuth(u, p)
		return req.Header.Get("Authorization")
	}
	for _, c := range []struct {
		name   string
		opts   Options
		path   string
		header string
		want   int
	}{
		{"no credentials", Options{Auth: Auth{User: "ops", Password: "pw"}}, "/api/v1/clusters", "", 401},
		{"wrong password", Options{Auth: Auth{User: "ops", Password: "pw"}}, "/api/v1/clusters", basic("ops", "pW"), 401},
		{"wrong user", Options{Auth: Auth{User: "ops", Password: "pw"}}, "/api/v1/clusters", basic("op", "pw"), 401},
		{"basic", Options{Auth: Auth{User: "ops", Password: "pw"}}, "/api/v1/clusters", basic("ops", "pw"), 200},
		{"route checks need them too", Options{Auth: Auth{Token: "t"}}, "/api/v1/clusters/app1/route/10.9.0.1:3306", "", 401},
		{"bearer", Options{Auth: Auth{Token: "t"}}, "/api/v1/clusters", "Bearer t", 200},
		{"wrong bearer", Options{Auth: Auth{Token: "t"}}, "/api/v1/clusters", "Bearer u", 401},
		{"a bearer is no password", Options{Auth: Auth{User: "ops", Password: "pw"}}, "/api/v1/clusters", "Bearer pw", 401},
		{"either when both are set", Options{Auth: Auth{User: "ops", Password: "pw", Token: "t"}}, "/healthz", basic("ops", "pw"), 200},
		{"health closed by default", Options{Auth: Auth{Token: "t"}}, "/healthz", "", 401},
		{"metrics closed by default", Options{Auth: Auth{Token: "t"}}, "/metrics", "", 401},
		{"health opened", Options{Auth: Auth{Token: "t"}, OpenHealthAndMetrics: true}, "/healthz", "", 200},
		{"metrics opened", Options{Auth: Auth{Token: "t"}, OpenHealthAndMetrics: true}, "/metrics", "", 200},
		{"the API stays closed", Options{Auth: Auth{Token: "t"}, OpenHealthAndMetrics: true}, "/api/v1/clusters", "", 401},
		{"open without auth", Options{}, "/api/v1/clusters", "", 200},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFake(t, c.opts)
			code, h, body := f.get(c.path, "Authorization", c.header)
			if code != c.want {
				t.Errorf("GET %s: %d, want %d: %s", c.path, code, c.want, body)
			}
			if code == 401 && (h.Get("WWW-Authenticate") == "" || !strings.Contains(body, "authentication required")) {
				t.Errorf("401 without a challenge or a JSON error: %v %s", h, body)
			}
		})
	}
}

func TestServeListenerStops(t *testing.T) {
	f := newFake(t, Options{})
	ln, err := f.s.Listen("127.0.5.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.Listen(ln.Addr().String()); err == nil || !strings.Contains(err.Error(), "already in use") {
		t.Errorf("a port in use: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.s.ServeListener(ctx, ln) }()
	resp, err := http.Get("http://" + ln.Addr().String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("a clean stop returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the server did not stop with its context")
	}
}

// BenchmarkRouteMaster is the cost of one HAProxy check of the master:
// two small files read, no server asked.
func BenchmarkRouteMaster(b *testing.B) {
	f := newFake(b, Options{})
	f.manage(manager.StatusPingOK, "10.9.0.1", "healthy")
	req := httptest.NewRequest(http.MethodGet, "/api/v1/clusters/app1/route/10.9.0.1:3306", nil)
	for b.Loop() {
		rec := httptest.NewRecorder()
		f.s.Handler().ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
}
