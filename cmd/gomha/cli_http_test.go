package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gomha/gomha/failover"
	"github.com/gomha/gomha/internal/testkit"
	"github.com/gomha/gomha/manager"
	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/topology"
)

// freeAddr is a port free a moment ago on 127.0.5.1 (this package's HTTP
// tests use 127.0.5.x, apart from the other packages' sandboxes).
func freeAddr(t *testing.T) string { return freePort(t, "127.0.5.1") }

// freePort is a port free a moment ago on ip.
func freePort(t *testing.T, ip string) string {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func secretFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Bad --http options are one line and exit 1, before any cluster starts;
// so is a port already in use, for one cluster and for several.
func TestManagerHTTPFlagErrors(t *testing.T) {
	conf, dir := testApp(t, "")
	pw, empty := secretFile(t, dir, "pw", "s3cret\n"), secretFile(t, dir, "empty", "\n")
	busy, err := net.Listen("tcp", "127.0.5.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	inUse := busy.Addr().String()
	cases := []struct {
		why  string
		args []string
		want string
	}{
		{"auth without --http", []string{"--http-user", "ops", "--http-password-file", pw}, "--http-user needs --http host:port"},
		{"open metrics without --http", []string{"--http-open-metrics"}, "--http-open-metrics needs --http"},
		{"no port", []string{"--http", "127.0.5.1"}, `--http "127.0.5.1": want host:port`},
		{"a port that is no number", []string{"--http", "127.0.5.1:web"}, `--http "127.0.5.1:web": want host:port`},
		{"a user without a password", []string{"--http", freeAddr(t), "--http-user", "ops"}, "--http-user needs --http-password-file"},
		{"a password without a user", []string{"--http", freeAddr(t), "--http-password-file", pw}, "--http-password-file needs --http-user"},
		{"a password file missing", []string{"--http", freeAddr(t), "--http-user", "ops", "--http-password-file", dir + "/none"}, "--http-password-file: open " + dir + "/none"},
		{"an empty token", []string{"--http", freeAddr(t), "--http-token-file", empty}, "--http-token-file: " + empty + ": empty"},
		{"a certificate without its key", []string{"--http", freeAddr(t), "--http-cert", pw}, "--http-cert and --http-key go together"},
		{"a certificate that is none", []string{"--http", freeAddr(t), "--http-cert", pw, "--http-key", pw}, "--http: HTTP TLS certificate " + pw},
		{"open metrics with nothing closed", []string{"--http", freeAddr(t), "--http-open-metrics"}, "--http-open-metrics needs --http-user or --http-token-file"},
		{"a port in use", []string{"--http", inUse}, "--http: HTTP address " + inUse + " is already in use"},
	}
	for _, tc := range cases {
		t.Run(tc.why, func(t *testing.T) {
			r := &recorder{}
			res := gomhaWith(t, cliEnv{eng: r}, append([]string{"manager", "--conf", conf, "--global-conf", dir + "/none.cnf"}, tc.args...)...)
			if res.code != 1 || !strings.HasPrefix(res.stderr, "gomha: "+tc.want) || strings.Count(strings.TrimSpace(res.stderr), "\n") != 0 {
				t.Errorf("exit %d, stderr:\n%s\nwant one line starting with gomha: %s", res.code, res.stderr, tc.want)
			}
			if len(r.calls) != 0 {
				t.Errorf("a cluster started: %v", r.calls)
			}
		})
	}
	t.Run("a port in use, several clusters", func(t *testing.T) {
		cdir := t.TempDir()
		clusterConf(t, cdir, "a", 11)
		f := newFleet()
		res := gomhaWith(t, cliEnv{eng: f}, "manager", "--conf-dir", cdir, "--http", inUse)
		if res.code != 1 || strings.TrimSpace(res.stderr) != "gomha: --http: HTTP address "+inUse+" is already in use" || f.count("a") != 0 {
			t.Errorf("exit %d, %d runs of a, stderr:\n%s", res.code, f.count("a"), res.stderr)
		}
	})
}

// holding is an engine whose manager reports a ping and a failover, then
// watches until it is stopped.
type holding struct {
	*recorder
	started chan struct{}
}

func (h *holding) RunManager(ctx context.Context, cfg *config.Config, opts manager.ManagerOptions) error {
	if opts.Observer == nil || opts.OnFailover == nil {
		close(h.started)
		return nil // the test fails on the missing metrics
	}
	opts.Observer.Ping(cfg.App, topology.Key{Host: "127.0.0.1", Port: 3306}, 3*time.Millisecond, nil)
	opts.OnFailover(&failover.Report{Kind: "failover"}, nil)
	close(h.started)
	<-ctx.Done()
	return nil
}

// httpGet asks url with an Authorization header (when auth is set).
func httpGet(t *testing.T, url, auth string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// gomha manager --conf F --http serves while the manager runs: the
// monitor's pings and the failovers reach the metrics, the token is
// required, and the server stops with the command.
func TestManagerHTTPServes(t *testing.T) {
	conf, dir := testApp(t, "")
	tok := secretFile(t, dir, "tok", "t0ken\n")
	addr := freeAddr(t)
	h := &holding{recorder: &recorder{}, started: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out testkit.Buffer
	done := make(chan int, 1)
	go func() {
		done <- runWith(ctx, []string{"gomha", "manager", "--conf", conf, "--global-conf", dir + "/none.cnf",
			"--http", addr, "--http-token-file", tok}, &out, &out, cliEnv{eng: h})
	}()
	<-h.started
	base := "http://" + addr
	if code, body := httpGet(t, base+"/healthz", "Bearer t0ken"); code != 200 || !strings.Contains(body, `"clusters": 1`) {
		t.Errorf("healthz: %d %s", code, body)
	}
	if code, _ := httpGet(t, base+"/metrics", ""); code != 401 {
		t.Errorf("metrics without the token: %d", code)
	}
	code, body := httpGet(t, base+"/metrics", "Bearer t0ken")
	for _, want := range []string{
		`gomha_failovers_total{cluster="app1",result="success"} 1`,
		`gomha_ping_duration_seconds_count{cluster="app1",server="127.0.0.1:3306"} 1`,
		`gomha_manager_leader{cluster="app1"} 1`,
	} {
		if code != 200 || !strings.Contains(body, want+"\n") {
			t.Errorf("metrics: %d, no line %q", code, want)
		}
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, out.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("gomha manager did not stop")
	}
	if code, _ := httpGet(t, base+"/healthz", "Bearer t0ken"); code != 0 {
		t.Errorf("the HTTP server still answers after the command returned: %d", code)
	}
}

// gomha manager --conf-dir --http lists the supervisor's clusters with
// their state; --http-open-metrics opens /metrics and /healthz only.
func TestManagerManyHTTP(t *testing.T) {
	dir := t.TempDir()
	clusterConf(t, dir, "a", 11)
	clusterConf(t, dir, "b", 21)
	pw := secretFile(t, t.TempDir(), "pw", "pw\n")
	addr := freeAddr(t)
	f := newFleet()
	env := cliEnv{eng: f, hangups: func() (<-chan os.Signal, func()) { return make(chan os.Signal), func() {} }}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out testkit.Buffer
	done := make(chan int, 1)
	go func() {
		done <- runWith(ctx, []string{"gomha", "manager", "--conf-dir", dir, "--http", addr,
			"--http-user", "ops", "--http-password-file", pw, "--http-open-metrics"}, &out, &out, env)
	}()
	base := "http://" + addr
	waitFor(t, "a and b running", func() bool {
		_, body := httpGet(t, base+"/metrics", "")
		return strings.Contains(body, `gomha_manager_leader{cluster="a"} 1`) && strings.Contains(body, `gomha_manager_leader{cluster="b"} 1`)
	})
	if code, _ := httpGet(t, base+"/api/v1/clusters", ""); code != 401 {
		t.Errorf("the list without credentials: %d", code)
	}
	code, body := httpGet(t, base+"/api/v1/clusters", "Basic b3BzOnB3") // ops:pw
	if code != 200 || !strings.Contains(body, `"name": "a"`) || !strings.Contains(body, `"name": "b"`) || !strings.Contains(body, `"unit_state": "running"`) {
		t.Errorf("list: %d %s", code, body)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, out.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("gomha manager --conf-dir did not stop")
	}
}
