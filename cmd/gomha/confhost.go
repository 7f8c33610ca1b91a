package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gomha/gomha/manager"
)

// newConfHostCmd is masterha_conf_host / gomha conf-host: add or delete a
// [server...] block; the file is rewritten atomically with its comments.
func newConfHostCmd(mha bool) *cobra.Command {
	var conf, command, hostname, block, params string
	use := "conf-host --conf FILE --command add|delete --hostname HOST"
	if mha {
		use = "masterha_conf_host"
	}
	cmd := &cobra.Command{
		Use:     use,
		Short:   "Add or delete a server block in a configuration file (comments kept, atomic write)",
		Example: `  gomha conf-host --conf app1.cnf --command add --hostname 127.0.0.14 --params "port=3306;candidate_master=1"`,
		Hidden:  mha,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			kv, err := parseParams(params)
			if err != nil {
				return withCode(1, err)
			}
			if command == "add" && hostname == "" {
				return withCode(1, fmt.Errorf("--hostname is required to add a block"))
			}
			if err := manager.ConfHost(cmd.Context(), conf, "", command, block, hostname, kv, cliLogger(cmd)); err != nil {
				return withCode(1, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %s done.\n", conf, command)
			return nil
		},
	}
	if mha {
		cmd.Annotations = map[string]string{annSynopsis: "masterha_conf_host --command=add --conf=<config file> --hostname=<host> [--block=<name>] [--params=\"key=value;...\"]\n" +
			"masterha_conf_host --command=delete --conf=<config file> --block=<name>"}
		cmd.Flags().SortFlags = false
	}
	cmd.Flags().StringVar(&conf, "conf", "", "configuration `file` to edit")
	cmd.Flags().StringVar(&command, "command", "", "add or delete (remove is the same)")
	cmd.Flags().StringVar(&hostname, "hostname", "", "the server's `hostname` (add)")
	cmd.Flags().StringVar(&block, "block", "", "block `name` (default server_<hostname>; 'server' is prefixed if missing)")
	cmd.Flags().StringVar(&params, "params", "", "`parameters` of the new block, \"key=value;key=value\"")
	_ = cmd.MarkFlagRequired("conf")
	_ = cmd.MarkFlagRequired("command")
	return cmd
}

func parseParams(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range strings.Split(s, ";") {
		kv = strings.TrimSpace(kv)
		if kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, fmt.Errorf("--params: %q is not key=value", kv)
		}
		out[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return out, nil
}
