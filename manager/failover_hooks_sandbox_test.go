package manager_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomha/gomha/manager"
)

// TestFailoverHooksSandbox checks that every hook runs with MHA's arguments,
// in MHA's order, with passwords only in the environment, and that its output
// is in the report.
func TestFailoverHooksSandbox(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "hooks.log")
	script := func(name string, exit int) string {
		p := filepath.Join(dir, name)
		body := "#!/bin/sh\nprintf '%s' \"" + name + "\" >> " + log + "\nfor a in \"$@\"; do printf ' [%s]' \"$a\" >> " + log + "; done\n" +
			"printf ' pw=%s\\n' \"${MHA_NEW_MASTER_PASSWORD:+set}\" >> " + log + "\necho \"" + name + " says hello\"\nexit " + string(rune('0'+exit/10)) + string(rune('0'+exit%10)) + "\n"
		if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	conf := "master_ip_failover_script=" + script("ip_failover", 0) + "\nshutdown_script=" + script("shutdown", 10) +
		"\nreport_script=" + script("report", 0)
	s := newScenario(t, true, conf)
	s.kill("host1")
	rep, err := s.failover("host1", manager.FailoverOptions{})
	if err != nil {
		t.Fatalf("failover: %v", err)
	}
	data, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string // one per run (the report's body spans several lines)
	for _, l := range strings.Split(string(data), "\n") {
		for _, name := range []string{"ip_failover ", "shutdown ", "report "} {
			if strings.HasPrefix(l, name) {
				lines = append(lines, l)
			}
		}
	}
	if len(lines) != 4 {
		t.Fatalf("want 4 hook runs (stop, shutdown, start, report), got:\n%s", data)
	}
	m, n := s.key("host1"), s.key("host2")
	want := []string{
		"ip_failover [--orig_master_host=" + m.Host + "] [--orig_master_ip=" + m.Host + "] [--orig_master_port=3306] [--command=stopssh] [--ssh_user=root] [--ssh_options=",
		"shutdown [--command=stopssh] [--ssh_user=root] [--host=" + m.Host + "] [--ip=" + m.Host + "] [--port=3306]",
		"ip_failover [--command=start] [--ssh_user=root] [--orig_master_host=" + m.Host + "] [--orig_master_ip=" + m.Host + "] [--orig_master_port=3306] [--new_master_host=" + n.Host + "] [--new_master_ip=" + n.Host + "] [--new_master_port=3306] [--new_master_user=gomha]",
		"report [--orig_master_host=" + m.Host + "] [--new_master_host=" + n.Host + "] [--new_slave_hosts=" + s.key("host3").Host + "] [--conf=" + s.c.ConfPath + "] [--subject=app1: MySQL Master failover " + m.String() + " to " + n.String() + " succeeded] [--body=",
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("hook %d:\n got %s\nwant %s...", i+1, lines[i], w)
		}
	}
	if !strings.HasSuffix(lines[2], "pw=set") || strings.HasSuffix(lines[0], "pw=set") {
		t.Errorf("start hook did not get the new master's password in MHA_NEW_MASTER_PASSWORD: %s", lines[2])
	}
	if strings.Contains(string(data), s.c.Password) {
		t.Errorf("a password reached a hook's command line:\n%s", data)
	}
	if len(rep.Hooks) != 4 || rep.Hooks[1].ExitCode != 10 || !strings.Contains(rep.Hooks[0].Output, "ip_failover says hello") {
		t.Errorf("report hooks: %+v", rep.Hooks)
	}
	if !strings.Contains(rep.String(), "shutdown_script") {
		t.Errorf("hooks missing from the report text:\n%s", rep)
	}
	s.verify("host2", "host1")
}
