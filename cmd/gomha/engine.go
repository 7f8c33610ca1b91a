package main

import (
	"context"

	"github.com/gomha/gomha/failover"
	"github.com/gomha/gomha/manager"
	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/topology"
)

// engine is what the commands ask of package manager. The commands only
// turn a command line into options; the CLI tests give them a recording
// engine to check that every option lands where MHA means it to, without
// servers.
type engine interface {
	CheckRepl(ctx context.Context, cfg *config.Config, opts manager.CheckReplOptions, con *manager.Console) (*manager.ReplReport, error)
	CheckSSH(ctx context.Context, cfg *config.Config, opts manager.SSHCheckOptions, con *manager.Console) ([]manager.SSHHostResult, error)
	RunManager(ctx context.Context, cfg *config.Config, opts manager.ManagerOptions) error
	RunLed(ctx context.Context, l manager.Leader, cfg *config.Config, opts manager.ManagerOptions) error
	RunFailover(ctx context.Context, cfg *config.Config, opts manager.FailoverOptions) (*failover.Report, error)
	DryRun(ctx context.Context, cfg *config.Config, opts manager.FailoverOptions) (*failover.Plan, error)
	MasterAnswers(ctx context.Context, cfg *config.Config, key topology.Key, localAddr string) (bool, error)
	RunSwitchover(ctx context.Context, cfg *config.Config, opts manager.SwitchOptions) (*failover.Report, error)
}

// managerEngine is the engine of the real commands.
type managerEngine struct{}

func (managerEngine) CheckRepl(ctx context.Context, cfg *config.Config, opts manager.CheckReplOptions, con *manager.Console) (*manager.ReplReport, error) {
	return manager.CheckRepl(ctx, cfg, opts, con)
}

func (managerEngine) CheckSSH(ctx context.Context, cfg *config.Config, opts manager.SSHCheckOptions, con *manager.Console) ([]manager.SSHHostResult, error) {
	return manager.CheckSSH(ctx, cfg, opts, con)
}

func (managerEngine) RunManager(ctx context.Context, cfg *config.Config, opts manager.ManagerOptions) error {
	return manager.RunManager(ctx, cfg, opts)
}

func (managerEngine) RunLed(ctx context.Context, l manager.Leader, cfg *config.Config, opts manager.ManagerOptions) error {
	return manager.RunLed(ctx, l, cfg, opts)
}

func (managerEngine) RunFailover(ctx context.Context, cfg *config.Config, opts manager.FailoverOptions) (*failover.Report, error) {
	return manager.RunFailover(ctx, cfg, opts)
}

func (managerEngine) DryRun(ctx context.Context, cfg *config.Config, opts manager.FailoverOptions) (*failover.Plan, error) {
	return manager.DryRun(ctx, cfg, opts)
}

func (managerEngine) MasterAnswers(ctx context.Context, cfg *config.Config, key topology.Key, localAddr string) (bool, error) {
	return manager.MasterAnswers(ctx, cfg, key, localAddr)
}

func (managerEngine) RunSwitchover(ctx context.Context, cfg *config.Config, opts manager.SwitchOptions) (*failover.Report, error) {
	return manager.RunSwitchover(ctx, cfg, opts)
}
