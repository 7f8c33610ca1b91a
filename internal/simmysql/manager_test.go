package simmysql

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gomha/gomha/manager"
	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/node"
)

// refusedPort is where nothing listens on 127.0.4.x: the simulated hosts'
// ssh_port, so that SSH is refused as on a host whose sshd is down.
const refusedPort = 9

// managerRun is gomha's manager watching a simulated cluster.
type managerRun struct {
	cfg      *config.Config
	verdicts chan manager.Verdict
	done     chan error
}

// startManager checks the cluster as check repl does (it must be healthy)
// and starts a manager on it that reports its verdict and stops there; it
// returns once the manager monitors.
func startManager(ctx context.Context, t *testing.T, c *Cluster) *managerRun {
	t.Helper()
	node.QuietDriverLogs()
	dir := t.TempDir()
	conf := filepath.Join(dir, "app1.cnf")
	sshOpts, err := SSHIdentity(filepath.Join(dir, "ssh"))
	if err != nil {
		t.Fatal(err)
	}
	text := c.Info().Conf(ConfOptions{User: "gomha", Password: "gomha", Workdir: filepath.Join(dir, "work"),
		PingInterval: 1, SSHPort: refusedPort, SSHOptions: sshOpts})
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(ctx, conf, config.Options{NoGlobal: true})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := manager.CheckRepl(ctx, cfg, manager.CheckReplOptions{}, manager.NewConsole(nil))
	if err != nil {
		t.Fatalf("check repl on a simulated cluster: %v (%+v)", err, rep.Problems)
	}
	if rep.Master != c.Master.Addr() || rep.GTID == nil || !*rep.GTID {
		t.Errorf("check repl: master %s gtid %v, want %s with GTID", rep.Master, rep.GTID, c.Master.Addr())
	}
	m := &managerRun{cfg: cfg, verdicts: make(chan manager.Verdict, 1), done: make(chan error, 1)}
	go func() {
		m.done <- manager.RunManager(ctx, cfg, manager.ManagerOptions{SkipSSHCheck: true, OnVerdict: func(v manager.Verdict) bool {
			m.verdicts <- v
			return false
		}})
	}()
	m.waitPingOK(t, 10*time.Second)
	return m
}

func (m *managerRun) waitPingOK(t *testing.T, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		st, err := manager.ReadStatus(m.cfg.ManagerWorkdir, m.cfg.App, 0)
		if err == nil && st.Code == manager.StatusPingOK {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("manager not at PING_OK after %s: %v %v", within, st.Code, err)
		}
		select {
		case err := <-m.done:
			t.Fatalf("manager returned: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestManagerWatchesSimulatedCluster runs gomha's manager on a simulated
// cluster: check repl must find it healthy, the monitor must watch it
// (pings, the SLEEP watch), and a killed master must be confirmed dead with
// the replicas' agreement, every statement on the way being one the
// simulator knows (an unknown one fails the test).
func TestManagerWatchesSimulatedCluster(t *testing.T) {
	sim := newTestSim(t)
	c := addCluster(t, sim)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m := startManager(ctx, t, c)
	time.Sleep(2 * time.Second) // two pings, eight watch queries
	if n := sim.Stats().Sessions; n < 2 {
		t.Errorf("%d sessions while monitoring, want the ping's and the watch's", n)
	}
	killed := c.Kill()
	select {
	case v := <-m.verdicts:
		took := v.Confirmed.Sub(killed)
		t.Logf("confirmed dead %s after the kill: %s", took.Round(time.Millisecond), v.Reason)
		if took > time.Second {
			t.Errorf("detection took %s", took)
		}
		if !strings.Contains(v.Reason, "refused") || !strings.Contains(v.Reason, "2/2 replicas") {
			t.Errorf("verdict %q: want a refused connection and both replicas", v.Reason)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no verdict 10 s after the kill")
	}
	if err := <-m.done; err != nil {
		t.Errorf("manager stopped by OnVerdict returned %v, want nil", err)
	}
}
