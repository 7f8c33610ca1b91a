package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/gomha/gomha/manager"
	"github.com/gomha/gomha/supervisor"
)

// statusFlags are masterha_check_status's and masterha_stop's options
// (MHA's ManagerAdminWrapper gives both commands all of them).
type statusFlags struct {
	conf, global, workdir, logOutput string
	app, basedir, baselog            string
	all                              bool
	pingLimit                        int
	env                              cliEnv
}

// register adds the options under MHA's spelling or gomha's.
func (s *statusFlags) register(cmd *cobra.Command, mha bool, env cliEnv) {
	s.env = env
	global, ping := "global-conf", "ping-limit"
	if mha {
		global, ping = "global_conf", "ping_limit"
		cmd.Hidden = true
	}
	fl := cmd.Flags()
	fl.StringVar(&s.conf, "conf", "", "application configuration `file`")
	fl.StringVar(&s.global, global, "", "global configuration `file` (default /etc/masterha_default.cnf)")
	fl.StringVar(&s.workdir, "workdir", "", "the manager's working `directory` (default manager_workdir)")
	fl.IntVar(&s.pingLimit, ping, 10, "`seconds` after which a silent manager counts as hung")
	if !mha {
		_ = cmd.MarkFlagRequired("conf")
		return
	}
	fl.StringVar(&s.workdir, "manager_workdir", "", "same as --workdir")
	fl.StringVar(&s.workdir, "status_dir", "", "same as --workdir")
	fl.StringVar(&s.logOutput, "log_output", "", "the manager's log `file`, named in the status message (default manager_log)")
	fl.StringVar(&s.logOutput, "manager_log", "", "same as --log_output")
	alias(cmd, "workdir", "manager_workdir", "status_dir")
	alias(cmd, "log_output", "manager_log")
	fl.StringVar(&s.app, "app", "", "application `name` (without --conf: "+env.mhaConfDir+"/NAME.cnf, or NAME in --workdir)")
	fl.BoolVar(&s.all, "all", false, "every application with a "+env.serviceDir+"/masterha_NAME daemontools service")
	fl.StringVar(&s.basedir, "basedir", "", "with --all: NAME's working directory is `directory`/NAME (no configuration read)")
	fl.StringVar(&s.baselog, "baselog", "", "with --all and --basedir: NAME's log is `directory`/NAME/NAME.log")
}

// target is one application to check or stop.
type target struct{ app, conf, dir, log string }

// targets lists the applications the options name, as MHA does.
func (s *statusFlags) targets() ([]target, error) {
	if !s.all {
		t := target{app: s.app, conf: s.conf, dir: s.workdir, log: s.logOutput}
		if t.app != "" && t.conf == "" && t.dir == "" {
			t.conf = filepath.Join(s.env.mhaConfDir, t.app+".cnf")
		}
		if t.conf == "" && (t.dir == "" || t.app == "") {
			return nil, withCode(1, errors.New("--conf=<server config file> must be set (or --app with --manager_workdir)"))
		}
		return []target{t}, nil
	}
	entries, err := os.ReadDir(s.env.serviceDir)
	if err != nil {
		return nil, withCode(1, fmt.Errorf("--all: %w", err))
	}
	var ts []target
	for _, e := range entries {
		app, ok := strings.CutPrefix(e.Name(), "masterha_")
		if !ok || app == "" {
			continue
		}
		t := target{app: app, conf: filepath.Join(s.env.mhaConfDir, app+".cnf"), dir: s.workdir, log: s.logOutput}
		if s.basedir != "" {
			t.conf, t.dir = "", filepath.Join(s.basedir, app)
			if s.baselog != "" {
				t.log = filepath.Join(s.baselog, app, app+".log")
			}
		}
		ts = append(ts, t)
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].app < ts[j].app })
	return ts, nil
}

// read resolves t against its configuration and reads the manager's
// status file.
func (s *statusFlags) read(ctx context.Context, t target) (target, manager.StatusInfo, error) {
	if t.conf != "" {
		cfg, err := loadConfigQuiet(ctx, t.conf, s.global)
		if err != nil {
			return t, manager.StatusInfo{}, err
		}
		t.app = cmp.Or(t.app, cfg.App)
		t.dir = cmp.Or(t.dir, cfg.ManagerWorkdir)
		t.log = cmp.Or(t.log, cfg.ManagerLog)
	}
	st, err := manager.ReadStatus(t.dir, t.app, time.Duration(s.pingLimit)*time.Second)
	return t, st, withCode(1, err)
}

func newCheckStatusCmd(use string, mha bool, env cliEnv) *cobra.Command {
	var sf statusFlags
	var output string
	var noEffect bool
	var noEffectInt int
	cmd := &cobra.Command{
		Use:   use,
		Short: "Show whether a manager runs and what it sees; exit code is MHA's status code",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ts, err := sf.targets()
			if err != nil {
				return err
			}
			if len(ts) == 1 && !sf.all {
				return checkStatus(cmd, &sf, ts[0], mha, output)
			}
			failed := false
			for _, t := range ts {
				if err := checkStatus(cmd, &sf, t, mha, output); err != nil {
					failed = true
					if !errors.As(err, new(*silentError)) {
						fmt.Fprintln(cmd.ErrOrStderr(), "gomha: "+oneLine(err.Error()))
					}
				}
			}
			if failed {
				return &silentError{code: 1}
			}
			return nil
		},
	}
	sf.register(cmd, mha, env)
	if !mha {
		outputFlag(cmd, &output)
		return cmd
	}
	cmd.Flags().BoolVar(&noEffect, "abort", false, "no effect on masterha_check_status (as in MHA)")
	cmd.Flags().IntVar(&noEffectInt, "abort_timeout", 5, "no effect on masterha_check_status (as in MHA)")
	group(cmd, groupNoEffect, "abort", "abort_timeout")
	cmd.Annotations = map[string]string{annSynopsis: "masterha_check_status --conf=<server config file> [--global_conf=<global config file>]\n" +
		"masterha_check_status --app=<name> [--manager_workdir=<dir>]\nmasterha_check_status --all [--basedir=<dir> [--baselog=<dir>]]"}
	cmd.Flags().SortFlags = false
	return cmd
}

// checkStatus prints one application's status; the error carries its code.
func checkStatus(cmd *cobra.Command, sf *statusFlags, t target, mha bool, output string) error {
	t, st, err := sf.read(cmd.Context(), t)
	if err != nil {
		return err
	}
	w := cmd.OutOrStdout()
	view, hasView, _ := manager.ReadView(t.dir, t.app)
	hasView = hasView && st.Code != manager.StatusNotRunning
	switch {
	case output == "json":
		out := map[string]any{"app": t.app, "code": int(st.Code), "status": st.Code.Name(),
			"pid": st.PID, "master": st.Master, "message": st.Message(t.app), "standby": st.Standby}
		if hasView {
			out["view"] = view
		}
		if err := writeJSON(w, out); err != nil {
			return err
		}
	case mha:
		fmt.Fprintln(w, st.Message(t.app))
		if t.log != "" && pointsToLog(st.Code) {
			fmt.Fprintf(w, "Check %s for details.\n", t.log)
		}
	default:
		fmt.Fprintln(w, st.Message(t.app))
		if hasView && view.State != "healthy" {
			fmt.Fprintf(w, "manager's view: %s: %s\n", view.State, view.Reason)
		}
	}
	if st.Code != manager.StatusPingOK {
		return &silentError{code: int(st.Code)}
	}
	return nil
}

// pointsToLog: the states for which MHA sends the reader to the log.
func pointsToLog(c manager.StatusCode) bool {
	switch c {
	case manager.StatusPingFailing, manager.StatusPingFailed, manager.StatusConfigError,
		manager.StatusFailoverRunning, manager.StatusFailoverError:
		return true
	}
	return false
}

func newStopCmd(use string, mha bool, env cliEnv) *cobra.Command {
	var sf statusFlags
	var abort bool
	var abortTimeout int
	cmd := &cobra.Command{
		Use:   use,
		Short: "Stop a running manager (refused during a failover unless --abort)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ts, err := sf.targets()
			if err != nil {
				return err
			}
			var errs []error
			for _, t := range ts {
				t, st, err := sf.read(cmd.Context(), t)
				if err == nil {
					err = stopManager(cmd.OutOrStdout(), t, st, abort, time.Duration(abortTimeout)*time.Second)
				}
				errs = append(errs, err)
			}
			return withCode(1, errors.Join(errs...))
		},
	}
	if mha {
		cmd.Annotations = map[string]string{annSynopsis: "masterha_stop --conf=<server config file> [--abort [--abort_timeout=<seconds>]]\n" +
			"masterha_stop --app=<name> [--manager_workdir=<dir>]\nmasterha_stop --all [--basedir=<dir>]"}
		cmd.Flags().SortFlags = false
	}
	sf.register(cmd, mha, env)
	timeout := "abort-timeout"
	if mha {
		timeout = "abort_timeout"
	}
	cmd.Flags().IntVar(&abortTimeout, timeout, 5, "`seconds` to wait before SIGKILL with --abort")
	cmd.Flags().BoolVar(&abort, "abort", false, "stop even during a failover (SIGKILL after the timeout)")
	if mha {
		for _, n := range []string{"ping_limit", "log_output"} {
			cmd.Flags().Lookup(n).Usage = "no effect on masterha_stop (as in MHA)"
		}
		group(cmd, groupNoEffect, "ping_limit", "log_output", "manager_log")
	}
	return cmd
}

func stopManager(w io.Writer, t target, st manager.StatusInfo, abort bool, timeout time.Duration) error {
	app := t.app
	if st.PID == 0 || st.Code == manager.StatusNotRunning {
		fmt.Fprintf(w, "%s is not running.\n", app)
		return nil
	}
	if st.Code == manager.StatusFailoverRunning && !abort {
		return withCode(1, fmt.Errorf("%s (pid %d) is failing over: refusing to stop it (use --abort)", app, st.PID))
	}
	if supervisor.Supervised(t.dir, app, st.PID) {
		if st.Code != manager.StatusFailoverRunning {
			return stopUnit(w, t, st, timeout)
		}
		// A failover cannot be cut out of the process that runs it.
		fmt.Fprintf(w, "%s runs in a manager of several clusters (pid %d): --abort during its failover stops the whole process.\n", app, st.PID)
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

// stopUnit stops one cluster of a manager that watches several: the unit
// sees the stop request, stops its monitor cleanly and removes its status
// file; the process and its other clusters go on.
func stopUnit(w io.Writer, t target, st manager.StatusInfo, timeout time.Duration) error {
	if err := supervisor.RequestStop(t.dir, t.app); err != nil {
		return withCode(1, err)
	}
	deadline := time.Now().Add(timeout)
	for {
		now, err := manager.ReadStatus(t.dir, t.app, 0)
		if err == nil && now.Code == manager.StatusNotRunning {
			fmt.Fprintf(w, "Stopped %s successfully. Its manager (pid %d) goes on watching its other clusters; SIGHUP starts %s again.\n", t.app, st.PID, t.app)
			return nil
		}
		if time.Now().After(deadline) {
			return withCode(1, fmt.Errorf("%s (pid %d, a manager of several clusters) did not stop within %s; it will once it sees %s",
				t.app, st.PID, timeout, supervisor.StopRequestPath(t.dir, t.app)))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
