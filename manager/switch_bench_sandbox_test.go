package manager_test

import (
	"context"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/gomha/gomha/failover"
	"github.com/gomha/gomha/manager"
)

// BenchmarkSwitchoverSandbox measures online switchovers on a 3-host GTID
// sandbox (127.0.0.161-163) under a writer committing every 5 ms: host1 and
// host2 swap the master role GOMHA_BENCH_SWITCHES times (default 5), the old
// master becoming a replica each time. It reports medians of:
//   - blocked_ms: the writer's view, last commit on the old master to the
//     first on the new one;
//   - server_blocked_ms: the report's "writes blocked" phase, read_only=ON
//     on the old master to read_only=OFF on the new one;
//   - total_ms: RunSwitchover's duration, from the start to every replica
//     running on the new master.
//
// Run: go test ./manager/ -run '^$' -bench SwitchoverSandbox -benchtime 1x
func BenchmarkSwitchoverSandbox(b *testing.B) {
	n := 5
	if v, err := strconv.Atoi(os.Getenv("GOMHA_BENCH_SWITCHES")); err == nil && v > 0 {
		n = v
	}
	for b.Loop() {
		benchSwitches(b, n)
	}
}

func benchSwitches(b *testing.B, n int) {
	e := newSwitchEnv(b, 160)
	var server, total []time.Duration
	from, to := "host1", "host2"
	for range n {
		e.progress()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		start := time.Now()
		rep, err := manager.RunSwitchover(ctx, e.cfg, manager.SwitchOptions{NewMaster: e.key(to), OrigIsNewSlave: true})
		took := time.Since(start)
		cancel()
		if err != nil {
			b.Fatalf("switchover %s -> %s: %v\n%s", from, to, err, rep)
		}
		blocked, _ := rep.PhaseTook(failover.PhaseWritesBlocked)
		server, total = append(server, blocked), append(total, took)
		from, to = to, from
	}
	e.progress()
	wr := e.w.Stop()
	var writer []time.Duration
	for _, s := range wr.Switches {
		writer = append(writer, s.Downtime)
	}
	if len(writer) != n {
		b.Fatalf("the writer moved %d times, want %d: %+v", len(writer), n, wr.Switches)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := e.c.VerifyReplicas(ctx, from); err != nil {
		b.Fatal(err)
	}
	if err := e.c.VerifyAcked(ctx, from, wr.Table, wr.Acked); err != nil {
		b.Fatal(err)
	}
	b.Logf("writer blocked: %v\nserver blocked: %v\ntotal: %v", writer, server, total)
	b.ReportMetric(ms(median(writer)), "blocked_ms")
	b.ReportMetric(ms(median(server)), "server_blocked_ms")
	b.ReportMetric(ms(median(total)), "total_ms")
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
