package sandbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/gomha/gomha/sandbox/internal/proc"
)

// TestSandboxIdentity checks, on a real 2-host sandbox (127.0.0.136-137),
// that each host's processes run in its cgroup and dial from its address,
// after a restart too; that Isolate now also cuts the connections the
// isolated host opened; and that Down removes the cgroups even when an ssh
// session left a daemon behind.
func TestSandboxIdentity(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	c := upOpts(t, Options{Hosts: 2, GTID: true, BaseOctet: 135})
	checkIdentity(ctx, t, c)
	if err := c.KillHost(ctx, "host2"); err != nil {
		t.Fatal(err)
	}
	if err := c.StartHost(ctx, "host2"); err != nil {
		t.Fatal(err)
	}
	checkReplication(ctx, t, c, 1, "Slave_Pos")
	checkIdentity(ctx, t, c) // the restarted processes are in the cgroup again

	checkIsolatedReplica(ctx, t, c)

	daemon := startDaemon(ctx, t, c, c.Hosts[1])
	checkDownIdentity(ctx, t, c)
	if proc.Alive(daemon) {
		t.Errorf("daemon %d left by an ssh session on host2 survived Down", daemon)
	}
}

// checkIsolatedReplica isolates host2: its open replication connection
// must carry nothing more, although the master's replies to it are
// addressed to 127.0.0.1 when they reach the input hook.
func checkIsolatedReplica(ctx context.Context, t *testing.T, c *Cluster) {
	t.Helper()
	if err := c.Isolate(ctx, "host2"); err != nil {
		t.Fatal(err)
	}
	if err := c.Exec(ctx, "host1", "INSERT INTO gomha_test.t VALUES (2)"); err != nil {
		t.Fatal(err)
	}
	cfg := mysql.NewConfig() // over its unix socket: the test process cannot reach host2 by TCP now
	cfg.User, cfg.Net, cfg.Addr = "root", "unix", c.Hosts[1].Socket()
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	n := 0
	for deadline := time.Now().Add(3 * time.Second); n == 0 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM gomha_test.t WHERE id=2").Scan(&n); err != nil {
			t.Fatal(err)
		}
	}
	if n != 0 {
		t.Error("an isolated replica still received a write from its master")
	}
	if err := c.Heal(ctx, "host2"); err != nil {
		t.Fatal(err)
	}
	checkReplication(ctx, t, c, 3, "Slave_Pos")
}

// checkIdentity checks that each host's mariadbd and sshd run in the host's
// cgroup, and that the master sees its replicas connect from their own
// addresses (so the '127.%' accounts still let them in).
func checkIdentity(ctx context.Context, t *testing.T, c *Cluster) {
	t.Helper()
	if c.Cgroup == "" {
		t.Fatal("Up made no host identity (see its warning): Cut cannot work")
	}
	for _, h := range c.Hosts {
		p, _ := c.PIDs(h.Name)
		for _, pid := range []int{p.Mysqld, p.SSHD} {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
			if want := "0::/" + c.Cgroup + "/" + h.Name + "\n"; err != nil || !strings.Contains(string(b), want) {
				t.Errorf("pid %d of %s: /proc/PID/cgroup %q %v, want %q", pid, h.Name, b, err, want)
			}
		}
	}
	db, err := c.DB(ctx, "host1")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := queryMaps(ctx, db, "SELECT HOST FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%' ORDER BY HOST")
	var got []string
	for _, r := range rows {
		host, _, _ := net.SplitHostPort(r["HOST"])
		got = append(got, host)
	}
	var want []string
	for _, h := range c.Hosts[1:] {
		want = append(want, h.Addr)
	}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("replicas connect to the master from %v (%v), want their own addresses", got, err)
	}
}

// startDaemon leaves a process detached from every ssh session on h, as an
// operator's `nohup ... &` would: Down must still empty and remove h's cgroup.
func startDaemon(ctx context.Context, t *testing.T, c *Cluster, h Host) int {
	t.Helper()
	out, err := exec.CommandContext(ctx, "ssh", "-i", c.SSHKey, "-o", "UserKnownHostsFile="+c.KnownHosts,
		"-o", "BatchMode=yes", "root@"+h.Addr, "setsid sleep 613 </dev/null >/dev/null 2>&1 & echo $!").CombinedOutput()
	pid, perr := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil || perr != nil {
		t.Fatalf("start a daemon on %s: %v: %s", h.Name, err, out)
	}
	p, _ := c.PIDs(h.Name)
	if slices.Contains(proc.Descendants(p.SSHD), pid) || !proc.CmdlineHas(pid, "sleep 613") {
		t.Fatalf("pid %d: want a live daemon that is no child of %s's sshd", pid, h.Name)
	}
	return pid
}

// checkDownIdentity checks that Down leaves no cgroup and no NAT rule.
func checkDownIdentity(ctx context.Context, t *testing.T, c *Cluster) {
	t.Helper()
	dir, err := c.hostCgroupDir(c.Hosts[0])
	if err != nil {
		t.Fatal(err)
	}
	checkDown(ctx, t, c)
	if _, err := os.Stat(filepath.Dir(dir)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("cgroup of the sandbox still there after Down: %v", err)
	}
	if err := iptablesNat(ctx, "-S", []string{snatChain(c.Dir)}); err == nil {
		t.Errorf("NAT chain %s still there after Down", snatChain(c.Dir))
	}
}
