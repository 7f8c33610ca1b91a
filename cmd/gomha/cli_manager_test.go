package main

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// confArgs names the test configuration and a global file that does not
// exist, so that no /etc/masterha_default.cnf of the machine leaks in.
func confArgs(conf string) []string {
	return []string{"--conf=" + conf, "--global_conf=" + filepath.Join(filepath.Dir(conf), "none.cnf")}
}

// managerCase is one masterha_manager command line and what it must do.
type managerCase struct {
	why   string
	args  []string
	err   error  // the manager's outcome
	dead  string // the master its failover found dead
	check func(t *testing.T, r *recorder, res cliResult, conf, dir string)
}

func runManagerCases(t *testing.T, tests []managerCase) {
	for _, tc := range tests {
		t.Run(tc.why, func(t *testing.T) {
			conf, dir := testApp(t, "")
			r := &recorder{err: tc.err, dead: tc.dead}
			args := append([]string{"masterha_manager"}, confArgs(conf)...)
			for _, a := range tc.args {
				args = append(args, strings.Replace(a, "=LOG", "="+filepath.Join(dir, "m.log"), 1))
			}
			res := gomhaWith(t, cliEnv{eng: r}, args...)
			tc.check(t, r, res, conf, dir)
		})
	}
}

// Every option of masterha_manager (MHA's MasterMonitor and MasterFailover
// both read its arguments) lands where MHA means it.
func TestMHAManagerOptions(t *testing.T) {
	runManagerCases(t, []managerCase{
		{why: "--skip_disable_read_only and --skip_change_master reach the failover the manager runs",
			args: []string{"--skip_disable_read_only", "--skip_change_master"},
			check: func(t *testing.T, r *recorder, _ cliResult, _, _ string) {
				if !r.mgr.SkipDisableRO || !r.mgr.SkipChangeMaster || !r.mgr.Once {
					t.Errorf("options %+v", r.mgr)
				}
			}},
		{why: "gomha's spelling is taken under the MHA name too",
			args: []string{"--skip-change-master", "--ignore-last-failover"},
			check: func(t *testing.T, r *recorder, _ cliResult, _, _ string) {
				if !r.mgr.SkipChangeMaster || !r.mgr.IgnoreLastFailover {
					t.Errorf("options %+v", r.mgr)
				}
			}},
		{why: "the failover options of MHA's MasterFailover map one to one",
			args: []string{"--last_failover_minute=5", "--ignore_last_failover", "--skip_save_master_binlog", "--seconds_behind_master=7"},
			check: func(t *testing.T, r *recorder, _ cliResult, _, _ string) {
				o := r.mgr
				if o.LastFailoverMinute != 5 || !o.IgnoreLastFailover || !o.SkipSalvage || o.SecondsBehind != 7 {
					t.Errorf("options %+v", o)
				}
			}},
		{why: "--workdir overrides the configuration's manager_workdir",
			args: []string{"--workdir=/tmp/elsewhere"},
			check: func(t *testing.T, r *recorder, _ cliResult, _, _ string) {
				if r.cfg.ManagerWorkdir != "/tmp/elsewhere" {
					t.Errorf("manager_workdir %q", r.cfg.ManagerWorkdir)
				}
			}},
		{why: "--manager_workdir is MHA's other spelling of --workdir",
			args: []string{"--manager_workdir=/tmp/other"},
			check: func(t *testing.T, r *recorder, _ cliResult, _, _ string) {
				if r.cfg.ManagerWorkdir != "/tmp/other" {
					t.Errorf("manager_workdir %q", r.cfg.ManagerWorkdir)
				}
			}},
		{why: "--manager_log chooses the log file: logs and progress go there, not to the terminal",
			args: []string{"--manager_log=LOG"},
			check: func(t *testing.T, _ *recorder, res cliResult, _, dir string) {
				log := readFile(t, filepath.Join(dir, "m.log"))
				if !strings.Contains(log, "recorded manager log line") || !strings.Contains(log, "recorded manager console line") {
					t.Errorf("log file:\n%s", log)
				}
				if strings.Contains(res.stdout+res.stderr, "recorded manager") {
					t.Errorf("logged to the terminal too:\n%s%s", res.stdout, res.stderr)
				}
			}},
		{why: "--remove_orig_master_conf is MHA's other spelling of --remove_dead_master_conf (the manager removes the block after a complete failover)",
			args: []string{"--remove_orig_master_conf"},
			check: func(t *testing.T, r *recorder, _ cliResult, _, _ string) {
				if !r.mgr.RemoveDeadConf {
					t.Errorf("options %+v", r.mgr)
				}
			}},
		{why: "a failed failover is exit 1",
			args: []string{"--remove_dead_master_conf"}, dead: "127.0.0.1:3306", err: errors.New("failover failed"),
			check: func(t *testing.T, _ *recorder, res cliResult, _, _ string) {
				if res.code != 1 {
					t.Errorf("exit %d", res.code)
				}
			}},
		{why: "--skip_check_ssh is MHA's other spelling of --skip_ssh_check: no SSH check at start-up",
			args: []string{"--skip_check_ssh"},
			check: func(t *testing.T, r *recorder, res cliResult, _, _ string) {
				if !r.mgr.SkipSSHCheck || strings.Contains(res.stderr, "accepted") {
					t.Errorf("options %+v\n%s", r.mgr, res.stderr)
				}
			}},
		{why: "--new_master_host, --ignore_fail_on_start and --accept_new_host_keys reach the manager",
			args: []string{"--new_master_host=127.0.0.2", "--ignore_fail_on_start", "--accept_new_host_keys"},
			check: func(t *testing.T, r *recorder, res cliResult, _, _ string) {
				o := r.mgr
				if o.NewMaster.String() != "127.0.0.2:3306" || !o.IgnoreFailOnStart || !o.AcceptNewHostKeys || strings.Contains(res.stderr, "accepted") {
					t.Errorf("options %+v\n%s", o, res.stderr)
				}
			}},
		{why: "--check_only runs the start-up checks and never monitors",
			args: []string{"--check_only", "--seconds_behind_master=9"},
			check: func(t *testing.T, r *recorder, _ cliResult, _, _ string) {
				if strings.Join(r.calls, ",") != "CheckRepl" || r.repl.SecondsBehindMaster != 9 {
					t.Errorf("calls %v, options %+v", r.calls, r.repl)
				}
			}},
	})
}

// The options masterha_manager cannot honour as MHA does are accepted with
// a one-line warning saying what gomha does instead; unknown ones fail.
func TestMHAManagerAccepted(t *testing.T) {
	runManagerCases(t, []managerCase{
		{why: "options gomha already obeys (replication health is always checked, no SSH at start, GTID sync always awaited) print nothing",
			args: []string{"--check_repl_health", "--wait_until_gtid_in_sync=1", "--interactive=0", "--wait_on_monitor_error=0"},
			check: func(t *testing.T, _ *recorder, res cliResult, _, _ string) {
				if strings.Contains(res.stderr, "accepted") {
					t.Errorf("stderr:\n%s", res.stderr)
				}
			}},
		{why: "interactive waits, binlog servers, test-only and monitor-found values are accepted with one warning each, and the manager still runs",
			args: []string{"--wait_until_gtid_in_sync=0", "--wait_on_monitor_error=5", "--wait_on_failover_error=5", "--interactive=1",
				"--monitor_only", "--ignore_binlog_server_error", "--dead_master_host=127.0.0.1", "--dead_master_ip=127.0.0.1",
				"--dead_master_port=3306", "--ssh_reachable=1"},
			check: func(t *testing.T, r *recorder, res cliResult, _, _ string) {
				for _, o := range []string{"--wait_until_gtid_in_sync=0", "--wait_on_monitor_error=5", "--wait_on_failover_error=5", "--interactive=1",
					"--monitor_only", "--ignore_binlog_server_error", "--dead_master_host", "--dead_master_ip",
					"--dead_master_port", "--ssh_reachable=1"} {
					if !warned(res.stderr, o) {
						t.Errorf("no warning for %s:\n%s", o, res.stderr)
					}
				}
				if r.calls[0] != "RunManager" || res.code != 0 {
					t.Errorf("exit %d, calls %v", res.code, r.calls)
				}
			}},
		{why: "an option MHA does not have is an error: one line, exit 1",
			args: []string{"--no_such_option"},
			check: func(t *testing.T, r *recorder, res cliResult, _, _ string) {
				if res.code != 1 || len(r.calls) != 0 || strings.Count(strings.TrimSpace(res.stderr), "\n") != 0 || !strings.Contains(res.stderr, "no_such_option") {
					t.Errorf("exit %d, calls %v, stderr:\n%s", res.code, r.calls, res.stderr)
				}
			}},
	})
}

// gomha manager takes the same options in gomha's spelling, and MHA's.
func TestNativeManagerOptions(t *testing.T) {
	conf, dir := testApp(t, "")
	r := &recorder{}
	res := gomhaWith(t, cliEnv{eng: r}, append([]string{"manager", "--skip-disable-read-only", "--skip_change_master",
		"--workdir", dir + "/w", "--hook-timeout", "5s", "--accept-new-host-keys"}, confArgs(conf)...)...)
	if res.code != 0 || !r.mgr.SkipDisableRO || !r.mgr.SkipChangeMaster || r.mgr.Once || r.mgr.HookTimeout != 5*time.Second ||
		r.cfg.ManagerWorkdir != dir+"/w" || !r.mgr.AcceptNewHostKeys {
		t.Fatalf("exit %d, options %+v\n%s", res.code, r.mgr, res.stderr)
	}
}

// TestConfigWarningsPrinted: a value MHA reads in its own way (here
// check_repl_delay=no, which Perl reads as true) is named on standard
// error and in the manager's log; the command still runs.
func TestConfigWarningsPrinted(t *testing.T) {
	conf, dir := testApp(t, "check_repl_delay=no\nmanager_log=DIR/m.log\n")
	r := &recorder{}
	res := gomhaWith(t, cliEnv{eng: r}, append([]string{"manager"}, confArgs(conf)...)...)
	if res.code != 0 || len(r.calls) == 0 {
		t.Fatalf("exit %d, calls %v\n%s", res.code, r.calls, res.stderr)
	}
	if !strings.Contains(res.stderr, "gomha: warning: ") || !strings.Contains(res.stderr, "check_repl_delay") {
		t.Errorf("no warning on standard error:\n%s", res.stderr)
	}
	if log := readFile(t, filepath.Join(dir, "m.log")); !strings.Contains(log, "[warning]") || !strings.Contains(log, "check_repl_delay") {
		t.Errorf("no warning in the manager log:\n%s", log)
	}
}
