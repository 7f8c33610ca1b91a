package httpapi

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gomha/gomha/failover"
	"github.com/gomha/gomha/manager"
	"github.com/gomha/gomha/topology"
)

// samples parses the text exposition: "name{labels}" -> value (labels as
// the client writes them, sorted by name).
func samples(t testing.TB, text string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, l := range strings.Split(text, "\n") {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		i := strings.LastIndexByte(l, ' ')
		v, err := strconv.ParseFloat(l[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", l, err)
		}
		out[l[:i]] = v
	}
	return out
}

// promtoolCheck runs promtool check metrics on text. Without promtool
// the test is skipped, or fails under CI=true (scripts/setup-debian.sh
// installs it).
func promtoolCheck(t *testing.T, text string) {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("promtool is required (Debian's prometheus package; scripts/setup-debian.sh): %v", err)
		}
		t.Skipf("promtool not installed: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}

func (f *fake) metrics() map[string]float64 {
	f.t.Helper()
	code, _, body := f.get("/metrics")
	if code != 200 {
		f.t.Fatalf("/metrics: %d %s", code, body)
	}
	return samples(f.t, body)
}

func TestMetricsFromSnapshotAndReports(t *testing.T) {
	f := newFake(t, Options{})
	f.state = "running"
	f.manage(manager.StatusPingOK, "10.9.0.1", "healthy")
	obs := f.s.Observer()
	m1 := topology.Key{Host: "10.9.0.1", Port: 3306}
	obs.Ping("app1", m1, 2*time.Millisecond, nil)
	obs.Ping("app1", m1, 3*time.Second, errors.New("timeout"))
	f.s.OnFailover("app1", &failover.Report{}, nil)
	f.s.OnFailover("app1", nil, manager.ErrRecentFailover)
	before := time.Now().Add(-time.Hour)
	writeReport(t, f.cfg.ManagerWorkdir, "app1", "failover", before, true, "")
	writeReport(t, f.cfg.ManagerWorkdir, "app1", "switchover", before, true, "") // before this process: not counted
	writeReport(t, f.cfg.ManagerWorkdir, "app1", "switchover", time.Now().Add(time.Second), true, "")

	s := f.metrics()
	want := map[string]float64{
		`gomha_clusters`:                                                           1,
		`gomha_cluster_healthy{cluster="app1"}`:                                    1,
		`gomha_server_up{cluster="app1",server="10.9.0.1:3306"}`:                   1,
		`gomha_server_role{cluster="app1",role="master",server="10.9.0.1:3306"}`:   1,
		`gomha_server_role{cluster="app1",role="replica",server="10.9.0.1:3306"}`:  0,
		`gomha_server_role{cluster="app1",role="replica",server="10.9.0.2:3306"}`:  1,
		`gomha_server_read_only{cluster="app1",server="10.9.0.1:3306"}`:            0,
		`gomha_server_read_only{cluster="app1",server="10.9.0.2:3306"}`:            1,
		`gomha_replica_io_running{cluster="app1",server="10.9.0.2:3306"}`:          1,
		`gomha_replica_sql_running{cluster="app1",server="10.9.0.2:3306"}`:         1,
		`gomha_replica_lag_seconds{cluster="app1",server="10.9.0.2:3306"}`:         0,
		`gomha_manager_status_code{cluster="app1"}`:                                0,
		`gomha_manager_state{cluster="app1",state="PING_OK"}`:                      1,
		`gomha_manager_state{cluster="app1",state="FAILOVER_RUNNING"}`:             0,
		`gomha_manager_leader{cluster="app1"}`:                                     1,
		`gomha_failovers_total{cluster="app1",result="success"}`:                   1,
		`gomha_failovers_total{cluster="app1",result="refused"}`:                   1,
		`gomha_failovers_total{cluster="app1",result="failure"}`:                   0,
		`gomha_switchovers_total{cluster="app1",result="success"}`:                 1,
		`gomha_last_failover_detection_seconds{cluster="app1"}`:                    1.5,
		`gomha_last_failover_duration_seconds{cluster="app1"}`:                     0.25,
		`gomha_ping_duration_seconds_count{cluster="app1",server="10.9.0.1:3306"}`: 2,
		`gomha_ping_failures_total{cluster="app1",server="10.9.0.1:3306"}`:         1,
	}
	for k, v := range want {
		if got, ok := s[k]; !ok || got != v {
			t.Errorf("%s = %v (present %v), want %v", k, got, ok, v)
		}
	}
	if _, ok := s[`gomha_replica_io_running{cluster="app1",server="10.9.0.1:3306"}`]; ok {
		t.Errorf("the master has replication metrics")
	}
	if v := s[`gomha_last_failover_timestamp_seconds{cluster="app1"}`]; int64(v) != before.Unix() {
		t.Errorf("last failover at %v, want %d", v, before.Unix())
	}
	f.state = "waiting for leadership"
	if v := f.metrics()[`gomha_manager_leader{cluster="app1"}`]; v != 0 {
		t.Errorf("a standby says it leads: %v", v)
	}
	_, _, body := f.get("/metrics")
	promtoolCheck(t, body)
	if !bytes.Contains([]byte(body), []byte("# HELP gomha_server_up ")) {
		t.Errorf("no help text")
	}
}

// TestPingSeriesOfFormerMaster: after a failover the pings go to the new
// master; the former master's ping series stay for a while (the failures
// that led to the failover get scraped), then go, unless it is the master
// again by then.
func TestPingSeriesOfFormerMaster(t *testing.T) {
	f := newFake(t, Options{})
	f.state = "running"
	f.manage(manager.StatusPingOK, "10.9.0.1", "healthy")
	f.s.metrics.staleAfter = 50 * time.Millisecond
	obs := f.s.Observer()
	m1, m2 := topology.Key{Host: "10.9.0.1", Port: 3306}, topology.Key{Host: "10.9.0.2", Port: 3306}
	old := `gomha_ping_failures_total{cluster="app1",server="10.9.0.1:3306"}`
	obs.Ping("app1", m1, 3*time.Second, errors.New("timeout"))
	obs.Ping("app1", m2, time.Millisecond, nil)
	if v, ok := f.metrics()[old]; !ok || v != 1 {
		t.Fatalf("the former master's failures are gone at once (%v, %v)", v, ok)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		s := f.metrics()
		_, stale := s[old]
		_, current := s[`gomha_ping_duration_seconds_count{cluster="app1",server="10.9.0.2:3306"}`]
		if !current {
			t.Fatalf("the new master's ping series went")
		}
		if !stale {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the former master's ping series stayed")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Back to the first master (a switchover back) before its series go:
	// they stay.
	obs.Ping("app1", m1, time.Millisecond, nil)
	obs.Ping("app1", m2, time.Millisecond, nil)
	obs.Ping("app1", m1, time.Millisecond, nil)
	time.Sleep(200 * time.Millisecond)
	if _, ok := f.metrics()[`gomha_ping_duration_seconds_count{cluster="app1",server="10.9.0.1:3306"}`]; !ok {
		t.Errorf("the master's ping series went although it is the master again")
	}
}
