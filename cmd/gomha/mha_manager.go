package main

import (
	"github.com/spf13/cobra"
)

// newMHAManagerCmd is masterha_manager: it takes the options of MHA's
// monitor and of its failover (MHA passes its arguments to both).
func newMHAManagerCmd(eng engine) *cobra.Command {
	var mc mhaConf
	var m managerFlags
	var noEffect bool
	var gtidSync int
	cmd := mhaCommand("masterha_manager", "Monitoring MySQL master server availability and do failover if it detects master failure",
		"masterha_manager --conf=<server config file> [--global_conf=<global config file>] [options]")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		cfg, err := loadConfig(cmd, mc.conf, mc.global)
		if err != nil {
			return err
		}
		return m.run(cmd, eng, cfg, true)
	}
	mc.register(cmd)
	m.register(cmd, true)
	fl := cmd.Flags()
	fl.BoolVar(&m.checkOnly, "check_only", false, "run the start-up checks and exit (0 healthy, 1 not) instead of monitoring")
	fl.BoolVar(&noEffect, "check_repl_health", false, "gomha's start-up check always checks replication health")
	fl.IntVar(&gtidSync, "wait_until_gtid_in_sync", 1, "gomha always waits until every replica has the new master's GTID position")
	accepted(cmd, "wait_until_gtid_in_sync", "gomha always waits until every replica has the new master's GTID position", "1")
	group(cmd, groupNoEffect, "check_repl_health")
	acceptMHAWaits(cmd)
	acceptBools(cmd, "as in MHA, masterha_manager still fails over; gomha has no monitor-only mode", "monitor_only")
	acceptBools(cmd, "gomha does not use [binlog] servers in a failover: there is no error of theirs to ignore", "ignore_binlog_server_error")
	acceptStrings(cmd, "gomha fails over the master its monitor found dead", "dead_master_host", "dead_master_ip")
	acceptInts(cmd, "gomha fails over the master its monitor found dead", "dead_master_port")
	fl.Int("ssh_reachable", -1, "")
	accepted(cmd, "ssh_reachable", "gomha's monitor checks SSH to the dead master's host itself", "-1")
	return cmd
}

// acceptMHAWaits takes MHA's interactive options: gomha never prompts and
// never waits before exiting on an error.
func acceptMHAWaits(cmd *cobra.Command) {
	acceptInts(cmd, "gomha never prompts", "interactive")
	acceptInts(cmd, "gomha exits at once on a monitor error (a supervisor restarts it)", "wait_on_monitor_error")
	acceptInts(cmd, "gomha exits at once on a failover error", "wait_on_failover_error")
}
