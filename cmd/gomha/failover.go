package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/gomha/gomha/manager"
	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/topology"
)

// failoverFlags are the options of a manual failover, native and MHA.
type failoverFlags struct {
	deadHost, deadIP, newHost string
	deadPort, newPort         int
	dryRun, ignoreLast        bool
	resume, removeDead        bool
	skipSalvage, skipDisable  bool
	skipChange, acceptNew     bool
	lastMinute                int
	localAddr                 string
	hookTimeout               time.Duration
	output                    string
	ssh                       int // MHA's --ssh_reachable: 0, 1, 2 = check
	// logFile is where progress and logs go ("" = standard output and error).
	logFile, workdir string
	etcd             etcdFlags
}

// serverKey finds a configured server by hostname or IP and port.
func serverKey(cfg *config.Config, host string, port int, what string) (topology.Key, error) {
	if host == "" {
		return topology.Key{}, nil
	}
	s, ok := cfg.Server(host, port)
	if !ok {
		return topology.Key{}, withCode(1, fmt.Errorf("%s %s:%d is not a server of %s", what, host, port, cfg.File))
	}
	return manager.TopologyServer(s).Key(), nil
}

// deadKey is the dead master named by --dead_master_host and/or
// --dead_master_ip (they must name the same server).
func (f *failoverFlags) deadKey(cfg *config.Config) (topology.Key, error) {
	byHost, err := serverKey(cfg, f.deadHost, f.deadPort, "dead master")
	if err != nil {
		return topology.Key{}, err
	}
	byIP, err := serverKey(cfg, f.deadIP, f.deadPort, "dead master")
	switch {
	case err != nil:
		return topology.Key{}, err
	case byHost.IsZero():
		return byIP, nil
	case !byIP.IsZero() && byIP != byHost:
		return topology.Key{}, withCode(1, fmt.Errorf("--dead_master_host %s and --dead_master_ip %s are different servers", f.deadHost, f.deadIP))
	}
	return byHost, nil
}

func (f *failoverFlags) options(ctx context.Context, cfg *config.Config, con *manager.Console, logger *slog.Logger, shared manager.Coordination) (manager.FailoverOptions, error) {
	dead, err := f.deadKey(cfg)
	if err != nil {
		return manager.FailoverOptions{}, err
	}
	if f.resume {
		was, err := manager.InterruptedDead(cfg)
		if shared != nil {
			was, err = manager.SharedInterruptedDead(ctx, shared)
		}
		switch {
		case err != nil:
			return manager.FailoverOptions{}, withCode(1, err)
		case was.IsZero():
			return manager.FailoverOptions{}, withCode(1, fmt.Errorf("--resume: no interrupted failover in %s", cfg.ManagerWorkdir))
		case !dead.IsZero() && dead != was:
			return manager.FailoverOptions{}, withCode(1, fmt.Errorf("--resume: the interrupted failover was of %s, not %s", was, dead))
		}
		dead = was
	}
	if dead.IsZero() {
		return manager.FailoverOptions{}, withCode(1, errors.New("--dead_master_host is required"))
	}
	nm, err := serverKey(cfg, f.newHost, f.newPort, "new master")
	if err != nil {
		return manager.FailoverOptions{}, err
	}
	var sshReachable *bool
	if f.ssh == 0 || f.ssh == 1 {
		b := f.ssh == 1
		sshReachable = &b
	}
	return manager.FailoverOptions{
		SSHReachable: sshReachable, Dead: dead, NewMaster: nm, IgnoreLastFailover: f.ignoreLast, LastFailoverMinute: f.lastMinute,
		SkipSalvage: f.skipSalvage, SkipDisableRO: f.skipDisable, SkipChangeMaster: f.skipChange, LocalAddr: f.localAddr,
		AcceptNewHostKeys: f.acceptNew, HookTimeout: f.hookTimeout, Logger: logger, Console: con, Resume: f.resume, Coord: shared,
	}, nil
}

// runManualFailover is the engine of the automatic failover started by a
// person: it refuses while the master answers.
func runManualFailover(cmd *cobra.Command, eng engine, cfg *config.Config, f *failoverFlags, exitFail int) error {
	if f.workdir != "" {
		cfg.ManagerWorkdir = f.workdir
	}
	con, err := consoleFor(cmd, f.output)
	if err != nil {
		return err
	}
	logger := cliLogger(cmd)
	if f.logFile != "" {
		w, _, closeLog, err := logTo(f.logFile, nil, nil)
		if err != nil {
			return err
		}
		defer closeLog()
		con, logger = manager.NewConsole(w), slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	var shared manager.Coordination
	if f.etcd.set() && !f.dryRun {
		f.etcd.sourceAddr = &f.localAddr
		c, err := f.etcd.open(logger)
		if err != nil {
			return err
		}
		defer c.Close()
		_, resign, err := leadNow(cmd.Context(), c, cfg.App)
		if err != nil {
			return withCode(exitFail, err)
		}
		defer resign()
		shared = c.Cluster(cfg.App)
	}
	opts, err := f.options(cmd.Context(), cfg, con, logger, shared)
	if err != nil {
		return err
	}
	if f.dryRun {
		plan, err := eng.DryRun(cmd.Context(), cfg, opts)
		if err != nil {
			return withCode(exitFail, err) // PlanFailover's errors name the dead master
		}
		if f.output == "json" {
			return writeJSON(cmd.OutOrStdout(), plan)
		}
		fmt.Fprint(cmd.OutOrStdout(), plan.String())
		return nil
	}
	alive, aerr := eng.MasterAnswers(cmd.Context(), cfg, opts.Dead, opts.LocalAddr)
	if alive && !opts.Resume {
		msg := fmt.Sprintf("master %s is alive (it accepts connections): refusing to fail over; use masterha_master_switch --master_state=alive for a switchover", opts.Dead)
		if aerr != nil {
			msg += " (" + aerr.Error() + ")"
		}
		return withCode(exitFail, errors.New(msg))
	}
	stop := answerInterrupts(cmd.Context(), cmd.ErrOrStderr(), func() string { return manager.Progress(cfg) })
	rep, err := eng.RunFailover(cmd.Context(), cfg, opts)
	stop()
	if f.output == "json" && rep != nil {
		if jerr := writeJSON(cmd.OutOrStdout(), rep); jerr != nil {
			return jerr
		}
	}
	if err != nil {
		return withCode(manager.ExitCode(err), err)
	}
	if f.removeDead {
		removeServerBlock(cfg, opts.Dead.String(), con)
	}
	return nil
}

func newFailoverCmd(eng engine) *cobra.Command {
	var cf confFlags
	var f failoverFlags
	cmd := &cobra.Command{
		Use:   "failover --conf FILE --dead-master-host HOST",
		Short: "Fail over a dead master now (refused while it answers)",
		Long: `Runs the failover engine on a master that is down: fence it, let the replicas
apply what they received, choose the new master (candidate_master, no_master,
latest replica), recover the events the others lack (relay logs, and the dead
master's binlog over SSH when its host answers), promote and repoint.
--dry-run prints the plan and changes nothing. Exit 0 on success, 10 when the
master switched but some replica could not be recovered, 1 otherwise.`,
		Example: "  gomha failover --conf app1.cnf --dead-master-host 127.0.0.11 --dry-run\n  gomha failover --conf app1.cnf --dead-master-host 127.0.0.11",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd, cf.conf, cf.global)
			if err != nil {
				return err
			}
			return runManualFailover(cmd, eng, cfg, &f, manager.ExitFailoverError)
		},
	}
	cf.register(cmd)
	fl := cmd.Flags()
	fl.StringVar(&f.deadHost, "dead-master-host", "", "the dead master (hostname or IP as in the configuration)")
	fl.StringVar(&f.deadIP, "dead-master-ip", "", "the dead master's IP (instead of, or with, --dead-master-host)")
	fl.IntVar(&f.deadPort, "dead-master-port", 3306, "its port")
	fl.StringVar(&f.newHost, "new-master-host", "", "promote this server (no fallback when it cannot be)")
	fl.IntVar(&f.newPort, "new-master-port", 3306, "its port")
	fl.BoolVar(&f.dryRun, "dry-run", false, "print the plan and change nothing")
	fl.BoolVar(&f.ignoreLast, "ignore-last-failover", false, "ignore a recent or failed previous failover")
	fl.IntVar(&f.lastMinute, "last-failover-minute", 480, "a previous failover this many `minutes` old or less is recent")
	fl.BoolVar(&f.resume, "resume", false, "finish a failover that was interrupted (its journal in manager_workdir says where it stood; nothing is applied twice)")
	fl.BoolVar(&f.skipSalvage, "skip-save-master-binlog", false, "do not read the dead master's binlog over SSH")
	fl.BoolVar(&f.skipDisable, "skip-disable-read-only", false, "leave read_only=ON on the new master")
	fl.BoolVar(&f.skipChange, "skip-change-master", false, "promote the new master but leave the other replicas as they are")
	fl.BoolVar(&f.removeDead, "remove-dead-master-conf", false, "remove the dead master's block from the configuration after a successful failover")
	fl.StringVar(&f.workdir, "workdir", "", "state `directory` (default manager_workdir)")
	fl.StringVar(&f.logFile, "log-output", "", "write progress and logs to this `file` instead of standard output and error")
	fl.StringVar(&f.localAddr, "source-addr", "", "source address for connections to the servers")
	fl.BoolVar(&f.acceptNew, "accept-new-host-keys", false, "record unknown SSH host keys")
	fl.DurationVar(&f.hookTimeout, "hook-timeout", time.Minute, "deadline of each hook script")
	f.etcd.register(cmd, true)
	f.ssh = 2
	outputFlag(cmd, &f.output)
	return cmd
}

// removeServerBlock deletes the [server] block of the server whose key
// prints as key (--remove_dead_master_conf after a successful failover).
func removeServerBlock(cfg *config.Config, key string, con *manager.Console) {
	for _, s := range cfg.Servers {
		if manager.TopologyServer(s).Key().String() != key {
			continue
		}
		if err := config.EditHost(cfg.File, "delete", s.Name, "", nil); err != nil {
			con.Warnf("could not remove [%s] from %s: %v", s.Name, cfg.File, err)
			return
		}
		con.Infof("Removed [%s] (the dead master) from %s", s.Name, cfg.File)
		return
	}
}
