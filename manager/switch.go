package manager

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/gomha/gomha/failover"
	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/node"
	"github.com/gomha/gomha/topology"
)

// ErrMonitorRunning: a manager monitors the cluster; a switchover under its
// feet would look like a dead master to it.
var ErrMonitorRunning = errors.New("a manager is monitoring this master")

// SwitchOptions are masterha_master_switch --master_state=alive's options
// (and gomha switch's).
type SwitchOptions struct {
	NewMaster            topology.Key // --new_master_host/port; zero = choose
	OrigIsNewSlave       bool
	RunningUpdatesLimit  time.Duration // default 1 s
	RunningSecondsLimit  time.Duration // default 10 s
	SecondsBehindMaster  int64         // replicas' lag limit, default 30
	SkipLockAllTables    bool
	FlushTables          bool
	CheckOnly            bool
	RemoveOrigMasterConf bool
	TrxWait              time.Duration // default 1 s
	NoKill               bool
	CatchUpWait          time.Duration // default 5 s
	LocalAddr            string
	HookTimeout          time.Duration
	Logger               *slog.Logger
	Console              *Console
}

// RunSwitchover moves the master role of a live cluster (MHA's online
// switch), refusing while a manager monitors it. The report is written to
// manager_workdir (text and JSON) and returned whenever the switch started.
func RunSwitchover(ctx context.Context, cfg *config.Config, opts SwitchOptions) (*failover.Report, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	con := opts.Console
	if con == nil {
		con = NewConsole(nil)
	}
	if len(cfg.Servers) == 0 {
		return nil, fmt.Errorf("%s has no servers", cfg.File)
	}
	if err := monitorRunning(ctx, cfg, opts.LocalAddr); err != nil {
		return nil, err
	}
	if !opts.CheckOnly {
		act, err := acquire(ctx, cfg, "switchover", "", lockServers(cfg, topology.Key{}, opts.LocalAddr), logger)
		if err != nil {
			return nil, err
		}
		defer act.release()
	}
	env := NewEnv(cfg, logger)
	env.LocalAddr = opts.LocalAddr
	first := cfg.Servers[0]
	fo := failover.SwitchoverOptions{
		App: cfg.App,
		Plan: failover.SwitchOptions{NewMasterHost: opts.NewMaster, SecondsBehindMaster: opts.SecondsBehindMaster,
			GTID: first.UseGTIDAutoPos, MultiTierSlave: first.MultiTierSlave},
		OrigIsNewSlave: opts.OrigIsNewSlave, RunningUpdatesLimit: opts.RunningUpdatesLimit,
		RunningSecondsLimit: opts.RunningSecondsLimit, SkipLockAllTables: opts.SkipLockAllTables,
		FlushTables: opts.FlushTables, CheckOnly: opts.CheckOnly, SkipResetSlave: first.SkipResetSlave,
		TrxWait: opts.TrxWait, NoKill: opts.NoKill, CatchUpWait: opts.CatchUpWait, Logger: logger,
	}
	con.Infof("Starting online master switch..")
	rep, err := failover.Switchover(ctx, env, NewHooks(cfg, opts.HookTimeout), fo)
	if err == nil && opts.RemoveOrigMasterConf && !opts.CheckOnly {
		removeOrigMaster(cfg, rep, opts, con)
	}
	if !opts.CheckOnly {
		if werr := PrepareWorkdir(cfg.ManagerWorkdir); werr != nil {
			con.Warnf("%v", werr)
		} else if path, werr := writeReport(cfg, rep); werr != nil {
			con.Warnf("could not write the switchover report: %v", werr)
		} else {
			con.Infof("Switchover report written to %s (and .json)", path)
		}
	}
	con.Raw(rep.String())
	switch {
	case err == nil && opts.CheckOnly:
		con.Infof("Online master switch checks passed (--check_only): nothing was changed.")
	case err == nil:
		con.Infof("Switching master to %s completed successfully.", hostInfo(cfg, rep.NewMaster))
	case ExitCode(err) == ExitFailoverPartial:
		con.Errorf("Switching master to %s done, but switching slaves partially failed.", hostInfo(cfg, rep.NewMaster))
	default:
		con.Errorf("Online master switch failed: %v", err)
	}
	return rep, err
}

// removeOrigMaster deletes the old master's block from the configuration
// (--remove_orig_master_conf); as in MHA, not when it became a replica.
func removeOrigMaster(cfg *config.Config, rep *failover.Report, opts SwitchOptions, con *Console) {
	if opts.OrigIsNewSlave {
		con.Warnf("--remove_orig_master_conf is ignored with --orig_master_is_new_slave: the old master stays in %s", cfg.File)
		return
	}
	for _, s := range cfg.Servers {
		if TopologyServer(s).Key().String() != rep.OldMaster {
			continue
		}
		if err := config.EditHost(cfg.File, "delete", s.Name, "", nil); err != nil {
			con.Warnf("remove [%s] from %s: %v", s.Name, cfg.File, err)
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("could not remove [%s] from %s: %v", s.Name, cfg.File, err))
			return
		}
		con.Infof("Removed [%s] (%s) from %s", s.Name, rep.OldMaster, cfg.File)
		return
	}
}

// monitorRunning checks, in parallel on every configured server that
// answers, whether a manager holds its monitor lock.
func monitorRunning(ctx context.Context, cfg *config.Config, localAddr string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var mu sync.Mutex
	var held []string
	var wg sync.WaitGroup
	for _, s := range cfg.Servers {
		wg.Go(func() {
			mc := MySQLConfig(s, time.Second)
			mc.LocalAddr, mc.QueryTimeout = localAddr, time.Second
			sess, err := node.OpenMySQL(ctx, mc)
			if err != nil {
				return // the switchover's own checks report it
			}
			defer sess.Close()
			var holder sql.NullInt64
			if err := sess.DB().QueryRowContext(ctx, "SELECT /* gomha */ IS_USED_LOCK(?)", monitorLock).Scan(&holder); err == nil && holder.Valid {
				mu.Lock()
				held = append(held, fmt.Sprintf("%s (connection %d)", mc.Key, holder.Int64))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(held) > 0 {
		return fmt.Errorf("%w: GET_LOCK('%s') is held on %s; stop the manager (masterha_stop) and try again",
			ErrMonitorRunning, monitorLock, strings.Join(held, ", "))
	}
	return nil
}
