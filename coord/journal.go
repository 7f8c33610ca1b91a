package coord

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Entry is one step of a failover, recorded before the step is performed.
// By convention the first entry names the run: Step is the action
// ("failover", "switchover") and Server the master it replaces.
type Entry struct {
	Time   time.Time         `json:"time"`             // set by Append when zero
	PID    int               `json:"pid"`              // set by Append when zero
	Host   string            `json:"host"`             // set by Append when empty
	Step   string            `json:"step"`             // e.g. "fence", "apply", "repoint"
	Server string            `json:"server,omitempty"` // the server the step acts on
	Detail string            `json:"detail,omitempty"` // free-form
	Data   map[string]string `json:"data,omitempty"`   // what a successor needs: positions, GTIDs...
}

// Journal is an open failover journal, appended to step by step.
type Journal struct {
	path string
	host string
	pid  int

	mu sync.Mutex // Append may come from parallel steps; guards f
	f  *os.File

	// torn is the tail Resume cut off: a line a crash left half written.
	torn []byte
}

// JournalPath is app's failover journal: <workdir>/<app>.failover.journal.
func JournalPath(workdir, app string) string {
	return filepath.Join(workdir, app+".failover.journal")
}

// OpenJournal creates app's failover journal. When one is already there a
// previous run did not finish: it refuses with an error wrapping
// ErrJournalExists (call ReadJournal and Resume or Finish).
func OpenJournal(workdir, app string) (*Journal, error) {
	if err := checkPlace(workdir, app); err != nil {
		return nil, fmt.Errorf("open failover journal in %s: %w", workdir, err)
	}
	if err := os.MkdirAll(workdir, 0o755); err != nil {
		return nil, fmt.Errorf("open failover journal of %s: create manager_workdir: %w", app, err)
	}
	path := JournalPath(workdir, app)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o644)
	if errors.Is(err, fs.ErrExist) {
		what := "unreadable"
		if entries, _, rerr := ReadJournal(workdir, app); rerr == nil {
			what = Summary(entries)
		}
		return nil, fmt.Errorf("%w: %s (%s)", ErrJournalExists, path, what)
	}
	if err != nil {
		return nil, fmt.Errorf("create failover journal %s: %w", path, err)
	}
	if err := syncDir(workdir); err != nil {
		f.Close()
		return nil, fmt.Errorf("create failover journal %s: %w", path, err)
	}
	return newJournal(f, path), nil
}

func newJournal(f *os.File, path string) *Journal {
	host, _ := os.Hostname()
	return &Journal{path: path, host: host, pid: os.Getpid(), f: f}
}

// Resume reopens app's unfinished journal for appending and returns what
// it holds. A torn last line (a crash mid-write) is cut off first, so that
// the next entry starts on a line of its own; TornTail returns it.
func Resume(workdir, app string) (*Journal, []Entry, error) {
	if err := checkPlace(workdir, app); err != nil {
		return nil, nil, fmt.Errorf("resume failover journal in %s: %w", workdir, err)
	}
	path := JournalPath(workdir, app)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("resume failover journal: %w", err)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("resume failover journal: read %s: %w", path, err)
	}
	entries, good, err := parseJournal(data)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("resume failover journal %s: %w", path, err)
	}
	j := newJournal(f, path)
	if good < len(data) {
		j.torn = bytes.Clone(data[good:])
		if err := f.Truncate(int64(good)); err == nil {
			err = f.Sync()
		}
		if err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("resume failover journal: cut the torn line off %s: %w", path, err)
		}
	}
	return j, entries, nil
}

// Path is the journal's file.
func (j *Journal) Path() string { return j.path }

// TornTail is the half-written line Resume cut off (nil when none), for
// the caller to log.
func (j *Journal) TornTail() []byte { return j.torn }

// Append writes e as one JSON line and fsyncs it: when Append returns nil
// the step is on disk, and the caller may perform it.
func (j *Journal) Append(e Entry) error {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	if e.PID == 0 {
		e.PID = j.pid
	}
	if e.Host == "" {
		e.Host = j.host
	}
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("journal step %q: %w", e.Step, err)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return fmt.Errorf("journal step %q: %s is closed", e.Step, j.path)
	}
	if _, err := j.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("journal step %q: write %s: %w", e.Step, j.path, err)
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("journal step %q: fsync %s: %w", e.Step, j.path, err)
	}
	return nil
}

// Close closes the journal file; the journal stays until Finish.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return nil
	}
	err := j.f.Close()
	j.f = nil
	if err != nil {
		return fmt.Errorf("close failover journal %s: %w", j.path, err)
	}
	return nil
}

// syncDir fsyncs a directory, so that a file created or renamed in it
// survives a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	return nil
}
