package main

import (
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gomha/gomha/manager"
)

// MHA's commands exit 1 on any failure.
const mhaFailure = 1

// Usage sections of MHA commands.
const (
	groupNoEffect = "Accepted as MHA accepts them (no effect on this command)"
	groupGomha    = "gomha's own options"
)

// newMHACmds returns the commands gomha answers to under MHA's names, with
// MHA's option spelling (--conf=FILE, --global_conf=FILE, underscores).
func newMHACmds(env cliEnv) []*cobra.Command {
	return []*cobra.Command{newMHACheckReplCmd(env.eng), newMHACheckSSHCmd(env.eng), newMHAManagerCmd(env.eng),
		newCheckStatusCmd("masterha_check_status", true, env), newStopCmd("masterha_stop", true, env), newMHASwitchCmd(env.eng), newConfHostCmd(true)}
}

type mhaConf struct{ conf, global string }

func (m *mhaConf) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&m.conf, "conf", "", "application configuration `file`")
	cmd.Flags().StringVar(&m.global, "global_conf", "", "global configuration `file` (default /etc/masterha_default.cnf)")
	_ = cmd.MarkFlagRequired("conf")
}

// mhaCommand builds a command answering to an MHA name; synopsis are its
// usage lines as MHA's documentation writes them.
func mhaCommand(use, short string, synopsis ...string) *cobra.Command {
	cmd := &cobra.Command{Use: use, Short: short, Hidden: true, Args: cobra.NoArgs,
		Annotations: map[string]string{annSynopsis: strings.Join(synopsis, "\n")}}
	cmd.Flags().SortFlags = false
	return cmd
}

// acceptNoSSH takes --accept_new_host_keys on a command that opens no SSH
// connection of its own.
func acceptNoSSH(cmd *cobra.Command, what string) {
	cmd.Flags().Bool("accept_new_host_keys", false, "")
	accepted(cmd, "accept_new_host_keys", what+" opens no SSH connection (hook scripts run their own ssh): nothing to accept", "false")
}

func newMHACheckReplCmd(eng engine) *cobra.Command {
	var m mhaConf
	var sbm int64
	var workdir string
	var hookTimeout time.Duration
	var noEffect bool
	var logFile string
	cmd := mhaCommand("masterha_check_repl", "Checking MySQL replication health",
		"masterha_check_repl --conf=<server config file> [--global_conf=<global config file>] [--seconds_behind_master=<N>]")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		cfg, err := loadConfig(cmd, m.conf, m.global)
		if err != nil {
			return err
		}
		if workdir != "" {
			cfg.ManagerWorkdir = workdir
		}
		_, err = eng.CheckRepl(cmd.Context(), cfg, manager.CheckReplOptions{SecondsBehindMaster: sbm, HookTimeout: hookTimeout},
			manager.NewConsole(cmd.OutOrStdout()))
		return withCode(mhaFailure, err)
	}
	m.register(cmd)
	fl := cmd.Flags()
	fl.Int64Var(&sbm, "seconds_behind_master", 30, "largest acceptable replication lag, in seconds")
	fl.StringVar(&workdir, "workdir", "", "manager_workdir `directory` (default from the configuration)")
	fl.StringVar(&workdir, "manager_workdir", "", "same as --workdir")
	alias(cmd, "workdir", "manager_workdir")
	fl.DurationVar(&hookTimeout, "hook_timeout", time.Minute, "deadline of each hook's status command")
	group(cmd, groupGomha, "hook_timeout")
	for _, n := range []string{"check_only", "check_repl_health"} {
		fl.BoolVar(&noEffect, n, false, "always on: masterha_check_repl is the check")
	}
	fl.BoolVar(&noEffect, "monitor_only", false, "no effect with the check, as in MHA")
	for _, n := range []string{"skip_check_ssh", "skip_ssh_check"} {
		fl.BoolVar(&noEffect, n, false, "gomha's check repl opens no SSH connection")
	}
	alias(cmd, "skip_check_ssh", "skip_ssh_check")
	for _, n := range []string{"log_output", "manager_log"} {
		fl.StringVar(&logFile, n, "", "as in MHA, the check writes to standard output, not to the `log file`")
	}
	alias(cmd, "log_output", "manager_log")
	group(cmd, groupNoEffect, "check_only", "check_repl_health", "monitor_only", "skip_check_ssh", "skip_ssh_check", "log_output", "manager_log")
	acceptInts(cmd, "gomha never prompts", "interactive")
	acceptInts(cmd, "gomha never waits after an error: it exits at once", "wait_on_monitor_error")
	acceptBools(cmd, "gomha's checks require every configured server to answer, ignore_fail or not (delete a server's block to leave it out)", "ignore_fail_on_start")
	acceptNoSSH(cmd, "masterha_check_repl")
	return cmd
}

func newMHACheckSSHCmd(eng engine) *cobra.Command {
	var m mhaConf
	var acceptNew bool
	cmd := mhaCommand("masterha_check_ssh", "Checking SSH connections",
		"masterha_check_ssh --conf=<server config file> [--global_conf=<global config file>]")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		cfg, err := loadConfig(cmd, m.conf, m.global)
		if err != nil {
			return err
		}
		_, err = eng.CheckSSH(cmd.Context(), cfg, manager.SSHCheckOptions{AcceptNewHostKeys: acceptNew}, manager.NewConsole(cmd.OutOrStdout()))
		return withCode(mhaFailure, err)
	}
	m.register(cmd)
	cmd.Flags().BoolVar(&acceptNew, "accept_new_host_keys", false, "record the host key of a host not yet in known_hosts (a changed key is always refused)")
	group(cmd, groupGomha, "accept_new_host_keys")
	return cmd
}
