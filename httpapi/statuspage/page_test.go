package statuspage

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The handler serves the embedded page, with a policy that lets its own
// inline script and style run (by hash) and nothing from elsewhere.
func TestHandler(t *testing.T) {
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		rec := httptest.NewRecorder()
		Handler().ServeHTTP(rec, httptest.NewRequest(method, "/", nil))
		h := rec.Result().Header
		if rec.Code != 200 || h.Get("Content-Type") != "text/html; charset=utf-8" || h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s /: %d %v", method, rec.Code, h)
		}
		if method == http.MethodGet && !bytes.Equal(rec.Body.Bytes(), page) {
			t.Errorf("GET / is not the embedded page")
		}
		csp := h.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "connect-src 'self'", "frame-ancestors 'none'",
			hashOf(inline(page, "script")), hashOf(inline(page, "style"))} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s /: the policy %q lacks %q", method, csp, want)
			}
		}
	}
}

// The page stays self-contained and small, and puts data in the DOM as
// text only: these checks keep a later edit honest.
func TestPageSelfContained(t *testing.T) {
	if n := len(page); n > 32<<10 {
		t.Errorf("page.html is %d bytes: keep it small", n)
	}
	if m := regexp.MustCompile(`(?i)(src|href)\s*=\s*["']?(https?:|//)|@import|url\(`).Find(page); m != nil {
		t.Errorf("page.html loads something from elsewhere: %q", m)
	}
	if m := regexp.MustCompile(`innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function`).Find(inline(page, "script")); m != nil {
		t.Errorf("the page's script uses %q: data goes into the DOM as text only", m)
	}
	if bytes.Count(page, []byte("<script")) != 1 || bytes.Count(page, []byte("<style")) != 1 {
		t.Errorf("page.html: one inline script and one inline style (the policy hashes the first of each)")
	}
}

// fakeAPI answers the page's requests from testdata (the API of
// TestPageChromiumSandbox's cluster after its failover, saved by its
// -update), plus a cluster whose every field is markup. mode says how the
// list answers after the first request.
type fakeAPI struct {
	t     *testing.T
	mode  atomic.Value // "ok", "down" (connection closed), "401"
	lists atomic.Int32
}

// hostile is text a page must show as text: run as markup, it would add
// an <img>, and its handler would mark the body.
const hostile = `<img src=x onerror="document.body.dataset.pwned=1">`

func (f *fakeAPI) fixture(name string) []byte {
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		f.t.Fatal(err)
	}
	return b
}

// hostileShow is the fixture's show with markup in every text field.
func (f *fakeAPI) hostileShow() []byte {
	var sh map[string]any
	if err := json.Unmarshal(f.fixture("show.json"), &sh); err != nil {
		f.t.Fatal(err)
	}
	sh["app"], sh["manager"], sh["manager_view"], sh["manager_view_reason"] = hostile, hostile, hostile, hostile
	for _, s := range sh["servers"].([]any) {
		s.(map[string]any)["label"] = hostile
		s.(map[string]any)["gtid"] = hostile
	}
	sh["problems"] = []any{map[string]any{"severity": "error", "code": hostile, "server": hostile, "message": hostile}}
	sh["etcd"] = map[string]any{"leader": hostile, "managers": []string{hostile}}
	b, _ := json.Marshal(sh)
	return b
}

func (f *fakeAPI) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", Handler())
	mux.HandleFunc("GET /api/v1/clusters", func(w http.ResponseWriter, r *http.Request) {
		n := f.lists.Add(1)
		switch mode := f.mode.Load(); {
		case mode == "401":
			// As a manager with --http-token-file alone answers (a Basic
			// challenge would open the browser's prompt instead).
			w.Header().Set("WWW-Authenticate", `Bearer realm="gomha"`)
			http.Error(w, `{"error": "authentication required"}`, http.StatusUnauthorized)
			return
		case mode == "down" && n > 1:
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close() // a manager gone in the middle of the page's life
			}
			return
		}
		list := strings.Replace(string(f.fixture("list.json")), `"clusters": [`,
			`"clusters": [{"name": `+jsonString(hostile)+`, "manager": `+jsonString(hostile)+`, "unit_state": `+jsonString(hostile)+`},`, 1)
		_, _ = io.WriteString(w, list)
	})
	mux.HandleFunc("GET /api/v1/clusters/{name}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Gomha-Snapshot-Time", time.Now().Format(time.RFC3339Nano))
		if r.PathValue("name") == hostile {
			_, _ = w.Write(f.hostileShow())
			return
		}
		_, _ = w.Write(f.fixture("show.json"))
	})
	mux.HandleFunc("GET /api/v1/clusters/{name}/failovers", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("name") == hostile {
			_, _ = io.WriteString(w, `{"reports": [{"kind": "failover", "app": "x", "dead_master": `+jsonString(hostile)+
				`, "new_master": `+jsonString(hostile)+`, "started": "2026-01-02T03:04:05Z", "succeeded": false, "error": `+jsonString(hostile)+
				`, "phases": [{"name": `+jsonString(hostile)+`, "took_ns": 1000000, "error": `+jsonString(hostile)+`, "notes": [`+jsonString(hostile)+`]}]}]}`)
			return
		}
		_, _ = w.Write(f.fixture("failovers.json"))
	})
	return mux
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestPageChromium loads the page in headless chromium against a fake
// API (no servers): the cluster of the fixtures is drawn (master, the
// replica under it, the deposed old master, the failover and its phases);
// a cluster whose every field is markup shows it as text, and no element
// of it runs; when the API stops answering, a banner says so and the last
// data stay; a 401 names what the page needs.
func TestPageChromium(t *testing.T) {
	ch := needChromium(t)
	f := &fakeAPI{t: t}
	f.mode.Store("down")
	ln, err := net.Listen("tcp", listenAddr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: f.handler(), ReadHeaderTimeout: 5 * time.Second}}
	srv.Start()
	defer srv.Close()

	// Refreshes at 0, 2 and 4 s of virtual time: the first answers, the
	// others find the manager gone.
	doc := ch.dom(srv.URL+"/", 5*time.Second)
	keepDOM(t, doc, "fixtures.html")
	body := find(doc, tag("body"))[0]
	if len(find(doc, tag("img"))) > 0 {
		t.Errorf("markup from the API became elements: %d <img>", len(find(doc, tag("img"))))
	}
	if v, ok := attr(body, "data-pwned"); ok {
		t.Errorf("a handler from the API's data ran: data-pwned=%q", v)
	}
	if n := strings.Count(text(body), hostile); n < 12 {
		t.Errorf("the markup is shown as text %d times, want every field (12 or more)", n)
	}
	if refreshes, _ := attr(body, "data-refreshes"); refreshes != "1" {
		t.Errorf("data-refreshes %q: want the first refresh alone answered", refreshes)
	}
	banner := find(doc, withAttr("id", "banner"))[0]
	if _, hidden := attr(banner, "hidden"); hidden || !strings.Contains(text(banner), "The API does not answer") ||
		!strings.Contains(text(banner), "Showing the data taken at") {
		t.Errorf("banner (hidden %v): %q", hidden, text(banner))
	}
	sec := cluster(t, doc, "app1") // the last data, kept
	wantRoles(t, sec, map[string]string{"127.0.7.12:3306": "master", "127.0.7.13:3306": "replica", "127.0.7.11:3306": "deposed"})
	reps := find(sec, withAttr("data-kind", "failover"))
	if len(reps) == 0 || len(find(reps[0], withAttr("data-phase", "*"))) < 3 {
		t.Errorf("the fixtures' failover and its phases are not on the page: %s", text(sec))
	} else if _, open := attr(reps[0], "open"); !open {
		t.Errorf("the newest report is folded")
	}

	f.mode.Store("401")
	doc = ch.dom(srv.URL+"/", time.Second)
	banner = find(doc, withAttr("id", "banner"))[0]
	if !strings.Contains(text(banner), "HTTP 401") || !strings.Contains(text(banner), "basic authentication") {
		t.Errorf("banner on a 401: %q", text(banner))
	}
	f.mode.Store("ok")
	ch.screenshot(srv.URL+"/", "fixtures.png", time.Second)
}
