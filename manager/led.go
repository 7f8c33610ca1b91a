package manager

import (
	"context"
	"errors"

	"github.com/gomha/gomha/coord"
	"github.com/gomha/gomha/manager/config"
)

// Leader elects one manager per cluster among several (etcd): Lead
// returns once this manager leads app, with a context that ends when it
// stops leading, and the function that resigns.
type Leader interface {
	Lead(ctx context.Context, app string) (context.Context, func(), error)
}

// RunLed runs RunManager only while this manager leads the cluster, and
// campaigns again when it stops leading (it was cut off from etcd, or
// deposed in the middle of a failover, which its successor finishes).
// opts.Coord must be the cluster's coordination from the same etcd.
// RunLed returns when ctx ends (nil) or when RunManager ends by itself
// (masterha_manager after its failover, or an error).
func RunLed(ctx context.Context, l Leader, cfg *config.Config, opts ManagerOptions) error {
	if opts.Console == nil {
		opts.Console = NewConsole(nil)
	}
	con := opts.Console
	for {
		con.Infof("Campaigning to lead the managers of %s..", cfg.App)
		lctx, resign, err := StandBy(ctx, l, cfg)
		if err != nil {
			if ctx.Err() != nil {
				return nil // a clean stop
			}
			return err
		}
		con.Infof("This manager leads %s: watching it.", cfg.App)
		err = RunManager(lctx, cfg, opts)
		if ctx.Err() != nil || lctx.Err() == nil {
			resign()
			return err // stopped, or ended by itself
		}
		if err != nil && !errors.Is(err, ErrDeposed) {
			con.Warnf("%v", err)
		}
		con.Warnf("No longer leading %s (%v): campaigning again.", cfg.App, context.Cause(lctx))
		resign()
	}
}

// StandBy waits for the leadership of cfg's cluster holding the manager's
// presence in manager_workdir as a standby, so that check status on this
// host says so, and another manager of the cluster there is refused. Its
// error is Lead's (ctx ended) or the presence's (ErrAlreadyRunning).
func StandBy(ctx context.Context, l Leader, cfg *config.Config) (context.Context, func(), error) {
	p, err := claimPresence(cfg, coord.ClaimStandby)
	if err != nil {
		return nil, nil, err
	}
	defer p.Release()
	return l.Lead(ctx, cfg.App)
}
