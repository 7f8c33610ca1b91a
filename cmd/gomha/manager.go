package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/gomha/gomha/manager"
	"github.com/gomha/gomha/manager/config"
)

// managerFlags are shared by gomha manager and masterha_manager.
type managerFlags struct {
	ignoreLast, skipSalvage, removeDead bool
	lastMinute                          int
	localAddr, logOutput, workdir       string
	hookTimeout                         time.Duration
	sbm                                 int64
	debug                               bool
}

func (m *managerFlags) run(cmd *cobra.Command, cfg *config.Config, once bool) error {
	if m.workdir != "" {
		cfg.ManagerWorkdir = m.workdir
	}
	logPath := cfg.ManagerLog
	if m.logOutput != "" {
		logPath = m.logOutput
	}
	out := cmd.OutOrStdout()
	logW := cmd.ErrOrStderr()
	if logPath != "" {
		f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
		if err != nil {
			return withCode(1, fmt.Errorf("manager_log %s: %w", logPath, err))
		}
		defer f.Close()
		out, logW = f, f
	}
	level := slog.LevelInfo
	if m.debug || cfg.LogLevel == "debug" {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(logW, &slog.HandlerOptions{Level: level}))
	release := interruptsFrom(cmd.Context()).hold(failingOver(cfg))
	err := manager.RunManager(cmd.Context(), cfg, manager.ManagerOptions{
		Once: once, IgnoreLastFailover: m.ignoreLast, LastFailoverMinute: m.lastMinute, SkipSalvage: m.skipSalvage,
		RemoveDeadConf: m.removeDead, LocalAddr: m.localAddr, HookTimeout: m.hookTimeout, SecondsBehind: m.sbm,
		Logger: logger, Console: manager.NewConsole(out),
	})
	release()
	if err != nil {
		return withCode(manager.ExitCode(err), err)
	}
	return nil
}

// failingOver tells main's interrupts that this process runs a failover:
// a second signal then does not end it half-way (masterha_stop --abort or
// SIGKILL still do).
func failingOver(cfg *config.Config) func() (bool, string) {
	return func() (bool, string) {
		st, err := manager.ReadStatus(cfg.ManagerWorkdir, cfg.App, 0)
		if err != nil || st.Code != manager.StatusFailoverRunning || st.PID != os.Getpid() {
			return false, ""
		}
		return true, "a failover is running: the manager stops once it has finished (SIGKILL stops it at once)"
	}
}

func (m *managerFlags) register(cmd *cobra.Command, mha bool) {
	name := func(native, mhaName string) string {
		if mha {
			return mhaName
		}
		return native
	}
	fl := cmd.Flags()
	fl.BoolVar(&m.ignoreLast, name("ignore-last-failover", "ignore_last_failover"), false, "fail over even after a recent or failed failover")
	fl.IntVar(&m.lastMinute, name("last-failover-minute", "last_failover_minute"), 480, "no second automatic failover within this many minutes")
	fl.BoolVar(&m.skipSalvage, name("skip-save-master-binlog", "skip_save_master_binlog"), false, "do not read the dead master's binlog over SSH")
	fl.BoolVar(&m.removeDead, name("remove-dead-master-conf", "remove_dead_master_conf"), false, "remove the dead master's block from the configuration after a failover")
	fl.StringVar(&m.localAddr, name("source-addr", "source_addr"), "", "source address for connections to the servers")
	fl.StringVar(&m.logOutput, name("log-output", "log_output"), "", "log file (default manager_log, else standard error)")
	fl.StringVar(&m.workdir, name("workdir", "manager_workdir"), "", "state directory (default manager_workdir)")
	fl.DurationVar(&m.hookTimeout, name("hook-timeout", "hook_timeout"), time.Minute, "deadline of each hook script")
	fl.Int64Var(&m.sbm, name("seconds-behind-master", "seconds_behind_master"), 30, "largest replication lag accepted at start-up")
	fl.BoolVar(&m.debug, "debug", false, "debug logging")
}

func newManagerCmd() *cobra.Command {
	var cf confFlags
	var m managerFlags
	cmd := &cobra.Command{
		Use:   "manager --conf FILE",
		Short: "Watch the master and fail over when it dies; then keep watching the new topology",
		Long: `Checks the cluster as check repl does, then checks the master every
ping_interval (ping_type CONNECT, SELECT or INSERT). A failed check makes the
master suspect; it is dead only when the replicas agree (and
secondary_check_script, when set). Then it fails over, writes the report in
manager_workdir, and goes on watching the new master. SIGTERM/SIGINT stop it
cleanly (never in the middle of a failover).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd.Context(), cf.conf, cf.global)
			if err != nil {
				return err
			}
			return m.run(cmd, cfg, false)
		},
	}
	cf.register(cmd)
	m.register(cmd, false)
	return cmd
}

func newMHAManagerCmd() *cobra.Command {
	var mc mhaConf
	var m managerFlags
	var ignored bool
	var ignoredInt int
	cmd := mhaCommand("masterha_manager", "MHA-compatible: monitor the master and fail over once")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		cfg, err := loadConfig(cmd.Context(), mc.conf, mc.global)
		if err != nil {
			return err
		}
		return m.run(cmd, cfg, true)
	}
	mc.register(cmd)
	m.register(cmd, true)
	for _, n := range []string{"skip_ssh_check", "skip_check_ssh", "ignore_fail_on_start", "check_only", "check_repl_health", "monitor_only"} {
		cmd.Flags().BoolVar(&ignored, n, false, "accepted for MHA compatibility")
	}
	for _, n := range []string{"wait_on_monitor_error", "wait_on_failover_error", "interactive"} {
		cmd.Flags().IntVar(&ignoredInt, n, 0, "accepted for MHA compatibility")
	}
	return cmd
}

// statusFlags are masterha_check_status's and masterha_stop's options.
type statusFlags struct {
	conf, global, workdir string
	pingLimit             int
}

// register adds the options under MHA's spelling or gomha's.
func (s *statusFlags) register(cmd *cobra.Command, mha bool) {
	global, ping := "global-conf", "ping-limit"
	if mha {
		global, ping = "global_conf", "ping_limit"
		cmd.Hidden = true
	}
	cmd.Flags().StringVar(&s.conf, "conf", "", "application configuration file")
	cmd.Flags().StringVar(&s.global, global, "", "global configuration file (default /etc/masterha_default.cnf)")
	cmd.Flags().StringVar(&s.workdir, "workdir", "", "manager_workdir")
	cmd.Flags().IntVar(&s.pingLimit, ping, 10, "seconds after which a silent manager counts as hung")
	_ = cmd.MarkFlagRequired("conf")
}

// dir is the manager's working directory: --manager_workdir, else the
// configuration's.
func (s *statusFlags) dir(cfg *config.Config) string {
	if s.workdir != "" {
		return s.workdir
	}
	return cfg.ManagerWorkdir
}

// read loads the configuration and the manager's status file.
func (s *statusFlags) read(cmd *cobra.Command) (*config.Config, manager.StatusInfo, error) {
	cfg, err := loadConfig(cmd.Context(), s.conf, s.global)
	if err != nil {
		return nil, manager.StatusInfo{}, err
	}
	dir := cfg.ManagerWorkdir
	if s.workdir != "" {
		dir = s.workdir
	}
	st, err := manager.ReadStatus(dir, cfg.App, time.Duration(s.pingLimit)*time.Second)
	return cfg, st, withCode(1, err)
}

func newCheckStatusCmd(use string, mha bool) *cobra.Command {
	var sf statusFlags
	var output string
	cmd := &cobra.Command{
		Use:   use,
		Short: "Show whether a manager runs and what it sees; exit code is MHA's status code",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, st, err := sf.read(cmd)
			if err != nil {
				return err
			}
			view, hasView, _ := manager.ReadView(sf.dir(cfg), cfg.App)
			hasView = hasView && st.Code != manager.StatusNotRunning
			if output == "json" {
				out := map[string]any{"app": cfg.App, "code": int(st.Code), "status": st.Code.Name(),
					"pid": st.PID, "master": st.Master, "message": st.Message(cfg.App)}
				if hasView {
					out["view"] = view
				}
				if err := writeJSON(cmd.OutOrStdout(), out); err != nil {
					return err
				}
			} else {
				fmt.Fprintln(cmd.OutOrStdout(), st.Message(cfg.App))
				if hasView && !mha && view.State != "healthy" {
					fmt.Fprintf(cmd.OutOrStdout(), "manager's view: %s: %s\n", view.State, view.Reason)
				}
			}
			if st.Code != manager.StatusPingOK {
				return &silentError{code: int(st.Code)}
			}
			return nil
		},
	}
	sf.register(cmd, mha)
	if !mha {
		outputFlag(cmd, &output)
	}
	return cmd
}

func newStopCmd(use string, mha bool) *cobra.Command {
	var sf statusFlags
	var abort bool
	var abortTimeout int
	cmd := &cobra.Command{
		Use:   use,
		Short: "Stop a running manager (refused during a failover unless --abort)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, st, err := sf.read(cmd)
			if err != nil {
				return err
			}
			return stopManager(cmd.OutOrStdout(), cfg.App, st, abort, time.Duration(abortTimeout)*time.Second)
		},
	}
	sf.register(cmd, mha)
	timeout := "abort-timeout"
	if mha {
		timeout = "abort_timeout"
	}
	cmd.Flags().IntVar(&abortTimeout, timeout, 5, "seconds to wait before SIGKILL with --abort")
	cmd.Flags().BoolVar(&abort, "abort", false, "stop even during a failover (SIGKILL after the timeout)")
	return cmd
}

func stopManager(w io.Writer, app string, st manager.StatusInfo, abort bool, timeout time.Duration) error {
	if st.PID == 0 || st.Code == manager.StatusNotRunning {
		fmt.Fprintf(w, "%s is not running.\n", app)
		return nil
	}
	if st.Code == manager.StatusFailoverRunning && !abort {
		return withCode(1, fmt.Errorf("%s (pid %d) is failing over: refusing to stop it (use --abort)", app, st.PID))
	}
	if err := syscall.Kill(st.PID, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return withCode(1, fmt.Errorf("stop %s (pid %d): %w", app, st.PID, err))
	}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if syscall.Kill(st.PID, 0) != nil {
			fmt.Fprintf(w, "Stopped %s successfully.\n", app)
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	if abort {
		_ = syscall.Kill(st.PID, syscall.SIGKILL)
		fmt.Fprintf(w, "Killed %s (pid %d).\n", app, st.PID)
		return nil
	}
	return withCode(1, fmt.Errorf("%s (pid %d) did not stop within %s", app, st.PID, timeout))
}
