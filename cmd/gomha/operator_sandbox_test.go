package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// bgRun runs the CLI in the background and returns a function waiting for
// its exit code and output.
func bgRun(ctx context.Context, args ...string) func() (int, string) {
	var out bytes.Buffer
	var mu sync.Mutex
	done := make(chan int, 1)
	go func() {
		w := &lockedWriter{mu: &mu, w: &out}
		done <- run(ctx, args, w, w)
	}()
	return func() (int, string) {
		code := <-done
		mu.Lock()
		defer mu.Unlock()
		return code, out.String()
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func waitFor(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestManagerLifeSandbox follows masterha_check_status through a manager's
// whole life, with gomha show on the healthy and the broken cluster, a
// refused manual failover while the master lives, and masterha_stop.
func TestManagerLifeSandbox(t *testing.T) {
	c := upCluster(t, true)
	conf := "--conf=" + c.ConfPath

	code, out := gomha(t, "masterha_check_status", conf)
	if code != 2 || !strings.Contains(out, "app1 is stopped(2:NOT_RUNNING).") {
		t.Fatalf("before the manager: exit %d\n%s", code, out)
	}
	code, out = gomha(t, "show", "--conf", c.ConfPath)
	if code != 0 || !strings.Contains(out, "master 127.0.0.81:3306") || !strings.Contains(out, " +--127.0.0.82(127.0.0.82:3306)  replica  alive  read-only  io=Yes sql=Yes") {
		t.Fatalf("show on a healthy cluster: exit %d\n%s", code, out)
	}
	code, out = gomha(t, "masterha_master_switch", "--master_state=dead", conf, "--dead_master_host=127.0.0.81", "--interactive=0")
	if code != 1 || !strings.Contains(out, "is alive") {
		t.Fatalf("manual failover of a live master: exit %d, want 1 and a refusal\n%s", code, out)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	wait := bgRun(ctx, "masterha_manager", conf)
	waitFor(t, "PING_OK", func() bool {
		code, out := gomha(t, "masterha_check_status", conf)
		return code == 0 && strings.Contains(out, "is running(0:PING_OK), master:127.0.0.81")
	})
	code, out = gomha(t, "show", "--conf", c.ConfPath, "-o", "json")
	if code != 0 || !strings.Contains(out, `"manager_view": "healthy"`) {
		t.Fatalf("show while monitored: exit %d\n%s", code, out)
	}
	if err := c.KillMysqld(ctx, "host1"); err != nil {
		t.Fatal(err)
	}
	code, out = wait()
	if code != 0 {
		t.Fatalf("masterha_manager after the failover: exit %d\n%s", code, out)
	}
	code, out = gomha(t, "masterha_check_status", conf)
	if code != 2 || !strings.Contains(out, "NOT_RUNNING") {
		t.Fatalf("after masterha_manager exited: exit %d\n%s", code, out)
	}
	code, out = gomha(t, "show", "--conf", c.ConfPath)
	if code != exitUnhealthy || !strings.Contains(out, "master 127.0.0.82:3306") || !strings.Contains(out, "127.0.0.81(127.0.0.81:3306)  dead") {
		t.Fatalf("show after the failover (old master still configured): exit %d\n%s", code, out)
	}
	// In JSON, what a dead server cannot say is null, not false.
	_, out, _ = gomhaStdout(t, "show", "--conf", c.ConfPath, "-o", "json")
	var sh struct {
		Servers []struct {
			Key      string `json:"key"`
			ReadOnly *bool  `json:"read_only"`
		} `json:"servers"`
	}
	if err := json.Unmarshal([]byte(out), &sh); err != nil {
		t.Fatalf("show -o json: %v\n%s", err, out)
	}
	for _, s := range sh.Servers {
		if dead := s.Key == "127.0.0.81:3306"; dead != (s.ReadOnly == nil) {
			t.Errorf("show -o json: %s read_only=%v (want null only for the dead server)", s.Key, s.ReadOnly)
		}
	}
	_, out, all := gomhaStdout(t, "check", "repl", "--conf", c.ConfPath, "-o", "json")
	var rr struct {
		Servers []struct {
			Key      string           `json:"key"`
			ReadOnly *json.RawMessage `json:"read_only"`
			LogBin   *json.RawMessage `json:"log_bin"`
		} `json:"servers"`
	}
	if err := json.Unmarshal([]byte(out), &rr); err != nil {
		t.Fatalf("check repl -o json: %v\n%s", err, all)
	}
	for _, s := range rr.Servers {
		if s.Key == "127.0.0.81:3306" && (s.ReadOnly != nil || s.LogBin != nil) {
			t.Errorf("check repl -o json: the dead server has read_only %s, log_bin %s; want null", *s.ReadOnly, *s.LogBin)
		}
	}
	reports, _ := filepath.Glob(filepath.Join(filepath.Dir(c.ConfPath), "manager", "app1.failover.*.json"))
	if len(reports) != 1 {
		t.Fatalf("want one JSON failover report, found %v", reports)
	}

	// Remove the dead master from the configuration, as an operator would,
	// then run gomha manager as a process and stop it with masterha_stop.
	if code, out := gomha(t, "masterha_conf_host", "--command=delete", conf, "--block=server1"); code != 0 {
		t.Fatalf("conf_host delete: exit %d\n%s", code, out)
	}
	bin := filepath.Join(t.TempDir(), "gomha")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	mgr := exec.Command(bin, "manager", "--conf", c.ConfPath)
	if err := mgr.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- mgr.Wait() }()
	t.Cleanup(func() { _ = mgr.Process.Kill() })
	waitFor(t, "gomha manager on the new master", func() bool {
		code, out := gomha(t, "masterha_check_status", conf)
		return code == 0 && strings.Contains(out, "master:127.0.0.82")
	})
	code, out = gomha(t, "masterha_stop", conf)
	if code != 0 || !strings.Contains(out, "Stopped app1 successfully.") {
		t.Fatalf("masterha_stop: exit %d\n%s", code, out)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("gomha manager exited with %v after SIGTERM, want a clean exit", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("gomha manager still running after masterha_stop")
	}
	code, out = gomha(t, "masterha_check_status", conf)
	if code != 2 {
		t.Fatalf("after masterha_stop: exit %d\n%s", code, out)
	}
}

func TestConfHostRoundTrip(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "app1.cnf")
	orig := "# cluster app1\n[server default]\nuser=gomha\npassword=\"a #pw\"\n\n# the master\n[server1]\nhostname=127.0.0.11\n"
	if err := os.WriteFile(conf, []byte(orig), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out := gomha(t, "masterha_conf_host", "--command=add", "--conf="+conf, "--hostname=127.0.0.14", "--block=server4", "--params=port=3307;candidate_master=1")
	if code != 0 {
		t.Fatalf("add: exit %d\n%s", code, out)
	}
	data, _ := os.ReadFile(conf)
	if !strings.Contains(string(data), "[server4]\nhostname=127.0.0.14\n") || !strings.Contains(string(data), "candidate_master=1") || !strings.HasPrefix(string(data), orig) {
		t.Fatalf("after add:\n%s", data)
	}
	code, out = gomha(t, "masterha_check_repl", "--conf="+conf, "--global_conf="+filepath.Join(dir, "none"))
	if strings.Contains(out, "server4") && strings.Contains(out, "unknown parameter") {
		t.Fatalf("the added block does not load:\n%s", out)
	}
	code, out = gomha(t, "masterha_conf_host", "--command=delete", "--conf="+conf, "--block=server4")
	if code != 0 {
		t.Fatalf("delete: exit %d\n%s", code, out)
	}
	if data, _ := os.ReadFile(conf); string(data) != orig {
		t.Fatalf("add then delete did not give the file back:\n%q\nwant\n%q", data, orig)
	}
	code, out = gomha(t, "masterha_conf_host", "--command=add", "--conf="+conf, "--hostname=h", "--params=no_such=1")
	if code != 1 || !strings.Contains(out, "no_such") {
		t.Fatalf("unknown parameter: exit %d\n%s", code, out)
	}
}
