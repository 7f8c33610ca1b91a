package manager_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gomha/gomha/coord/etcdcoord"
	"github.com/gomha/gomha/failover"
	"github.com/gomha/gomha/manager"
	"github.com/gomha/gomha/sandbox"
	"github.com/gomha/gomha/sandbox/etcdsandbox"
)

// Several managers of one cluster coordinated through a real 3-member etcd
// (issue 12): each manager is a child process (the test binary in the
// "led" role) with its own manager_workdir, as on its own host.

const haTTL = 4 * time.Second

// haManager is one manager process.
type haManager struct {
	name string
	p    *gomhaProcess
	log  string
	dir  string // its manager_workdir
}

// ha is a scenario with etcd and managers.
type ha struct {
	*scenario
	etcd   *etcdsandbox.Cluster
	reader *etcdcoord.Coordinator
}

func newHA(t *testing.T, s *scenario) *ha {
	t.Helper()
	// Members of their own, so that another package's etcd tests never share them.
	e := etcdsandbox.UpT(t, etcdsandbox.Options{Dir: t.TempDir(), Addrs: []string{"127.0.3.1", "127.0.3.2", "127.0.3.3"}})
	r, err := etcdcoord.New(etcdcoord.Options{Endpoints: e.Endpoints(), TTL: haTTL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return &ha{scenario: s, etcd: e, reader: r}
}

// startManager runs a manager led through etcd, binding its connections
// to source when given; its output goes to a log file shown on failure.
func (h *ha) startManager(name, source string) *haManager {
	h.t.Helper()
	dir := filepath.Join(h.t.TempDir(), name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		h.t.Fatal(err)
	}
	logPath := filepath.Join(dir, "manager.log")
	f, err := os.Create(logPath)
	if err != nil {
		h.t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "GOMHA_TEST_ROLE=led", "GOMHA_TEST_CONF="+h.c.ConfPath, "GOMHA_TEST_WORKDIR="+dir,
		"GOMHA_TEST_ETCD="+strings.Join(h.etcd.Endpoints(), ","), "GOMHA_TEST_SOURCE="+source, "GOMHA_TEST_TTL="+haTTL.String())
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	f.Close()
	m := &haManager{name: name, p: &gomhaProcess{t: h.t, cmd: cmd}, log: logPath, dir: dir}
	h.t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			done := make(chan struct{})
			go func() { _ = cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				_ = cmd.Process.Kill()
				<-done
			}
		}
		if h.t.Failed() {
			data, _ := os.ReadFile(logPath)
			h.t.Logf("manager %s (pid %d) log:\n%s", name, cmd.Process.Pid, data)
		}
	})
	return m
}

func (m *haManager) pid() int { return m.p.cmd.Process.Pid }

func (m *haManager) logHas(s string) bool {
	data, _ := os.ReadFile(m.log)
	return strings.Contains(string(data), s)
}

// snapshot reads what etcd holds of the cluster.
func (h *ha) snapshot() etcdcoord.Snapshot {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	snap, err := h.reader.Read(ctx, h.cfg.App)
	if err != nil {
		h.t.Logf("read etcd: %v", err)
	}
	return snap
}

// leads reports whether m leads and has published a healthy PING_OK.
func (h *ha) leadsAndWatches(m *haManager) bool {
	snap := h.snapshot()
	if snap.Leader == nil || snap.Leader.PID != m.pid() {
		return false
	}
	var st struct {
		PID  int    `json:"pid"`
		Name string `json:"name"`
	}
	return json.Unmarshal(snap.State["status"], &st) == nil && st.PID == m.pid() && st.Name == "PING_OK"
}

// report is the last failover report published in etcd, nil when none.
func (h *ha) report() *failover.Report {
	data := h.snapshot().State["report"]
	if data == nil {
		return nil
	}
	var rep failover.Report
	if err := json.Unmarshal(data, &rep); err != nil {
		h.t.Fatalf("published report: %v", err)
	}
	return &rep
}

func (h *ha) waitReport(limit time.Duration) *failover.Report {
	h.t.Helper()
	var rep *failover.Report
	h.waitFor("a failover report in etcd", limit, func() bool {
		rep = h.report()
		return rep != nil
	})
	return rep
}

// TestEtcdLeaderKilledSandbox: the leading manager is killed (SIGKILL); the
// other leads within the lease TTL and fails over the master killed right
// after, with nothing lost.
func TestEtcdLeaderKilledSandbox(t *testing.T) {
	h := newHA(t, newScenario(t, true, ""))
	a := h.startManager("a", "")
	h.waitFor("manager a to lead and watch", 30*time.Second, func() bool { return h.leadsAndWatches(a) })
	b := h.startManager("b", "")
	h.waitFor("manager b to campaign", 15*time.Second, func() bool { return len(h.snapshot().Managers) == 2 })
	// check status on b's host: a standby, not NOT_RUNNING.
	if st, err := manager.ReadStatus(b.dir, h.cfg.App, 0); err != nil || !st.Standby || st.Code != manager.StatusPingOK || st.PID != b.pid() {
		t.Errorf("check status on manager b's host: %+v, %v; want a standby (PING_OK, pid %d)", st, err, b.pid())
	}
	h.startWriter(50)

	a.p.kill()
	killed := time.Now()
	h.waitFor("manager b to lead and watch", 30*time.Second, func() bool { return h.leadsAndWatches(b) })
	t.Logf("manager b watches the master %s after the leader was killed (lease TTL %s)", time.Since(killed).Round(time.Millisecond), haTTL)
	if took := time.Since(killed); took > haTTL+10*time.Second {
		t.Errorf("manager b took %s to take over (lease TTL %s)", took, haTTL)
	}
	h.kill("host1")
	rep := h.waitReport(60 * time.Second)
	if !rep.Succeeded || rep.DeadMaster != h.key("host1").String() {
		t.Fatalf("failover after the takeover: %+v", rep)
	}
	h.verify(addrOf(rep.NewMaster), "host1")

	// A third manager takes over from b after the failover: it leaves out
	// the old master b replaced (its configuration still lists it).
	c := h.startManager("c", "")
	h.waitFor("manager c to campaign", 15*time.Second, func() bool { return len(h.snapshot().Managers) == 2 })
	b.p.kill()
	h.waitFor("manager c to lead and watch the new master", 30*time.Second, func() bool { return h.leadsAndWatches(c) })
	old := h.key("host1").String()
	if !c.logHas("Leaving out " + old) {
		t.Errorf("manager c does not say it leaves out the replaced master")
	}
	if _, ok := h.snapshot().State["replaced/"+old]; !ok {
		t.Fatalf("etcd does not hold replaced/%s", old)
	}
	if lo := manager.NewSharedView("", nil, nil, h.snapshot().State).LeftOut; len(lo) != 1 || !strings.HasPrefix(lo[0], old+", replaced by "+rep.NewMaster) {
		t.Errorf("gomha show --etcd leaves out %q, want %s replaced by %s", lo, old, rep.NewMaster)
	}

	// host1 rebuilt, but as a replica of the other replica: the next
	// manager to lead still leaves it out.
	var other string
	for _, x := range h.c.Hosts {
		if x.Name != "host1" && x.Addr != addrOf(rep.NewMaster) {
			other = x.Addr
		}
	}
	h.rebuild("host1", other)
	d := h.startManager("d", "")
	h.waitFor("manager d to campaign", 15*time.Second, func() bool { return len(h.snapshot().Managers) == 2 })
	c.p.kill()
	h.waitFor("manager d to lead and watch", 30*time.Second, func() bool { return h.leadsAndWatches(d) })
	if !d.logHas("Leaving out "+old) || d.logHas("Giving back") {
		t.Errorf("manager d gave back an old master that replicates from %s, not from the master", other)
	}
	if _, ok := h.snapshot().State["replaced/"+old]; !ok {
		t.Fatalf("replaced/%s went while the old master replicates from a replica", old)
	}

	// Repointed at the new master: the next manager to lead gives it back
	// and removes the key.
	h.rebuild("host1", addrOf(rep.NewMaster))
	e := h.startManager("e", "")
	h.waitFor("manager e to campaign", 15*time.Second, func() bool { return len(h.snapshot().Managers) == 2 })
	d.p.kill()
	h.waitFor("manager e to lead and watch", 30*time.Second, func() bool { return h.leadsAndWatches(e) })
	if !e.logHas("Giving back " + old) {
		t.Errorf("manager e does not say it gives back the rebuilt old master")
	}
	if _, ok := h.snapshot().State["replaced/"+old]; ok {
		t.Errorf("replaced/%s is still in etcd after the old master was given back", old)
	}
}

// rebuild starts host's mysqld again (when down) and makes it a read-only
// replica of the server at addr, from where its own GTIDs end, as a DBA rebuilding a
// replaced master would.
func (h *ha) rebuild(host, addr string) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := h.c.StartHost(ctx, host); err != nil { // mysqld, if it is down
		h.t.Fatal(err)
	}
	var m sandbox.Host
	for _, x := range h.c.Hosts {
		if x.Addr == addr {
			m = x
		}
	}
	h.exec(host, "SET GLOBAL read_only=ON", "STOP SLAVE",
		fmt.Sprintf("CHANGE MASTER TO MASTER_HOST='%s', MASTER_PORT=%d, MASTER_USER='%s', MASTER_PASSWORD='%s', MASTER_CONNECT_RETRY=1, MASTER_USE_GTID=current_pos",
			m.Addr, m.Port, h.c.ReplUser, h.c.ReplPassword),
		"START SLAVE")
	if err := h.c.WaitReplicating(ctx, host); err != nil {
		h.t.Fatal(err)
	}
}

// TestEtcdLeaderKilledMidFailoverSandbox: the leading manager is killed
// while it applies the salvaged tail to the new master; the other manager
// leads, finishes the failover from the journal in etcd, and nothing is
// applied twice (a counter ends equal to the acknowledged increments).
func TestEtcdLeaderKilledMidFailoverSandbox(t *testing.T) {
	s := newScenarioConf(t, true, "", map[string]string{"server2": "candidate_master=1"}, withFormat("MIXED", onceConf...))
	h := newHA(t, s)
	k := s.startCounter()
	s.waitCount(k, 50)
	a := h.startManager("a", "")
	h.waitFor("manager a to lead and watch", 30*time.Second, func() bool { return h.leadsAndWatches(a) })
	b := h.startManager("b", "")
	h.waitFor("manager b to campaign", 15*time.Second, func() bool { return len(h.snapshot().Managers) == 2 })

	before := s.deadMasterAhead(k)
	s.waitHalfApplied(before)
	a.p.kill()
	t.Logf("killed the leader with the counter at %d on host2 (%d before, %d acknowledged); journal in etcd: %d entries",
		s.counterValue("host2"), before, k.n(), len(h.snapshot().Journal))
	rep := h.waitReport(90 * time.Second)
	if !rep.Succeeded || rep.NewMaster != s.key("host2").String() {
		t.Fatalf("the resumed failover: %+v", rep)
	}
	if !b.logHas("stopped after") {
		t.Errorf("manager b does not say it finishes its predecessor's failover")
	}
	if j := h.snapshot().Journal; len(j) != 0 {
		t.Errorf("the journal in etcd is still open: %+v", j)
	}
	s.verify("host2", "host1")
	s.checkCounter(k, "host2", "host3")
}

// TestEtcdLeaderCutOffSandbox: the leading manager is cut off from etcd
// (its packets to every member dropped) while it still reaches the
// servers: it stops acting, the other leads, and only the other fails over
// the master killed afterwards.
func TestEtcdLeaderCutOffSandbox(t *testing.T) {
	h := newHA(t, newScenario(t, true, ""))
	const srcA, srcB = "127.0.3.21", "127.0.3.22"
	a := h.startManager("a", srcA)
	h.waitFor("manager a to lead and watch", 30*time.Second, func() bool { return h.leadsAndWatches(a) })
	b := h.startManager("b", srcB)
	h.waitFor("manager b to campaign", 15*time.Second, func() bool { return len(h.snapshot().Managers) == 2 })
	h.startWriter(50)

	ctx := context.Background()
	if err := h.etcd.Cut(ctx, srcA); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.etcd.Join(context.Background(), srcA) })
	cut := time.Now()
	h.waitFor("manager a to stop leading", 2*haTTL, func() bool { return a.logHas("leadership lost") })
	stopped := time.Since(cut)
	h.waitFor("manager b to lead and watch", 30*time.Second, func() bool { return h.leadsAndWatches(b) })
	t.Logf("manager a stopped acting %s after the cut; b watches %s after it (lease TTL %s)",
		stopped.Round(time.Millisecond), time.Since(cut).Round(time.Millisecond), haTTL)
	if stopped >= haTTL {
		t.Errorf("manager a acted %s after the cut, beyond the lease TTL %s", stopped, haTTL)
	}
	h.kill("host1")
	rep := h.waitReport(60 * time.Second)
	if !rep.Succeeded {
		t.Fatalf("failover: %+v", rep)
	}
	h.verify(addrOf(rep.NewMaster), "host1")
	if reports, _ := filepath.Glob(filepath.Join(filepath.Dir(a.log), "*.failover.*.json")); len(reports) != 0 {
		t.Errorf("manager a, cut off from etcd, failed over too: %v", reports)
	}
	if reports, _ := filepath.Glob(filepath.Join(filepath.Dir(b.log), "*.failover.*.json")); len(reports) != 1 {
		t.Errorf("manager b's failover reports: %v, want one", reports)
	}
}

// TestEtcdQuorumSandbox: with one etcd member down the managers go on;
// with two down nobody leads, so nobody fails over a dead master and the
// manager says why; once etcd has its majority back the manager leads
// again and fails the master over.
func TestEtcdQuorumSandbox(t *testing.T) {
	h := newHA(t, newScenario(t, true, ""))
	a := h.startManager("a", "")
	h.waitFor("manager a to lead and watch", 30*time.Second, func() bool { return h.leadsAndWatches(a) })
	h.startWriter(50)
	ctx := context.Background()
	if err := h.etcd.Kill(ctx, 0); err != nil {
		t.Fatal(err)
	}
	time.Sleep(haTTL) // a full lease: the leader must keep leading on a majority
	if a.logHas("leadership lost") {
		t.Fatalf("manager a stopped leading with 2 of 3 etcd members up")
	}
	h.waitFor("manager a to lead with 2 members", 15*time.Second, func() bool { return h.leadsAndWatches(a) })

	if err := h.etcd.Kill(ctx, 1); err != nil {
		t.Fatal(err)
	}
	h.waitFor("manager a to stop leading without a quorum", 2*haTTL, func() bool { return a.logHas("leadership lost") })
	h.kill("host1")
	time.Sleep(2 * haTTL)
	for _, host := range []string{"host2", "host3"} {
		if ro := h.queryInt(host, "SELECT @@global.read_only"); ro != 1 {
			t.Fatalf("%s was made writable while etcd had no quorum", host)
		}
	}
	if !a.logHas("no failover of this cluster from here until it can") {
		t.Errorf("manager a does not say why it does not fail over")
	}
	for i := range 2 {
		if err := h.etcd.Start(ctx, i); err != nil {
			t.Fatal(err)
		}
	}
	rep := h.waitReport(60 * time.Second)
	if !rep.Succeeded || rep.DeadMaster != h.key("host1").String() {
		t.Fatalf("failover once etcd is back: %+v", rep)
	}
	h.verify(addrOf(rep.NewMaster), "host1")
}

// addrOf is the address of a "host:port" key.
func addrOf(key string) string {
	host, _, _ := strings.Cut(key, ":")
	return host
}
