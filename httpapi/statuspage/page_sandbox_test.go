package statuspage

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/gomha/gomha/failover"
	"github.com/gomha/gomha/httpapi"
	"github.com/gomha/gomha/internal/testkit"
	"github.com/gomha/gomha/manager"
	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/node"
	"github.com/gomha/gomha/sandbox"
	"github.com/gomha/gomha/sandbox/sandboxtest"
	"github.com/gomha/gomha/supervisor"
)

// This package's tests use 127.0.7.x only: the sandbox on 127.0.7.11-13,
// the HTTP listeners on 127.0.7.1.
const listenAddr = "127.0.7.1:0"

// The page's credentials (basic authentication, as a browser sends it).
const user, password = "ops", "page-pw"

// served is a live manager's HTTP API with the page, as gomha manager
// --http serves it: a supervisor watching a real 3-host sandbox.
type served struct {
	t    *testing.T
	c    *sandbox.Cluster
	base string // http://127.0.7.1:port
}

func upServed(t *testing.T) *served {
	node.QuietDriverLogs()
	c := sandboxtest.Up(t, sandbox.Options{Hosts: 3, GTID: true, Subnet: "127.0.7", BaseOctet: 10})
	ctx, cancel := context.WithCancel(context.Background())
	var sup *supervisor.Supervisor
	srv := httpapi.New(httpapi.Options{Clusters: func() []httpapi.Cluster { return httpapi.SupervisorClusters(sup)() },
		Auth: httpapi.Auth{User: user, Password: password}})
	srv.Handle("GET /{$}", Handler())
	log := &testkit.Buffer{}
	sup = supervisor.New(ctx, supervisor.Options{
		Manager: manager.ManagerOptions{Observer: srv.Observer()},
		Load: func(ctx context.Context, file string) (*config.Config, error) {
			return config.Load(ctx, file, config.Options{NoGlobal: true})
		},
		OnFailover: func(app string, rep *failover.Report, err error) { srv.OnFailover(app, rep, err) },
		Out:        log, Err: log, StopPoll: 100 * time.Millisecond,
	})
	ln, err := srv.Listen(listenAddr)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.ServeListener(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		sup.Wait()
		if err := <-done; err != nil {
			t.Errorf("HTTP server: %v", err)
		}
		if t.Failed() {
			t.Logf("the supervisor's output:\n%s", log)
		}
	})
	if err := sup.Reload([]string{c.ConfPath}); err != nil {
		t.Fatal(err)
	}
	return &served{t: t, c: c, base: "http://" + ln.Addr().String()}
}

func (s *served) key(host string) string {
	h, err := s.c.Host(host)
	if err != nil {
		s.t.Fatal(err)
	}
	return fmt.Sprintf("%s:%d", h.Addr, h.Port)
}

// pageURL is the page's address with the credentials in it: chromium
// answers the server's Basic challenge with them, and the page's own
// requests reuse them, as after a person typed them in the browser's
// prompt.
func (s *served) pageURL() string {
	return strings.Replace(s.base, "http://", "http://"+user+":"+password+"@", 1) + "/"
}

// waitAPI polls path until ok accepts its JSON (bounded).
func (s *served) waitAPI(path, what string, limit time.Duration, ok func([]byte) bool) {
	s.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.base+path, nil)
		req.SetBasicAuth(user, password)
		var body []byte
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		cancel()
		if err == nil && resp.StatusCode == 200 && ok(body) {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s: not within %s (GET %s: %v %s)", what, limit, path, err, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestPageChromiumSandbox loads the status page in headless chromium
// from a live manager on a real sandbox (127.0.7.11-13): the master and
// both replicas appear with their roles; after the master's mariadbd is
// killed and the manager fails over, the page shows the new master, the
// dead one, and the failover with its phases. Screenshots are kept (see
// artifacts): before-failover.png, after-failover.png and
// after-failover-dark.png (prefers-color-scheme: dark).
func TestPageChromiumSandbox(t *testing.T) {
	ch := needChromium(t)
	s := upServed(t)
	m1, m2, m3 := s.key("host1"), s.key("host2"), s.key("host3")
	s.waitAPI("/api/v1/clusters", "the manager watching host1", 60*time.Second, func(b []byte) bool {
		var l httpapi.ClusterList
		return json.Unmarshal(b, &l) == nil && len(l.Clusters) == 1 && l.Clusters[0].ManagerStatus == "PING_OK" && l.Clusters[0].Master == m1
	})

	doc := ch.dom(s.pageURL(), 3*time.Second)
	keepDOM(t, doc, "before-failover.html")
	sec := cluster(t, doc, "app1")
	if v, _ := attr(sec, "data-master"); v != m1 {
		t.Errorf("the page's master: %q, want %s", v, m1)
	}
	wantRoles(t, sec, map[string]string{m1: "master", m2: "replica", m3: "replica"})
	if !strings.Contains(text(sec), "healthy") {
		t.Errorf("the manager's view is not on the page: %s", text(sec))
	}
	ch.screenshot(s.pageURL(), "before-failover.png", 3*time.Second)

	kill := time.Now()
	if err := s.c.KillMysqld(context.Background(), "host1"); err != nil {
		t.Fatal(err)
	}
	s.waitAPI("/api/v1/clusters/app1/failovers?kind=failover", "a failover report", 60*time.Second, func(b []byte) bool {
		var r struct{ Reports []failover.Report }
		return json.Unmarshal(b, &r) == nil && len(r.Reports) > 0 && r.Reports[0].NewMaster == m2
	})
	s.waitAPI("/api/v1/clusters/app1", "the show with the new master", 30*time.Second, func(b []byte) bool {
		var sh manager.Show
		return json.Unmarshal(b, &sh) == nil && sh.Master == m2
	})
	t.Logf("failover to %s reported %s after the kill", m2, time.Since(kill).Round(time.Millisecond))

	doc = ch.dom(s.pageURL(), 3*time.Second)
	keepDOM(t, doc, "after-failover.html")
	sec = cluster(t, doc, "app1")
	if v, _ := attr(sec, "data-master"); v != m2 {
		t.Errorf("the page's master after the failover: %q, want %s", v, m2)
	}
	wantRoles(t, sec, map[string]string{m2: "master", m3: "replica"})
	if row := find(sec, withAttr("data-server", m1)); len(row) != 1 || !strings.Contains(text(row[0]), "down") ||
		!slices.Contains([]string{"deposed", "dead"}, cells(row[0])[1]) {
		t.Errorf("the dead master's row: %v", rowTexts(row))
	}
	reps := find(sec, withAttr("data-kind", "failover"))
	if len(reps) == 0 {
		t.Fatalf("no failover on the page:\n%s", text(sec))
	}
	newest := reps[0]
	if v, _ := attr(newest, "data-new-master"); v != m2 || !strings.Contains(text(newest), m1) || !strings.Contains(text(newest), "succeeded") {
		t.Errorf("the newest failover on the page: to %q: %s", v, text(newest))
	}
	phases := find(newest, withAttr("data-phase", "*"))
	var names []string
	for _, p := range phases {
		c := cells(p)
		name, _ := attr(p, "data-phase")
		names = append(names, name)
		if len(c) != 4 || !strings.HasPrefix(c[0], name) || !strings.HasSuffix(c[1], "ms") && !strings.HasSuffix(c[1], " s") || c[3] == "" {
			t.Errorf("phase row %q: want name, duration, bar, result", c)
		}
	}
	if len(phases) < 3 || !slices.ContainsFunc(names, func(n string) bool {
		return strings.Contains(strings.ToLower(n), "promot") || strings.Contains(strings.ToLower(n), "master")
	}) {
		t.Errorf("the failover's phases on the page: %q", names)
	}
	t.Logf("the page shows the failover %s -> %s with %d phases: %s", m1, m2, len(phases), strings.Join(names, ", "))
	ch.screenshot(s.pageURL(), "after-failover.png", 3*time.Second)
	ch.screenshot(s.pageURL(), "after-failover-dark.png", 3*time.Second, darkScheme)
	if *update {
		s.saveFixtures()
	}
}

var update = flag.Bool("update", false, "rewrite testdata/*.json (TestPageChromium's API answers) from TestPageChromiumSandbox's cluster after its failover")

// saveFixtures writes what the API answers after the failover, for
// TestPageChromium.
func (s *served) saveFixtures() {
	for file, path := range map[string]string{"list.json": "/api/v1/clusters", "show.json": "/api/v1/clusters/app1",
		"failovers.json": "/api/v1/clusters/app1/failovers?limit=5"} {
		s.waitAPI(path, "fixture "+file, 10*time.Second, func(b []byte) bool {
			if err := os.WriteFile(filepath.Join("testdata", file), b, 0o644); err != nil {
				s.t.Fatal(err)
			}
			return true
		})
	}
}

// cluster is the page's section of a cluster.
func cluster(t *testing.T, doc *html.Node, name string) *html.Node {
	t.Helper()
	secs := find(doc, withAttr("data-cluster", name))
	if len(secs) != 1 {
		body := find(doc, tag("body"))
		t.Fatalf("cluster %s: %d sections on the page: %s", name, len(secs), text(body[0]))
	}
	return secs[0]
}

// wantRoles checks each server's row: its role in the role column, and
// the row's data-role.
func wantRoles(t *testing.T, sec *html.Node, want map[string]string) {
	t.Helper()
	for key, role := range want {
		rows := find(sec, withAttr("data-server", key))
		if len(rows) != 1 {
			t.Errorf("server %s: %d rows", key, len(rows))
			continue
		}
		c := cells(rows[0])
		dr, _ := attr(rows[0], "data-role")
		if len(c) < 3 || !strings.Contains(c[0], key) || c[1] != role || dr != role {
			t.Errorf("server %s: row %q (data-role %q), want role %s", key, c, dr, role)
		}
	}
}

func rowTexts(rows []*html.Node) []string {
	var out []string
	for _, r := range rows {
		out = append(out, text(r))
	}
	return out
}
