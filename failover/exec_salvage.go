package failover

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/gomha/gomha/binlog"
	"github.com/gomha/gomha/topology"
)

// extracted is a local binlog file holding events some server lacks.
type extracted struct {
	path string
	sum  binlog.ExtractSummary
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

// salvage extracts every complete transaction of the dead master's binary
// logs from `from` (a transaction boundary in master coordinates) to their
// end into a local file. The logs were copied over SSH in the background
// (prefetchDeadBinlogs); nothing is installed on the host.
func (r *run) salvage(ctx context.Context, from topology.BinlogCoord) (*extracted, error) {
	if r.fetch == nil {
		return nil, fmt.Errorf("binlogs of %s were not fetched", r.dead)
	}
	res := <-r.fetch
	r.fetch <- res
	if res.err != nil {
		return nil, fmt.Errorf("copy binlogs of %s over SSH: %w", r.dead, res.err)
	}
	return r.extract(ctx, fmt.Sprintf("saved_master_binlog_from_%s_%d_*.binlog", r.dead.Host, r.dead.Port),
		binlog.FileSources(res.files...), binlog.Pos{File: from.File, Offset: from.Pos})
}

func (r *run) extract(ctx context.Context, pattern string, srcs []binlog.Source, start binlog.Pos) (*extracted, error) {
	f, err := os.CreateTemp(r.opts.WorkDir, pattern)
	if err != nil {
		return nil, fmt.Errorf("create work file: %w", err)
	}
	defer f.Close()
	sum, err := binlog.Extract(ctx, f, srcs, start, binlog.ExtractOptions{Logger: r.opts.Logger})
	if err == nil {
		err = f.Sync()
	}
	if err != nil {
		os.Remove(f.Name())
		return nil, fmt.Errorf("extract from %s: %w", start, err)
	}
	return &extracted{path: f.Name(), sum: sum}, nil
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
	// One remote command reads the index and sends every relay log it lists
	// (relative names are relative to the index's directory).
	script := "cd " + shellQuote(path.Dir(index)) + " || exit 4; while IFS= read -r f; do [ -n \"$f\" ] || continue; " +
		"s=$(wc -c < \"$f\") || exit 5; printf '%s %s\\n' \"${f##*/}\" \"$s\"; head -c \"$s\" \"$f\" || exit 5; done < " + shellQuote(index)
	files, err := streamFrames(ctx, sh, script, filepath.Join(r.opts.WorkDir, fmt.Sprintf("relay-%s_%d", key.Host, key.Port)))
	if err != nil {
		return nil, fmt.Errorf("copy relay logs of %s (index %s): %w", key, index, err)
	}
	return binlog.FileSources(files...), nil
}

// shellQuote single-quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// apply applies extracted files, in order, to a server.
func (r *run) apply(ctx context.Context, key topology.Key, files ...*extracted) error {
	var paths []string
	for _, f := range files {
		if f.trxs() > 0 {
			paths = append(paths, f.path)
		}
	}
	if len(paths) == 0 {
		return nil
	}
	return binlog.Apply(ctx, r.env.ApplyTarget(key), paths, binlog.ApplyOptions{TempDir: r.opts.WorkDir, Logger: r.opts.Logger})
}
