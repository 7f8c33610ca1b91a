package config

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// loadWithin runs Load and fails the test, instead of hanging it, when Load
// has not returned within d (a FIFO used to block the reader for ever).
func loadWithin(t *testing.T, d time.Duration, file string, opts Options) (*Config, error) {
	t.Helper()
	type result struct {
		cfg *Config
		err error
	}
	done := make(chan result, 1)
	go func() {
		cfg, err := Load(context.Background(), file, opts)
		done <- result{cfg, err}
	}()
	select {
	case r := <-done:
		return r.cfg, r.err
	case <-time.After(d):
		t.Fatalf("Load(%s) did not return within %s", file, d)
		return nil, nil
	}
}

// specialFiles makes, in a fresh directory, one file of each kind a
// configuration must not be, and returns their paths by name.
func specialFiles(t *testing.T) map[string]string {
	t.Helper()
	dir := t.TempDir()
	p := map[string]string{
		"fifo": filepath.Join(dir, "app.fifo"), "zero": filepath.Join(dir, "zero.cnf"),
		"dir": filepath.Join(dir, "conf.d"), "big": filepath.Join(dir, "big.cnf"),
		"linkfifo": filepath.Join(dir, "linkfifo.cnf"),
	}
	if err := syscall.Mkfifo(p["fifo"], 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/zero", p["zero"]); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(p["fifo"], p["linkfifo"]); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(p["dir"], 0o755); err != nil {
		t.Fatal(err)
	}
	// A sparse file: 16 MiB + 1 byte of size without writing them.
	f, err := os.Create(p["big"])
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(MaxFileSize + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return p
}

// TestSpecialFilesRefused: the application file, the global file and the
// file EditHost edits must be regular files of sane size; anything else is
// a one-line *Error naming the file, returned at once.
func TestSpecialFilesRefused(t *testing.T) {
	p := specialFiles(t)
	app := writeFile(t, t.TempDir(), "app1.cnf", "[server1]\nhostname=h1\n")
	cases := []struct {
		why, kind, msg string
	}{
		{"a FIFO used to block the reader until a writer came", "fifo", "is a named pipe (FIFO), not a regular file"},
		{"a link to /dev/zero used to grow without bound", "zero", "is a symbolic link to a character device, not a regular file"},
		{"a link to a FIFO is found through the link", "linkfifo", "is a symbolic link to a named pipe (FIFO), not a regular file"},
		{"a directory is not a configuration", "dir", "is a directory, not a regular file"},
		{"a file over the limit is refused before it is read", "big", "is 16777217 bytes, larger than the 16 MiB a configuration file may have"},
	}
	for _, c := range cases {
		file := p[c.kind]
		check := func(where string, err error) {
			t.Helper()
			ce := asConfigError(t, err)
			if ce.File != file || ce.Section != "" || ce.Key != "" || ce.Msg != c.msg || strings.Contains(err.Error(), "\n") {
				t.Errorf("%s (%s): got %q, want %s: %s", c.why, where, err, file, c.msg)
			}
		}
		t.Run(c.kind, func(t *testing.T) {
			_, err := loadWithin(t, 5*time.Second, file, testOptions())
			check("application file", err)

			opts := testOptions()
			opts.NoGlobal, opts.GlobalFile = false, file
			_, err = loadWithin(t, 5*time.Second, app, opts)
			check("global file", err)

			if c.kind != "dir" { // EditHost refuses a directory by its own check
				check("EditHost", EditHost(file, "add", "", "h9", nil))
			}
		})
	}
}

// TestReadLimited: a file that passed the size check but is longer when
// read (it grew in between, or is a device after all) is cut at the limit
// and refused; a file of exactly the limit is read.
func TestReadLimited(t *testing.T) {
	cases := []struct {
		why    string
		r      io.Reader
		wantOK bool
	}{
		{"an endless stream, as /dev/zero gives, stops at the limit", zeros{}, false},
		{"one byte over the limit is refused", io.LimitReader(zeros{}, MaxFileSize+1), false},
		{"exactly the limit is read", io.LimitReader(zeros{}, MaxFileSize), true},
	}
	for _, c := range cases {
		data, err := readLimited("grow.cnf", c.r)
		if c.wantOK {
			if err != nil || len(data) != MaxFileSize {
				t.Errorf("%s: %d bytes, %v", c.why, len(data), err)
			}
			continue
		}
		var ce *Error
		if !errors.As(err, &ce) || ce.File != "grow.cnf" || ce.Msg != "grew beyond 16 MiB while it was read" {
			t.Errorf("%s: err = %v", c.why, err)
		}
	}
}

// zeros reads as an endless run of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestReadConfigFileMissing: a missing file is an os error naming the file,
// and a missing global file is still skipped, as in MHA.
func TestReadConfigFileMissing(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "none.cnf")
	if _, err := readConfigFile(missing); !errors.Is(err, fs.ErrNotExist) || !strings.HasPrefix(err.Error(), "read "+missing+": ") {
		t.Errorf("missing file: %v", err)
	}
	dangling := filepath.Join(t.TempDir(), "dangling.cnf")
	if err := os.Symlink(missing, dangling); err != nil {
		t.Fatal(err)
	}
	if _, err := readConfigFile(dangling); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("dangling link: %v", err)
	}
}
