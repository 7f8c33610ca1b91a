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
	"github.com/gomha/gomha/sshpool"
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
	// Observer, when set, is told of every check of the master (see
	// Observer); the monitor of every master the manager watches gets it.
	Observer Observer
	// Coord is the coordination shared with the cluster's other managers
	// (etcd): the manager runs only while it leads (ctx ends when it stops
	// leading), fences every failover step with it, finishes a failover
	// its predecessor left half-done, and publishes its state there.
	Coord Coordination
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
	// One manager per application: a second one would fail over the same
	// master a second time. The claim is taken before any state file is
	// touched, so a refused manager leaves the running one's files alone.
	presence, err := claimPresence(cfg, coord.ClaimManager)
	if err != nil {
		return err
	}
	defer presence.Release()
	pool := newPool(cfg, opts.LocalAddr, opts.AcceptNewHostKeys, opts.Logger)
	defer pool.Close()
	status := NewStatusFile(cfg.ManagerWorkdir, cfg.App)
	defer status.mirrorTo(opts.Coord, opts.Logger)()
	if opts.Coord != nil {
		var err error
		if cfg, err = finishPredecessors(ctx, cfg, opts, status); err != nil {
			return err
		}
		if cfg, err = withoutReplaced(ctx, opts.Coord, cfg, opts.Console); err != nil {
			return err
		}
	}
	dctx, stopDeposers := context.WithCancel(ctx)
	var deposers sync.WaitGroup
	defer func() { stopDeposers(); deposers.Wait() }()
	for {
		master, replicas, err := startupCheck(ctx, cfg, opts, status, pool)
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
		if err := publish(opts.Coord, "master", []byte(TopologyServer(master.Server).Key().String())); err != nil {
			opts.Logger.Debug("master not published", "error", err)
		}
		mon := NewMonitor(MonitorOptions{Config: cfg, Master: master.Server, Replicas: replicas, LocalAddr: opts.LocalAddr,
			ConfiguredReplicas: master.configured, Status: status, Logger: opts.Logger, Console: con, Pool: pool,
			Observer: opts.Observer})
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
		fo.Pool, fo.Coord = pool, opts.Coord
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
		if ferr == nil || ExitCode(ferr) == ExitFailoverPartial {
			if err := publishReplaced(opts.Coord, v.Master, rep.NewMaster); err != nil {
				con.Warnf("could not publish in etcd that %s was replaced: %v", v.Master, err)
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

// finishPredecessors finishes the failover another manager left half-done
// in the shared journal (it was killed, or lost the leadership, in the
// middle), from its last recorded step: what it applied is not applied
// again. It returns the configuration to watch afterwards.
func finishPredecessors(ctx context.Context, cfg *config.Config, opts ManagerOptions, status *StatusFile) (*config.Config, error) {
	entries, err := opts.Coord.Journal(ctx)
	if err != nil || len(entries) == 0 {
		return cfg, err
	}
	con := opts.Console
	dead, err := topology.ParseKey(entries[0].Server)
	if err != nil {
		return cfg, fmt.Errorf("the shared failover journal names no dead master (%q): %w", entries[0].Server, err)
	}
	last := entries[len(entries)-1]
	if last.Step == stepFailed {
		return cfg, fmt.Errorf("%w: a failover of %s by pid %d on host %s failed: %s; fix the cluster, then finish it with %s",
			ErrInterrupted, dead, last.PID, last.Host, last.Detail, resumeCommand(cfg)+" (with the same --etcd options)")
	}
	con.Warnf("A failover of %s by pid %d on host %s stopped after %q on %s (%s): finishing it from there.",
		dead, last.PID, last.Host, last.Step, last.Server, coord.Summary(entries))
	_ = status.Set(StatusPingFailed, dead.Host)
	fo := FailoverOptions{Dead: dead, Resume: true, Coord: opts.Coord, LocalAddr: opts.LocalAddr,
		AcceptNewHostKeys: opts.AcceptNewHostKeys, HookTimeout: opts.HookTimeout, SkipSalvage: opts.SkipSalvage,
		SkipDisableRO: opts.SkipDisableRO, SkipChangeMaster: opts.SkipChangeMaster,
		Logger: opts.Logger, Console: con, Status: status}
	rep, ferr := RunFailover(context.WithoutCancel(ctx), cfg, fo)
	if opts.OnFailover != nil {
		opts.OnFailover(rep, ferr)
	}
	if ferr != nil && ExitCode(ferr) != ExitFailoverPartial {
		return cfg, ferr
	}
	if err := publishReplaced(opts.Coord, dead, rep.NewMaster); err != nil {
		con.Warnf("could not publish in etcd that %s was replaced: %v", dead, err)
	}
	return withoutServer(cfg, dead), nil
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
func startupCheck(ctx context.Context, cfg *config.Config, opts ManagerOptions, status *StatusFile, pool *sshpool.Pool) (monitoredMaster, []config.Server, error) {
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
		if err := sshAtStart(ctx, cfg, opts.AcceptNewHostKeys, opts.Console, pool); err != nil {
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

// claimPresence prepares cfg's manager_workdir and takes the presence of
// its application there with claim (coord.ClaimManager or ClaimStandby);
// one held is ErrAlreadyRunning, naming the holder.
func claimPresence(cfg *config.Config, claim func(workdir, app string) (*coord.Presence, error)) (*coord.Presence, error) {
	if err := PrepareWorkdir(cfg.ManagerWorkdir); err != nil {
		return nil, err
	}
	p, err := claim(cfg.ManagerWorkdir, cfg.App)
	if errors.Is(err, coord.ErrHeld) {
		return nil, fmt.Errorf("%w: another manager runs (%v)", ErrAlreadyRunning, err)
	}
	return p, err
}
