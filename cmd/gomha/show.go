package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/gomha/gomha/manager"
)

func newShowCmd() *cobra.Command {
	var cf confFlags
	var output string
	var ef etcdFlags
	cmd := &cobra.Command{
		Use:   "show --conf FILE",
		Short: "Show the cluster in one screen: tree, roles, lag, positions, read_only and the manager's view",
		Long: `Reads every configured server and the running manager's status file and
shows the replication tree with each server's role, state, replication
threads and lag, GTID position or binlog coordinates, read_only, and what the
manager thinks of the master (healthy, suspect, dead, failing over).
With --etcd it also shows what the cluster's managers share there: the
leader, every manager, the leader's status and view, a failover journal, the
last failover. Exit 0 when the cluster is healthy, 2 when it is not.`,
		Example: "  gomha show --conf app1.cnf\n  gomha show --conf app1.cnf -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "text" && output != "json" {
				return withCode(1, fmt.Errorf("--output %q: use text or json", output))
			}
			cfg, err := loadConfig(cmd, cf.conf, cf.global)
			if err != nil {
				return err
			}
			sh := manager.BuildShow(cmd.Context(), cfg, 2*time.Second)
			if ef.set() {
				v, err := sharedView(cmd.Context(), &ef, cfg.App)
				if err != nil {
					return withCode(1, err)
				}
				sh.SetShared(v)
			}
			if output == "json" {
				err = writeJSON(cmd.OutOrStdout(), sh)
			} else {
				_, err = fmt.Fprint(cmd.OutOrStdout(), sh.Text())
			}
			if err != nil {
				return err
			}
			if !sh.Healthy {
				return &silentError{code: exitUnhealthy}
			}
			return nil
		},
	}
	cf.register(cmd)
	ef.register(cmd, false)
	outputFlag(cmd, &output)
	return cmd
}

// sharedView reads what etcd holds of app.
func sharedView(ctx context.Context, ef *etcdFlags, app string) (manager.SharedView, error) {
	c, err := ef.open(nil)
	if err != nil {
		return manager.SharedView{}, err
	}
	defer c.Close()
	snap, err := c.Read(ctx, app)
	if err != nil {
		return manager.SharedView{}, err
	}
	var leader string
	if snap.Leader != nil {
		leader = snap.Leader.String()
	}
	var managers []string
	for _, m := range snap.Managers {
		managers = append(managers, m.String())
	}
	return manager.NewSharedView(leader, managers, snap.Journal, snap.State), nil
}
