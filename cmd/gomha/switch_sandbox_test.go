package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gomha/gomha/sandbox"
	"github.com/gomha/gomha/sandbox/sandboxtest"
)

// TestMasterSwitchAliveSandbox runs masterha_master_switch --master_state=alive
// in-process on a file/position sandbox (127.0.0.171-173) under a writer,
// with a master_ip_online_change_script that records how it was called.
func TestMasterSwitchAliveSandbox(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := sandboxtest.Up(t, sandbox.Options{Hosts: 3, GTID: false, BaseOctet: 170})
	dir := t.TempDir()
	calls := filepath.Join(dir, "calls.log")
	script := filepath.Join(dir, "online_change.sh")
	body := fmt.Sprintf("#!/bin/sh\necho \"$* pw_in_env=${MHA_ORIG_MASTER_PASSWORD:+yes}/${MHA_NEW_MASTER_PASSWORD:+yes}\" >> %s\n", calls)
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(c.ConfPath)
	if err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "app1.cnf")
	withHook := strings.Replace(string(data), "[server default]\n", "[server default]\nmaster_ip_online_change_script="+script+"\n", 1)
	if err := os.WriteFile(conf, []byte(withHook), 0o600); err != nil {
		t.Fatal(err)
	}
	w, err := sandbox.StartWriter(ctx, c, sandbox.WriterOptions{})
	if err != nil {
		t.Fatalf("writer: %v", err)
	}
	defer w.Stop()
	if err := w.WaitAcked(ctx, 50); err != nil {
		t.Fatal(err)
	}
	h1, h2 := c.Hosts[0], c.Hosts[1]

	code, out := gomha(t, "masterha_master_switch", "--master_state=alive", "--conf="+conf, "--new_master_host="+h2.Addr,
		"--new_master_port=3306", "--interactive=0", "--orig_master_is_new_slave", "--check_only")
	if code != 0 || !strings.Contains(out, "nothing was changed") {
		t.Fatalf("--check_only: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(calls); err == nil {
		t.Fatal("--check_only ran master_ip_online_change_script")
	}

	code, out = gomha(t, "masterha_master_switch", "--master_state=alive", "--conf="+conf, "--new_master_host="+h2.Addr,
		"--interactive=0", "--orig_master_is_new_slave")
	if code != 0 || !strings.Contains(out, "Switching master to "+h2.Addr+"("+h2.Addr+":3306) completed successfully.") {
		t.Fatalf("switch: exit %d\n%s", code, out)
	}
	for _, want := range []string{"file mode", h1.Addr + ":3306: replica of " + h2.Addr, c.Hosts[2].Addr + ":3306: replica of " + h2.Addr, "writes blocked"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	got, err := os.ReadFile(calls)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(got)), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "--command=stop --orig_master_host="+h1.Addr) ||
		!strings.HasPrefix(lines[1], "--command=start ") || !strings.Contains(lines[0], "--new_master_host="+h2.Addr) ||
		!strings.Contains(lines[0], "--orig_master_is_new_slave pw_in_env=yes/yes") || strings.Contains(string(got), c.Password) {
		t.Fatalf("master_ip_online_change_script calls (want stop then start, MHA's arguments, passwords only in the environment):\n%s", got)
	}

	if err := w.WaitAcked(ctx, w.Acked()+50); err != nil {
		t.Fatalf("writer did not follow the new master: %v", err)
	}
	rep := w.Stop()
	first, ok := rep.FirstAck(h2.Addr)
	if !ok || rep.AckedOnAfter(h1.Addr, first) != 0 {
		t.Fatalf("writes on %s after %s took its first (ok=%v)", h1.Addr, h2.Addr, ok)
	}
	if err := c.VerifyReplicas(ctx, h2.Addr); err != nil {
		t.Fatal(err)
	}
	for _, h := range c.Hosts {
		if err := c.VerifyAcked(ctx, h.Addr, rep.Table, rep.Acked); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("writer: %d acknowledged, switches %+v", len(rep.Acked), rep.Switches)
}
