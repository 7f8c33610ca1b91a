package coord

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// probeRetries and probeGap bound how long a refused flock is retried
// before the lock counts as held: ReadLocal takes a shared lock for a few
// microseconds to probe, and an acquirer must not be refused by a probe.
const (
	probeRetries = 3
	probeGap     = 5 * time.Millisecond
)

// LockPath is the local lock file of app: <workdir>/<app>.lock.
func LockPath(workdir, app string) string {
	return filepath.Join(workdir, app+".lock")
}

// localLock is an exclusive flock on <workdir>/<app>.lock, held as long as
// its file stays open: a process that dies releases it.
type localLock struct {
	f    *os.File
	path string
}

// acquireLocal takes the local lock of app without waiting and writes h
// into the file. Another holder (process or open file description) makes
// it return a *HeldError naming it.
func acquireLocal(workdir, app string, h Holder, now time.Time) (*localLock, error) {
	return acquireFile(workdir, app, LockPath(workdir, app), h, now)
}

// acquireFile takes the flock on path, a lock file of app in workdir.
func acquireFile(workdir, app, path string, h Holder, now time.Time) (*localLock, error) {
	if err := checkPlace(workdir, app); err != nil {
		return nil, fmt.Errorf("lock %s in %s: %w", app, workdir, err)
	}
	if err := os.MkdirAll(workdir, 0o700); err != nil {
		return nil, fmt.Errorf("lock %s: create manager_workdir: %w", app, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock %s: open %s: %w", app, path, err)
	}
	for attempt := 0; ; attempt++ {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) || attempt == probeRetries {
			f.Close()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				held, _ := readDescription(path)
				return nil, &HeldError{App: app, Holder: held, Path: path, Now: now}
			}
			return nil, fmt.Errorf("lock %s: flock %s: %w", app, path, err)
		}
		time.Sleep(probeGap)
	}
	l := &localLock{f: f, path: path}
	if err := l.describe(h); err != nil {
		l.release()
		return nil, fmt.Errorf("lock %s: describe the holder in %s: %w", app, path, err)
	}
	return l, nil
}

// describe replaces the file's content with h, as one JSON line.
func (l *localLock) describe(h Holder) error {
	b, err := json.Marshal(h)
	if err != nil {
		return err
	}
	if err := l.f.Truncate(0); err != nil {
		return err
	}
	if _, err := l.f.WriteAt(append(b, '\n'), 0); err != nil {
		return err
	}
	return l.f.Sync()
}

// release drops the flock and closes the file. The description stays: with
// no flock held it means nothing.
func (l *localLock) release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	if err != nil {
		return fmt.Errorf("unlock %s: %w", l.path, err)
	}
	return nil
}

// readDescription reads the holder a lock file describes. An empty or
// unreadable description (a holder between flock and write) is the zero
// Holder.
func readDescription(path string) (Holder, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Holder{}, err
	}
	var h Holder
	if len(b) == 0 || json.Unmarshal(b, &h) != nil {
		return Holder{}, nil
	}
	return h, nil
}

// ReadLocal says who holds app's local lock now, without taking it: it
// probes the file with a non-blocking shared flock on a descriptor of its
// own, then reads the description. held is false when nobody holds it (a
// missing file, or a description left by a holder that is gone); the
// Holder is zero when the holder has not described itself yet.
func ReadLocal(workdir, app string) (h Holder, held bool, err error) {
	return readFile(workdir, app, LockPath(workdir, app))
}

// readFile says who holds the flock on path, a lock file of app.
func readFile(workdir, app, path string) (h Holder, held bool, err error) {
	if err := checkPlace(workdir, app); err != nil {
		return Holder{}, false, fmt.Errorf("read lock %s in %s: %w", app, workdir, err)
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Holder{}, false, nil
	}
	if err != nil {
		return Holder{}, false, fmt.Errorf("read lock %s: %w", app, err)
	}
	defer f.Close()
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB)
	if err == nil {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		return Holder{}, false, nil
	}
	if !errors.Is(err, syscall.EWOULDBLOCK) {
		return Holder{}, false, fmt.Errorf("read lock %s: probe %s: %w", app, path, err)
	}
	h, err = readDescription(path)
	if err != nil {
		return Holder{}, true, fmt.Errorf("read lock %s: %w", app, err)
	}
	return h, true, nil
}
