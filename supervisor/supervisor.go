package supervisor

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gomha/gomha/failover"
	"github.com/gomha/gomha/manager"
	"github.com/gomha/gomha/manager/config"
)

// Options configure a Supervisor. Only Load is usually set; the rest has
// defaults.
type Options struct {
	// Manager are the options of every cluster's manager. Each unit gets
	// its own Logger, Console and OnFailover; Once is ignored (a unit goes
	// on watching after a failover).
	Manager manager.ManagerOptions
	// Run runs one cluster's manager (default manager.RunManager); tests
	// and benchmarks substitute it.
	Run func(ctx context.Context, cfg *config.Config, opts manager.ManagerOptions) error
	// Load reads one configuration file (default config.Load with the
	// default global file).
	Load func(ctx context.Context, file string) (*config.Config, error)
	// Gate grants the leadership of each cluster (default LocalGate).
	Gate Gate
	// Out receives the console lines of the clusters without manager_log,
	// each prefixed with "[app] " (default standard output).
	Out io.Writer
	// Err receives the supervisor's one-line reports ("gomha: ...") and
	// the logs of the clusters without manager_log (default standard
	// error).
	Err io.Writer
	// Debug logs at debug level (as log_level=debug does per cluster).
	Debug bool
	// Retry is how long a unit waits before it starts again after an
	// error (default 10 s).
	Retry time.Duration
	// StopPoll is how often a unit looks for a stop request (default 1 s).
	StopPoll time.Duration
	// OnFailover, when set, receives every failover's report with the
	// cluster's name.
	OnFailover func(app string, rep *failover.Report, err error)
}

func (o Options) withDefaults() Options {
	if o.Run == nil {
		o.Run = manager.RunManager
	}
	if o.Load == nil {
		o.Load = func(ctx context.Context, file string) (*config.Config, error) {
			return config.Load(ctx, file, config.Options{})
		}
	}
	if o.Gate == nil {
		o.Gate = LocalGate{}
	}
	if o.Out == nil {
		o.Out = os.Stdout
	}
	if o.Err == nil {
		o.Err = os.Stderr
	}
	if o.Retry <= 0 {
		o.Retry = 10 * time.Second
	}
	if o.StopPoll <= 0 {
		o.StopPoll = time.Second
	}
	o.Manager.Once = false
	return o
}

// Supervisor runs one unit per configuration file. Safe for concurrent
// use.
type Supervisor struct {
	opts     Options
	ctx      context.Context
	out, err io.Writer // shared, whole writes serialised

	reloadMu sync.Mutex // one Reload at a time
	mu       sync.Mutex
	units    map[int]*unit
	nextID   int
	wg       sync.WaitGroup
}

// New returns a supervisor whose units run until ctx ends: then each stops
// cleanly (a failover it has begun finishes first). Units start with the
// first Reload.
func New(ctx context.Context, opts Options) *Supervisor {
	o := opts.withDefaults()
	s := &Supervisor{opts: o, ctx: ctx, units: map[int]*unit{}}
	s.out = &lockedWriter{w: o.Out}
	if o.Err == o.Out {
		s.err = s.out
	} else {
		s.err = &lockedWriter{w: o.Err}
	}
	return s
}

// report writes one line to the shared error output.
func (s *Supervisor) report(format string, args ...any) {
	fmt.Fprintf(s.err, "gomha: %s\n", oneLine(fmt.Sprintf(format, args...)))
}

// Reload makes the units match files, the complete list of configuration
// files to watch (paths are made absolute; a path listed twice counts
// once). See the package documentation. Every file that could not be
// loaded or taken is reported in one line; the returned error joins them.
// Once the supervisor's context has ended, Reload does nothing.
func (s *Supervisor) Reload(files []string) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	if err := s.ctx.Err(); err != nil {
		return err
	}
	var list []found
	seen := map[string]bool{}
	for _, f := range files {
		abs, err := filepath.Abs(f)
		if err != nil {
			abs = f
		}
		if seen[abs] {
			continue
		}
		seen[abs] = true
		list = append(list, s.load(abs))
	}
	var errs []error
	n := map[action]int{}
	for _, c := range decide(s.currents(), list) {
		n[c.Act]++
		if err := s.apply(c); err != nil {
			errs = append(errs, err)
		}
	}
	s.mu.Lock()
	watched := 0
	for _, u := range s.units {
		if !u.isStopping() {
			watched++
		}
	}
	s.mu.Unlock()
	s.report("configuration read: %d clusters watched (%d started, %d restarted, %d stopped, %d unchanged, %d refused)",
		watched, n[actStart]+n[actWake], n[actRestart], n[actStop], n[actKeep], n[actReject])
	if watched == 0 {
		s.report("no cluster to watch; the next SIGHUP reads the configuration again")
	}
	return errors.Join(errs...)
}

// load reads one file and the hash of what it depends on.
func (s *Supervisor) load(file string) found {
	data, err := os.ReadFile(file)
	if err != nil {
		return found{File: file, Err: fmt.Errorf("read %s: %w", file, err)}
	}
	ctx, cancel := context.WithTimeout(s.ctx, time.Minute)
	defer cancel()
	cfg, err := s.opts.Load(ctx, file)
	if err != nil {
		return found{File: file, Err: err}
	}
	h := sha256.New()
	h.Write(data)
	if cfg.GlobalFile != "" {
		g, _ := os.ReadFile(cfg.GlobalFile)
		h.Write([]byte{0})
		h.Write(g)
	}
	return found{File: file, Cfg: cfg, Hash: hex.EncodeToString(h.Sum(nil))}
}

func (s *Supervisor) currents() []current {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]int, 0, len(s.units))
	for id := range s.units {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	out := make([]current, 0, len(ids))
	for _, id := range ids {
		out = append(out, s.units[id].current())
	}
	return out
}

// apply does one change and reports what needs an operator's eye.
func (s *Supervisor) apply(c change) error {
	s.mu.Lock()
	u := s.units[c.ID]
	var after []<-chan struct{}
	for _, id := range c.After {
		if w := s.units[id]; w != nil {
			after = append(after, w.done)
		}
	}
	s.mu.Unlock()
	switch c.Act {
	case actStart:
		s.start(c.File, c.Cfg, c.Hash, after)
	case actRestart:
		u.reconfigure(c.Cfg, c.Hash, after)
	case actWake:
		u.wake()
	case actStop:
		u.stop()
	case actReject:
		msg := c.Err.Error()
		if !strings.Contains(msg, c.File) {
			msg = c.File + ": " + msg
		}
		if c.Running {
			msg += "; " + u.app + " keeps running with its previous configuration"
		} else {
			msg += "; not started"
		}
		s.report("%s", msg)
		return errors.New(oneLine(msg))
	}
	return nil
}

// start runs a new unit for file.
func (s *Supervisor) start(file string, cfg *config.Config, hash string, after []<-chan struct{}) {
	s.mu.Lock()
	s.nextID++
	u := newUnit(s, s.nextID, file, cfg, hash)
	s.units[u.id] = u
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		u.loop(after)
		s.mu.Lock()
		delete(s.units, u.id)
		s.mu.Unlock()
	}()
}

// Wait returns once every unit has stopped (after the supervisor's
// context has ended, or every file was removed). Call it after the last
// Reload.
func (s *Supervisor) Wait() { s.wg.Wait() }

// UnitInfo is what a unit is doing.
type UnitInfo struct {
	App   string
	File  string
	State State
	Err   string // the last error, while retrying or waiting
	// Config is the configuration the unit runs (or last ran); a pending
	// one replaces it when the unit restarts. Not to be modified.
	Config *config.Config
}

// State is a unit's state.
type State string

// A unit's states.
const (
	StateLeading  State = "waiting for leadership" // in Gate.Lead
	StateRunning  State = "running"                // the manager runs
	StateRetrying State = "retrying"               // after an error, until Options.Retry has passed
	StateWaiting  State = "waiting for an operator"
	StateStopped  State = "stopped" // by a stop request, until the next Reload
	StateStopping State = "stopping"
)

// Units lists the units, by file.
func (s *Supervisor) Units() []UnitInfo {
	s.mu.Lock()
	us := make([]*unit, 0, len(s.units))
	for _, u := range s.units {
		us = append(us, u)
	}
	s.mu.Unlock()
	out := make([]UnitInfo, 0, len(us))
	for _, u := range us {
		out = append(out, u.info())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].File < out[j].File })
	return out
}

// FailingOver lists the clusters this process is failing over now (their
// status file says FAILOVER_RUNNING with this process's id).
func (s *Supervisor) FailingOver() []string {
	s.mu.Lock()
	us := make([]*unit, 0, len(s.units))
	for _, u := range s.units {
		us = append(us, u)
	}
	s.mu.Unlock()
	var apps []string
	for _, u := range us {
		cfg := u.config()
		st, err := manager.ReadStatus(cfg.ManagerWorkdir, cfg.App, 0)
		if err == nil && st.Code == manager.StatusFailoverRunning && st.PID == os.Getpid() {
			apps = append(apps, cfg.App)
		}
	}
	sort.Strings(apps)
	return apps
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
