package manager

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/gomha/gomha/coord"
	"github.com/gomha/gomha/failover"
	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/topology"
)

// ManagerOptions are masterha_manager's and gomha manager's options.
type ManagerOptions struct {
	Once               bool // masterha_manager: exit after one failover
	IgnoreLastFailover bool
	LastFailoverMinute int
	SkipSalvage        bool
	SkipDisableRO      bool         // --skip_disable_read_only
	SkipChangeMaster   bool         // --skip_change_master
	RemoveDeadConf     bool         // --remove_dead_master_conf
	IgnoreFailOnStart  bool         // --ignore_fail_on_start: ignore_fail servers may be down at start-up
	SkipSSHCheck       bool         // --skip_ssh_check: no SSH check at start-up
	NewMaster          topology.Key // --new_master_host/port: the failover's new master
	AcceptNewHostKeys  bool         // record unknown SSH host keys in a failover
	LocalAddr          string
	HookTimeout        time.Duration
	SecondsBehind      int64
	Logger             *slog.Logger
	Console            *Console
	// OnFailover, when set, receives every failover's report (benchmarks
	// and tests read their figures from it).
	OnFailover func(*failover.Report, error)
	// OnVerdict, when set, receives the monitor's verdict on a dead master
	// before anything acts on it; benchmarks and tests observe detection
	// with it. Returning false stops the manager there (RunManager returns
	// nil) without failing over: a benchmark's simulated servers cannot be
	// failed over.
	OnVerdict func(v Verdict) (failOver bool)
}

// ErrStartupCheck is returned when the cluster is not fit to be monitored.
var ErrStartupCheck = errors.New("start-up checks failed")

// ErrAlreadyRunning is returned when another manager watches the same
// application from the same manager_workdir.
var ErrAlreadyRunning = errors.New("manager already running")

// PrepareWorkdir creates manager_workdir, readable by its owner only (it
// holds reports, logs, the journal and copies of binary logs), and proves
// that it can be written to.
func PrepareWorkdir(dir string) error {
	if dir == "" {
		return errors.New("manager_workdir is empty")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("manager_workdir %s cannot be created: %w", dir, err)
	}
	if err := syscall.Access(dir, 0o3); err != nil { // W_OK|X_OK
		return fmt.Errorf("manager_workdir %s is not writable: %w", dir, err)
	}
	return nil
}

// RunManager checks the cluster, watches its master and fails over when it
// dies. With Once it returns after one failover with the failover's error
// (MHA's masterha_manager); otherwise it goes on watching the new topology.
// A cancelled ctx is a clean stop (nil error).
func RunManager(ctx context.Context, cfg *config.Config, opts ManagerOptions) error {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Console == nil {
		opts.Console = NewConsole(nil)
	}
	if err := PrepareWorkdir(cfg.ManagerWorkdir); err != nil {
		return err
	}
	// One manager per application: a second one would fail over the same
	// master a second time. The claim is taken before any state file is
	// touched, so a refused manager leaves the running one's files alone.
	presence, err := coord.ClaimManager(cfg.ManagerWorkdir, cfg.App)
	if err != nil {
		if errors.Is(err, coord.ErrHeld) {
			return fmt.Errorf("%w: another manager runs (%v)", ErrAlreadyRunning, err)
		}
		return err
	}
	defer presence.Release()
	pool := newPool(cfg, opts.LocalAddr, opts.AcceptNewHostKeys, opts.Logger)
	defer pool.Close()
	status := NewStatusFile(cfg.ManagerWorkdir, cfg.App)
	dctx, stopDeposers := context.WithCancel(ctx)
	var deposers sync.WaitGroup
	defer func() { stopDeposers(); deposers.Wait() }()
	for {
		master, replicas, err := startupCheck(ctx, cfg, opts, status)
		// SSH was proved at start; after a failover the manager watches the
		// new master at once (about 0.5 s saved on three hosts).
		opts.SkipSSHCheck = true
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			_ = status.Set(StatusConfigError, "")
			return err
		}
		con := opts.Console
		mon := NewMonitor(MonitorOptions{Config: cfg, Master: master.Server, Replicas: replicas, LocalAddr: opts.LocalAddr,
			ConfiguredReplicas: master.configured, Status: status, Logger: opts.Logger, Console: con, Pool: pool})
		con.Infof("Set master ping interval %d seconds.", int(mon.interval/time.Second))
		if master.SecondaryCheckScript == "" {
			con.Warnf("secondary_check_script is not defined: the replicas' IO threads are the second route to the master.")
		}
		con.Infof("Starting ping health check on %s with %d replicas..", master.Label(), len(replicas))
		v, err := mon.Run(ctx)
		if err != nil {
			if ctx.Err() != nil {
				_ = status.Remove()
				return nil
			}
			_ = status.Set(StatusConfigError, master.Hostname)
			return err
		}
		con.Warnf("Master %s is dead: %s (confirmed in %s)", master.Label(), v.Reason, v.DetectionTime().Round(time.Millisecond))
		if opts.OnVerdict != nil && !opts.OnVerdict(v) {
			con.Infof("Not failing over %s: the verdict's observer said no.", master.Label())
			return nil
		}
		con.Infof("Master is down!")
		_ = status.Set(StatusPingFailed, master.Hostname)
		// A failover, once started, is not interrupted by a stop request: a
		// half-done failover is worse than a late exit (masterha_stop waits).
		fo := failoverOptions(v, opts, status, con)
		fo.Pool = pool
		rep, ferr := RunFailover(context.WithoutCancel(ctx), cfg, fo)
		if opts.OnFailover != nil {
			opts.OnFailover(rep, ferr)
		}
		if opts.RemoveDeadConf && ferr == nil { // as MHA: only after a complete failover
			if err := config.EditHost(cfg.File, "delete", master.Name, "", nil); err != nil {
				con.Warnf("could not remove [%s] from %s: %v", master.Name, cfg.File, err)
			} else {
				con.Infof("Removed [%s] (the dead master) from %s", master.Name, cfg.File)
			}
		}
		if opts.Once || (ferr != nil && ExitCode(ferr) != ExitFailoverPartial) {
			return ferr
		}
		if nm, ok := serverByKey(cfg, rep.NewMaster); ok {
			d := newDeposer(master.Server, nm, opts.LocalAddr, status, opts.Logger)
			if rep.Fencing != nil {
				d.fencing = "; at the failover, " + rep.Fencing.String()
			}
			deposers.Go(func() { d.run(dctx) })
		}
		cfg = withoutServer(cfg, v.Master)
		con.Infof("Watching the new topology; the dead master %s is kept deposed (read_only when it comes back) until the manager is restarted", v.Master)
	}
}

type monitoredMaster struct {
	config.Server
	label string
	// configured is how many servers of the configuration replicate from
	// it or should (dead ones included, replicas of replicas not).
	configured int
}

func (m monitoredMaster) Label() string { return m.label }

// startupCheck is masterha_check_repl's check plus the hooks' status
// commands and, unless opts.SkipSSHCheck, SSH to every host; it returns the
// master and its replicas to watch.
func startupCheck(ctx context.Context, cfg *config.Config, opts ManagerOptions, status *StatusFile) (monitoredMaster, []config.Server, error) {
	_ = status.Set(StatusInitializingMonitor, "")
	rep, err := CheckRepl(ctx, cfg, CheckReplOptions{SecondsBehindMaster: opts.SecondsBehind, HookTimeout: opts.HookTimeout}, opts.Console)
	_, a := rep.Analysis()
	ignored := 0 // ignore_fail servers down at start-up, let off by --ignore_fail_on_start
	if err != nil {
		blockers := a.StartBlockers(opts.IgnoreFailOnStart)
		if len(blockers) > 0 || ctx.Err() != nil {
			return monitoredMaster{}, nil, fmt.Errorf("%w: %v", ErrStartupCheck, err)
		}
		// As MHA: a master already dead when the manager starts is watched
		// like any other; the usual confirmation (replicas, quorum,
		// secondary check) decides, then the usual failover rules apply.
		if a.OnlyMasterDown() {
			opts.Console.Warnf("The master %s is not reachable at start-up: watching it, and failing over once its death is confirmed.", a.Master.Server.Label())
		}
		for _, n := range a.Dead {
			if n != a.Master && n.Server.IgnoreFail {
				ignored++
				opts.Console.Warnf("%s is down; it is ignore_fail and --ignore_fail_on_start was given: "+
					"it does not count in the quorum, and a failover leaves it out (exit 10).", n.Server.Label())
			}
		}
	}
	find := func(k topology.Key) config.Server {
		for _, s := range cfg.Servers {
			if TopologyServer(s).Key() == k {
				return s
			}
		}
		return config.Server{}
	}
	var replicas []config.Server
	for _, n := range a.Replicas {
		replicas = append(replicas, find(n.Key()))
	}
	if !opts.SkipSSHCheck {
		if err := sshAtStart(ctx, cfg, opts.AcceptNewHostKeys, opts.Console); err != nil {
			return monitoredMaster{}, nil, fmt.Errorf("%w: %v", ErrStartupCheck, err)
		}
	}
	configured := len(cfg.Servers) - 1 - len(a.Unmanaged) - ignored
	return monitoredMaster{Server: find(a.Master.Key()), label: a.Master.Server.Label(), configured: configured}, replicas, nil
}

func failoverOptions(v Verdict, opts ManagerOptions, status *StatusFile, con *Console) FailoverOptions {
	fo := FailoverOptions{
		Dead: v.Master, IgnoreLastFailover: opts.IgnoreLastFailover, LastFailoverMinute: opts.LastFailoverMinute,
		SkipSalvage: opts.SkipSalvage, SkipDisableRO: opts.SkipDisableRO, SkipChangeMaster: opts.SkipChangeMaster,
		NewMaster: opts.NewMaster, AcceptNewHostKeys: opts.AcceptNewHostKeys, DeadGone: v.Gone,
		LocalAddr: opts.LocalAddr, HookTimeout: opts.HookTimeout,
		Logger: opts.Logger, Console: con, Status: status,
		Detection: &failover.Detection{FirstFailure: v.FirstFailure, Confirmed: v.Confirmed, Reason: v.Reason,
			Evidence: v.Evidence, SSHReachable: v.SSHReachable},
	}
	if v.SSHChecked && !v.SSHReachable {
		f := false
		fo.SSHReachable = &f
	}
	return fo
}

// serverByKey finds the configured server whose key prints as key.
func serverByKey(cfg *config.Config, key string) (config.Server, bool) {
	for _, s := range cfg.Servers {
		if TopologyServer(s).Key().String() == key {
			return s, true
		}
	}
	return config.Server{}, false
}

// withoutServer returns a copy of cfg without the server at key.
func withoutServer(cfg *config.Config, key topology.Key) *config.Config {
	c := *cfg
	c.Servers = nil
	for _, s := range cfg.Servers {
		if TopologyServer(s).Key() != key {
			c.Servers = append(c.Servers, s)
		}
	}
	return &c
}
