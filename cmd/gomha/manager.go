package main

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/gomha/gomha/failover"
	"github.com/gomha/gomha/httpapi"
	"github.com/gomha/gomha/manager"
	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/supervisor"
)

// managerFlags are shared by gomha manager and masterha_manager.
type managerFlags struct {
	ignoreLast, skipSalvage, removeDead bool
	skipDisable, skipChange, checkOnly  bool
	ignoreFailOnStart, acceptNew        bool
	skipSSH                             bool
	newHost                             string
	newPort                             int
	lastMinute                          int
	localAddr, logOutput, workdir       string
	hookTimeout                         time.Duration
	sbm                                 int64
	debug                               bool
	etcd                                etcdFlags
	http                                httpFlags // gomha manager only
	lead                                leadership
	sighups                             func() (<-chan os.Signal, func()) // cliEnv.sighups
}

func (m *managerFlags) run(cmd *cobra.Command, eng engine, cfg *config.Config, once bool) error {
	if m.workdir != "" {
		cfg.ManagerWorkdir = m.workdir
	}
	if m.checkOnly {
		_, err := eng.CheckRepl(cmd.Context(), cfg, manager.CheckReplOptions{SecondsBehindMaster: m.sbm, HookTimeout: m.hookTimeout},
			manager.NewConsole(cmd.OutOrStdout()))
		return withCode(mhaFailure, err)
	}
	out, logW, closeLog, err := logTo(cmp.Or(m.logOutput, cfg.ManagerLog), cmd.OutOrStdout(), cmd.ErrOrStderr())
	if err != nil {
		return err
	}
	defer closeLog()
	level := slog.LevelInfo
	if m.debug || cfg.LogLevel == "debug" {
		level = slog.LevelDebug
	}
	con := manager.NewConsole(out)
	for _, w := range cfg.Warnings { // in the manager's log too, where a DBA looks later
		con.Warnf("%s", w)
	}
	opts := manager.ManagerOptions{
		Once: once, IgnoreLastFailover: m.ignoreLast, LastFailoverMinute: m.lastMinute, SkipSalvage: m.skipSalvage,
		SkipDisableRO: m.skipDisable, SkipChangeMaster: m.skipChange, RemoveDeadConf: m.removeDead,
		IgnoreFailOnStart: m.ignoreFailOnStart, AcceptNewHostKeys: m.acceptNew, SkipSSHCheck: m.skipSSH,
		LocalAddr: m.localAddr, HookTimeout: m.hookTimeout, SecondsBehind: m.sbm,
		Logger: slog.New(slog.NewTextHandler(logW, &slog.HandlerOptions{Level: level})), Console: con,
	}
	if m.newHost != "" {
		nm, err := serverKey(cfg, m.newHost, m.newPort, "new master")
		if err != nil {
			return err
		}
		opts.NewMaster = nm
	}
	web, err := m.http.listen(m.oneCluster(cfg), opts.Logger)
	if err != nil {
		return err
	}
	if web != nil {
		opts.Observer = web.srv.Observer()
		opts.OnFailover = func(rep *failover.Report, err error) { web.srv.OnFailover(cfg.App, rep, err) }
		web.serve(cmd.Context(), cmd.ErrOrStderr())
		defer func() { web.stop() }()
	}
	if !once {
		// gomha manager with one --conf has nothing to reload: a SIGHUP
		// (systemctl reload, a terminal closing) must not end it.
		hup, stopHup := m.sighups()
		done := make(chan struct{})
		defer func() { close(done); stopHup() }()
		go func() {
			for {
				select {
				case <-hup:
					con.Warnf("SIGHUP: one --conf has nothing to reload; restart the manager to apply a changed configuration (with --conf-dir, SIGHUP reloads)")
				case <-done:
					return
				}
			}
		}()
	}
	release := interruptsFrom(cmd.Context()).hold(failingOver(cfg))
	if m.etcd.set() {
		err = m.runLed(cmd, eng, cfg, opts)
	} else {
		err = eng.RunManager(cmd.Context(), cfg, opts)
	}
	release()
	if err != nil {
		return withCode(manager.ExitCode(err), err)
	}
	return nil
}

// runLed runs the manager only while it leads the cluster's managers in
// etcd.
func (m *managerFlags) runLed(cmd *cobra.Command, eng engine, cfg *config.Config, opts manager.ManagerOptions) error {
	m.etcd.sourceAddr = &m.localAddr
	c, err := m.etcd.open(opts.Logger)
	if err != nil {
		return err
	}
	defer c.Close()
	opts.Coord = c.Cluster(cfg.App)
	opts.Console.Infof("Coordinating with the other managers of %s in etcd (%s), lease %s.", cfg.App, m.etcd.endpoints, c.TTL())
	m.lead.l = c
	return eng.RunLed(cmd.Context(), &m.lead, cfg, opts)
}

// oneCluster is the HTTP API's view of a one-cluster manager: it runs
// the cluster while the process lives, or, with --etcd, while it leads.
func (m *managerFlags) oneCluster(cfg *config.Config) func() []httpapi.Cluster {
	return func() []httpapi.Cluster {
		state := string(supervisor.StateRunning)
		if m.etcd.set() {
			state = m.lead.state(cfg.App)
		}
		return []httpapi.Cluster{{App: cfg.App, Config: cfg, State: state}}
	}
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

// logTo opens the log file path (--log_output, else manager_log, as the
// command does). Progress lines and logs then go there; without one,
// progress goes to out and logs to errW.
func logTo(path string, out, errW io.Writer) (io.Writer, io.Writer, func(), error) {
	if path == "" {
		return out, errW, func() {}, nil
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, nil, nil, withCode(1, fmt.Errorf("manager_log %s: %w", path, err))
	}
	return f, f, func() { _ = f.Close() }, nil
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
	fl.IntVar(&m.lastMinute, name("last-failover-minute", "last_failover_minute"), 480, "no second automatic failover within this many `minutes`")
	fl.BoolVar(&m.skipSalvage, name("skip-save-master-binlog", "skip_save_master_binlog"), false, "do not read the dead master's binlog over SSH")
	fl.BoolVar(&m.removeDead, name("remove-dead-master-conf", "remove_dead_master_conf"), false, "remove the dead master's block from the configuration after a successful failover")
	fl.BoolVar(&m.skipDisable, name("skip-disable-read-only", "skip_disable_read_only"), false, "leave read_only=ON on the new master")
	fl.BoolVar(&m.skipChange, name("skip-change-master", "skip_change_master"), false, "promote the new master but leave the other replicas as they are")
	fl.Int64Var(&m.sbm, name("seconds-behind-master", "seconds_behind_master"), 30, "largest replication lag accepted at start-up, in `seconds`")
	fl.StringVar(&m.logOutput, name("log-output", "log_output"), "", "log `file` (default manager_log, else standard error)")
	fl.StringVar(&m.workdir, name("workdir", "manager_workdir"), "", "state `directory` (default manager_workdir)")
	if mha {
		fl.BoolVar(&m.removeDead, "remove_orig_master_conf", false, "same as --remove_dead_master_conf")
		fl.StringVar(&m.logOutput, "manager_log", "", "same as --log_output")
		fl.StringVar(&m.workdir, "workdir", "", "same as --manager_workdir")
		alias(cmd, "remove_dead_master_conf", "remove_orig_master_conf")
		alias(cmd, "log_output", "manager_log")
		alias(cmd, "manager_workdir", "workdir")
	}
	fl.BoolVar(&m.ignoreFailOnStart, name("ignore-fail-on-start", "ignore_fail_on_start"), false, "start even when servers marked ignore_fail do not answer")
	fl.BoolVar(&m.skipSSH, name("skip-ssh-check", "skip_ssh_check"), false, "do not check SSH to every host at start-up")
	if mha {
		fl.BoolVar(&m.skipSSH, "skip_check_ssh", false, "same as --skip_ssh_check")
		alias(cmd, "skip_ssh_check", "skip_check_ssh")
	}
	fl.StringVar(&m.newHost, name("new-master-host", "new_master_host"), "", "promote this configured `host` in a failover (instead of candidate_master, then the latest)")
	fl.IntVar(&m.newPort, name("new-master-port", "new_master_port"), 3306, "port of --new_master_host")
	fl.BoolVar(&m.acceptNew, name("accept-new-host-keys", "accept_new_host_keys"), false, "record the host key of a host not yet in known_hosts (a changed key is always refused)")
	fl.StringVar(&m.localAddr, name("source-addr", "source_addr"), "", "source `address` for connections to the servers")
	fl.DurationVar(&m.hookTimeout, name("hook-timeout", "hook_timeout"), time.Minute, "deadline of each hook script")
	fl.BoolVar(&m.debug, "debug", false, "debug logging")
	m.etcd.register(cmd, true)
	if mha {
		group(cmd, groupGomha, "source_addr", "hook_timeout", "debug", "etcd", "etcd-cacert", "etcd-cert", "etcd-key",
			"etcd-user", "etcd-password-file", "etcd-prefix", "etcd-lease-ttl")
	}
}

func newManagerCmd(env cliEnv) *cobra.Command {
	var src clusterFiles
	m := managerFlags{sighups: env.sighups}
	cmd := &cobra.Command{
		Use:   "manager --conf FILE | --conf-dir DIR",
		Short: "Watch the master and fail over when it dies; then keep watching the new topology",
		Long: `Checks the cluster as check repl does, then checks the master every
ping_interval (ping_type CONNECT, SELECT or INSERT). A failed check makes the
master suspect; it is dead only when the replicas agree (and
secondary_check_script, when set). Then it fails over, writes the report in
manager_workdir, and goes on watching the new master. SIGTERM/SIGINT stop it
cleanly (never in the middle of a failover).

With --conf-dir DIR (every *.cnf of DIR but masterha_default.cnf, which is
the global file of the others) or several --conf, one process watches many
clusters, each with its own monitor, log (manager_log, else standard output
with lines prefixed by "[app] "), status file and failovers. SIGHUP reads the
files again: a new file starts its cluster, a removed one stops it, a changed
one restarts it alone; a broken file is one line on standard error and
changes nothing. gomha stop --conf F stops that cluster alone.

With --http host:port it also serves a read-only HTTP API and Prometheus
metrics: /healthz, /metrics, /api/v1/clusters, /api/v1/clusters/NAME (what
gomha show -o json prints), .../failovers, and HAProxy's checks
.../route/HOST:PORT (200 on the master only) and .../route-replica/HOST:PORT.
--http-user with --http-password-file, or --http-token-file, require
credentials; --http-cert and --http-key serve HTTPS.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(src.confs) == 1 && src.dir == "" {
				cfg, err := loadConfig(cmd, src.confs[0], src.global)
				if err != nil {
					return err
				}
				return m.run(cmd, env.eng, cfg, false)
			}
			if len(src.confs) == 0 && src.dir == "" {
				return withCode(1, errors.New(`required flag(s) "conf" not set: give --conf FILE (repeat it for several clusters) or --conf-dir DIR`))
			}
			return m.runMany(cmd, env, src)
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&src.confs, "conf", nil, "application configuration `file` (MHA format, e.g. app1.cnf); repeat it to watch several clusters")
	fl.StringVar(&src.dir, "conf-dir", "", "watch the cluster of every *.cnf in `directory` but masterha_default.cnf (its global file); SIGHUP reads it again")
	fl.StringVar(&src.global, "global-conf", "", "global configuration `file` (default DIR/masterha_default.cnf with --conf-dir, else /etc/masterha_default.cnf, when it exists)")
	m.register(cmd, false)
	m.http.register(cmd)
	return cmd
}
