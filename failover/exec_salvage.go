package failover

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/gomha/gomha/binlog"
	"github.com/gomha/gomha/topology"
)

// extracted is a local binlog file holding the events one server lacks,
// cut by what that server held when it was extracted.
type extracted struct {
	path string
	sum  binlog.ExtractSummary
	// what it was extracted from, to cut it again for a retry
	pattern string
	srcs    []binlog.Source
	start   binlog.Pos
}

func (e *extracted) trxs() int {
	if e == nil {
		return 0
	}
	return len(e.sum.Trxs)
}

func (e *extracted) ids() []string {
	if e == nil {
		return nil
	}
	var out []string
	for _, t := range e.sum.Trxs {
		if t.GTID != "" {
			out = append(out, t.GTID)
		} else {
			out = append(out, t.Master.String())
		}
	}
	return out
}

func (e *extracted) remove() {
	if e != nil && e.path != "" {
		os.Remove(e.path)
	}
}

// extractFor writes the transactions of srcs from start that the server
// holding held lacks (nil: all of them) into a work file.
func (r *run) extractFor(ctx context.Context, pattern string, srcs []binlog.Source, start binlog.Pos, held *holding) (*extracted, error) {
	f, err := os.CreateTemp(r.opts.WorkDir, pattern)
	if err != nil {
		return nil, fmt.Errorf("create work file: %w", err)
	}
	defer f.Close()
	opts := binlog.ExtractOptions{Logger: r.opts.Logger}
	if held != nil {
		opts.Skip = held.has
	}
	sum, err := binlog.Extract(ctx, f, srcs, start, opts)
	if err == nil {
		err = f.Sync()
	}
	if err != nil {
		os.Remove(f.Name())
		return nil, fmt.Errorf("extract from %s: %w", start, err)
	}
	return &extracted{path: f.Name(), sum: sum, pattern: pattern, srcs: srcs, start: start}, nil
}

// relayLogs copies a replica's relay logs (those its relay log index
// lists) into the work directory with one remote command, so that finding
// positions and extracting differences for every survivor read local files
// instead of streaming each relay log over SSH again for every survivor.
func (r *run) relayLogs(ctx context.Context, key topology.Key, n Node) ([]binlog.Source, error) {
	index, err := n.Var(ctx, "relay_log_index")
	if err != nil {
		return nil, err
	}
	if !path.IsAbs(index) {
		dd, err := n.Var(ctx, "datadir")
		if err != nil {
			return nil, err
		}
		index = path.Join(dd, index)
	}
	sh, err := r.env.Shell(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("ssh to %s: %w", key, err)
	}
	defer sh.Close()
	cctx, cancel := context.WithTimeout(ctx, r.opts.CopyWait)
	defer cancel()
	// One remote command reads the index and sends every relay log it lists
	// (relative names are relative to the index's directory).
	script := "cd " + shellQuote(path.Dir(index)) + " || exit 4; while IFS= read -r f; do [ -n \"$f\" ] || continue; " +
		"s=$(wc -c < \"$f\") || exit 5; printf '%s 0 %s\\n' \"${f##*/}\" \"$s\"; head -c \"$s\" \"$f\" || exit 5; done < " + shellQuote(index)
	files, _, err := streamFrames(cctx, sh, script, filepath.Join(r.opts.WorkDir, fmt.Sprintf("relay-%s_%d", key.Host, key.Port)))
	if err != nil {
		return nil, fmt.Errorf("copy relay logs of %s (index %s): %w", key, index, err)
	}
	return binlog.FileSources(files...), nil
}

// shellQuote single-quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// applyTo applies an extraction to one server inside a phase and moves its
// holding forward. The apply is bounded by relay_wait_timeout; sessions
// holding a lock it waits for are killed (the server is being promoted or
// repointed, its clients are readers); should it still fail on a lock wait,
// it is cut again by what the server then holds and tried once more, which
// GTIDs make safe.
func (r *run) applyTo(ctx context.Context, phase string, s *survivor, x *extracted) error {
	if x.trxs() == 0 {
		return nil
	}
	if err := r.journal("apply", s.key.String(), fmt.Sprintf("%d transactions (%s)", x.trxs(), x.pattern), nil); err != nil {
		return err
	}
	err := r.applyOnce(ctx, phase, s, x)
	if errors.Is(err, binlog.ErrLockWait) && (s.held.maria || s.held.hasMySQL) {
		r.rep.note(phase, "%s: the apply timed out waiting for a lock (%v); applying the rest again", s.key, err)
		if x, err = r.recut(ctx, s, x); err == nil {
			defer x.remove()
			err = r.applyOnce(ctx, phase, s, x)
		}
	}
	if err != nil {
		return fmt.Errorf("apply to %s: %w", s.key, err)
	}
	s.held.applied(x.sum)
	return nil
}

// recut extracts x again for s, cut by what s holds now.
func (r *run) recut(ctx context.Context, s *survivor, x *extracted) (*extracted, error) {
	st, err := s.node.Discover(ctx)
	if err != nil {
		return nil, err
	}
	h, err := holdingOf(st)
	if err != nil {
		return nil, err
	}
	h.coord = s.held.coord
	s.held = h
	return r.extractFor(ctx, x.pattern, x.srcs, x.start, s.held)
}

// applyOnce runs one apply, watching its session for lock waits.
func (r *run) applyOnce(ctx context.Context, phase string, s *survivor, x *extracted) error {
	wctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	opts := binlog.ApplyOptions{TempDir: r.opts.WorkDir, Logger: r.opts.Logger, Timeout: r.opts.RelayWait,
		LockWaitTimeout: 10 * time.Second,
		OnSession: func(id uint64) {
			wg.Go(func() { r.watchLocks(wctx, phase, s, id) })
		},
		Progress: func(file string, done, total int64) {
			r.opts.Logger.Info("applying missing events", "host", s.key.String(), "file", filepath.Base(file),
				"done_bytes", done, "total_bytes", total)
		}}
	err := binlog.Apply(ctx, r.env.ApplyTarget(s.key), []string{x.path}, opts)
	cancel()
	wg.Wait()
	return err
}

// watchLocks frees session id (0: the replication applier threads) of s
// whenever it waits for a lock held by a client, until ctx ends.
func (r *run) watchLocks(ctx context.Context, phase string, s *survivor, id uint64) {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		killed, err := s.node.KillLockHolders(ctx, id)
		if len(killed) > 0 {
			who := "the apply"
			if id == 0 {
				who = "its SQL thread"
			}
			r.rep.note(phase, "%s: %s waited for a lock; killed %s", s.key, who, strings.Join(killed, "; "))
		}
		if err != nil && ctx.Err() == nil {
			r.opts.Logger.Warn("looking for sessions that block the apply", "host", s.key.String(), "err", err)
		}
	}
}

// watching runs fn while freeing s's replication threads from client locks.
func (r *run) watching(ctx context.Context, phase string, s *survivor, fn func() error) error {
	wctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { r.watchLocks(wctx, phase, s, 0) })
	err := fn()
	cancel()
	wg.Wait()
	return err
}
