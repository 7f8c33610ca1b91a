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
	"sync/atomic"

	"github.com/gomha/gomha/binlog"
	"github.com/gomha/gomha/topology"
)

// headBytes of a binlog are copied before a jump to the position a copy
// starts at: its header events (FDE, Gtid_list, checkpoint) are there.
const headBytes = 64 << 10

// binlogCopy is the dead master's binary logs from one coordinate on,
// being copied into the work directory.
type binlogCopy struct {
	from  topology.BinlogCoord
	done  chan struct{}
	files []string // local paths, in order; the first may be sparse
	bytes int64    // bytes copied
	err   error
}

func (c *binlogCopy) wait(ctx context.Context) error {
	select {
	case <-c.done:
		return c.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// covers reports whether the copy holds the binlog from coordinate at on.
func (c *binlogCopy) covers(at topology.BinlogCoord) bool {
	cmp, err := topology.CompareBinlogCoords(c.from, at)
	return err == nil && cmp <= 0
}

var copySeq atomic.Int64

// prefetchDeadBinlogs starts copying, over SSH, the dead master's binlogs
// from where the latest replica stood in the snapshot, so the copy overlaps
// the fencing, the relay-log wait and the new master's recovery. Only the
// bytes needed are copied: the header of the first file, then from that
// position on.
func (r *run) prefetchDeadBinlogs(ctx context.Context) {
	from := r.prefetchStart()
	if r.opts.SkipSalvage {
		r.fetch = &binlogCopy{done: make(chan struct{}), err: errors.New("--skip_save_master_binlog")}
		close(r.fetch.done)
		return
	}
	if from.File == "" {
		r.fetch = &binlogCopy{done: make(chan struct{}), err: errors.New("no replica reports a master binlog position")}
		close(r.fetch.done)
		return
	}
	r.fetch = r.copyBinlogs(ctx, from)
}

// prefetchStart is the furthest executed position among the replicas whose
// SQL thread has not stopped on an error: the salvage starts at the latest
// replica's executed position once it applied what it received, never
// before that.
func (r *run) prefetchStart() topology.BinlogCoord {
	var from topology.BinlogCoord
	for _, k := range r.order {
		rep := r.surv[k].status.Replica
		if rep == nil || (!rep.SQLRunning && rep.LastSQLErrno != 0) {
			continue
		}
		c := rep.ExecCoord()
		if cmp, err := topology.CompareBinlogCoords(c, from); from.File == "" || (err == nil && cmp > 0) {
			from = c
		}
	}
	return from
}

// binlogsFrom returns the dead master's binlogs holding from on: the
// prefetched copy when it reaches back far enough, else a new copy.
func (r *run) binlogsFrom(ctx context.Context, from topology.BinlogCoord) (*binlogCopy, error) {
	c := r.fetch
	if c == nil || !c.covers(from) {
		c = r.copyBinlogs(ctx, from)
	}
	if err := c.wait(ctx); err != nil {
		return nil, fmt.Errorf("copy binlogs of %s from %s over SSH: %w", r.dead, from, err)
	}
	return c, nil
}

// copyBinlogs copies, in the background with one remote command bounded by
// CopyWait, every binlog of the dead master from coordinate from on.
func (r *run) copyBinlogs(ctx context.Context, from topology.BinlogCoord) *binlogCopy {
	c := &binlogCopy{from: from, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		sh, err := r.deadShell.wait()
		if err != nil {
			c.err = err
			return
		}
		cctx, cancel := context.WithTimeout(ctx, r.opts.CopyWait)
		defer cancel()
		dir := filepath.Join(r.opts.WorkDir, fmt.Sprintf("dead-master-binlogs-%d", copySeq.Add(1)))
		c.files, c.bytes, c.err = copyBinlogs(cctx, sh, r.env.BinlogDirs(r.dead), from, dir)
		if errors.Is(c.err, context.DeadlineExceeded) {
			c.err = fmt.Errorf("copy not finished within %s: %w", r.opts.CopyWait, c.err)
		}
	}()
	return c
}

// copyBinlogs copies over SFTP when the shell offers it (no shell starts
// on the host), else with one remote command.
func copyBinlogs(ctx context.Context, sh Shell, dirs []string, from topology.BinlogCoord, dest string) ([]string, int64, error) {
	if fsh, ok := sh.(FileShell); ok {
		if fsys, err := fsh.Files(ctx); err == nil {
			return copyBinlogsSFTP(ctx, fsys, dirs, from, dest)
		}
	}
	return copyBinlogsFrom(ctx, sh, dirs, from, dest)
}

// copyBinlogsFrom copies with one remote command the binlogs of the first
// directory of dirs that has any from from.File on: of from.File its first
// 64 KiB and the bytes from from.Pos on (at their offsets, leaving a hole),
// the later files whole. Files purged before it died are simply absent:
// the copy starts at the first file that exists.
func copyBinlogsFrom(ctx context.Context, sh Shell, dirs []string, from topology.BinlogCoord, dest string) ([]string, int64, error) {
	base, seq, err := topology.SplitBinlogName(from.File)
	if err != nil {
		return nil, 0, err
	}
	q := make([]string, len(dirs))
	for i, d := range dirs {
		q[i] = shellQuote(d)
	}
	script := fmt.Sprintf("first=%d; pos=%d; head=%d; for d in %s; do cd \"$d\" 2>/dev/null || continue; found=0; "+
		"for f in $(ls -1v -- %s.[0-9]* 2>/dev/null); do n=$(expr \"${f##*.}\" + 0 2>/dev/null) || continue; [ \"$n\" -ge \"$first\" ] || continue; found=1; "+
		"s=$(wc -c < \"$f\") || exit 5; "+
		"if [ \"$n\" -eq \"$first\" ] && [ \"$pos\" -gt \"$head\" ]; then [ \"$s\" -ge \"$pos\" ] || exit 6; "+
		"printf '%%s 0 %%s\\n' \"$f\" \"$head\"; head -c \"$head\" \"$f\" || exit 5; "+
		"t=$((s - pos)); printf '%%s %%s %%s\\n' \"$f\" \"$pos\" \"$t\"; tail -c +$((pos + 1)) \"$f\" | head -c \"$t\" || exit 5; "+
		"else printf '%%s 0 %%s\\n' \"$f\" \"$s\"; head -c \"$s\" \"$f\" || exit 5; fi; done; [ $found = 1 ] && exit 0; done; exit 3",
		seq, from.Pos, headBytes, strings.Join(q, " "), shellQuote(base))
	files, n, err := streamFrames(ctx, sh, script, dest)
	if err == nil && len(files) == 0 {
		err = fmt.Errorf("no binlog from %s on in master_binlog_dir %s", from.File, strings.Join(dirs, ","))
	}
	return files, n, err
}

// salvageStart is where the extraction of a copy starts for coordinate
// from: from itself, or the start of the first file copied when from's
// file was purged; lost is then the range that no longer exists.
func salvageStart(c *binlogCopy, from topology.BinlogCoord) (start binlog.Pos, lost string) {
	first := filepath.Base(c.files[0])
	if first == from.File {
		return binlog.Pos{File: first, Offset: from.Pos}, ""
	}
	return binlog.Pos{File: first, Offset: int64(len(binlog.Magic))}, fmt.Sprintf("%s to %s:%d", from, first, len(binlog.Magic))
}

// streamFrames runs a remote command that writes file pieces framed as
// "<name> <offset> <size>\n<bytes>" and stores them under dest at their
// offsets; it returns the files in the order they first appeared, and the
// bytes copied.
func streamFrames(ctx context.Context, sh Shell, script, dest string) ([]string, int64, error) {
	rc, err := sh.Stream(ctx, script)
	if err != nil {
		return nil, 0, err
	}
	defer rc.Close()
	if err := os.MkdirAll(dest, 0o700); err != nil {
		return nil, 0, err
	}
	br := bufio.NewReaderSize(rc, 1<<20)
	var files []string
	var total int64
	for {
		line, err := br.ReadString('\n')
		if errors.Is(err, io.EOF) && line == "" {
			return files, total, nil
		}
		if err != nil {
			return files, total, fmt.Errorf("copy files: %w", err)
		}
		name, off, size, ok := parseFrame(line)
		if !ok {
			return files, total, fmt.Errorf("copy files: unexpected frame %q", line)
		}
		p := filepath.Join(dest, name)
		if len(files) == 0 || files[len(files)-1] != p {
			files = append(files, p)
		}
		if err := writeAt(p, br, off, size); err != nil {
			return files, total, err
		}
		total += size
	}
}

func parseFrame(line string) (name string, off, size int64, ok bool) {
	f := strings.Fields(line)
	if len(f) != 3 || strings.ContainsAny(f[0], "/\x00") {
		return "", 0, 0, false
	}
	off, err1 := strconv.ParseInt(f[1], 10, 64)
	size, err2 := strconv.ParseInt(f[2], 10, 64)
	return f[0], off, size, err1 == nil && err2 == nil && off >= 0 && size >= 0
}

// writeAt copies n bytes of r into path at offset off. The file is at least
// off+n bytes long afterwards, even when n is 0: a copy that starts at the
// very end of a binlog keeps that binlog's length.
func writeAt(path string, r io.Reader, off, n int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		f.Close()
		return err
	}
	if _, err := io.CopyN(f, r, n); err != nil {
		f.Close()
		return fmt.Errorf("copy %s: %w", filepath.Base(path), err)
	}
	if fi, err := f.Stat(); err == nil && fi.Size() < off+n {
		if err := f.Truncate(off + n); err != nil {
			f.Close()
			return fmt.Errorf("copy %s: %w", filepath.Base(path), err)
		}
	}
	return f.Close()
}
