package failover

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/gomha/gomha/topology"
)

// localFiles reads this machine's files as RemoteFiles do a host's.
type localFiles struct{}

func (localFiles) ReadDir(dir string) ([]fs.FileInfo, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []fs.FileInfo
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil {
			return nil, err
		}
		out = append(out, fi)
	}
	return out, nil
}

func (localFiles) Open(path string) (RemoteFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	return localFile{f}, nil
}

type localFile struct{ *os.File }

func (f localFile) CopyTo(w io.Writer, off int64) (int64, error) {
	return io.Copy(w, io.NewSectionReader(f, off, 1<<62))
}

// TestCopyBinlogsSFTP: the copy holds the first file's header and its tail
// from the position at their offsets, the later files whole, and skips
// files of another base name or before the position's file.
func TestCopyBinlogsSFTP(t *testing.T) {
	src, dest := t.TempDir(), t.TempDir()
	content := func(n int, seed byte) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = seed + byte(i%251)
		}
		return b
	}
	files := map[string][]byte{
		"mysql-bin.000001": content(1000, 1), "mysql-bin.000002": content(200_000, 2),
		"mysql-bin.000003": content(5000, 3), "relay-bin.000009": content(10, 4), "mysql-bin.index": []byte("x"),
	}
	for n, b := range files {
		if err := os.WriteFile(filepath.Join(src, n), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	const pos = 150_000
	got, n, err := copyBinlogsSFTP(context.Background(), localFiles{}, []string{"/nonexistent", src},
		topology.BinlogCoord{File: "mysql-bin.000002", Pos: pos}, dest)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || filepath.Base(got[0]) != "mysql-bin.000002" || filepath.Base(got[1]) != "mysql-bin.000003" {
		t.Fatalf("copied %v", got)
	}
	if want := int64(headBytes + (200_000 - pos) + 5000); n != want {
		t.Errorf("copied %d bytes, want %d", n, want)
	}
	first, _ := os.ReadFile(got[0])
	orig := files["mysql-bin.000002"]
	if len(first) != len(orig) || !bytes.Equal(first[:headBytes], orig[:headBytes]) || !bytes.Equal(first[pos:], orig[pos:]) {
		t.Errorf("mysql-bin.000002: %d bytes, header or tail differ from the original", len(first))
	}
	if second, _ := os.ReadFile(got[1]); !bytes.Equal(second, files["mysql-bin.000003"]) {
		t.Errorf("mysql-bin.000003 differs from the original")
	}
	// From the very end of the last file (replicas in sync): its header
	// and its full length, so that the extraction can start there.
	got, _, err = copyBinlogsSFTP(context.Background(), localFiles{}, []string{src},
		topology.BinlogCoord{File: "mysql-bin.000002", Pos: 200_000}, t.TempDir())
	if fi, serr := os.Stat(got[0]); err != nil || serr != nil || fi.Size() != 200_000 {
		t.Errorf("copy from the end: %v %v, want the file's full length", err, serr)
	}
	if _, _, err := copyBinlogsSFTP(context.Background(), localFiles{}, []string{src},
		topology.BinlogCoord{File: "mysql-bin.000003", Pos: 6000}, t.TempDir()); err == nil {
		t.Errorf("a position beyond the file's end was accepted")
	}
}
