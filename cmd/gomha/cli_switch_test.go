package main

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gomha/gomha/topology"
)

var (
	keyHost1 = topology.Key{Host: "127.0.0.1", Port: 3306}
	keyHost2 = topology.Key{Host: "127.0.0.2", Port: 3306}
)

var (
	switchDead  = []string{"masterha_master_switch", "--master_state=dead", "--interactive=0", "--dead_master_host=127.0.0.1"}
	switchAlive = []string{"masterha_master_switch", "--master_state=alive", "--interactive=0"}
)

// switchCase is one masterha_master_switch command line and what it must do.
type switchCase struct {
	why   string
	args  []string
	extra string // configuration lines
	err   error
	check func(t *testing.T, r *recorder, res cliResult, conf, dir string)
}

func runSwitchCases(t *testing.T, tests []switchCase) {
	for _, tc := range tests {
		t.Run(tc.why, func(t *testing.T) {
			conf, dir := testApp(t, tc.extra)
			r := &recorder{err: tc.err}
			args := append(append([]string{}, tc.args...), confArgs(conf)...)
			for i, a := range args {
				args[i] = strings.Replace(a, "=LOG", "="+filepath.Join(dir, "m.log"), 1)
			}
			res := gomhaWith(t, cliEnv{eng: r}, args...)
			tc.check(t, r, res, conf, dir)
		})
	}
}

// masterha_master_switch --master_state=dead takes MHA's MasterFailover
// options.
func TestMHASwitchDeadOptions(t *testing.T) {
	runSwitchCases(t, []switchCase{
		{why: "dead: each MasterFailover option reaches the failover", args: append(switchDead, "--skip_change_master", "--skip_disable_read_only",
			"--last_failover_minute=9", "--ignore_last_failover", "--skip_save_master_binlog", "--ssh_reachable=0", "--new_master_host=127.0.0.2",
			"--accept_new_host_keys", "--hook_timeout=3s"),
			check: func(t *testing.T, r *recorder, res cliResult, _, _ string) {
				o := r.fo
				if !o.SkipChangeMaster || !o.SkipDisableRO || o.LastFailoverMinute != 9 || !o.IgnoreLastFailover || !o.SkipSalvage ||
					o.SSHReachable == nil || *o.SSHReachable || o.NewMaster != keyHost2 || o.Dead != keyHost1 || !o.AcceptNewHostKeys || o.HookTimeout != 3*time.Second {
					t.Errorf("exit %d, options %+v\n%s", res.code, o, res.stderr)
				}
			}},
		{why: "dead: --dead_master_ip alone names the dead master", args: []string{"masterha_master_switch", "--master_state=dead", "--interactive=0", "--dead_master_ip=127.0.0.1"},
			check: func(t *testing.T, r *recorder, res cliResult, _, _ string) {
				if res.code != 0 || r.fo.Dead != keyHost1 {
					t.Errorf("exit %d, dead %v\n%s", res.code, r.fo.Dead, res.stderr)
				}
			}},
		{why: "dead: a host and an IP naming two servers are refused, not resolved by whichever came last", args: append(switchDead, "--dead_master_ip=127.0.0.2"),
			check: func(t *testing.T, r *recorder, res cliResult, _, _ string) {
				if res.code != 1 || len(r.calls) != 0 || !strings.Contains(res.stderr, "different servers") {
					t.Errorf("exit %d, calls %v\n%s", res.code, r.calls, res.stderr)
				}
			}},
		{why: "dead: --workdir and --manager_workdir override manager_workdir", args: append(switchDead, "--manager_workdir=/tmp/w2"),
			check: func(t *testing.T, r *recorder, _ cliResult, _, _ string) {
				if r.cfg.ManagerWorkdir != "/tmp/w2" {
					t.Errorf("manager_workdir %q", r.cfg.ManagerWorkdir)
				}
			}},
		{why: "dead: --log_output chooses the log file", args: append(switchDead, "--log_output=LOG"),
			check: func(t *testing.T, _ *recorder, res cliResult, _, dir string) {
				log := readFile(t, filepath.Join(dir, "m.log"))
				if !strings.Contains(log, "recorded failover log line") || !strings.Contains(log, "recorded failover console line") || strings.Contains(res.stdout, "recorded") {
					t.Errorf("log file:\n%s\nstdout:\n%s", log, res.stdout)
				}
			}},
		{why: "dead: as MHA's non-interactive failover, without --log_output the log is manager_log", args: switchDead, extra: "manager_log=DIR/m.log",
			check: func(t *testing.T, _ *recorder, _ cliResult, _, dir string) {
				if log := readFile(t, filepath.Join(dir, "m.log")); !strings.Contains(log, "recorded failover log line") {
					t.Errorf("log file:\n%s", log)
				}
			}},
		{why: "dead: --remove_dead_master_conf removes the block after a successful failover", args: append(switchDead, "--remove_dead_master_conf"),
			check: func(t *testing.T, _ *recorder, res cliResult, conf, _ string) {
				if c := readFile(t, conf); res.code != 0 || strings.Contains(c, "[server1]") || !strings.Contains(c, "[server3]") {
					t.Errorf("exit %d, configuration:\n%s", res.code, c)
				}
			}},
		{why: "dead: as MHA, a failed failover keeps the block", args: append(switchDead, "--remove_orig_master_conf"), err: errors.New("no candidate"),
			check: func(t *testing.T, _ *recorder, res cliResult, conf, _ string) {
				if res.code != 1 || !strings.Contains(readFile(t, conf), "[server1]") {
					t.Errorf("exit %d, configuration:\n%s", res.code, readFile(t, conf))
				}
			}},
		{why: "dead: GTID sync, error waits and binlog servers are accepted with one warning each",
			args: append(switchDead, "--wait_until_gtid_in_sync=0", "--wait_on_failover_error=3", "--ignore_binlog_server_error"),
			check: func(t *testing.T, r *recorder, res cliResult, _, _ string) {
				for _, o := range []string{"--wait_until_gtid_in_sync=0", "--wait_on_failover_error=3", "--ignore_binlog_server_error"} {
					if !warned(res.stderr, o) {
						t.Errorf("no warning for %s:\n%s", o, res.stderr)
					}
				}
				if res.code != 0 || r.calls[0] != "RunFailover" {
					t.Errorf("exit %d, calls %v", res.code, r.calls)
				}
			}},
		{why: "dead: alive-only options are ignored with a warning, as MHA's MasterFailover ignores them", args: append(switchDead, "--orig_master_is_new_slave"),
			check: func(t *testing.T, r *recorder, res cliResult, _, _ string) {
				if res.code != 0 || !strings.Contains(res.stderr, "--orig_master_is_new_slave ignored with --master_state=dead") {
					t.Errorf("exit %d\n%s", res.code, res.stderr)
				}
			}},
		{why: "dead and alive: --interactive=1 is refused, gomha never prompts", args: []string{"masterha_master_switch", "--master_state=dead", "--dead_master_host=127.0.0.1"},
			check: func(t *testing.T, r *recorder, res cliResult, _, _ string) {
				if res.code != 1 || len(r.calls) != 0 || !strings.Contains(res.stderr, "--interactive") {
					t.Errorf("exit %d\n%s", res.code, res.stderr)
				}
			}},
	})
}

// masterha_master_switch --master_state=alive takes MHA's MasterRotate
// options, and refuses the others as MasterRotate does.
func TestMHASwitchAliveOptions(t *testing.T) {
	runSwitchCases(t, []switchCase{
		{why: "alive: each MasterRotate option reaches the switchover", args: append(switchAlive, "--new_master_host=127.0.0.2", "--orig_master_is_new_slave",
			"--running_updates_limit=3", "--running_seconds_limit=4", "--seconds_behind_master=5", "--skip_lock_all_tables", "--flush_tables=0",
			"--check_only", "--workdir=/tmp/w3", "--source_addr=127.0.0.9"),
			check: func(t *testing.T, r *recorder, res cliResult, _, _ string) {
				o := r.so
				if o.NewMaster != keyHost2 || !o.OrigIsNewSlave || o.RunningUpdatesLimit != 3*time.Second || o.RunningSecondsLimit != 4*time.Second ||
					o.SecondsBehindMaster != 5 || !o.SkipLockAllTables || o.FlushTables || !o.CheckOnly || o.LocalAddr != "127.0.0.9" || r.cfg.ManagerWorkdir != "/tmp/w3" {
					t.Errorf("exit %d, options %+v\n%s", res.code, o, res.stderr)
				}
			}},
		{why: "alive: --remove_dead_master_conf is MHA's other spelling of --remove_orig_master_conf", args: append(switchAlive, "--remove_dead_master_conf"),
			check: func(t *testing.T, r *recorder, res cliResult, _, _ string) {
				if res.code != 0 || !r.so.RemoveOrigMasterConf {
					t.Errorf("exit %d, options %+v", res.code, r.so)
				}
			}},
		{why: "alive: a dead-only option is refused, as MHA's MasterRotate refuses unknown options", args: append(switchAlive, "--skip_change_master"),
			check: func(t *testing.T, r *recorder, res cliResult, _, _ string) {
				if res.code != 1 || len(r.calls) != 0 || !strings.Contains(res.stderr, "--skip_change_master: not an option of --master_state=alive") {
					t.Errorf("exit %d\n%s", res.code, res.stderr)
				}
			}},
		{why: "alive: --accept_new_host_keys is accepted with a warning: a switchover opens no SSH connection", args: append(switchAlive, "--accept_new_host_keys"),
			check: func(t *testing.T, r *recorder, res cliResult, _, _ string) {
				if res.code != 0 || !warned(res.stderr, "--accept_new_host_keys") {
					t.Errorf("exit %d\n%s", res.code, res.stderr)
				}
			}},
	})
}
