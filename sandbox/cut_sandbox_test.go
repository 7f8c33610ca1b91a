package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"
)

// TestSandboxCut runs a partition between two hosts of a real 3-host GTID
// sandbox (127.0.0.126-128): host2 loses its master, host3 does not, and the
// test process still reaches everyone; Join and Heal undo cuts.
func TestSandboxCut(t *testing.T) {
	c := upTest(t, true, 125)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	h1, h2, h3 := c.Hosts[0], c.Hosts[1], c.Hosts[2]
	if c.Cgroup == "" {
		t.Fatal("Up made no host identity (see its warning): Cut cannot work")
	}

	// host2 must notice a silent master within seconds, not the default 60 s.
	if err := c.Exec(ctx, "host2", "STOP SLAVE", "SET GLOBAL slave_net_timeout=2",
		"CHANGE MASTER TO MASTER_HEARTBEAT_PERIOD=0.5", "START SLAVE"); err != nil {
		t.Fatal(err)
	}
	for _, pair := range [][2]string{{"host2", "host1"}, {"127.0.0.126", "host2"}} {
		if err := c.Cut(ctx, pair[0], pair[1]); err != nil { // the second call is a no-op
			t.Fatalf("Cut(%s, %s): %v", pair[0], pair[1], err)
		}
	}
	if cuts, _ := c.cuts(ctx); !slices.Equal(cuts, [][2]string{{h1.Addr, h2.Addr}}) {
		t.Errorf("cuts %v: want one pair, however named and ordered, however often cut", cuts)
	}
	if st, err := c.Status(ctx); err != nil || !slices.Equal(st[0].CutFrom, []string{"host2"}) ||
		!slices.Equal(st[1].CutFrom, []string{"host1"}) || st[2].CutFrom != nil || !st[1].MysqldRunning {
		t.Errorf("Status after Cut: %v %v; want host1 and host2 cut from each other, host2 still probed", st, err)
	}

	checkCutReplication(ctx, t, c)
	checkCutReach(ctx, t, c)

	// Join undoes one cut and keeps the others.
	if err := c.Cut(ctx, "host3", "host2"); err != nil {
		t.Fatal(err)
	}
	checkProbe(ctx, t, c, "a second cut separates host3 from host2", h3, h2, true)
	if err := c.Join(ctx, "host2", "host3"); err != nil {
		t.Fatal(err)
	}
	checkProbe(ctx, t, c, "Join, hosts in the other order, ends the second cut", h3, h2, false)
	checkProbe(ctx, t, c, "Join leaves the first cut alone", h2, h1, true)

	// Heal of either host ends its cuts: host2 replicates again.
	if err := c.Heal(ctx, "host1"); err != nil {
		t.Fatal(err)
	}
	if cuts, err := c.cuts(ctx); len(cuts) != 0 || err != nil {
		t.Errorf("after Heal(host1), cuts %v %v; want none", cuts, err)
	}
	checkProbe(ctx, t, c, "after Heal host2 reaches host1 again", h2, h1, false)
	checkReplication(ctx, t, c, 2, "Slave_Pos")

	if err := c.Cut(ctx, "host2", "host9"); !errors.Is(err, ErrUnknownHost) {
		t.Errorf("Cut with an unknown host: err=%v, want ErrUnknownHost", err)
	}
	checkDownIdentity(ctx, t, c)
}

// checkCutReach checks who reaches whom while host1 and host2 are cut.
func checkCutReach(ctx context.Context, t *testing.T, c *Cluster) {
	t.Helper()
	h1, h2, h3 := c.Hosts[0], c.Hosts[1], c.Hosts[2]
	cases := []struct {
		why      string
		from, to Host
		cut      bool
	}{
		{"host2's processes cannot reach host1", h2, h1, true},
		{"nor host1's reach host2: the cut is symmetric", h1, h2, true},
		{"host3 still reaches host1", h3, h1, false},
		{"host2 still reaches host3", h2, h3, false},
		{"host1 still reaches host3", h1, h3, false},
	}
	for _, tc := range cases {
		checkProbe(ctx, t, c, tc.why, tc.from, tc.to, tc.cut)
	}
	for _, h := range c.Hosts {
		for _, addr := range []string{h.mysqlAddr(), h.sshAddr()} {
			if err := dialFrom(ctx, "127.0.0.1", addr); err != nil {
				t.Errorf("the test process (127.0.0.1) must reach every host, %s too: %v", addr, err)
			}
		}
	}
}

// checkCutReplication writes on the master while host2 is cut from it:
// host2's IO thread must fail rather than stay "Yes", and must not receive
// the write, while host3 receives it.
func checkCutReplication(ctx context.Context, t *testing.T, c *Cluster) {
	t.Helper()
	if err := c.Exec(ctx, "host1", "CREATE TABLE gomha_test.t (id INT PRIMARY KEY)",
		"INSERT INTO gomha_test.t VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	mdb, err := c.DB(ctx, "host1")
	if err != nil {
		t.Fatal(err)
	}
	pos, err := masterStatus(ctx, mdb)
	mdb.Close()
	if err != nil {
		t.Fatal(err)
	}
	reached := func(r map[string]string) bool {
		return r["Master_Log_File"] == pos.File && r["Read_Master_Log_Pos"] == strconv.FormatUint(pos.Pos, 10)
	}
	var s2 map[string]string
	deadline := time.Now().Add(20 * time.Second)
	for ; time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		s2 = slaveStatus(ctx, t, c, "host2")
		if s2["Slave_IO_Running"] != "Yes" && s2["Last_IO_Errno"] != "0" {
			break
		}
	}
	t.Logf("host2 cut from its master: io=%s errno=%s error=%q", s2["Slave_IO_Running"], s2["Last_IO_Errno"], s2["Last_IO_Error"])
	if s2["Slave_IO_Running"] == "Yes" || s2["Last_IO_Errno"] == "0" || reached(s2) {
		t.Errorf("host2's IO thread: %v; want it failing, behind %s:%d", s2, pos.File, pos.Pos)
	}
	var s3 map[string]string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if s3 = slaveStatus(ctx, t, c, "host3"); reached(s3) {
			break
		}
	}
	if !reached(s3) || s3["Slave_IO_Running"] != "Yes" {
		t.Errorf("host3 must keep replicating: io=%s read up to %s:%s, master at %s:%d",
			s3["Slave_IO_Running"], s3["Master_Log_File"], s3["Read_Master_Log_Pos"], pos.File, pos.Pos)
	}
}

func slaveStatus(ctx context.Context, t *testing.T, c *Cluster, host string) map[string]string {
	t.Helper()
	db, err := c.DB(ctx, host)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := queryMaps(ctx, db, "SHOW SLAVE STATUS")
	if err != nil || len(rows) != 1 {
		t.Fatalf("SHOW SLAVE STATUS on %s: %v %v", host, rows, err)
	}
	return rows[0]
}

var probeRC = regexp.MustCompile(`(?m)^rc=(\d+)$`)

// checkProbe runs a TCP connect to to's mariadbd on from's host, over
// from's sshd (as the manager's replica-side probes do): it must time out
// when cut, succeed otherwise.
func checkProbe(ctx context.Context, t *testing.T, c *Cluster, why string, from, to Host, cut bool) {
	t.Helper()
	script := fmt.Sprintf("timeout 2 bash -c '</dev/tcp/%s/%d'; echo rc=$?", to.Addr, to.Port)
	out, err := exec.CommandContext(ctx, "ssh", "-i", c.SSHKey, "-o", "UserKnownHostsFile="+c.KnownHosts,
		"-o", "BatchMode=yes", "-o", "ConnectTimeout=5", "root@"+from.Addr, script).CombinedOutput()
	m := probeRC.FindSubmatch(out)
	if m == nil {
		t.Fatalf("%s: probe over ssh to %s failed: %v: %s", why, from.Name, err, out)
	}
	want := "0"
	if cut {
		want = "124" // timeout(1): the connect hung, it was not refused
	}
	if string(m[1]) != want {
		t.Errorf("%s: connect from %s to %s: exit %s, want %s (%s)", why, from.Name, to.mysqlAddr(), m[1], want, out)
	}
}
