package main

import (
	"context"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gomha/gomha/internal/testkit"
)

// pageAddr is a port free a moment ago on 127.0.7.1 (the status page's
// tests use 127.0.7.x).
func pageAddr(t *testing.T) string { return freePort(t, "127.0.7.1") }

// wantPage checks that GET / is the status page with the credentials and
// 401 without them, and that the page is at / alone.
func wantPage(t *testing.T, base, auth string) {
	t.Helper()
	code, body := httpGet(t, base+"/", auth)
	if code != 200 || !strings.Contains(body, "<title>gomha status</title>") {
		t.Errorf("GET /: %d %.200s", code, body)
	}
	if code, _ := httpGet(t, base+"/", ""); code != 401 {
		t.Errorf("GET / without credentials: %d, want 401", code)
	}
	if code, _ := httpGet(t, base+"/index.html", auth); code != 404 {
		t.Errorf("GET /index.html: %d, want 404", code)
	}
}

// gomha manager --http serves the status page at / for one --conf and for
// --conf-dir, behind the API's authentication (even with
// --http-open-metrics).
func TestManagerHTTPStatusPage(t *testing.T) {
	t.Run("one cluster", func(t *testing.T) {
		conf, dir := testApp(t, "")
		tok := secretFile(t, dir, "tok", "t0ken\n")
		addr := pageAddr(t)
		h := &holding{recorder: &recorder{}, started: make(chan struct{})}
		stop := runManager(t, cliEnv{eng: h}, "manager", "--conf", conf, "--global-conf", dir+"/none.cnf",
			"--http", addr, "--http-token-file", tok)
		<-h.started
		wantPage(t, "http://"+addr, "Bearer t0ken")
		stop()
	})
	t.Run("conf-dir", func(t *testing.T) {
		dir := t.TempDir()
		clusterConf(t, dir, "a", 11)
		pw := secretFile(t, t.TempDir(), "pw", "pw\n")
		addr := pageAddr(t)
		env := cliEnv{eng: newFleet(), hangups: func() (<-chan os.Signal, func()) { return make(chan os.Signal), func() {} }}
		stop := runManager(t, env, "manager", "--conf-dir", dir, "--http", addr,
			"--http-user", "ops", "--http-password-file", pw, "--http-open-metrics")
		waitFor(t, "the HTTP server", func() bool { code, _ := httpGet(t, "http://"+addr+"/healthz", ""); return code == http.StatusOK })
		wantPage(t, "http://"+addr, "Basic b3BzOnB3") // ops:pw
		stop()
	})
}

// runManager runs gomha with args in-process; stop cancels it and wants
// exit 0 within 15 s.
func runManager(t *testing.T, env cliEnv, args ...string) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out testkit.Buffer
	done := make(chan int, 1)
	go func() { done <- runWith(ctx, append([]string{"gomha"}, args...), &out, &out, env) }()
	t.Cleanup(cancel)
	return func() {
		t.Helper()
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Fatalf("exit %d\n%s", code, out.String())
			}
		case <-time.After(15 * time.Second):
			t.Fatal("gomha manager did not stop")
		}
	}
}
