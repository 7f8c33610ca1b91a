package sandbox

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"gopkg.in/ini.v1"

	"github.com/gomha/gomha/sandbox/internal/proc"
)

// requireBinaries skips when the servers are not installed, except in CI
// where a missing binary is a failure.
func requireBinaries(t *testing.T) {
	t.Helper()
	for _, b := range []string{mariadbd, mariadbInstall, sshdPath, "ssh", "ssh-keygen", "cp"} {
		if _, err := exec.LookPath(b); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is required: %v", b, err)
			}
			t.Skipf("%s not installed: %v", b, err)
		}
	}
}

// upOpts deploys a sandbox with o under t.TempDir(), logging to the test,
// and registers its Down.
func upOpts(t *testing.T, o Options) *Cluster {
	t.Helper()
	requireBinaries(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	o.Dir, o.Logger = filepath.Join(t.TempDir(), "sb"), slog.New(slog.NewTextHandler(t.Output(), nil))
	c, err := Up(ctx, o)
	if err != nil {
		t.Fatalf("Up: %v", err)
	}
	t.Cleanup(func() {
		dctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := c.Down(dctx); err != nil {
			t.Errorf("Down: %v", err)
		}
	})
	return c
}

// upTest deploys a 3-host sandbox and registers its Down.
func upTest(t *testing.T, gtid bool, baseOctet int) *Cluster {
	t.Helper()
	c := upOpts(t, Options{Hosts: 3, GTID: gtid, BaseOctet: baseOctet})
	t.Logf("Up of 3 hosts took %v", c.UpDuration)
	if c.UpDuration > 30*time.Second {
		t.Errorf("Up took %v, want well under 30s", c.UpDuration)
	}
	return c
}

// TestSandboxGTID walks through everything a failover test needs of a GTID
// sandbox: replication, config, ssh, mysqld faults, isolation, clean Down.
func TestSandboxGTID(t *testing.T) {
	c := upTest(t, true, 60)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()

	checkOpen(t, c)
	checkReplication(ctx, t, c, 1, "Slave_Pos")
	checkAppConf(t, c)
	checkSSH(ctx, t, c, "host2")
	checkRoles(ctx, t, c)

	// A second Up on the same Dir or on the same addresses must refuse.
	if _, err := Up(ctx, Options{Dir: c.Dir, Hosts: 3, BaseOctet: 60}); !errors.Is(err, ErrRunning) {
		t.Errorf("Up on a running sandbox: err=%v, want ErrRunning", err)
	}
	if _, err := Up(ctx, Options{Dir: t.TempDir(), Hosts: 3, BaseOctet: 60}); !errors.Is(err, ErrAddrInUse) {
		t.Errorf("Up on taken addresses: err=%v, want ErrAddrInUse", err)
	}

	// Crash and restart a replica: refused while down, replicating again after.
	h2, _ := c.Host("host2")
	if err := c.KillMysqld(ctx, "host2"); err != nil {
		t.Fatal(err)
	}
	if err := dial(h2.mysqlAddr()); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("connect to killed mysqld: err=%v, want connection refused", err)
	}
	if st, err := c.Status(ctx); err != nil || st[1].MysqldRunning || !st[1].SSHDRunning || st[1].Role != RoleUnknown {
		t.Errorf("Status after KillMysqld: %v %v, want host2 mysqld down, sshd up", st, err)
	}
	if err := c.StartMysqld(ctx, "host2"); err != nil {
		t.Fatal(err)
	}
	checkReplication(ctx, t, c, 2, "Slave_Pos")

	// Isolate: connects time out (not refused); Heal: they work again.
	h3, _ := c.Host("127.0.0.63")
	if err := c.Isolate(ctx, "host3"); err != nil {
		t.Fatal(err)
	}
	var ne net.Error
	if err := dial(h3.mysqlAddr()); !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("connect to isolated host: err=%v, want a timeout", err)
	}
	if st, err := c.Status(ctx); err != nil || !st[2].Isolated {
		t.Errorf("Status after Isolate: %v %v, want host3 isolated", st, err)
	}
	if err := c.Heal(ctx, "host3"); err != nil {
		t.Fatal(err)
	}
	if err := dial(h3.mysqlAddr()); err != nil {
		t.Errorf("connect after Heal: %v", err)
	}

	checkDown(ctx, t, c)
}

// TestSandboxFilePos covers file/position replication, StopMysqld and
// KillHost/StartHost.
func TestSandboxFilePos(t *testing.T) {
	c := upTest(t, false, 70)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()

	checkReplication(ctx, t, c, 1, "No")
	checkAppConf(t, c)
	checkRoles(ctx, t, c)

	if err := c.StopMysqld(ctx, "host3"); err != nil {
		t.Fatal(err)
	}
	if err := c.StartMysqld(ctx, "host3"); err != nil {
		t.Fatal(err)
	}
	checkReplication(ctx, t, c, 2, "No")

	// KillHost also ends the host's ssh sessions, as a dead machine would.
	h2, _ := c.Host("host2")
	sess := exec.CommandContext(ctx, "ssh", "-i", c.SSHKey, "-o", "UserKnownHostsFile="+c.KnownHosts,
		"-o", "BatchMode=yes", "root@"+h2.Addr, "sleep", "60")
	if err := sess.Start(); err != nil {
		t.Fatal(err)
	}
	p2, _ := c.PIDs("host2")
	var sessPIDs []int
	for deadline := time.Now().Add(10 * time.Second); len(sessPIDs) < 2 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		sessPIDs = proc.Descendants(p2.SSHD) // session processes and the remote sleep
	}
	if len(sessPIDs) < 2 {
		t.Fatalf("ssh session on host2 did not start: descendants of sshd %v", sessPIDs)
	}
	if err := c.KillHost(ctx, "host2"); err != nil {
		t.Fatal(err)
	}
	for _, pid := range sessPIDs {
		if proc.Alive(pid) {
			t.Errorf("session process %d of host2's sshd survived KillHost", pid)
		}
	}
	if err := sess.Wait(); err == nil {
		t.Error("ssh session to a killed host ended without error")
	}
	for _, a := range []string{h2.mysqlAddr(), h2.sshAddr()} {
		if err := dial(a); !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("connect to %s of killed host: err=%v, want refused", a, err)
		}
	}
	if err := c.StartHost(ctx, "host2"); err != nil {
		t.Fatal(err)
	}
	checkSSH(ctx, t, c, "host2")
	checkReplication(ctx, t, c, 3, "No")

	// The cobra commands act on a sandbox another process started.
	o, err := Open(c.Dir)
	if err != nil {
		t.Fatal(err)
	}
	checkDown(ctx, t, o)
}

// TestSandboxUpFailure checks that a failed Up says why, leaves no process
// behind, and that its Dir can be used again.
func TestSandboxUpFailure(t *testing.T) {
	requireBinaries(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "sb")
	_, err := Up(ctx, Options{Dir: dir, Hosts: 2, BaseOctet: 90, ExtraMyCnf: []string{"no_such_option=1"}})
	if err == nil || !strings.Contains(err.Error(), "no_such_option") {
		t.Fatalf("Up with a bad option: err=%v, want the error log's complaint", err)
	}
	noProcess(t, dir)
	c, err := Up(ctx, Options{Dir: dir, Hosts: 2, BaseOctet: 90})
	if err != nil {
		t.Fatalf("Up on the Dir of a failed sandbox: %v", err)
	}
	t.Cleanup(func() { _ = c.Down(context.Background()) })
	checkDown(ctx, t, c)
}

func dial(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		conn.Close()
	}
	return err
}

func checkOpen(t *testing.T, c *Cluster) {
	t.Helper()
	o, err := Open(c.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Hosts) != 3 || o.Password != AdminPass || o.ConfPath != c.ConfPath {
		t.Errorf("Open: got %+v", o.record())
	}
	for _, h := range c.Hosts {
		want, _ := c.PIDs(h.Name)
		got, _ := o.PIDs(h.Name)
		if got != want || got.Mysqld == 0 || got.SSHD == 0 {
			t.Errorf("Open: pids of %s = %+v, want %+v", h.Name, got, want)
		}
	}
	if st, err := os.Stat(filepath.Join(c.Dir, stateFile)); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("sandbox.json must be 0600 (it holds passwords): %v %v", st.Mode(), err)
	}
}

// checkReplication inserts id on the master and waits for it on every
// replica; it also checks the replication mode and read_only.
func checkReplication(ctx context.Context, t *testing.T, c *Cluster, id int, usingGTID string) {
	t.Helper()
	if err := c.Exec(ctx, "host1",
		"CREATE TABLE IF NOT EXISTS gomha_test.t (id INT PRIMARY KEY)",
		"INSERT INTO gomha_test.t VALUES ("+strconv.Itoa(id)+")"); err != nil {
		t.Fatal(err)
	}
	for _, h := range c.Hosts[1:] {
		db, err := c.DB(ctx, h.Name)
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(15 * time.Second)
		n := 0
		for n != 1 && time.Now().Before(deadline) {
			_ = db.QueryRowContext(ctx, "SELECT COUNT(*) FROM gomha_test.t WHERE id=?", id).Scan(&n)
			time.Sleep(20 * time.Millisecond)
		}
		if n != 1 {
			t.Errorf("row %d did not reach %s", id, h.Name)
		}
		rows, err := queryMaps(ctx, db, "SHOW SLAVE STATUS")
		if err != nil || len(rows) != 1 || rows[0]["Using_Gtid"] != usingGTID {
			t.Errorf("%s: Using_Gtid=%q, want %q (%v)", h.Name, rows, usingGTID, err)
		}
		checkHeartbeat(ctx, t, db, h)
		db.Close()
	}
}

// checkHeartbeat checks that a replica runs with the sandbox's heartbeat
// period (half its ping_interval; kept in master.info across a restart of
// mariadbd) and that heartbeats arrive: a replica notices a silent master
// within a second, not after MariaDB's default 30 s.
func checkHeartbeat(ctx context.Context, t *testing.T, db *sql.DB, h Host) {
	t.Helper()
	read := func() (period float64, received int64) {
		rows, err := queryMaps(ctx, db, "SHOW GLOBAL STATUS WHERE Variable_name IN ('Slave_heartbeat_period', 'Slave_received_heartbeats')")
		if err != nil {
			t.Fatalf("%s: heartbeat status: %v", h.Name, err)
		}
		for _, r := range rows {
			switch r["Variable_name"] {
			case "Slave_heartbeat_period":
				period, _ = strconv.ParseFloat(r["Value"], 64)
			case "Slave_received_heartbeats":
				received, _ = strconv.ParseInt(r["Value"], 10, 64)
			}
		}
		return period, received
	}
	period, first := read()
	if want := heartbeatPeriod.Seconds(); period != want || want != pingInterval.Seconds()/2 {
		t.Errorf("%s: Slave_heartbeat_period=%v, want %v (half the ping_interval %v)", h.Name, period, want, pingInterval)
	}
	deadline := time.Now().Add(4 * heartbeatPeriod)
	for _, n := read(); n <= first; _, n = read() {
		if time.Now().After(deadline) {
			t.Errorf("%s: no heartbeat received in %v (Slave_received_heartbeats stays %d)", h.Name, 4*heartbeatPeriod, n)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func checkRoles(ctx context.Context, t *testing.T, c *Cluster) {
	t.Helper()
	st, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range st {
		t.Log(s.String())
		wantRole, wantRO := RoleReplica, true
		if i == 0 {
			wantRole, wantRO = RoleMaster, false
		}
		if !s.MysqldRunning || !s.SSHDRunning || s.Role != wantRole || s.ReadOnly != wantRO || s.Isolated {
			t.Errorf("status %s, want running %s read_only=%v", s, wantRole, wantRO)
		}
		if i > 0 && (s.MasterAddr != c.Master().Addr || s.IORunning != "Yes" || s.SQLRunning != "Yes") {
			t.Errorf("status %s, want replicating from %s", s, c.Master().Addr)
		}
	}
}

func checkAppConf(t *testing.T, c *Cluster) {
	t.Helper()
	f, err := ini.LoadSources(ini.LoadOptions{IgnoreInlineComment: true}, c.ConfPath)
	if err != nil {
		t.Fatal(err)
	}
	assertEq(t, f.Section("server default").Key("password").String(), c.Password)
	for i, h := range c.Hosts {
		s, err := f.GetSection("server" + strconv.Itoa(i+1))
		if err != nil {
			t.Fatal(err)
		}
		assertEq(t, s.Key("hostname").String(), h.Addr)
		if _, err := os.Stat(s.Key("master_binlog_dir").String()); err != nil {
			t.Errorf("master_binlog_dir of %s: %v", h.Name, err)
		}
	}
	if _, err := f.GetSection("server4"); err == nil {
		t.Error("app1.cnf has a [server4] for a 3-host sandbox")
	}
}

// checkSSH logs in with the system client, refusing unknown host keys.
func checkSSH(ctx context.Context, t *testing.T, c *Cluster, host string) {
	t.Helper()
	h, _ := c.Host(host)
	out, err := exec.CommandContext(ctx, "ssh", "-i", c.SSHKey, "-o", "UserKnownHostsFile="+c.KnownHosts,
		"-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5",
		"root@"+h.Addr, "echo", "ok-"+h.Name).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ok-"+h.Name {
		t.Errorf("ssh to %s: %v: %s", h.Name, err, out)
	}
}

// checkDown stops the sandbox and checks that no process of it remains and
// its firewall chain is gone.
func checkDown(ctx context.Context, t *testing.T, c *Cluster) {
	t.Helper()
	var recorded []int
	for _, h := range c.Hosts {
		p, _ := c.PIDs(h.Name)
		recorded = append(recorded, p.Mysqld, p.SSHD)
	}
	if err := c.Down(ctx); err != nil {
		t.Fatal(err)
	}
	for _, pid := range recorded {
		if proc.Alive(pid) {
			t.Errorf("pid %d still alive after Down", pid)
		}
	}
	noProcess(t, c.Dir)
	if _, ok := nftRules(ctx, c.FirewallChain); ok {
		t.Errorf("nft chain %s still exists after Down", c.FirewallChain)
	}
}

// noProcess fails if any process has dir in its command line.
func noProcess(t *testing.T, dir string) {
	t.Helper()
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err == nil && proc.Alive(pid) && proc.CmdlineHas(pid, dir+"/") {
			t.Errorf("pid %d still runs with %s in its command line", pid, dir)
		}
	}
}
