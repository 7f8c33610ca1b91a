package manager

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/gomha/gomha/coord"
	"github.com/gomha/gomha/failover"
	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/node"
	"github.com/gomha/gomha/topology"
)

// ErrInterrupted means a failover was interrupted (killed, or halted after
// it began changing servers): its journal is there, and the next run must
// finish it (gomha failover --resume) rather than start another.
var ErrInterrupted = errors.New("an interrupted failover must be finished first")

// actor is the right to act on a cluster (coord's lock, on the workdir and
// on every server that answers) and, for a failover, its journal.
type actor struct {
	lock     *coord.Lock
	journal  *coord.Journal // the journal in manager_workdir (without a coordination)
	shared   Coordination   // the journal and the right to act shared by managers (etcd)
	recorded int            // steps recorded after the first entry
	log      *slog.Logger
}

// acquire takes the cluster's lock for action; servers lists the servers
// to lock too (nil: only the local lock).
func acquire(ctx context.Context, cfg *config.Config, action, detail string, servers []node.MySQLConfig, log *slog.Logger) (*actor, error) {
	lock, err := coord.Acquire(ctx, coord.Options{Workdir: cfg.ManagerWorkdir, App: cfg.App, Action: action, Detail: detail,
		Servers: servers, ServerTimeout: time.Second, Logger: log})
	if err != nil {
		return nil, err
	}
	for _, s := range lock.Skipped() {
		log.Warn("server not locked: it does not answer", "server", s.Server, "error", s.Err)
	}
	return &actor{lock: lock, log: log}, nil
}

// lockServers is every configured server but skip, for the lock.
func lockServers(cfg *config.Config, skip topology.Key, localAddr string) []node.MySQLConfig {
	var out []node.MySQLConfig
	for _, s := range cfg.Servers {
		if TopologyServer(s).Key() == skip {
			continue
		}
		mc := MySQLConfig(s, time.Second)
		mc.LocalAddr = localAddr
		out = append(out, mc)
	}
	return out
}

// Record satisfies failover.Journal: before a step is taken, the lock on
// the servers is checked (the fencing token: an actor that lost it must
// stop) and the step is written and synced.
func (a *actor) Record(step, server, detail string, data map[string]string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.lock.Check(ctx); err != nil {
		return err
	}
	e := coord.Entry{Step: step, Server: server, Detail: detail, Data: data}
	switch {
	case a.shared != nil:
		a.recorded++
		return a.shared.Append(ctx, e)
	case a.journal != nil:
		a.recorded++
		return a.journal.Append(e)
	}
	return nil
}

// beginFailover takes the lock and opens the journal of a failover of
// dead; with resume it reopens the interrupted run's journal and says
// where that run stood. Without resume, an interrupted run's journal
// refuses the failover (ErrInterrupted), naming what to run.
func beginFailover(ctx context.Context, cfg *config.Config, opts FailoverOptions) (*actor, *failover.Resume, error) {
	// The lock first: a journal is only an interrupted run's when nobody
	// holds the lock any more; while its failover runs, the holder is named.
	a, err := acquire(ctx, cfg, "failover", "dead master "+opts.Dead.String(), lockServers(cfg, opts.Dead, opts.LocalAddr), opts.logger())
	if err != nil {
		return nil, nil, err
	}
	if opts.Coord != nil {
		return a.beginShared(ctx, cfg, opts)
	}
	entries, _, err := coord.ReadJournal(cfg.ManagerWorkdir, cfg.App)
	switch {
	case err != nil:
		a.release()
		return nil, nil, err
	case len(entries) > 0 && !opts.Resume:
		a.release()
		return nil, nil, fmt.Errorf("%w: %s; finish it with %s", ErrInterrupted, coord.Summary(entries), resumeCommand(cfg))
	case len(entries) == 0 && opts.Resume:
		a.release()
		return nil, nil, fmt.Errorf("nothing to resume: no failover journal in %s", cfg.ManagerWorkdir)
	}
	if opts.Resume {
		j, entries, err := coord.Resume(cfg.ManagerWorkdir, cfg.App)
		if err != nil {
			a.release()
			return nil, nil, err
		}
		a.journal = j
		return a, resumeFrom(entries), a.Record("resume", opts.Dead.String(), "finish the interrupted failover", nil)
	}
	j, err := coord.OpenJournal(cfg.ManagerWorkdir, cfg.App)
	if err != nil {
		a.release()
		return nil, nil, err
	}
	a.journal = j
	if err := j.Append(coord.Entry{Step: "failover", Server: opts.Dead.String(), Detail: "dead master"}); err != nil {
		a.release()
		return nil, nil, err
	}
	return a, nil, nil
}

// stepFailed ends the shared journal of a failover that failed (rather
// than being interrupted): a person decides, then runs --resume.
const stepFailed = "failed"

// beginShared opens the failover's journal in the coordination (etcd):
// the right to act is checked first, and an interrupted run's journal is
// resumed only when asked (the leading manager asks when it takes over).
func (a *actor) beginShared(ctx context.Context, cfg *config.Config, opts FailoverOptions) (*actor, *failover.Resume, error) {
	fail := func(err error) (*actor, *failover.Resume, error) {
		a.release()
		return nil, nil, err
	}
	if err := opts.Coord.Check(ctx); err != nil {
		return fail(err)
	}
	entries, err := opts.Coord.Journal(ctx)
	switch {
	case err != nil:
		return fail(err)
	case len(entries) > 0 && !opts.Resume:
		return fail(fmt.Errorf("%w: %s; the leading manager finishes it when it takes over", ErrInterrupted, coord.Summary(entries)))
	case len(entries) == 0 && opts.Resume:
		return fail(errors.New("nothing to resume: the failover journal in etcd is empty"))
	}
	a.shared = opts.Coord
	if opts.Resume {
		if entries[0].Server != opts.Dead.String() {
			return fail(fmt.Errorf("the interrupted failover replaces %s, not %s", entries[0].Server, opts.Dead))
		}
		return a, resumeFrom(entries), a.Record("resume", opts.Dead.String(), "finish the interrupted failover", nil)
	}
	if err := opts.Coord.Append(ctx, coord.Entry{Step: "failover", Server: opts.Dead.String(), Detail: "dead master"}); err != nil {
		return fail(err)
	}
	return a, nil, nil
}

// InterruptedDead is the dead master of an interrupted failover, from its
// journal; zero when there is none.
func InterruptedDead(cfg *config.Config) (topology.Key, error) {
	entries, _, err := coord.ReadJournal(cfg.ManagerWorkdir, cfg.App)
	if err != nil || len(entries) == 0 {
		return topology.Key{}, err
	}
	return topology.ParseKey(entries[0].Server)
}

// resumeFrom reads where an interrupted failover stood.
func resumeFrom(entries []coord.Entry) *failover.Resume {
	res := &failover.Resume{}
	for _, e := range entries {
		switch e.Step {
		case "plan":
			if k, err := topology.ParseKey(e.Data["new_master"]); err == nil {
				res.NewMaster = k
			}
		case "catch-up":
			res.CatchingUp = true
		case "promote":
			res.Promoted, res.PromotedPos = true, e.Data["promoted_pos"]
		}
	}
	return res
}

// endFailover closes the journal: a failover that ended (done, or with
// some replica left for a person: exit 10) or that changed nothing is
// moved out of the way; one that stopped half-way stays for --resume.
func (a *actor) endFailover(cfg *config.Config, err error) {
	if a.shared != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		switch {
		case err == nil || ExitCode(err) == ExitFailoverPartial || a.recorded == 0:
			if ferr := a.shared.FinishJournal(ctx); ferr != nil {
				a.log.Warn("failover journal in etcd not closed", "error", ferr)
			}
		case !errors.Is(err, ErrDeposed):
			// Failed, not interrupted: no successor resumes it on its own.
			if ferr := a.shared.Append(ctx, coord.Entry{Step: stepFailed, Detail: err.Error()}); ferr != nil {
				a.log.Warn("failure not recorded in the failover journal in etcd", "error", ferr)
			}
		}
		cancel()
	}
	if a.journal != nil {
		a.journal.Close()
		if err == nil || ExitCode(err) == ExitFailoverPartial || a.recorded == 0 {
			if ferr := coord.Finish(cfg.ManagerWorkdir, cfg.App); ferr != nil {
				a.log.Warn("failover journal not closed", "error", ferr)
			}
		}
	}
	a.release()
}

func (a *actor) release() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.lock.Release(ctx); err != nil {
		a.log.Warn("lock not released cleanly", "error", err)
	}
}

// resumeCommand finishes an interrupted failover.
func resumeCommand(cfg *config.Config) string {
	c := "gomha failover --conf " + cfg.File
	if cfg.GlobalFile != "" {
		c += " --global-conf " + cfg.GlobalFile
	}
	return "`" + c + " --resume`"
}

// ConfHost is masterha_conf_host: it adds or deletes a [server] block of
// file under the cluster's local lock, so that it never races a failover or
// a switchover of that cluster. A file that does not load (being fixed) is
// edited without the lock.
func ConfHost(ctx context.Context, file, global, command, block, hostname string, params map[string]string, log *slog.Logger) error {
	if cfg, err := config.Load(ctx, file, config.Options{GlobalFile: global}); err == nil {
		if err := os.MkdirAll(cfg.ManagerWorkdir, 0o750); err == nil {
			a, err := acquire(ctx, cfg, "conf-host", command+" "+block+hostname, nil, log)
			if err != nil {
				return err
			}
			defer a.release()
		}
	}
	return config.EditHost(file, command, block, hostname, params)
}

// Progress says what the failover of cfg's cluster is doing, from its
// journal, for an operator who asks (a second Ctrl-C).
func Progress(cfg *config.Config) string {
	entries, _, err := coord.ReadJournal(cfg.ManagerWorkdir, cfg.App)
	if err != nil || len(entries) == 0 {
		return "no failover step recorded yet"
	}
	last := entries[len(entries)-1]
	return fmt.Sprintf("last step: %s %s (%s); the failover finishes by itself; if this process is killed, finish it with %s",
		last.Step, last.Server, last.Detail, resumeCommand(cfg))
}
