package supervisor

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gomha/gomha/coord/etcdcoord"
	"github.com/gomha/gomha/failover"
	"github.com/gomha/gomha/internal/testkit"
	"github.com/gomha/gomha/manager"
	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/sandbox/etcdsandbox"
)

// haSupervisor is one manager process (as on its own host) running a
// supervisor whose units lead through etcd.
type haSupervisor struct {
	host     string
	s        *Supervisor
	c        *etcdcoord.Coordinator
	stop     context.CancelFunc
	out, err *testkit.Buffer
	workdir  string // each cluster's manager_workdir is workdir/<app>
}

func startHASupervisor(t *testing.T, e *etcdsandbox.Cluster, host string, files ...string) *haSupervisor {
	t.Helper()
	c, err := etcdcoord.New(etcdcoord.Options{Endpoints: e.Endpoints(), TTL: 3 * time.Second, Host: host})
	if err != nil {
		t.Fatal(err)
	}
	workdir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	h := &haSupervisor{host: host, c: c, stop: cancel, out: &testkit.Buffer{}, err: &testkit.Buffer{}, workdir: workdir}
	h.s = New(ctx, Options{Out: h.out, Err: h.err, Retry: time.Second, StopPoll: 100 * time.Millisecond, Gate: c,
		Run: func(ctx context.Context, cfg *config.Config, opts manager.ManagerOptions) error {
			opts.Coord = c.Cluster(cfg.App)
			return manager.RunManager(ctx, cfg, opts)
		},
		Load: func(ctx context.Context, file string) (*config.Config, error) {
			cfg, err := config.Load(ctx, file, config.Options{NoGlobal: true})
			if err == nil {
				cfg.ManagerWorkdir = filepath.Join(workdir, cfg.App)
			}
			return cfg, err
		}})
	if err := h.s.Reload(files); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.close)
	return h
}

func (h *haSupervisor) close() {
	h.stop()
	h.s.Wait()
	h.c.Close()
}

func (h *haSupervisor) logs() string {
	return h.host + " stderr:\n" + h.err.String() + "\n" + h.host + " stdout:\n" + h.out.String()
}

// leads reports whether host leads app and has published PING_OK on master.
func leads(t *testing.T, r *etcdcoord.Coordinator, app, host, master string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	snap, err := r.Read(ctx, app)
	if err != nil || snap.Leader == nil || snap.Leader.Host != host {
		return false
	}
	var st struct{ Name, Master, Host string }
	return json.Unmarshal(snap.State["status"], &st) == nil && st.Name == "PING_OK" && st.Master == master
}

// TestTwoSupervisorsEtcdSandbox: two manager processes (supervisors, each
// with its own workdir as on its own host) watch the same two clusters
// through etcd. Each cluster is led by exactly one; when the first stops,
// the second leads both, fails over the one whose master dies and goes on
// watching the other.
func TestTwoSupervisorsEtcdSandbox(t *testing.T) {
	dir := t.TempDir()
	noEdit := func(s string) string { return s }
	a, b := upWatched(t, dir, "appa", 30, noEdit), upWatched(t, dir, "appb", 40, noEdit)
	e := etcdsandbox.UpT(t, etcdsandbox.Options{Dir: t.TempDir(), Addrs: []string{"127.0.3.11", "127.0.3.12", "127.0.3.13"}})
	r, err := etcdcoord.New(etcdcoord.Options{Endpoints: e.Endpoints()})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	one := startHASupervisor(t, e, "mgr-one", a.file, b.file)
	logs := func() string { return one.logs() }
	waitUntil(t, "mgr-one to lead both clusters", 30*time.Second, func() bool {
		return leads(t, r, "appa", "mgr-one", a.addr("host1")) && leads(t, r, "appb", "mgr-one", b.addr("host1"))
	}, logs)
	two := startHASupervisor(t, e, "mgr-two", a.file, b.file)
	logs = func() string { return one.logs() + "\n" + two.logs() }
	waitUntil(t, "mgr-two to campaign for both", 15*time.Second, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		sa, _ := r.Read(ctx, "appa")
		sb, _ := r.Read(ctx, "appb")
		return len(sa.Managers) == 2 && len(sb.Managers) == 2
	}, logs)
	time.Sleep(time.Second)
	if strings.Contains(two.out.String(), "Starting ping health check") {
		t.Fatalf("mgr-two watches a cluster mgr-one leads:\n%s", logs())
	}
	// check status on mgr-two's host: standing by, not NOT_RUNNING.
	for _, app := range []string{"appa", "appb"} {
		st, err := manager.ReadStatus(filepath.Join(two.workdir, app), app, 0)
		if err != nil || !st.Standby || st.Code != manager.StatusPingOK || st.PID != os.Getpid() {
			t.Errorf("check status of %s on mgr-two's host: %+v, %v; want a standby (PING_OK, pid %d)", app, st, err, os.Getpid())
		} else {
			t.Logf("mgr-two's check status: %s", st.Message(app))
		}
	}

	a.startWriter()
	one.close()
	waitUntil(t, "mgr-two to lead both clusters", 30*time.Second, func() bool {
		return leads(t, r, "appa", "mgr-two", a.addr("host1")) && leads(t, r, "appb", "mgr-two", b.addr("host1"))
	}, logs)
	if err := a.c.KillMysqld(context.Background(), "host1"); err != nil {
		t.Fatal(err)
	}
	var rep failover.Report
	waitUntil(t, "mgr-two to fail appa over", 60*time.Second, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		snap, err := r.Read(ctx, "appa")
		return err == nil && json.Unmarshal(snap.State["report"], &rep) == nil && rep.Succeeded
	}, logs)
	a.verify(strings.Split(rep.NewMaster, ":")[0], "host1")
	if !leads(t, r, "appb", "mgr-two", b.addr("host1")) {
		t.Errorf("appb is not watched any more after appa's failover:\n%s", logs())
	}
}
