package main

import (
	"errors"
	"time"

	"github.com/spf13/cobra"

	"github.com/gomha/gomha/manager"
	"github.com/gomha/gomha/manager/config"
)

// switchFlags are the options of an online switchover, native and MHA.
type switchFlags struct {
	newHost string
	newPort int

	origIsNewSlave, skipLock, checkOnly, removeOrig, noKill bool
	flushTables                                             bool
	updatesLimit, secondsLimit, trxWait, catchUp, hookTime  time.Duration
	secondsBehind                                           int64
	localAddr, workdir                                      string

	// MHA spells limits as whole seconds and flush_tables as 0/1/2.
	mhaUpdates, mhaSeconds, mhaFlush int
	mha                              bool
}

// register adds the switchover options. With mha, MHA's spelling, and
// only those of --master_state=alive: masterha_master_switch registers the
// options both states share.
func (s *switchFlags) register(cmd *cobra.Command, mha bool) {
	s.mha = mha
	fl := cmd.Flags()
	if mha {
		fl.BoolVar(&s.checkOnly, "check_only", false, "run the checks and change nothing")
		fl.BoolVar(&s.origIsNewSlave, "orig_master_is_new_slave", false, "make the old master a replica of the new one")
		fl.IntVar(&s.mhaUpdates, "running_updates_limit", 1, "refuse when the master runs updates, or the new master lags, this many `seconds`")
		fl.IntVar(&s.mhaSeconds, "running_seconds_limit", 10, "refuse when a query has run this many `seconds` on the new master")
		fl.Int64Var(&s.secondsBehind, "seconds_behind_master", 30, "refuse when a replica lags more (`seconds`)")
		fl.BoolVar(&s.skipLock, "skip_lock_all_tables", false, "do not set read_only / FTWRL on the old master (the online change script stops writes)")
		fl.IntVar(&s.mhaFlush, "flush_tables", 2, "FLUSH NO_WRITE_TO_BINLOG TABLES on the master first: 0 no, 1/2 yes")
		fl.DurationVar(&s.trxWait, "trx_wait", time.Second, "gomha: wait this long for open write transactions on the old master, then kill them")
		fl.BoolVar(&s.noKill, "no_kill", false, "gomha: undo the switch instead of killing open write transactions")
		fl.DurationVar(&s.catchUp, "catchup_timeout", 5*time.Second, "gomha: bound on the new master's catch-up while writes are blocked")
		return
	}
	fl.StringVar(&s.newHost, "new-master-host", "", "promote this server (default: chosen as MHA does)")
	fl.IntVar(&s.newPort, "new-master-port", 3306, "its port")
	fl.BoolVar(&s.origIsNewSlave, "orig-master-is-new-slave", false, "make the old master a replica of the new one")
	fl.DurationVar(&s.updatesLimit, "running-updates-limit", time.Second, "refuse when the master runs updates, or the new master lags, this long")
	fl.DurationVar(&s.secondsLimit, "running-seconds-limit", 10*time.Second, "refuse when a query has run this long on the new master")
	fl.Int64Var(&s.secondsBehind, "seconds-behind-master", 30, "refuse when a replica lags more (seconds)")
	fl.BoolVar(&s.skipLock, "skip-lock-all-tables", false, "do not set read_only / FTWRL on the old master (the online change script stops writes)")
	fl.BoolVar(&s.flushTables, "flush-tables", false, "FLUSH NO_WRITE_TO_BINLOG TABLES on the master first")
	fl.BoolVar(&s.removeOrig, "remove-orig-master-conf", false, "remove the old master's block from the configuration afterwards")
	fl.BoolVar(&s.checkOnly, "check-only", false, "run the checks and change nothing")
	fl.DurationVar(&s.trxWait, "trx-wait", time.Second, "wait this long for open write transactions on the old master, then kill them")
	fl.BoolVar(&s.noKill, "no-kill", false, "undo the switch instead of killing open write transactions")
	fl.DurationVar(&s.catchUp, "catchup-timeout", 5*time.Second, "bound on the new master's catch-up while writes are blocked")
	fl.DurationVar(&s.hookTime, "hook-timeout", time.Minute, "deadline of each hook script")
	fl.StringVar(&s.localAddr, "source-addr", "", "source address for connections to the servers")
	fl.StringVar(&s.workdir, "workdir", "", "manager_workdir for the report (default from the configuration)")
	fl.Bool("accept-new-host-keys", false, "")
	accepted(cmd, "accept-new-host-keys", noSSHSwitch, "false")
}

// noSSHSwitch is why a switchover takes --accept-new-host-keys and does
// nothing with it.
const noSSHSwitch = "a switchover opens no SSH connection (hook scripts run their own ssh): nothing to accept"

// runSwitchover runs the online switchover; exit 0, 10 (switched, some
// replica failed) or 1 (refused, failed, rolled back).
func runSwitchover(cmd *cobra.Command, eng engine, cfg *config.Config, s *switchFlags, output string) error {
	con, err := consoleFor(cmd, output)
	if err != nil {
		return err
	}
	nm, err := serverKey(cfg, s.newHost, s.newPort, "new master")
	if err != nil {
		return err
	}
	if s.mha {
		s.updatesLimit = time.Duration(s.mhaUpdates) * time.Second
		s.secondsLimit = time.Duration(s.mhaSeconds) * time.Second
		s.flushTables = s.mhaFlush != 0
	}
	if s.workdir != "" {
		cfg.ManagerWorkdir = s.workdir
	}
	opts := manager.SwitchOptions{
		NewMaster: nm, OrigIsNewSlave: s.origIsNewSlave, RunningUpdatesLimit: s.updatesLimit,
		RunningSecondsLimit: s.secondsLimit, SecondsBehindMaster: s.secondsBehind, SkipLockAllTables: s.skipLock,
		FlushTables: s.flushTables, CheckOnly: s.checkOnly, RemoveOrigMasterConf: s.removeOrig,
		TrxWait: s.trxWait, NoKill: s.noKill, CatchUpWait: s.catchUp, LocalAddr: s.localAddr,
		HookTimeout: s.hookTime, Logger: cliLogger(cmd), Console: con,
	}
	stop := answerInterrupts(cmd.Context(), cmd.ErrOrStderr(), func() string {
		return "the switchover is moving writes to the new master; it finishes, or rolls back on a failure, by itself"
	})
	rep, err := eng.RunSwitchover(cmd.Context(), cfg, opts)
	stop()
	if output == "json" && rep != nil {
		if jerr := writeJSON(cmd.OutOrStdout(), rep); jerr != nil {
			return jerr
		}
	}
	if err != nil {
		return withCode(manager.ExitCode(err), err)
	}
	return nil
}

func newSwitchCmd(eng engine) *cobra.Command {
	var cf confFlags
	var s switchFlags
	var output string
	cmd := &cobra.Command{
		Use:   "switch --conf FILE [--new-master-host HOST]",
		Short: "Online switchover: move the master role away from a live master",
		Long: `Checks the cluster (replicas healthy, new master not lagging, no long updates on
the master, no long queries on the new master), then blocks writes on the
master (master_ip_online_change_script --command=stop, read_only=ON, open
write transactions waited for or killed), waits until the new master has every
event, promotes it, runs --command=start and repoints the other replicas in
parallel. A failure before the new master takes writes is undone: the old
master takes writes again. --check-only runs the checks and changes nothing.
Exit 0 on success, 10 when the master switched but some replica could not be
repointed, 1 otherwise.`,
		Example: "  gomha switch --conf app1.cnf --new-master-host 127.0.0.12 --orig-master-is-new-slave",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd, cf.conf, cf.global)
			if err != nil {
				return err
			}
			if s.removeOrig && s.origIsNewSlave {
				return withCode(1, errors.New("--remove-orig-master-conf and --orig-master-is-new-slave exclude each other"))
			}
			return runSwitchover(cmd, eng, cfg, &s, output)
		},
	}
	cf.register(cmd)
	s.register(cmd, false)
	outputFlag(cmd, &output)
	return cmd
}
