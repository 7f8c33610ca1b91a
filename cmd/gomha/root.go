package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// version is set by the Makefile with -ldflags.
var version = "dev"

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "gomha",
		Short: "MySQL/MariaDB master failover manager, compatible with MHA",
		Long: `gomha watches a replicated MySQL/MariaDB cluster, and when the master dies it
promotes the most advanced replica, recovers the events the others lack, and
repoints every replica. It reads MHA's configuration files and answers to
MHA's command names (masterha_check_repl, masterha_check_ssh, ...).`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(newCheckCmd(), newSandboxCmd(), newFailoverCmd(), newManagerCmd(), newShowCmd(), newConfHostCmd(false), newStopCmd("stop --conf FILE", false), newSwitchCmd())
	for _, c := range newMHACmds() {
		root.AddCommand(c)
	}
	return root
}

// confFlags are the options every configuration-reading command takes.
type confFlags struct {
	conf, global string
}

func (f *confFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.conf, "conf", "", "application configuration file (MHA format, e.g. app1.cnf)")
	cmd.Flags().StringVar(&f.global, "global-conf", "", "global configuration file (default /etc/masterha_default.cnf when it exists)")
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
