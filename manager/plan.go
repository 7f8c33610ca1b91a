package manager

import (
	"context"
	"fmt"
	"time"

	"github.com/gomha/gomha/failover"
	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/topology"
)

// DryRun plans a failover of dead from the cluster as it is now, changing
// nothing: what --dry-run prints.
func DryRun(ctx context.Context, cfg *config.Config, opts FailoverOptions) (*failover.Plan, error) {
	env := NewEnv(cfg, opts.Logger)
	env.LocalAddr, env.AcceptNewHostKeys = opts.LocalAddr, opts.AcceptNewHostKeys
	snap := env.Snapshot(ctx, opts.Dead)
	ssh := false
	if opts.SSHReachable != nil {
		ssh = *opts.SSHReachable
	} else if sh, err := env.Shell(ctx, opts.Dead); err == nil {
		ssh = true
		sh.Close()
	}
	first := cfg.Servers[0]
	return failover.PlanFailover(snap, opts.Dead, failover.PlanOptions{
		NewMasterHost: opts.NewMaster, LatestPriority: first.LatestPriority, CheckReplDelay: first.CheckReplDelay,
		GTID: first.UseGTIDAutoPos, MultiTierSlave: first.MultiTierSlave, SSHReachable: ssh && !opts.SkipSalvage,
	})
}

// MasterAnswers reports whether the server accepts a MySQL connection
// within a second (MHA's double check before a manual failover). Servers
// that refuse our credentials are alive too.
func MasterAnswers(ctx context.Context, cfg *config.Config, key topology.Key, localAddr string) (bool, error) {
	env := NewEnv(cfg, nil)
	env.LocalAddr, env.ConnectTimeout = localAddr, time.Second
	cctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	n, err := env.Connect(cctx, key)
	if err == nil {
		n.Close()
		return true, nil
	}
	if topology.ConnErrorKindOf(err).ServerAlive() {
		return true, fmt.Errorf("%s answers but refuses: %w", key, err)
	}
	return false, nil
}
