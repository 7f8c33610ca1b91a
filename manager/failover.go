package manager

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/gomha/gomha/failover"
	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/sshpool"
	"github.com/gomha/gomha/topology"
)

// Sentinels for decisions about starting a failover.
var (
	// ErrDeposed means the failover stopped because this manager no
	// longer leads the cluster: its successor finishes it from the shared
	// journal.
	ErrDeposed        = errors.New("this manager no longer leads the cluster")
	ErrRecentFailover = errors.New("a failover happened recently")
	ErrLastFailed     = errors.New("the last failover failed")
)

// FailoverOptions are masterha_manager's and masterha_master_switch
// --master_state=dead's options.
type FailoverOptions struct {
	Dead               topology.Key
	NewMaster          topology.Key // --new_master_host/port
	Detection          *failover.Detection
	SSHReachable       *bool
	IgnoreLastFailover bool
	LastFailoverMinute int // default 480
	SkipSalvage        bool
	SkipDisableRO      bool
	SkipChangeMaster   bool // --skip_change_master
	LocalAddr          string
	AcceptNewHostKeys  bool
	// DeadGone: the monitor saw the dead master refuse connections, or
	// saw neither it nor its host answer (failover.Options.DeadGone).
	DeadGone bool
	// Coord is the coordination shared with other managers (etcd): the
	// journal lives there and every step is fenced by this manager's
	// leadership. Nil: the journal in manager_workdir.
	Coord Coordination
	// Pool holds the manager\'s open SSH connections (nil: dial).
	Pool        *sshpool.Pool
	HookTimeout time.Duration
	// Resume finishes the failover an interrupted run began (its journal
	// says where it stood); Dead must be that run's dead master.
	Resume  bool
	Logger  *slog.Logger
	Console *Console
	Status  *StatusFile
}

func (o FailoverOptions) logger() *slog.Logger {
	if o.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Logger
}

// Exit codes of a failover, as MHA's.
const (
	ExitFailoverOK      = 0
	ExitFailoverPartial = 10
	ExitFailoverError   = 1
)

// ExitCode maps a failover result to MHA's exit code.
func ExitCode(err error) int {
	var pe *failover.PartialError
	switch {
	case err == nil:
		return ExitFailoverOK
	case errors.As(err, &pe):
		return ExitFailoverPartial
	}
	return ExitFailoverError
}

func flagFiles(cfg *config.Config) (complete, errFile string) {
	return filepath.Join(cfg.ManagerWorkdir, cfg.App+".failover.complete"),
		filepath.Join(cfg.ManagerWorkdir, cfg.App+".failover.error")
}

// checkFlapping applies MHA's rules: a failover.error file blocks every
// failover; a failover.complete file younger than last_failover_minute
// blocks an automatic one. --ignore_last_failover removes both.
func checkFlapping(cfg *config.Config, opts FailoverOptions) error {
	complete, errFile := flagFiles(cfg)
	if opts.IgnoreLastFailover {
		os.Remove(complete)
		os.Remove(errFile)
		return nil
	}
	if _, err := os.Stat(errFile); err == nil {
		return fmt.Errorf("%w: %s exists; fix the cluster, then remove it or use --ignore_last_failover", ErrLastFailed, errFile)
	}
	limit := opts.LastFailoverMinute
	if limit <= 0 {
		limit = 480
	}
	if opts.Coord != nil {
		if err := checkSharedFlapping(opts.Coord, limit); err != nil {
			return err
		}
	}
	if fi, err := os.Stat(complete); err == nil {
		if age := time.Since(fi.ModTime()); age < time.Duration(limit)*time.Minute {
			return fmt.Errorf("%w: the last one finished %s ago (%s), less than last_failover_minute=%d; use --ignore_last_failover to override",
				ErrRecentFailover, age.Round(time.Second), complete, limit)
		}
		os.Remove(complete)
	}
	return nil
}

// checkSharedFlapping applies last_failover_minute to the last failover
// any manager of the cluster completed (published in etcd): a new leader
// on another host does not fail over again right after its predecessor.
func checkSharedFlapping(c Coordination, limit int) error {
	ctx, cancel := context.WithTimeout(context.Background(), publishTimeout)
	defer cancel()
	data, err := c.Published(ctx, "report")
	if err != nil {
		return fmt.Errorf("the last failover of the cluster cannot be read (last_failover_minute): %w", err)
	}
	var last failover.Report
	if data == nil || json.Unmarshal(data, &last) != nil || last.Kind != "failover" || last.Finished.IsZero() {
		return nil
	}
	if age := time.Since(last.Finished); (last.Succeeded || last.NewMaster != "") && age < time.Duration(limit)*time.Minute {
		return fmt.Errorf("%w: the last one (%s -> %s, published in etcd) finished %s ago, less than last_failover_minute=%d; use --ignore_last_failover to override",
			ErrRecentFailover, last.DeadMaster, last.NewMaster, age.Round(time.Second), limit)
	}
	return nil
}

// RunFailover takes the cluster through the death of opts.Dead, with the
// anti-flapping rules, MHA's state files and a report written beside them
// (text and JSON). The report is returned in every case it exists.
func RunFailover(ctx context.Context, cfg *config.Config, opts FailoverOptions) (*failover.Report, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	con := opts.Console
	if con == nil {
		con = NewConsole(nil)
	}
	if err := PrepareWorkdir(cfg.ManagerWorkdir); err != nil {
		return nil, err
	}
	if !opts.Resume { // an interrupted run is finished whatever the flags say
		if err := checkFlapping(cfg, opts); err != nil {
			return nil, err
		}
	}
	act, resume, err := beginFailover(ctx, cfg, opts)
	if err != nil {
		return nil, err
	}
	if opts.Status != nil {
		_ = opts.Status.Set(StatusFailoverRunning, opts.Dead.Host)
	}
	env := NewEnv(cfg, logger)
	env.LocalAddr, env.AcceptNewHostKeys, env.Pool = opts.LocalAddr, opts.AcceptNewHostKeys, opts.Pool
	work, err := os.MkdirTemp(cfg.ManagerWorkdir, cfg.App+".work.")
	if err != nil {
		act.endFailover(cfg, nil)
		return nil, err
	}
	defer os.RemoveAll(work)
	first := cfg.Servers[0]
	fopts := failover.Options{
		App: cfg.App,
		Plan: failover.PlanOptions{NewMasterHost: opts.NewMaster, LatestPriority: first.LatestPriority,
			CheckReplDelay: first.CheckReplDelay, GTID: first.UseGTIDAutoPos, MultiTierSlave: first.MultiTierSlave},
		SSHReachable: opts.SSHReachable, SkipSalvage: opts.SkipSalvage, SkipDisableRO: opts.SkipDisableRO, SkipChangeMaster: opts.SkipChangeMaster,
		SkipResetSlave: first.SkipResetSlave, WorkDir: work, Detection: opts.Detection, Logger: logger,
		RelayWait: time.Duration(first.RelayWaitTimeout) * time.Second,
		Rerun:     resumeCommand(cfg), Journal: act, Resume: resume,
	}
	if dead, ok := cfg.Server(opts.Dead.Host, opts.Dead.Port); ok {
		fopts.Fence, fopts.DeadAddr, fopts.DeadPIDFile = failover.FenceMode(dead.FenceOldMaster), dead.IP, dead.MasterPIDFile
		fopts.DeadGone = opts.DeadGone
	}
	con.Infof("Starting master failover.")
	con.Infof("Dead master: %s", hostInfo(cfg, opts.Dead.String()))
	rep, ferr := failover.Failover(ctx, env, NewHooks(cfg, opts.HookTimeout), opts.Dead, fopts)
	if ferr != nil && opts.Coord != nil && opts.Coord.Check(context.WithoutCancel(ctx)) != nil {
		ferr = fmt.Errorf("%w; the leading manager finishes the failover from the journal: %w", ErrDeposed, ferr)
	}
	act.endFailover(cfg, ferr)
	if path, err := writeReport(cfg, rep); err != nil {
		con.Warnf("could not write the failover report: %v", err)
	} else {
		con.Infof("Failover report written to %s (and .json)", path)
	}
	if j, err := rep.JSON(); err == nil && opts.Coord != nil {
		if err := publish(opts.Coord, "report", j); err != nil {
			logger.Warn("failover report not published", "error", err)
		}
	}
	con.Raw(rep.String())
	switch {
	case ferr == nil:
		con.Infof("Master failover to %s completed successfully.", hostInfo(cfg, rep.NewMaster))
	case ExitCode(ferr) == ExitFailoverPartial:
		con.Errorf("Master failover to %s done, but recovery on slave partially failed.", hostInfo(cfg, rep.NewMaster))
	case errors.Is(ferr, ErrDeposed):
		con.Errorf("Failover stopped: %v", ferr)
		if opts.Status != nil {
			_ = opts.Status.Remove()
		}
		return rep, ferr
	default:
		con.Errorf("Got ERROR: %v", ferr)
	}
	finishFlags(cfg, rep, ferr, opts.Status)
	return rep, ferr
}

// hostInfo names the server at key ("ip:port") as MHA's log lines do:
// hostname(ip:port).
func hostInfo(cfg *config.Config, key string) string {
	if s, ok := serverByKey(cfg, key); ok {
		return TopologyServer(s).Label()
	}
	return key
}

// finishFlags writes MHA's failover.complete / failover.error files.
func finishFlags(cfg *config.Config, rep *failover.Report, err error, status *StatusFile) {
	complete, errFile := flagFiles(cfg)
	if err == nil || ExitCode(err) == ExitFailoverPartial {
		touch(complete)
		if status != nil {
			_ = status.Remove()
		}
		return
	}
	if status != nil {
		_ = status.Set(StatusFailoverError, rep.DeadMaster)
	}
	fenced := false
	for _, p := range rep.Phases {
		if p.Name == "2 dead master shutdown" {
			fenced = true
		}
	}
	if fenced {
		touch(errFile)
	}
}

func touch(path string) {
	now := time.Now()
	if err := os.Chtimes(path, now, now); err != nil {
		if f, err := os.Create(path); err == nil {
			f.Close()
		}
	}
}

func writeReport(cfg *config.Config, rep *failover.Report) (string, error) {
	base := filepath.Join(cfg.ManagerWorkdir, fmt.Sprintf("%s.%s.%s", cfg.App, rep.Kind, rep.Started.Format("20060102-150405.000")))
	j, err := rep.JSON()
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(base+".json", j, 0o640); err != nil {
		return "", err
	}
	return base + ".txt", os.WriteFile(base+".txt", []byte(rep.String()), 0o640)
}
