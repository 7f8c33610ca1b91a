package coord

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// keepDone is how many finished journals Finish keeps per app.
const keepDone = 5

// doneStamp names finished journals: UTC, sortable as text.
const doneStamp = "20060102T150405.000000000Z"

// ReadJournal reads app's failover journal. A missing journal gives no
// entries and no error. A torn last line (a crash mid-write) is left out
// and reported by torn; a bad line before the last is an error, since
// appends never leave one.
func ReadJournal(workdir, app string) (entries []Entry, torn bool, err error) {
	if err := checkPlace(workdir, app); err != nil {
		return nil, false, fmt.Errorf("read failover journal in %s: %w", workdir, err)
	}
	path := JournalPath(workdir, app)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read failover journal: %w", err)
	}
	entries, good, err := parseJournal(data)
	if err != nil {
		return nil, false, fmt.Errorf("read failover journal %s: %w", path, err)
	}
	return entries, good < len(data), nil
}

// parseJournal decodes complete lines. good is the length of the part made
// of whole, valid lines; what follows it is a torn last line.
func parseJournal(data []byte) (entries []Entry, good int, err error) {
	for off, n := 0, 1; off < len(data); n++ {
		end := bytes.IndexByte(data[off:], '\n')
		if end < 0 {
			return entries, off, nil // no newline: the write was cut short
		}
		line := data[off : off+end]
		var e Entry
		if err := json.Unmarshal(line, &e); err != nil {
			if off+end+1 == len(data) {
				return entries, off, nil // a last line garbled by a crash
			}
			return nil, 0, fmt.Errorf("line %d: %w", n, err)
		}
		entries = append(entries, e)
		off += end + 1
	}
	return entries, len(data), nil
}

// Finish moves app's journal out of the way, atomically, so that the next
// failover starts fresh: it becomes <app>.failover.journal.<UTC time>.done,
// and only the 5 newest such files are kept. A missing journal gives an
// error wrapping fs.ErrNotExist.
func Finish(workdir, app string) error {
	if err := checkPlace(workdir, app); err != nil {
		return fmt.Errorf("finish failover journal in %s: %w", workdir, err)
	}
	path := JournalPath(workdir, app)
	done := path + "." + time.Now().UTC().Format(doneStamp) + ".done"
	if _, err := os.Lstat(done); err == nil {
		return fmt.Errorf("finish failover journal %s: %s already exists", path, done)
	}
	if err := os.Rename(path, done); err != nil {
		return fmt.Errorf("finish failover journal: %w", err)
	}
	if err := syncDir(workdir); err != nil {
		return fmt.Errorf("finish failover journal %s: %w", path, err)
	}
	if err := pruneDone(workdir, app); err != nil {
		return fmt.Errorf("finish failover journal %s: %w", path, err)
	}
	return nil
}

// pruneDone removes all but the keepDone newest finished journals of app.
func pruneDone(workdir, app string) error {
	des, err := os.ReadDir(workdir)
	if err != nil {
		return fmt.Errorf("list finished journals: %w", err)
	}
	prefix := app + ".failover.journal."
	var done []string
	for _, de := range des {
		stamp, ok := strings.CutPrefix(de.Name(), prefix)
		if stamp, ok2 := strings.CutSuffix(stamp, ".done"); ok && ok2 {
			if _, err := time.Parse(doneStamp, stamp); err == nil {
				done = append(done, de.Name())
			}
		}
	}
	slices.Sort(done)
	var errs []error
	for _, name := range done[:max(0, len(done)-keepDone)] {
		if err := os.Remove(filepath.Join(workdir, name)); err != nil {
			errs = append(errs, fmt.Errorf("remove old finished journal: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Summary says in one line what an interrupted run did last, e.g.
// `failover of 127.0.0.11:3306 by pid 4242 on mgr1, interrupted after
// "apply 127.0.0.12:3306" at 15:04:05 on 2006-01-02`.
func Summary(entries []Entry) string {
	if len(entries) == 0 {
		return "empty journal"
	}
	first, last := entries[0], entries[len(entries)-1]
	s := orDefault(oneLine(first.Step), "an unnamed run")
	if first.Server != "" {
		s += " of " + oneLine(first.Server)
	}
	s += fmt.Sprintf(" by pid %d on %s", first.PID, orDefault(oneLine(first.Host), "an unknown host"))
	if last.PID != first.PID || last.Host != first.Host {
		s += fmt.Sprintf(", resumed by pid %d on %s", last.PID, orDefault(oneLine(last.Host), "an unknown host"))
	}
	stamp := func(t time.Time) string { return t.Format("15:04:05 on 2006-01-02") }
	if len(entries) == 1 {
		return s + ", interrupted before its first step, started at " + stamp(first.Time)
	}
	step := oneLine(last.Step)
	if last.Server != "" {
		step += " " + oneLine(last.Server)
	}
	return s + fmt.Sprintf(", interrupted after %q at %s", step, stamp(last.Time))
}
