package coord

import (
	"os"
	"path/filepath"
	"time"
)

// ManagerLockPath is the presence lock of app's manager:
// <workdir>/<app>.manager.lock. It is not the actor lock (<app>.lock),
// which a manager takes only while it fails over.
func ManagerLockPath(workdir, app string) string {
	return filepath.Join(workdir, app+".manager.lock")
}

// Presence is a running manager's claim on its application: one manager
// per application and workdir, held for the manager's whole life. A
// process that dies releases it with its file descriptors, so a pid in a
// status file counts only while its process holds the presence.
type Presence struct {
	l      *localLock
	holder Holder
}

// ClaimManager takes app's presence lock without waiting, describing this
// process as a "manager". A running manager makes it return a *HeldError
// naming it (errors.Is ErrHeld).
func ClaimManager(workdir, app string) (*Presence, error) {
	return claim(workdir, app, ActionManager)
}

// Presence actions: a manager that watches its cluster, or one that waits
// to lead it (several managers through etcd).
const (
	ActionManager = "manager"
	ActionStandby = "standby"
)

// ClaimStandby takes app's presence lock as ClaimManager does, for a
// manager that waits for the leadership of app: check status on this host
// then says it stands by rather than NOT_RUNNING. It is released before
// the manager claims its presence to watch.
func ClaimStandby(workdir, app string) (*Presence, error) {
	return claim(workdir, app, ActionStandby)
}

func claim(workdir, app, action string) (*Presence, error) {
	host, _ := os.Hostname()
	now := time.Now().Round(0)
	h := Holder{Host: host, PID: os.Getpid(), Action: action, Since: now}
	l, err := acquireFile(workdir, app, ManagerLockPath(workdir, app), h, now)
	if err != nil {
		return nil, err
	}
	return &Presence{l: l, holder: h}, nil
}

// Holder is the description the claim wrote.
func (p *Presence) Holder() Holder { return p.holder }

// Release gives the claim up (a clean exit). Safe to call twice.
func (p *Presence) Release() error {
	if p == nil {
		return nil
	}
	return p.l.release()
}

// ReadManager says which manager holds app's presence lock, without
// taking it; held is false when none runs.
func ReadManager(workdir, app string) (h Holder, held bool, err error) {
	return readFile(workdir, app, ManagerLockPath(workdir, app))
}
