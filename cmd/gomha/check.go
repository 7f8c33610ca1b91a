package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/gomha/gomha/manager"
)

// Exit codes of the native check commands: 0 healthy, 1 could not check
// (bad configuration, bad usage), 2 checked and found unhealthy.
const exitUnhealthy = 2

func newCheckCmd(env cliEnv) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Check replication health or SSH reachability of a configured cluster",
	}
	cmd.AddCommand(newCheckReplCmd(env.eng), newCheckSSHCmd(env.eng), newCheckStatusCmd("status --conf FILE", false, env))
	return cmd
}

func outputFlag(cmd *cobra.Command, p *string) {
	cmd.Flags().StringVarP(p, "output", "o", "text", "output format: text or json")
}

// consoleFor sends people's progress lines to stdout for text output and to
// stderr when stdout carries JSON.
func consoleFor(cmd *cobra.Command, output string) (*manager.Console, error) {
	switch output {
	case "text":
		return manager.NewConsole(cmd.OutOrStdout()), nil
	case "json":
		return manager.NewConsole(cmd.ErrOrStderr()), nil
	}
	return nil, withCode(1, fmt.Errorf("--output %q: use text or json", output))
}

func newCheckReplCmd(eng engine) *cobra.Command {
	var cf confFlags
	var output string
	var sbm int64
	var hookTimeout time.Duration
	cmd := &cobra.Command{
		Use:   "repl --conf FILE",
		Short: "Check replication as masterha_check_repl does",
		Long: `Reads every configured server and checks that there is exactly one writable
master, that every other server replicates from it with both threads running
and acceptable lag, that server_ids are unique, that candidates have log-bin,
that replication filters are identical, and that candidate_master/no_master
settings make sense. Exit 0 when healthy, 2 when not, 1 when the check could
not run.`,
		Example: "  gomha check repl --conf /etc/masterha/app1.cnf\n  gomha check repl --conf app1.cnf --output json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			con, err := consoleFor(cmd, output)
			if err != nil {
				return err
			}
			cfg, err := loadConfig(cmd, cf.conf, cf.global)
			if err != nil {
				return err
			}
			rep, err := eng.CheckRepl(cmd.Context(), cfg, manager.CheckReplOptions{SecondsBehindMaster: sbm, HookTimeout: hookTimeout}, con)
			if output == "json" {
				if jerr := writeJSON(cmd.OutOrStdout(), rep); jerr != nil {
					return jerr
				}
			}
			return withCode(exitUnhealthy, err)
		},
	}
	cf.register(cmd)
	outputFlag(cmd, &output)
	cmd.Flags().Int64Var(&sbm, "seconds-behind-master", 30, "largest acceptable replication lag, in seconds")
	cmd.Flags().DurationVar(&hookTimeout, "hook-timeout", time.Minute, "deadline of each hook's status command")
	cmd.Flags().Bool("accept-new-host-keys", false, "")
	accepted(cmd, "accept-new-host-keys", "check repl opens no SSH connection (hook scripts run their own ssh): nothing to accept", "false")
	return cmd
}

func newCheckSSHCmd(eng engine) *cobra.Command {
	var cf confFlags
	var output string
	var acceptNew bool
	cmd := &cobra.Command{
		Use:   "ssh --conf FILE",
		Short: "Check SSH from the manager to every host, as masterha_check_ssh does",
		Long: `Connects over SSH to every configured host (ssh_user, ssh_port,
ssh_connection_timeout, ssh_options), verifying host keys against known_hosts,
and checks that master_binlog_dir is readable there. Exit 0 when every host
passed, 2 when any failed, 1 when the check could not run.`,
		Example: "  gomha check ssh --conf app1.cnf\n  gomha check ssh --conf app1.cnf --accept-new-host-keys",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			con, err := consoleFor(cmd, output)
			if err != nil {
				return err
			}
			cfg, err := loadConfig(cmd, cf.conf, cf.global)
			if err != nil {
				return err
			}
			res, err := eng.CheckSSH(cmd.Context(), cfg, manager.SSHCheckOptions{AcceptNewHostKeys: acceptNew}, con)
			if output == "json" {
				if jerr := writeJSON(cmd.OutOrStdout(), map[string]any{"ok": err == nil, "hosts": res}); jerr != nil {
					return jerr
				}
			}
			return withCode(exitUnhealthy, err)
		},
	}
	cf.register(cmd)
	outputFlag(cmd, &output)
	cmd.Flags().BoolVar(&acceptNew, "accept-new-host-keys", false, "record the host key of a host not yet in known_hosts (a changed key is always refused)")
	return cmd
}
