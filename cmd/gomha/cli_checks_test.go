package main

import (
	"fmt"
	"github.com/gomha/gomha/coord"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gomha/gomha/manager"
)

// masterha_check_repl and masterha_check_ssh take MHA's options (those of
// MHA's MasterMonitor and SSHCheck), and the native checks gomha's.
func TestCheckOptions(t *testing.T) {
	tests := []struct {
		why   string
		args  []string
		check func(t *testing.T, r *recorder, res cliResult)
	}{
		{why: "check_repl: lag limit, working directory and hook deadline reach the check",
			args: []string{"masterha_check_repl", "--seconds_behind_master=3", "--workdir=/tmp/w", "--hook_timeout=2s"},
			check: func(t *testing.T, r *recorder, res cliResult) {
				if res.code != 0 || r.repl.SecondsBehindMaster != 3 || r.repl.HookTimeout != 2*time.Second || r.cfg.ManagerWorkdir != "/tmp/w" {
					t.Errorf("exit %d, options %+v, workdir %q", res.code, r.repl, r.cfg.ManagerWorkdir)
				}
			}},
		{why: "check_repl: what masterha_check_repl always is (check only, repl health) and what gomha never does (SSH) are taken silently; the log options, as in MHA's check, leave the output on stdout",
			args: []string{"masterha_check_repl", "--check_only", "--check_repl_health", "--monitor_only", "--skip_check_ssh", "--skip_ssh_check",
				"--manager_workdir=/tmp/w", "--log_output=/nonexistent/x.log", "--manager_log=/nonexistent/y.log", "--interactive=0", "--wait_on_monitor_error=0"},
			check: func(t *testing.T, r *recorder, res cliResult) {
				if res.code != 0 || strings.Contains(res.stderr, "accepted") || !strings.Contains(res.stdout, "recorded check repl") {
					t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
				}
			}},
		{why: "check_repl: prompts, waits, ignore_fail_on_start and host keys are accepted with a warning each",
			args: []string{"masterha_check_repl", "--interactive=1", "--wait_on_monitor_error=4", "--ignore_fail_on_start", "--accept_new_host_keys"},
			check: func(t *testing.T, r *recorder, res cliResult) {
				for _, o := range []string{"--interactive=1", "--wait_on_monitor_error=4", "--ignore_fail_on_start", "--accept_new_host_keys"} {
					if !warned(res.stderr, o) {
						t.Errorf("no warning for %s:\n%s", o, res.stderr)
					}
				}
				if res.code != 0 || len(r.calls) != 1 {
					t.Errorf("exit %d, calls %v", res.code, r.calls)
				}
			}},
		{why: "check repl, native: --accept-new-host-keys is accepted with a warning (no SSH), --hook-timeout reaches the check",
			args: []string{"check", "repl", "--accept-new-host-keys", "--hook-timeout", "4s"},
			check: func(t *testing.T, r *recorder, res cliResult) {
				if res.code != 0 || !warned(res.stderr, "--accept-new-host-keys") || r.repl.HookTimeout != 4*time.Second {
					t.Errorf("exit %d, options %+v\n%s", res.code, r.repl, res.stderr)
				}
			}},
		{why: "check_ssh: --accept_new_host_keys (gomha's) records unknown host keys",
			args: []string{"masterha_check_ssh", "--accept_new_host_keys"},
			check: func(t *testing.T, r *recorder, res cliResult) {
				if res.code != 0 || !r.ssh.AcceptNewHostKeys {
					t.Errorf("exit %d, options %+v\n%s", res.code, r.ssh, res.stderr)
				}
			}},
		{why: "check ssh, native: --accept-new-host-keys, and MHA's spelling of it",
			args: []string{"check", "ssh", "--accept_new_host_keys"},
			check: func(t *testing.T, r *recorder, res cliResult) {
				if res.code != 0 || !r.ssh.AcceptNewHostKeys {
					t.Errorf("exit %d, options %+v\n%s", res.code, r.ssh, res.stderr)
				}
			}},
		{why: "failover, native: MHA's failover options in gomha's spelling, host keys included",
			args: []string{"failover", "--dead-master-host", "127.0.0.1", "--skip-change-master", "--last-failover-minute", "7", "--accept-new-host-keys", "--workdir", "/tmp/w4"},
			check: func(t *testing.T, r *recorder, res cliResult) {
				o := r.fo
				if res.code != 0 || !o.SkipChangeMaster || o.LastFailoverMinute != 7 || !o.AcceptNewHostKeys || r.cfg.ManagerWorkdir != "/tmp/w4" {
					t.Errorf("exit %d, options %+v\n%s", res.code, o, res.stderr)
				}
			}},
		{why: "switch, native: --accept-new-host-keys is accepted with a warning (no SSH), --workdir moves the report",
			args: []string{"switch", "--accept-new-host-keys", "--workdir", "/tmp/w5"},
			check: func(t *testing.T, r *recorder, res cliResult) {
				if res.code != 0 || !warned(res.stderr, "--accept-new-host-keys") || r.cfg.ManagerWorkdir != "/tmp/w5" {
					t.Errorf("exit %d\n%s", res.code, res.stderr)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.why, func(t *testing.T) {
			conf, _ := testApp(t, "")
			r := &recorder{}
			res := gomhaWith(t, cliEnv{eng: r}, append(tc.args, confArgs(conf)...)...)
			tc.check(t, r, res)
		})
	}
}

// masterha_check_status and masterha_stop take every option of MHA's
// ManagerAdminWrapper: --app, --all with --basedir/--baselog, the working
// directory under its three names, and --log_output.
func TestStatusOptions(t *testing.T) {
	conf, dir := testApp(t, "")
	// base holds app1's and app2's working directories; quiet the same
	// with no manager at all.
	service, base, quiet := t.TempDir(), t.TempDir(), t.TempDir()
	for _, app := range []string{"app1", "app2"} {
		for _, d := range []string{filepath.Join(service, "masterha_"+app), filepath.Join(base, app), filepath.Join(quiet, app)} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	// app2 looks like a manager (this test process, holding the manager's
	// lock) whose ping fails.
	presence, err := coord.ClaimManager(filepath.Join(base, "app2"), "app2")
	if err != nil {
		t.Fatal(err)
	}
	defer presence.Release()
	line := fmt.Sprintf("%d\t20:PING_FAILING\tmaster:127.0.0.1\n", os.Getpid())
	if err := os.WriteFile(manager.StatusFilePath(filepath.Join(base, "app2"), "app2"), []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	env := cliEnv{eng: &recorder{}, serviceDir: service, mhaConfDir: dir}
	tests := []struct {
		why      string
		args     []string
		code     int
		want     []string
		wantNone string
	}{
		{"--conf: the application of the configuration", []string{"masterha_check_status", "--conf=" + conf}, 2, []string{"app1 is stopped(2:NOT_RUNNING)."}, ""},
		{"--app alone: MHA's default configuration directory", []string{"masterha_check_status", "--app=app1"}, 2, []string{"app1 is stopped"}, ""},
		{"--app with --status_dir: no configuration read", []string{"masterha_check_status", "--app=app2", "--status_dir=" + filepath.Join(base, "app2")}, 20,
			[]string{"app2 master maybe down(20:PING_FAILING). master:127.0.0.1"}, "Check"},
		{"--log_output: MHA names the log for a failing ping", []string{"masterha_check_status", "--app=app2", "--manager_workdir=" + filepath.Join(base, "app2"), "--log_output=/var/log/app2.log"}, 20,
			[]string{"Check /var/log/app2.log for details."}, ""},
		{"--all --basedir --baselog: every daemontools application, exit 1 when one is not OK", []string{"masterha_check_status", "--all", "--basedir=" + base, "--baselog=/logs"}, 1,
			[]string{"app1 is stopped", "app2 master maybe down", "Check /logs/app2/app2.log for details."}, ""},
		{"neither --conf nor --app with a directory: one line, exit 1", []string{"masterha_check_status", "--workdir=" + base}, 1, []string{"--conf"}, ""},
		{"stop --app --workdir: nothing runs, nothing to stop", []string{"masterha_stop", "--app=app1", "--workdir=" + filepath.Join(base, "app1"), "--ping_limit=3", "--manager_log=/x"}, 0,
			[]string{"app1 is not running."}, ""},
		{"stop --all --basedir: each application", []string{"masterha_stop", "--all", "--basedir=" + quiet, "--abort_timeout=1"}, 0,
			[]string{"app1 is not running.", "app2 is not running."}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.why, func(t *testing.T) {
			res := gomhaWith(t, env, append(tc.args, "--global_conf="+filepath.Join(dir, "none.cnf"))...)
			if res.code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", res.code, tc.code, res.stdout, res.stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(res.stdout+res.stderr, w) {
					t.Errorf("output lacks %q:\n%s%s", w, res.stdout, res.stderr)
				}
			}
			if tc.wantNone != "" && strings.Contains(res.stdout, tc.wantNone) {
				t.Errorf("output has %q:\n%s", tc.wantNone, res.stdout)
			}
		})
	}
}
