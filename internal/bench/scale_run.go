package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"time"

	"github.com/gomha/gomha/internal/simmysql"
	"github.com/gomha/gomha/manager"
	"github.com/gomha/gomha/manager/config"
)

// refusedSSHPort is every simulated host's ssh_port: nothing listens there
// on 127.0.4.x, so SSH is refused as on hosts whose sshd is down.
const refusedSSHPort = 9

// scaleConfig are the settings of one scale run (one process).
type scaleConfig struct {
	Clusters int
	Sim      string // the simulator binary
	Dir      string
	BasePort int
	Settle   time.Duration // after every manager monitors, before measuring
	Window   time.Duration // the measuring window
	Kills    int           // masters killed one after the other at the end
	// StartBatch is how many managers start at once; the next batch starts
	// when they all monitor (0: all at once).
	StartBatch int
	// Profile, when set, is a directory where the run writes CPU profiles
	// of the start-up and of the window, and a heap profile after it.
	Profile string
}

// scaleResult is what one run measured; the run prints it as JSON.
type scaleResult struct {
	Clusters int           `json:"clusters"`
	Startup  time.Duration `json:"startup"` // managers started -> every one monitoring
	Window   time.Duration `json:"window"`
	window
	PeakRSS     int64             `json:"peak_rss"`     // VmHWM at the end of the window (start-up included)
	Retries     []string          `json:"retries"`      // managers started again after their start-up checks failed
	Detections  []time.Duration   `json:"detections"`   // kill -> master confirmed dead
	FirstChecks []time.Duration   `json:"first_checks"` // kill -> first failed check
	Stalls      []time.Duration   `json:"stalls"`       // per kill: the longest this process could not run meanwhile
	SimSessions int               `json:"sim_sessions"` // connections open on the simulated servers
	Unknown     map[string]int    `json:"unknown"`      // statements the simulator did not know
	Failed      map[string]string `json:"failed"`       // managers that stopped on an error
}

// fleet is the managers of a run, one per cluster, in this process.
type fleet struct {
	ctx      context.Context
	cfgs     []*config.Config
	verdicts []chan manager.Verdict
	done     []chan error
	tries    []int    // start-up retries per manager
	retries  []string // what failed, per retry
	logger   *slog.Logger
}

// start runs cluster i's manager (RunManager; a supervisor will do this).
func (f *fleet) start(i int) {
	f.verdicts[i], f.done[i] = make(chan manager.Verdict, 1), make(chan error, 1)
	verdicts, done := f.verdicts[i], f.done[i]
	opts := manager.ManagerOptions{SkipSSHCheck: true, Logger: f.logger,
		OnVerdict: func(v manager.Verdict) bool { verdicts <- v; return false }}
	go func() { done <- manager.RunManager(f.ctx, f.cfgs[i], opts) }()
}

// startRetries is how many times a manager whose start-up checks failed
// is started again: on a machine this busy (the simulator shares its two
// cores), a burst of start-ups can make a simulated server miss check
// repl's 4 s connect timeout. Each retry is reported.
const startRetries = 2

// waitMonitoring waits until every manager in ids says PING_OK, starting
// again (up to startRetries times) those whose start-up checks failed.
func (f *fleet) waitMonitoring(ids []int, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	pending := append([]int(nil), ids...)
	for len(pending) > 0 {
		var still []int
		for _, i := range pending {
			select {
			case err := <-f.done[i]:
				select {
				case v := <-f.verdicts[i]:
					return fmt.Errorf("manager of %s found its master dead while starting: %s %v", f.cfgs[i].App, v.Reason, v.Evidence)
				default:
				}
				if errors.Is(err, manager.ErrStartupCheck) && f.tries[i] < startRetries {
					f.tries[i]++
					f.retries = append(f.retries, fmt.Sprintf("%s: %v", f.cfgs[i].App, err))
					progress("%s started again: %v", f.cfgs[i].App, err)
					f.start(i)
					still = append(still, i)
					continue
				}
				return fmt.Errorf("manager of %s stopped while starting: %v", f.cfgs[i].App, err)
			default:
			}
			st, err := manager.ReadStatus(f.cfgs[i].ManagerWorkdir, f.cfgs[i].App, 0)
			if err != nil || st.Code != manager.StatusPingOK {
				still = append(still, i)
			}
		}
		pending = still
		if len(pending) == 0 {
			break
		}
		if time.Now().After(deadline) {
			first := f.cfgs[pending[0]]
			st, _ := manager.ReadStatus(first.ManagerWorkdir, first.App, 0)
			v, _, _ := manager.ReadView(first.ManagerWorkdir, first.App)
			return fmt.Errorf("%d managers not monitoring after %s (first: %s, status %s, view: %s: %s %v)",
				len(pending), limit, first.App, st.Code, v.State, v.Reason, v.Evidence)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil
}

// runScale starts sc.Clusters simulated clusters and as many managers,
// measures the process while they monitor, then kills masters one after
// the other and measures detection.
func runScale(ctx context.Context, sc scaleConfig, logger *slog.Logger) (scaleResult, error) {
	res := scaleResult{Clusters: sc.Clusters, Window: sc.Window}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sim, err := startSim(ctx, sc.Sim, sc.BasePort, os.Stderr)
	if err != nil {
		return res, err
	}
	defer sim.close()
	started, err := sim.call(simmysql.Request{Op: "start", Clusters: sc.Clusters})
	if err != nil {
		return res, err
	}
	f, err := writeFleet(ctx, sc, started.Started, logger)
	if err != nil {
		return res, err
	}
	stopProfile := startCPUProfile(sc.Profile, "startup")
	start := time.Now()
	batch := sc.StartBatch
	if batch <= 0 {
		batch = sc.Clusters
	}
	for first := 0; first < sc.Clusters; first += batch {
		var ids []int
		for i := first; i < min(first+batch, sc.Clusters); i++ {
			ids = append(ids, i)
			f.start(i)
		}
		if err := f.waitMonitoring(ids, 5*time.Minute); err != nil {
			return res, err
		}
	}
	res.Startup, res.Retries = time.Since(start), f.retries
	stopProfile()
	progress("scale %d: every manager monitoring after %.1f s (%d at a time); settling %s, measuring %s",
		sc.Clusters, res.Startup.Seconds(), batch, sc.Settle, sc.Window)
	time.Sleep(sc.Settle)
	stopProfile = startCPUProfile(sc.Profile, "window")
	res.window = measure(sc.Window)
	stopProfile()
	writeHeapProfile(sc.Profile)
	_, res.PeakRSS = memStatus()
	if st, err := sim.call(simmysql.Request{Op: "stats"}); err == nil {
		res.SimSessions = st.Stats.Sessions
	}
	res.Failed = f.failed()
	if err := killAll(f, sim, sc, &res); err != nil {
		return res, err
	}
	if st, err := sim.call(simmysql.Request{Op: "stats"}); err == nil {
		res.Unknown = st.Stats.Unknown
	}
	cancel()
	return res, nil
}

// writeFleet writes every cluster's configuration and loads it.
func writeFleet(ctx context.Context, sc scaleConfig, clusters []simmysql.ClusterInfo, logger *slog.Logger) (*fleet, error) {
	sshOpts, err := simmysql.SSHIdentity(filepath.Join(sc.Dir, "ssh"))
	if err != nil {
		return nil, err
	}
	n := len(clusters)
	f := &fleet{ctx: ctx, cfgs: make([]*config.Config, n), verdicts: make([]chan manager.Verdict, n),
		done: make([]chan error, n), tries: make([]int, n), logger: logger}
	for i, ci := range clusters {
		path := filepath.Join(sc.Dir, fmt.Sprintf("app%04d.cnf", i))
		// A manager_workdir per application, as MHA's documentation sets
		// it: a thousand applications writing their state files (temp file
		// and rename) in one directory queue on its lock, at start-up
		// hundreds of threads at a time in uninterruptible sleep.
		workdir := filepath.Join(sc.Dir, "manager", fmt.Sprintf("app%04d", i))
		text := ci.Conf(simmysql.ConfOptions{User: "gomha", Password: "gomha", Workdir: workdir,
			PingInterval: 1, SSHPort: refusedSSHPort, SSHOptions: sshOpts})
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			return nil, err
		}
		if f.cfgs[i], err = config.Load(ctx, path, config.Options{NoGlobal: true}); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// failed lists the managers that returned on their own (an error).
func (f *fleet) failed() map[string]string {
	out := map[string]string{}
	for i, done := range f.done {
		select {
		case err := <-done:
			out[f.cfgs[i].App] = fmt.Sprint(err)
		default:
		}
	}
	return out
}

// killAll kills sc.Kills masters, spread over the clusters, one after the
// other, each once the previous one's verdict came. With fewer clusters
// than kills, a cluster is killed again after its master and its manager
// were restarted.
func killAll(f *fleet, sim *simProc, sc scaleConfig, res *scaleResult) error {
	killed := map[int]bool{}
	stalls := startStallWatch()
	defer stalls.close()
	for k := range sc.Kills {
		i := (sc.Clusters - 1 - k*max(sc.Clusters/sc.Kills, 1)) % sc.Clusters
		i = (i + sc.Clusters) % sc.Clusters
		if killed[i] {
			if _, err := sim.call(simmysql.Request{Op: "restart", Cluster: i}); err != nil {
				return err
			}
			f.start(i)
			if err := f.waitMonitoring([]int{i}, time.Minute); err != nil {
				return err
			}
			time.Sleep(2 * time.Second) // the watch runs, pings go by
		}
		stalls.reset()
		r, err := sim.call(simmysql.Request{Op: "kill", Cluster: i})
		if err != nil {
			return err
		}
		killed[i] = true
		select {
		case v := <-f.verdicts[i]:
			stall := stalls.reset()
			res.Detections = append(res.Detections, v.Confirmed.Sub(r.KilledAt))
			res.FirstChecks = append(res.FirstChecks, v.FirstFailure.Sub(r.KilledAt))
			res.Stalls = append(res.Stalls, stall)
			progress("scale %d: master of %s killed, confirmed dead %s later (first failed check %s; this process stalled up to %s; cpu pressure %.0f%%): %s",
				sc.Clusters, f.cfgs[i].App, v.Confirmed.Sub(r.KilledAt).Round(time.Millisecond), v.FirstFailure.Sub(r.KilledAt).Round(time.Millisecond),
				stall.Round(time.Millisecond), cpuPressure(), v.Reason)
		case err := <-f.done[i]:
			return fmt.Errorf("manager of %s stopped without a verdict: %v", f.cfgs[i].App, err)
		case <-time.After(30 * time.Second):
			cfg := f.cfgs[i]
			st, _ := manager.ReadStatus(cfg.ManagerWorkdir, cfg.App, 0)
			v, _, _ := manager.ReadView(cfg.ManagerWorkdir, cfg.App)
			dump := filepath.Join(sc.Dir, "goroutines-no-verdict.txt")
			if g, err := os.Create(dump); err == nil {
				_ = pprof.Lookup("goroutine").WriteTo(g, 1)
				g.Close()
			}
			return fmt.Errorf("no verdict on %s 30 s after its master was killed (status %s, view since %s: %s: %s %v; goroutines in %s)",
				cfg.App, st.Code, v.Since.Format("15:04:05.000"), v.State, v.Reason, v.Evidence, dump)
		}
		<-f.done[i]
		time.Sleep(time.Second)
	}
	return nil
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}
