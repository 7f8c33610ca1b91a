package failover

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gomha/gomha/topology"
)

// copyBinlogsSFTP copies what copyBinlogsFrom copies, reading the files
// over SFTP instead of running a command: no shell starts on the host. Of
// the first directory of dirs that holds binlogs of from's base name from
// from.File on: of from.File its first headBytes and the bytes from
// from.Pos on (leaving a hole), the later files whole. Files purged before
// the master died are absent: the copy starts at the first that exists.
func copyBinlogsSFTP(ctx context.Context, fsys RemoteFiles, dirs []string, from topology.BinlogCoord, dest string) ([]string, int64, error) {
	base, first, err := topology.SplitBinlogName(from.File)
	if err != nil {
		return nil, 0, err
	}
	for _, d := range dirs {
		names := binlogsFrom(fsys, d, base, first)
		if len(names) == 0 {
			continue
		}
		if err := os.MkdirAll(dest, 0o700); err != nil {
			return nil, 0, err
		}
		var files []string
		var total int64
		for _, n := range names {
			if err := ctx.Err(); err != nil {
				return files, total, err
			}
			pos := int64(0)
			if n == from.File {
				pos = int64(from.Pos)
			}
			local := filepath.Join(dest, n)
			copied, err := copyRemoteBinlog(fsys, path.Join(d, n), local, pos)
			total += copied
			if err != nil {
				return files, total, err
			}
			files = append(files, local)
		}
		return files, total, nil
	}
	return nil, 0, fmt.Errorf("no binlog from %s on in master_binlog_dir %s", from.File, strings.Join(dirs, ","))
}

// binlogsFrom lists, in order, the regular files of dir named base.N with N
// at least first.
func binlogsFrom(fsys RemoteFiles, dir, base string, first uint64) []string {
	entries, err := fsys.ReadDir(dir)
	if err != nil {
		return nil
	}
	type seqName struct {
		seq  uint64
		name string
	}
	var found []seqName
	for _, e := range entries {
		b, seq, err := topology.SplitBinlogName(e.Name())
		if err != nil || b != base || seq < first || !e.Mode().IsRegular() {
			continue
		}
		found = append(found, seqName{seq, e.Name()})
	}
	sort.Slice(found, func(i, j int) bool { return found[i].seq < found[j].seq })
	names := make([]string, len(found))
	for i, f := range found {
		names[i] = f.name
	}
	return names
}

// copyRemoteBinlog copies the remote binlog into local: its first headBytes
// and its bytes from pos on when pos is past them, else all of it. The
// local file has the remote file's length.
func copyRemoteBinlog(fsys RemoteFiles, remote, local string, pos int64) (int64, error) {
	rf, err := fsys.Open(remote)
	if err != nil {
		return 0, fmt.Errorf("open %s: %w", remote, err)
	}
	defer rf.Close()
	fi, err := rf.Stat()
	if err != nil {
		return 0, fmt.Errorf("stat %s: %w", remote, err)
	}
	size := fi.Size()
	if pos > size {
		return 0, fmt.Errorf("%s is %d bytes long, shorter than the position %d", remote, size, pos)
	}
	var copied int64
	if pos > headBytes {
		if err := writeAt(local, io.NewSectionReader(rf, 0, headBytes), 0, headBytes); err != nil {
			return 0, err
		}
		copied = headBytes
	} else {
		pos = 0
	}
	f, err := os.OpenFile(local, os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		return copied, err
	}
	if _, err := f.Seek(pos, io.SeekStart); err != nil {
		f.Close()
		return copied, err
	}
	n, err := rf.CopyTo(f, pos)
	copied += n
	if err == nil && pos+n != size {
		err = fmt.Errorf("%s: copied %d bytes from %d, the file holds %d", remote, n, pos, size)
	}
	if err == nil {
		// A copy from the very end keeps the binlog's length: the
		// extraction starts at pos, which must exist.
		err = f.Truncate(size)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return copied, fmt.Errorf("copy %s: %w", remote, err)
	}
	return copied, nil
}
