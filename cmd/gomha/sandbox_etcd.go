package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gomha/gomha/sandbox/etcdsandbox"
)

// newSandboxEtcdCmd builds `gomha sandbox etcd up|down`: a 3-member etcd
// on 127.0.2.x for the demo of several managers, in DIR.
func newSandboxEtcdCmd(dir *string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "etcd",
		Short: "Start and stop a local 3-member etcd (127.0.2.1-3) for several managers",
		Long: `A local etcd cluster for the managers to coordinate through: one
/usr/bin/etcd process per member, member i on 127.0.2.i (client port 2379,
peer port 2380), data and logs in DIR/etcdN. Its pids are recorded in
DIR/etcd.json; down stops exactly those and keeps the data, so up starts
the same cluster again.`,
	}
	cmd.AddCommand(newSandboxEtcdUpCmd(dir), newSandboxEtcdDownCmd(dir))
	return cmd
}

func newSandboxEtcdUpCmd(dir *string) *cobra.Command {
	var opts etcdsandbox.Options
	cmd := &cobra.Command{
		Use:     "up --dir DIR",
		Short:   "Start the etcd members (the cluster in DIR, or a new one) and print the endpoints",
		Example: "  gomha sandbox etcd up --dir /tmp/etcd\n  gomha manager --etcd $(gomha sandbox etcd up --dir /tmp/etcd --quiet) ...",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			quiet, _ := cmd.Flags().GetBool("quiet")
			opts.Dir, opts.Logger = *dir, cliLogger(cmd)
			c, err := etcdsandbox.Up(cmd.Context(), opts)
			if err != nil {
				return err
			}
			eps := strings.Join(c.Endpoints(), ",")
			if quiet {
				fmt.Fprintln(cmd.OutOrStdout(), eps)
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "etcd sandbox up: %d members in %s, data in %s\nendpoints: %s\ntry: etcdctl --endpoints=%s endpoint status -w table\n",
				len(c.Members), c.UpDuration.Round(1e6), c.Dir, eps, eps)
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&opts.Addrs, "addrs", nil, "member addresses (default 127.0.2.1,127.0.2.2,127.0.2.3)")
	cmd.Flags().IntVar(&opts.ClientPort, "client-port", etcdsandbox.DefaultClientPort, "client port on every member address")
	cmd.Flags().IntVar(&opts.PeerPort, "peer-port", etcdsandbox.DefaultPeerPort, "peer port on every member address")
	cmd.Flags().Bool("quiet", false, "print only the endpoints, comma-separated")
	return cmd
}

func newSandboxEtcdDownCmd(dir *string) *cobra.Command {
	return newDownCmd(dir, "etcd sandbox", "Stop the etcd members started in DIR and undo its cuts (and remove DIR with --remove)",
		"also remove the directory and its data", etcdsandbox.Open, func(c *etcdsandbox.Cluster) string {
			return fmt.Sprintf("%s (endpoints were %s)", c.Dir, strings.Join(c.Endpoints(), ","))
		})
}
