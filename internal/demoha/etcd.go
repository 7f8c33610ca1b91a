package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/gomha/gomha/coord/etcdcoord"
	"github.com/gomha/gomha/failover"
)

// watcher reads what the managers share in etcd, as any host can.
type watcher struct {
	etcd *etcdcoord.Coordinator
	app  string
}

// publishedStatus is the part of the leader's published status the demo
// reads (manager.statusRecord).
type publishedStatus struct {
	PID  int    `json:"pid"`
	Name string `json:"name"`
}

// takeover is when a manager began to lead, and to watch the master.
type takeover struct {
	m             *managerProc
	led, watching time.Time
}

// waitWatching waits until one of ms leads in etcd and has published
// PING_OK there: it watches the master.
func (w *watcher) waitWatching(ctx context.Context, ms []*managerProc) (takeover, error) {
	var t takeover
	for {
		snap, err := w.etcd.Read(ctx, w.app)
		if err == nil && snap.Leader != nil {
			for _, m := range ms {
				if m.PID != snap.Leader.PID {
					continue
				}
				if t.m != m {
					t = takeover{m: m, led: time.Now()}
				}
				var st publishedStatus
				if json.Unmarshal(snap.State["status"], &st) == nil && st.PID == m.PID && st.Name == "PING_OK" {
					t.watching = time.Now()
					return t, nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return t, fmt.Errorf("no manager of %s leads and watches in etcd (last read: %v)", w.app, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitManagers waits until n managers campaign in etcd.
func (w *watcher) waitManagers(ctx context.Context, n int) error {
	for {
		snap, err := w.etcd.Read(ctx, w.app)
		if err == nil && len(snap.Managers) >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d managers of %s campaigning in etcd, want %d (last read: %v)", len(snap.Managers), w.app, n, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitReport waits for the report of a failover started after after, as
// the leader published it in etcd.
func (w *watcher) waitReport(ctx context.Context, after time.Time) (*failover.Report, error) {
	for {
		rep := new(failover.Report)
		snap, err := w.etcd.Read(ctx, w.app)
		if err == nil && json.Unmarshal(snap.State["report"], rep) == nil && rep.Started.After(after) {
			return rep, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("no failover report of %s published in etcd (last read: %v)", w.app, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
