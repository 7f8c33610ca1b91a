package manager

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// ManagerView is what a running manager thinks of its cluster beyond MHA's
// status code: why the master is suspect and why there is (not yet) a
// failover, and the old masters it keeps deposed. It is written beside the
// status file, as <app>.manager_view.json, for `check status` and `show`.
type ManagerView struct {
	PID      int       `json:"pid"`
	Master   string    `json:"master"`
	State    string    `json:"state"`  // healthy, suspect, unreachable from the manager, no quorum, dead, ...
	Reason   string    `json:"reason"` // the decision, in one line
	Since    time.Time `json:"since"`  // when this state began
	Evidence []string  `json:"evidence,omitempty"`
	// Deposed are old masters the manager watches and fences when they
	// come back.
	Deposed []DeposedView `json:"deposed,omitempty"`
	Updated time.Time     `json:"updated"`
}

// DeposedView is one old master kept from taking writes.
type DeposedView struct {
	Server  string    `json:"server"`
	State   string    `json:"state"` // down, fenced (read_only=ON), rejoined, NOT fenced: ...
	Checked time.Time `json:"checked"`
}

// ViewFilePath is <workdir>/<app>.manager_view.json.
func ViewFilePath(workdir, app string) string {
	return filepath.Join(workdir, app+".manager_view.json")
}

// SetView records the manager's view next to the status file, with the
// deposed masters last set.
func (s *StatusFile) SetView(v ManagerView) error {
	s.mu.Lock()
	s.view = v
	v.Deposed = append([]DeposedView(nil), s.deposed...)
	s.mu.Unlock()
	return s.writeView(v)
}

// SetDeposed records the state of one deposed master and rewrites the view.
func (s *StatusFile) SetDeposed(d DeposedView) error {
	s.mu.Lock()
	found := false
	for i := range s.deposed {
		if s.deposed[i].Server == d.Server {
			s.deposed[i], found = d, true
		}
	}
	if !found {
		s.deposed = append(s.deposed, d)
	}
	v := s.view
	v.Deposed = append([]DeposedView(nil), s.deposed...)
	s.mu.Unlock()
	return s.writeView(v)
}

func (s *StatusFile) writeView(v ManagerView) error {
	v.PID, v.Updated = s.pid, time.Now()
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(filepath.Dir(s.path), filepath.Base(ViewFilePath("", s.app())))
	if err := writeAtomic(path, append(data, '\n')); err != nil {
		return fmt.Errorf("write manager view to %s: %w", path, err)
	}
	s.mu.Lock()
	s.mirror.put("view", data)
	s.mu.Unlock()
	return nil
}

// ReadView reads the manager's view; ok is false when there is none or the
// manager that wrote it is gone.
func ReadView(workdir, app string) (v ManagerView, ok bool, err error) {
	data, err := os.ReadFile(ViewFilePath(workdir, app))
	if errors.Is(err, fs.ErrNotExist) {
		return ManagerView{}, false, nil
	}
	if err != nil {
		return ManagerView{}, false, fmt.Errorf("read manager view of %s: %w", app, err)
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return ManagerView{}, false, fmt.Errorf("read manager view of %s: %w", app, err)
	}
	return v, managerRuns(workdir, app, v.PID), nil
}

// removeView deletes the view (clean exit).
func removeView(workdir, app string) {
	_ = os.Remove(ViewFilePath(workdir, app))
}
