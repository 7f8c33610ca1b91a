package httpapi

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gomha/gomha/manager"
	"github.com/gomha/gomha/manager/config"
)

// TestShowCacheSlowBuild: a build slowed by a server that does not answer
// holds up only the first caller; while the next one runs, callers get the
// last snapshot at once (with its age), not after the build; a caller that
// is gone starts no build.
func TestShowCacheSlowBuild(t *testing.T) {
	var builds atomic.Int64
	release := make(chan struct{})
	c := newShowCache(50*time.Millisecond, 10*time.Second, func(ctx context.Context, cfg *config.Config) *manager.Show {
		if builds.Add(1) > 1 {
			<-release
		}
		return &manager.Show{App: cfg.App}
	})
	cfg := &config.Config{App: "app1"}
	first, err := c.get(context.Background(), cfg)
	if err != nil || first.Show == nil {
		t.Fatalf("first snapshot: %+v, %v", first, err)
	}
	time.Sleep(60 * time.Millisecond) // stale now
	start := time.Now()
	sn, err := c.get(context.Background(), cfg)
	if err != nil || sn.At != first.At {
		t.Fatalf("while a build runs: %+v, %v; want the last snapshot", sn, err)
	}
	if d := time.Since(start); d > 20*time.Millisecond {
		t.Errorf("a stale snapshot under refresh took %s to return", d)
	}
	close(release)
	deadline := time.Now().Add(2 * time.Second)
	for {
		if sn, _ := c.get(context.Background(), cfg); sn.At.After(first.At) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the refreshed snapshot never came")
		}
		time.Sleep(5 * time.Millisecond)
	}
	n := builds.Load()
	time.Sleep(60 * time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.get(ctx, cfg); err == nil {
		t.Errorf("a cancelled caller got a snapshot")
	}
	time.Sleep(20 * time.Millisecond)
	if builds.Load() != n {
		t.Errorf("a cancelled caller started a build")
	}
}
