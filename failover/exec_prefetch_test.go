package failover

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"os"
	oexec "os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomha/gomha/topology"
)

// localShell runs commands with the local sh, as the SSH session runs them
// on a database host, and counts the bytes streamed back.
type localShell struct{ streamed int64 }

func (l *localShell) Run(ctx context.Context, cmd string) ([]byte, []byte, error) {
	var out, errb bytes.Buffer
	c := oexec.CommandContext(ctx, "sh", "-c", cmd)
	c.Stdout, c.Stderr = &out, &errb
	err := c.Run()
	return out.Bytes(), errb.Bytes(), err
}

func (l *localShell) Stream(ctx context.Context, cmd string) (io.ReadCloser, error) {
	out, _, err := l.Run(ctx, cmd)
	l.streamed += int64(len(out))
	if err != nil {
		return nil, err
	}
	return io.NopCloser(bytes.NewReader(out)), nil
}

func (l *localShell) Close() error { return nil }

func writeRandom(t *testing.T, path string, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(uint64(n), 7))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCopyBinlogsFrom runs the remote copy script on local files: only the
// header and the bytes from the start position are sent of the first file,
// placed at their offsets; purged files are skipped; the first directory
// that has the binlogs is used.
func TestCopyBinlogsFrom(t *testing.T) {
	const size = 600 << 10
	cases := []struct {
		name, why  string
		files      []string // present in the second of two directories
		from       topology.BinlogCoord
		wantFiles  []string
		wantSentAt most
	}{
		{"mid-file start", "only the header and the tail of the first file cross the network",
			[]string{"mysql-bin.000001", "mysql-bin.000002", "mysql-bin.index"}, topology.BinlogCoord{File: "mysql-bin.000001", Pos: 400 << 10},
			[]string{"mysql-bin.000001", "mysql-bin.000002"}, most(headBytes + (size - 400<<10) + size + 200)},
		{"start at the very end", "replicas in sync: nothing to send of the first file, which keeps its length",
			[]string{"mysql-bin.000001"}, topology.BinlogCoord{File: "mysql-bin.000001", Pos: size},
			[]string{"mysql-bin.000001"}, most(headBytes + 200)},
		{"start near the beginning", "a start inside the header region sends the file whole",
			[]string{"mysql-bin.000001", "mysql-bin.000002"}, topology.BinlogCoord{File: "mysql-bin.000001", Pos: 300},
			[]string{"mysql-bin.000001", "mysql-bin.000002"}, most(2*size + 200)},
		{"earlier files ignored", "files before the start are not copied",
			[]string{"mysql-bin.000009", "mysql-bin.000010", "mysql-bin.000011"}, topology.BinlogCoord{File: "mysql-bin.000010", Pos: 4},
			[]string{"mysql-bin.000010", "mysql-bin.000011"}, most(2*size + 200)},
		{"start file purged", "the files that exist are still copied",
			[]string{"mysql-bin.000003", "mysql-bin.000004"}, topology.BinlogCoord{File: "mysql-bin.000002", Pos: 500 << 10},
			[]string{"mysql-bin.000003", "mysql-bin.000004"}, most(2*size + 200)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			empty, dir, dest := t.TempDir(), t.TempDir(), t.TempDir()
			orig := map[string][]byte{}
			for _, f := range c.files {
				orig[f] = writeRandom(t, filepath.Join(dir, f), size)
			}
			sh := &localShell{}
			got, n, err := copyBinlogsFrom(context.Background(), sh, []string{empty, dir}, c.from, dest)
			if err != nil {
				t.Fatalf("%s: %v", c.why, err)
			}
			var names []string
			for _, p := range got {
				names = append(names, filepath.Base(p))
			}
			if strings.Join(names, ",") != strings.Join(c.wantFiles, ",") {
				t.Fatalf("%s: copied %v, want %v", c.why, names, c.wantFiles)
			}
			if sh.streamed > int64(c.wantSentAt) || n > sh.streamed {
				t.Errorf("%s: %d bytes streamed, want at most %d", c.why, sh.streamed, c.wantSentAt)
			}
			for i, p := range got {
				local, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				want := orig[names[i]]
				from := int64(0)
				if names[i] == c.from.File && c.from.Pos > headBytes {
					from = c.from.Pos
					if !bytes.Equal(local[:headBytes], want[:headBytes]) {
						t.Errorf("%s: header of %s differs", c.why, names[i])
					}
				}
				if !bytes.Equal(local[from:], want[from:]) || len(local) != len(want) {
					t.Errorf("%s: %s from %d differs from the original", c.why, names[i], from)
				}
			}
			c2 := &binlogCopy{from: c.from, files: got}
			start, lost := salvageStart(c2, c.from)
			if purged := names[0] != c.from.File; purged != (lost != "") || (purged && start.File != names[0]) {
				t.Errorf("%s: salvage starts at %s, lost %q", c.why, start, lost)
			}
		})
	}
	_, _, err := copyBinlogsFrom(context.Background(), &localShell{}, []string{t.TempDir()}, topology.BinlogCoord{File: "mysql-bin.000001", Pos: 4}, t.TempDir())
	if err == nil {
		t.Errorf("a directory without binlogs must be an error")
	}
}

type most int64
