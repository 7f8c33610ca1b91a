package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// version is set by the Makefile with -ldflags.
var version = "dev"

// mhaVersion is the MHA release whose commands gomha answers to.
const mhaVersion = "0.58"

// cliEnv is what the commands reach outside the process; tests replace it.
type cliEnv struct {
	eng engine
	// serviceDir (daemontools' /service) and mhaConfDir (MHA's default
	// configuration directory) are where masterha_check_status and
	// masterha_stop look for applications with --all and --app.
	serviceDir, mhaConfDir string
	// hangups gives the SIGHUPs that make gomha manager read its
	// configuration files again, and a func to stop them (default: the
	// process's own).
	hangups func() (<-chan os.Signal, func())
}

// sighups is env.hangups, or the process's own SIGHUPs.
func (e cliEnv) sighups() (<-chan os.Signal, func()) {
	if e.hangups != nil {
		return e.hangups()
	}
	return hangupSignals()
}

func defaultEnv() cliEnv {
	return cliEnv{eng: managerEngine{}, serviceDir: "/service", mhaConfDir: "/usr/local/masterha/conf"}
}

func newRootCmd(stdout, stderr io.Writer, env cliEnv) *cobra.Command {
	root := &cobra.Command{
		Use:   "gomha",
		Short: "MySQL/MariaDB master failover manager, compatible with MHA",
		Long: `gomha watches a replicated MySQL/MariaDB cluster, and when the master dies it
promotes the most advanced replica, recovers the events the others lack, and
repoints every replica. It reads MHA's configuration files and answers to
MHA's command names (masterha_check_repl, masterha_check_ssh, ...).
Shell completion: gomha completion bash|zsh|fish|powershell.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(newCheckCmd(env), newSandboxCmd(), newFailoverCmd(env.eng), newManagerCmd(env), newShowCmd(),
		newConfHostCmd(false), newStopCmd("stop --conf FILE", false, env), newSwitchCmd(env.eng))
	for _, c := range newMHACmds(env) {
		root.AddCommand(c)
	}
	root.InitDefaultCompletionCmd()
	finish(root)
	return root
}

// finish gives every command of the tree what all share: --version, the
// other spelling of option names (gomha's dashes under MHA names, MHA's
// underscores under gomha's), and the warnings of accepted-only options.
func finish(root *cobra.Command) {
	root.SetVersionTemplate("gomha version {{.Version}}\n")
	root.SetGlobalNormalizationFunc(spelling("_", "-"))
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.Version = version
		if isMHA(c) {
			c.SetGlobalNormalizationFunc(spelling("-", "_"))
			c.SetVersionTemplate(c.Name() + " version " + mhaVersion + " (gomha {{.Version}})\n")
			c.Flags().Bool("version", false, "print the version and exit")
			c.SetHelpFunc(mhaHelp)
			c.SetUsageFunc(mhaUsage)
		}
		if run := c.RunE; run != nil {
			c.RunE = func(cmd *cobra.Command, args []string) error {
				warnAccepted(cmd, cmd.ErrOrStderr())
				return run(cmd, args)
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// spelling makes from an option name the spelling a command registers.
func spelling(from, to string) func(*pflag.FlagSet, string) pflag.NormalizedName {
	return func(_ *pflag.FlagSet, name string) pflag.NormalizedName {
		return pflag.NormalizedName(strings.ReplaceAll(name, from, to))
	}
}

// confFlags are the options every configuration-reading command takes.
type confFlags struct {
	conf, global string
}

func (f *confFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.conf, "conf", "", "application configuration `file` (MHA format, e.g. app1.cnf)")
	cmd.Flags().StringVar(&f.global, "global-conf", "", "global configuration `file` (default /etc/masterha_default.cnf when it exists)")
	_ = cmd.MarkFlagRequired("conf")
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write JSON: %w", err)
	}
	return nil
}
