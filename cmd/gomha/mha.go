package main

import (
	"github.com/spf13/cobra"

	"github.com/gomha/gomha/manager"
)

// MHA's commands exit 1 on any failure.
const mhaFailure = 1

// newMHACmds returns the commands gomha answers to under MHA's names, with
// MHA's option spelling (--conf=FILE, --global_conf=FILE, underscores).
func newMHACmds() []*cobra.Command {
	return []*cobra.Command{newMHACheckReplCmd(), newMHACheckSSHCmd(), newMHAManagerCmd(),
		newCheckStatusCmd("masterha_check_status", true), newStopCmd("masterha_stop", true), newMHASwitchCmd(), newConfHostCmd(true)}
}

type mhaConf struct{ conf, global string }

func (m *mhaConf) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&m.conf, "conf", "", "application configuration file")
	cmd.Flags().StringVar(&m.global, "global_conf", "", "global configuration file (default /etc/masterha_default.cnf)")
	_ = cmd.MarkFlagRequired("conf")
}

func mhaCommand(use, short string) *cobra.Command {
	return &cobra.Command{Use: use, Short: short, Hidden: true, Args: cobra.NoArgs}
}

func newMHACheckReplCmd() *cobra.Command {
	var m mhaConf
	var sbm int64
	var ignored string
	var ignoredBool bool
	cmd := mhaCommand("masterha_check_repl", "MHA-compatible: check replication health")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		cfg, err := loadConfig(cmd.Context(), m.conf, m.global)
		if err != nil {
			return err
		}
		_, err = manager.CheckRepl(cmd.Context(), cfg, manager.CheckReplOptions{SecondsBehindMaster: sbm}, manager.NewConsole(cmd.OutOrStdout()))
		return withCode(mhaFailure, err)
	}
	m.register(cmd)
	cmd.Flags().Int64Var(&sbm, "seconds_behind_master", 30, "largest acceptable replication lag, in seconds")
	cmd.Flags().BoolVar(&ignoredBool, "skip_check_ssh", false, "accepted for MHA compatibility (gomha's check repl does not use SSH)")
	cmd.Flags().BoolVar(&ignoredBool, "ignore_fail_on_start", false, "accepted for MHA compatibility")
	cmd.Flags().StringVar(&ignored, "workdir", "", "accepted for MHA compatibility")
	return cmd
}

func newMHACheckSSHCmd() *cobra.Command {
	var m mhaConf
	cmd := mhaCommand("masterha_check_ssh", "MHA-compatible: check SSH to every host")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		cfg, err := loadConfig(cmd.Context(), m.conf, m.global)
		if err != nil {
			return err
		}
		_, err = manager.CheckSSH(cmd.Context(), cfg, manager.SSHCheckOptions{}, manager.NewConsole(cmd.OutOrStdout()))
		return withCode(mhaFailure, err)
	}
	m.register(cmd)
	return cmd
}
