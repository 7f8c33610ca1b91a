package failover

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gomha/gomha/topology"
)

// fetched is the dead master's binary logs copied to the work directory.
type fetched struct {
	files []string // local paths, in order
	err   error
}

// prefetchDeadBinlogs copies, over one SSH command, every binlog of the dead
// master from first on into the work directory. It starts as soon as the
// snapshot says where the slowest replica stands, so the copy overlaps the
// fencing, the relay-log wait and the new master's recovery; the salvage
// then reads local files.
func (r *run) prefetchDeadBinlogs(ctx context.Context) {
	r.fetch = make(chan fetched, 1)
	first := r.oldestExecFile()
	if first == "" {
		r.fetch <- fetched{err: errors.New("no replica reports a master binlog file")}
		return
	}
	go func() {
		sh, err := r.deadShell.wait()
		if err != nil {
			r.fetch <- fetched{err: err}
			return
		}
		files, err := copyBinlogs(ctx, sh, r.env.BinlogDirs(r.dead), first, r.opts.WorkDir)
		r.fetch <- fetched{files: files, err: err}
	}()
}

// oldestExecFile is the oldest master binlog any replica still needs.
func (r *run) oldestExecFile() string {
	oldest := ""
	for _, k := range r.order {
		rep := r.surv[k].status.Replica
		f := rep.RelayMasterLogFile
		if f == "" {
			f = rep.MasterLogFile
		}
		if c, err := topology.CompareBinlogFiles(f, oldest); oldest == "" || (err == nil && c < 0) {
			oldest = f
		}
	}
	return oldest
}

// copyBinlogs copies, with one remote command, every binlog from first on
// (in numeric order) into dir.
func copyBinlogs(ctx context.Context, sh Shell, dirs []string, first, dir string) ([]string, error) {
	base, _, err := topology.SplitBinlogName(first)
	if err != nil {
		return nil, err
	}
	q := make([]string, len(dirs))
	for i, d := range dirs {
		q[i] = shellQuote(d)
	}
	script := "for d in " + strings.Join(q, " ") + "; do [ -f \"$d\"/" + shellQuote(first) + " ] || continue; cd \"$d\" || exit 4; on=0; " +
		"for f in $(ls -1v -- " + shellQuote(base) + ".[0-9]*); do [ \"$f\" = " + shellQuote(first) + " ] && on=1; [ $on = 1 ] || continue; " +
		"s=$(wc -c < \"$f\") || exit 5; printf '%s %s\\n' \"$f\" \"$s\"; head -c \"$s\" \"$f\" || exit 5; done; exit 0; done; exit 3"
	files, err := streamFrames(ctx, sh, script, filepath.Join(dir, "dead-master-binlogs"))
	if err == nil && len(files) == 0 {
		err = fmt.Errorf("%s not found in master_binlog_dir %s", first, strings.Join(dirs, ","))
	}
	return files, err
}

// streamFrames runs a remote command that writes files framed as
// "<name> <size>\n<bytes>" and stores them under dest.
func streamFrames(ctx context.Context, sh Shell, script, dest string) ([]string, error) {
	rc, err := sh.Stream(ctx, script)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	if err := os.MkdirAll(dest, 0o700); err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(rc, 1<<20)
	var files []string
	for {
		line, err := br.ReadString('\n')
		if errors.Is(err, io.EOF) && line == "" {
			return files, nil
		}
		if err != nil {
			return files, fmt.Errorf("copy files: %w", err)
		}
		name, size, ok := strings.Cut(strings.TrimSpace(line), " ")
		n, perr := strconv.ParseInt(size, 10, 64)
		if !ok || perr != nil || name == "" || strings.ContainsAny(name, "/\x00") {
			return files, fmt.Errorf("copy files: unexpected frame %q", line)
		}
		p := filepath.Join(dest, name)
		if err := copyN(p, br, n); err != nil {
			return files, err
		}
		files = append(files, p)
	}
}

func copyN(path string, r io.Reader, n int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.CopyN(f, r, n); err != nil {
		f.Close()
		return fmt.Errorf("copy %s: %w", filepath.Base(path), err)
	}
	return f.Close()
}
