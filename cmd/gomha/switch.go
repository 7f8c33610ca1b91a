package main

import (
	"cmp"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// Usage sections of masterha_master_switch; a flag of one state given with
// the other is refused (alive, as MHA's MasterRotate refuses unknown
// options) or ignored with a warning (dead, as MHA's MasterFailover
// ignores them).
const (
	groupDead  = "--master_state=dead (manual failover of a dead master)"
	groupAlive = "--master_state=alive (online switchover)"
)

// mhaSwitch holds masterha_master_switch's options.
type mhaSwitch struct {
	mc                      mhaConf
	f                       failoverFlags
	sw                      switchFlags
	state, logFile, workdir string
	interactive, gtidSync   int
	removeConf              bool
	hookTimeout             time.Duration
}

// newMHASwitchCmd is masterha_master_switch: --master_state=dead is a
// manual failover, --master_state=alive an online switchover.
func newMHASwitchCmd(eng engine) *cobra.Command {
	var o mhaSwitch
	cmd := mhaCommand("masterha_master_switch", "Switching MySQL master server to one of other slave servers",
		"masterha_master_switch --master_state=dead --conf=<server config file> --dead_master_host=<host> --interactive=0 [options]",
		"masterha_master_switch --master_state=alive --conf=<server config file> [--new_master_host=<host>] --interactive=0 [options]")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error { return o.run(cmd, eng) }
	o.register(cmd)
	return cmd
}

func (o *mhaSwitch) run(cmd *cobra.Command, eng engine) error {
	if o.state != "dead" && o.state != "alive" {
		return withCode(1, fmt.Errorf("--master_state=%q: use dead or alive", o.state))
	}
	if o.interactive != 0 {
		return withCode(1, errors.New("--interactive=1 is not supported: gomha never prompts; pass --interactive=0"))
	}
	if o.state == "alive" {
		if given := inGroup(cmd, groupDead); len(given) > 0 {
			return withCode(1, fmt.Errorf("%s: not an option of --master_state=alive", strings.Join(given, ", ")))
		}
	} else if given := inGroup(cmd, groupAlive); len(given) > 0 {
		fmt.Fprintf(cmd.ErrOrStderr(), "gomha: %s ignored with --master_state=dead\n", strings.Join(given, ", "))
	}
	cfg, err := loadConfig(cmd, o.mc.conf, o.mc.global)
	if err != nil {
		return err
	}
	if o.state == "dead" {
		o.f.output, o.f.workdir, o.f.removeDead, o.f.hookTimeout = "text", o.workdir, o.removeConf, o.hookTimeout
		// As MHA's non-interactive failover: to --log_output, else manager_log.
		o.f.logFile = cmp.Or(o.logFile, cfg.ManagerLog)
		return runManualFailover(cmd, eng, cfg, &o.f, 1)
	}
	if o.f.acceptNew {
		fmt.Fprintln(cmd.ErrOrStderr(), "gomha: --accept_new_host_keys accepted: "+noSSHSwitch)
	}
	o.sw.newHost, o.sw.newPort, o.sw.localAddr = o.f.newHost, o.f.newPort, o.f.localAddr
	o.sw.workdir, o.sw.removeOrig, o.sw.hookTime = o.workdir, o.removeConf, o.hookTimeout
	if o.sw.removeOrig && o.sw.origIsNewSlave {
		return withCode(1, errors.New("--remove_orig_master_conf and --orig_master_is_new_slave exclude each other"))
	}
	return runSwitchover(cmd, eng, cfg, &o.sw, "text")
}

func (o *mhaSwitch) register(cmd *cobra.Command) {
	f := &o.f
	fl := cmd.Flags()
	fl.StringVar(&o.state, "master_state", "", "dead (manual failover) or alive (online switchover)")
	o.mc.register(cmd)
	fl.IntVar(&o.interactive, "interactive", 1, "MHA asks questions when 1; gomha requires 0")
	fl.StringVar(&f.newHost, "new_master_host", "", "promote this server (no fallback)")
	fl.IntVar(&f.newPort, "new_master_port", 3306, "its port")
	fl.StringVar(&o.workdir, "workdir", "", "manager_workdir `directory` for the state and the report (default from the configuration)")
	fl.StringVar(&o.workdir, "manager_workdir", "", "same as --workdir")
	fl.BoolVar(&o.removeConf, "remove_dead_master_conf", false, "remove the old master's block from the configuration after a successful switch")
	fl.BoolVar(&o.removeConf, "remove_orig_master_conf", false, "same as --remove_dead_master_conf")
	alias(cmd, "workdir", "manager_workdir")
	alias(cmd, "remove_dead_master_conf", "remove_orig_master_conf")
	fl.DurationVar(&o.hookTimeout, "hook_timeout", time.Minute, "gomha: deadline of each hook script")
	fl.StringVar(&f.localAddr, "source_addr", "", "gomha: source `address` for connections to the servers")
	fl.BoolVar(&f.acceptNew, "accept_new_host_keys", false, "gomha: record unknown SSH host keys in a failover (a switchover opens no SSH connection)")

	fl.StringVar(&f.deadHost, "dead_master_host", "", "the dead master")
	fl.StringVar(&f.deadIP, "dead_master_ip", "", "the dead master's IP (with or instead of --dead_master_host)")
	fl.IntVar(&f.deadPort, "dead_master_port", 3306, "its port")
	fl.IntVar(&f.ssh, "ssh_reachable", 2, "0/1: whether the dead master's host answers SSH; 2: check")
	fl.IntVar(&f.lastMinute, "last_failover_minute", 480, "a previous failover this many `minutes` old or less is recent")
	fl.BoolVar(&f.ignoreLast, "ignore_last_failover", false, "ignore a recent or failed previous failover")
	fl.BoolVar(&f.skipSalvage, "skip_save_master_binlog", false, "do not read the dead master's binlog over SSH")
	fl.BoolVar(&f.skipChange, "skip_change_master", false, "promote the new master but leave the other replicas as they are")
	fl.BoolVar(&f.skipDisable, "skip_disable_read_only", false, "leave read_only=ON on the new master")
	fl.StringVar(&o.logFile, "log_output", "", "log `file` (default manager_log, else standard output and error)")
	fl.StringVar(&o.logFile, "manager_log", "", "same as --log_output")
	alias(cmd, "log_output", "manager_log")
	fl.BoolVar(&f.dryRun, "dry_run", false, "gomha: print the plan and change nothing")
	fl.BoolVar(&f.resume, "resume", false, "gomha: finish a failover that was interrupted")
	fl.IntVar(&o.gtidSync, "wait_until_gtid_in_sync", 1, "")
	accepted(cmd, "wait_until_gtid_in_sync", "gomha always waits until every replica has the new master's GTID position", "1")
	acceptInts(cmd, "gomha exits at once on a failover error", "wait_on_failover_error")
	acceptBools(cmd, "gomha does not use [binlog] servers in a failover: there is no error of theirs to ignore", "ignore_binlog_server_error")
	group(cmd, groupDead, "dead_master_host", "dead_master_ip", "dead_master_port", "ssh_reachable", "last_failover_minute",
		"ignore_last_failover", "skip_save_master_binlog", "skip_change_master", "skip_disable_read_only", "log_output", "manager_log",
		"dry_run", "resume", "wait_until_gtid_in_sync", "wait_on_failover_error", "ignore_binlog_server_error")

	o.sw.register(cmd, true)
	group(cmd, groupAlive, "check_only", "orig_master_is_new_slave", "running_updates_limit", "running_seconds_limit",
		"seconds_behind_master", "skip_lock_all_tables", "flush_tables", "trx_wait", "no_kill", "catchup_timeout")
}
