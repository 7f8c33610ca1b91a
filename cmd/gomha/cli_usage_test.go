package main

import (
	"regexp"
	"strings"
	"testing"
)

var mhaNames = []string{"masterha_check_repl", "masterha_check_ssh", "masterha_check_status", "masterha_conf_host",
	"masterha_manager", "masterha_master_switch", "masterha_stop"}

// --version answers on every entry point, exit 0: MHA's line with gomha's
// version under an MHA name, gomha's line natively. It comes before any
// other check (no --conf needed), as MHA's scripts do.
func TestVersionEverywhere(t *testing.T) {
	type tc struct {
		why  string
		args []string
		want string
	}
	var tests []tc
	for _, n := range mhaNames {
		tests = append(tests, tc{n + " answers as MHA, naming gomha's version", []string{n, "--version"}, n + " version 0.58 (gomha " + version + ")\n"})
	}
	for _, args := range [][]string{{}, {"manager"}, {"failover"}, {"switch"}, {"check"}, {"check", "repl"}, {"check", "ssh"},
		{"check", "status"}, {"stop"}, {"show"}, {"conf-host"}, {"sandbox", "up"}} {
		tests = append(tests, tc{"gomha " + strings.Join(args, " ") + " answers natively", append(args, "--version"), "gomha version " + version + "\n"})
	}
	for _, tc := range tests {
		t.Run(tc.why, func(t *testing.T) {
			res := gomhaWith(t, cliEnv{eng: &recorder{}}, tc.args...)
			if res.code != 0 || res.stdout != tc.want {
				t.Fatalf("exit %d, stdout %q, want %q\nstderr:\n%s", res.code, res.stdout, tc.want, res.stderr)
			}
		})
	}
}

// Under an MHA name, --help shows MHA's name and usage line and the
// options in MHA's --option=value spelling, not cobra's "gomha <cmd>
// [flags]".
func TestMHAHelp(t *testing.T) {
	tests := []struct {
		name  string
		usage string
		flags []string
	}{
		{"masterha_check_repl", "Usage: masterha_check_repl --conf=<server config file>", []string{"--seconds_behind_master=<N>", "--global_conf=<file>"}},
		{"masterha_check_ssh", "Usage: masterha_check_ssh --conf=<server config file>", []string{"--accept_new_host_keys"}},
		{"masterha_manager", "Usage: masterha_manager --conf=<server config file>", []string{"--last_failover_minute=<minutes>", "--log_output=<file>", "(also --manager_log)", "--wait_on_failover_error=<N>"}},
		{"masterha_master_switch", "Usage: masterha_master_switch --master_state=dead", []string{"masterha_master_switch --master_state=alive", "--dead_master_host=<value>", "--running_updates_limit=<seconds>", "--master_state=dead (manual failover"}},
		{"masterha_check_status", "Usage: masterha_check_status --conf=<server config file>", []string{"--app=<name>", "--all", "--ping_limit=<seconds>"}},
		{"masterha_stop", "Usage: masterha_stop --conf=<server config file>", []string{"--abort_timeout=<seconds>"}},
		{"masterha_conf_host", "Usage: masterha_conf_host --command=add", []string{"--hostname=<hostname>", "--params=<parameters>"}},
	}
	cobraish := regexp.MustCompile(`gomha masterha_|\[flags\]|^\s+-h, `)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := gomhaWith(t, cliEnv{eng: &recorder{}}, tc.name, "--help")
			if res.code != 0 || !strings.HasPrefix(res.stdout, tc.name+" - ") || !strings.Contains(res.stdout, "\n"+tc.usage) {
				t.Fatalf("exit %d:\n%s", res.code, res.stdout)
			}
			for _, f := range tc.flags {
				if !strings.Contains(res.stdout, f) {
					t.Errorf("help lacks %q:\n%s", f, res.stdout)
				}
			}
			for _, l := range strings.Split(res.stdout, "\n") {
				if cobraish.MatchString(l) {
					t.Errorf("cobra's native usage leaks into MHA's: %q", l)
				}
			}
		})
	}
}

// An MHA name gomha has no command for is one clear line, not cobra's
// "unknown command".
func TestUnansweredMHAName(t *testing.T) {
	res := gomhaWith(t, cliEnv{eng: &recorder{}}, "masterha_master_monitor", "--conf=x")
	if res.code != 1 || !strings.Contains(res.stderr, "does not answer to masterha_master_monitor") || strings.Count(res.stderr, "\n") != 1 {
		t.Fatalf("exit %d\n%s", res.code, res.stderr)
	}
}

// gomha completion (cobra's) writes a shell completion script.
func TestCompletion(t *testing.T) {
	res := gomhaWith(t, cliEnv{eng: &recorder{}}, "completion", "bash")
	if res.code != 0 || !strings.Contains(res.stdout, "bash completion") {
		t.Fatalf("exit %d\n%.300s", res.code, res.stdout)
	}
}
