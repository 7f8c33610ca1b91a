package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
)

// newMHASwitchCmd is masterha_master_switch: --master_state=dead is a
// manual failover, --master_state=alive an online switchover.
func newMHASwitchCmd() *cobra.Command {
	var mc mhaConf
	var f failoverFlags
	var state string
	var interactive int
	var sw switchFlags
	cmd := mhaCommand("masterha_master_switch", "MHA-compatible: manual failover or online switchover")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		cfg, err := loadConfig(cmd.Context(), mc.conf, mc.global)
		if err != nil {
			return err
		}
		if interactive != 0 {
			return withCode(1, errors.New("--interactive=1 is not supported: gomha never prompts; pass --interactive=0"))
		}
		switch state {
		case "dead":
			f.output = "text"
			return runManualFailover(cmd, cfg, &f, 1)
		case "alive":
			sw.newHost, sw.newPort = f.newHost, f.newPort
			return runSwitchover(cmd, cfg, &sw, "text")
		}
		return withCode(1, fmt.Errorf("--master_state=%q: use dead or alive", state))
	}
	mc.register(cmd)
	fl := cmd.Flags()
	fl.StringVar(&state, "master_state", "", "dead (manual failover) or alive (online switchover)")
	fl.IntVar(&interactive, "interactive", 1, "MHA asks questions when 1; gomha requires 0")
	fl.StringVar(&f.deadHost, "dead_master_host", "", "the dead master")
	fl.StringVar(&f.deadHost, "dead_master_ip", "", "the dead master's IP (same as --dead_master_host)")
	fl.IntVar(&f.deadPort, "dead_master_port", 3306, "its port")
	fl.StringVar(&f.newHost, "new_master_host", "", "promote this server (no fallback)")
	fl.IntVar(&f.newPort, "new_master_port", 3306, "its port")
	fl.BoolVar(&f.ignoreLast, "ignore_last_failover", false, "ignore a recent or failed previous failover")
	fl.BoolVar(&f.skipSalvage, "skip_save_master_binlog", false, "do not read the dead master's binlog over SSH")
	fl.BoolVar(&f.skipDisable, "skip_disable_read_only", false, "leave read_only=ON on the new master")
	fl.BoolVar(&f.dryRun, "dry_run", false, "print the plan and change nothing")
	fl.DurationVar(&f.hookTimeout, "hook_timeout", time.Minute, "deadline of each hook script")
	fl.IntVar(&f.ssh, "ssh_reachable", 2, "0/1: whether the dead master's host answers SSH; 2: check")
	sw.register(cmd, true)
	return cmd
}
