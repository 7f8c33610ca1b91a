package sandbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestSandboxWriterVerify runs the writer and the verification helpers on a
// real 3-host GTID sandbox (127.0.0.121-123). The phases share one cluster
// to keep the test short; each leaves it in the state the next one needs:
//
//  1. writes on host1, everything verified (host3 by file/position);
//  2. an errant row on host3 is caught, then removed;
//  3. host1 is killed and host2 promoted by hand: the writer follows;
//  4. host1 comes back writable: CurrentMaster refuses two masters, a new
//     writer picks the followed one and leaves it when the replicas move.
func TestSandboxWriterVerify(t *testing.T) {
	c := upTest(t, true, 120)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	logger := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))
	h1, h2, h3 := c.Hosts[0], c.Hosts[1], c.Hosts[2]

	acked := phaseWriteAndVerify(ctx, t, c, logger)
	phaseErrantRow(ctx, t, c)
	acked = append(acked, phaseFailover(ctx, t, c, logger)...)
	for _, h := range []Host{h2, h3} {
		if err := c.VerifyAcked(ctx, h.Name, "gomha_test.writes", acked); err != nil {
			t.Errorf("every write acknowledged before and after the failover must be on %s: %v", h.Name, err)
		}
	}
	phaseStaleMaster(ctx, t, c, logger, h1, h2, h3)
}

// phaseWriteAndVerify writes on host1 and checks every host holds the rows.
// host3 is switched to file/position replication so that VerifyReplicas
// waits both ways.
func phaseWriteAndVerify(ctx context.Context, t *testing.T, c *Cluster, logger *slog.Logger) []int64 {
	if err := c.Exec(ctx, "host3", "STOP SLAVE", "CHANGE MASTER TO MASTER_USE_GTID=no", "START SLAVE"); err != nil {
		t.Fatal(err)
	}
	if m, err := c.CurrentMaster(ctx); err != nil || m != c.Hosts[0].Addr {
		t.Fatalf("CurrentMaster = %q, %v; want host1's address", m, err)
	}
	w, err := StartWriter(ctx, c, WriterOptions{Logger: logger, RowsPerTrx: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WaitAcked(ctx, 200); err != nil {
		w.Stop()
		t.Fatal(err)
	}
	rep := w.Stop()
	t.Logf("phase 1: %d acked in %v, %d errors", len(rep.Acked), rep.Stopped.Sub(rep.Started), rep.Errors)
	if len(rep.Acked) < 200 || rep.ByHost[c.Hosts[0].Addr] != len(rep.Acked) || len(rep.Switches) != 0 ||
		len(rep.Unknown) != 0 || rep.Errors != 0 {
		t.Errorf("undisturbed writer: acked %d by host %v, switches %v, unknown %v, errors %d (%s); want all on host1, no error",
			len(rep.Acked), rep.ByHost, rep.Switches, rep.Unknown, rep.Errors, rep.LastError)
	}
	if err := c.VerifyReplicas(ctx, "host1"); err != nil {
		t.Fatalf("VerifyReplicas after a clean run: %v", err)
	}
	for _, h := range c.Hosts {
		if err := c.VerifyAcked(ctx, h.Name, rep.Table, rep.Acked); err != nil {
			t.Error(err)
		}
		if n := countRows(ctx, t, c, h.Name); n != len(rep.Acked) {
			t.Errorf("%s holds %d rows, the writer acknowledged %d", h.Name, n, len(rep.Acked))
		}
	}
	// VerifyAcked must also fail: an id never written is reported.
	err = c.VerifyAcked(ctx, "host2", rep.Table, append([]int64{-5}, rep.Acked...))
	if !errors.Is(err, ErrAckedMissing) || !strings.Contains(err.Error(), "1 of") || !strings.Contains(err.Error(), "-5") {
		t.Errorf("VerifyAcked with an id never written: %v, want ErrAckedMissing naming -5", err)
	}
	return rep.Acked
}

// phaseErrantRow writes a row on host3 only (sql_log_bin=0): VerifyReplicas
// must name host3 and the table, and pass again once the row is gone.
func phaseErrantRow(ctx context.Context, t *testing.T, c *Cluster) {
	errant := "INSERT INTO gomha_test.writes VALUES (-1, 'errant', 'nowhere', NOW(6))"
	if err := execNoBinlog(ctx, c, "host3", errant); err != nil {
		t.Fatal(err)
	}
	err := c.VerifyReplicas(ctx, "host1")
	if !errors.Is(err, ErrDataDiffers) || !strings.Contains(err.Error(), "host3 (127.0.0.123): table gomha_test.writes has checksum") ||
		strings.Contains(err.Error(), "host2 (") {
		t.Errorf("VerifyReplicas with an errant row on host3: %v, want ErrDataDiffers naming host3 only", err)
	}
	t.Logf("phase 2: %v", err)
	if err := execNoBinlog(ctx, c, "host3", "DELETE FROM gomha_test.writes WHERE id=-1"); err != nil {
		t.Fatal(err)
	}
	if err := c.VerifyReplicas(ctx, "host1"); err != nil {
		t.Fatalf("VerifyReplicas after removing the errant row: %v", err)
	}
}

// phaseFailover kills host1 under write load and promotes host2 by hand; it
// returns the ids acknowledged. The writer runs without pause, so the kill
// often lands in a COMMIT (an unknown outcome) and host3 sometimes received
// more than host2. Replication is semi-synchronous here: with asynchronous
// replication host1 may acknowledge a commit and die before sending it, and
// this hand-made failover, unlike gomha's, does not salvage host1's binlog.
func phaseFailover(ctx context.Context, t *testing.T, c *Cluster, logger *slog.Logger) []int64 {
	h1, h2 := c.Hosts[0], c.Hosts[1]
	enableSemiSync(ctx, t, c)
	w, err := StartWriter(ctx, c, WriterOptions{Logger: logger, Interval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if err := w.WaitAcked(ctx, 100); err != nil {
		t.Fatal(err)
	}
	if n := semiSyncStatus(ctx, t, c, "Rpl_semi_sync_master_no_tx"); n != "0" {
		t.Fatalf("%s commits on host1 fell back to asynchronous replication: acknowledged writes may be lost", n)
	}
	if err := c.KillMysqld(ctx, "host1"); err != nil {
		t.Fatal(err)
	}
	promoteHost2(ctx, t, c)
	if err := w.WaitAcked(ctx, w.Acked()+100); err != nil {
		t.Fatal(err)
	}
	rep := w.Stop()
	t.Logf("phase 3: %d acked (%v), %d unknown %v, %d errors, switches %+v, downtime %v",
		len(rep.Acked), rep.ByHost, len(rep.Unknown), rep.Unknown, rep.Errors, rep.Switches, rep.Downtime)
	if len(rep.Switches) != 1 || rep.Switches[0].From != h1.Addr || rep.Switches[0].To != h2.Addr {
		t.Fatalf("switches %+v, want exactly one from host1 to host2", rep.Switches)
	}
	sw := rep.Switches[0]
	if sw.Downtime <= 0 || rep.Downtime < sw.Downtime || rep.Errors == 0 {
		t.Errorf("switch downtime %v, report downtime %v, errors %d: want a positive downtime and failed writes",
			sw.Downtime, rep.Downtime, rep.Errors)
	}
	if len(rep.Unknown) > 1 {
		t.Errorf("unknown outcomes %v: one transaction at a time can be in flight", rep.Unknown)
	}
	if n := rep.AckedOnAfter(h1.Addr, sw.FirstAckNew); n != 0 {
		t.Errorf("%d writes acknowledged by the dead master after the new one took writes", n)
	}
	if err := c.VerifyReplicas(ctx, "host2", "host1"); err != nil {
		t.Fatalf("VerifyReplicas after the failover: %v", err)
	}
	if m, err := c.CurrentMaster(ctx); err != nil || m != h2.Addr {
		t.Errorf("CurrentMaster after the failover = %q, %v; want host2's address", m, err)
	}
	return rep.Acked
}

// enableSemiSync makes host1 wait (AFTER_SYNC) for a replica to receive
// each commit before acknowledging it, and waits for both replicas to say so.
func enableSemiSync(ctx context.Context, t *testing.T, c *Cluster) {
	t.Helper()
	for _, h := range []string{"host2", "host3"} {
		if err := c.Exec(ctx, h, "SET GLOBAL rpl_semi_sync_slave_enabled=ON",
			"STOP SLAVE IO_THREAD", "START SLAVE IO_THREAD"); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Exec(ctx, "host1", "SET GLOBAL rpl_semi_sync_master_wait_point=AFTER_SYNC",
		"SET GLOBAL rpl_semi_sync_master_timeout=10000", "SET GLOBAL rpl_semi_sync_master_enabled=ON"); err != nil {
		t.Fatal(err)
	}
	for semiSyncStatus(ctx, t, c, "Rpl_semi_sync_master_clients") != "2" {
		select {
		case <-ctx.Done():
			t.Fatal("replicas did not connect as semi-synchronous")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func semiSyncStatus(ctx context.Context, t *testing.T, c *Cluster, name string) string {
	t.Helper()
	var n, v string
	if err := mustDB(ctx, t, c, "host1").QueryRowContext(ctx, "SHOW GLOBAL STATUS LIKE ?", name).Scan(&n, &v); err != nil {
		t.Fatalf("%s on host1: %v", name, err)
	}
	return v
}

// promoteHost2 is the test's own failover: stop fetching from the dead
// master, let both replicas apply what they received, bring host2 up to
// host3 if host3 got more, make host2 a writable master, repoint host3.
func promoteHost2(ctx context.Context, t *testing.T, c *Cluster) {
	t.Helper()
	for _, h := range []string{"host2", "host3"} {
		if err := c.Exec(ctx, h, "STOP SLAVE IO_THREAD"); err != nil {
			t.Fatal(err)
		}
		waitRelayApplied(ctx, t, c, h)
	}
	if s2, s3 := gtidSeq(ctx, t, c, "host2"), gtidSeq(ctx, t, c, "host3"); s3 > s2 {
		t.Logf("host3 received more than host2 (%d > %d): host2 catches up from host3 first", s3, s2)
		repoint(ctx, t, c, "host2", "host3")
		pos := gtidSlavePos(ctx, t, c, "host3")
		var res int
		db := mustDB(ctx, t, c, "host2")
		if err := db.QueryRowContext(ctx, "SELECT MASTER_GTID_WAIT(?, 20)", pos).Scan(&res); err != nil || res != 0 {
			t.Fatalf("host2 catching up to %s from host3: %d %v", pos, res, err)
		}
	}
	if err := c.Exec(ctx, "host2", "STOP SLAVE", "RESET SLAVE ALL", "SET GLOBAL read_only=0"); err != nil {
		t.Fatal(err)
	}
	repoint(ctx, t, c, "host3", "host2")
}

// repoint makes replica replicate from master with GTID.
func repoint(ctx context.Context, t *testing.T, c *Cluster, replica, master string) {
	t.Helper()
	m, _ := c.Host(master)
	db := mustDB(ctx, t, c, replica)
	for _, s := range []struct {
		q    string
		args []any
	}{
		{"STOP SLAVE", nil},
		{"CHANGE MASTER TO MASTER_HOST=?, MASTER_PORT=?, MASTER_USER=?, MASTER_PASSWORD=?, " +
			"MASTER_CONNECT_RETRY=1, MASTER_USE_GTID=slave_pos", []any{m.Addr, m.Port, c.ReplUser, c.ReplPassword}},
		{"START SLAVE", nil},
	} {
		if _, err := db.ExecContext(ctx, s.q, s.args...); err != nil {
			t.Fatalf("repoint %s to %s: %v", replica, master, err)
		}
	}
}

// waitRelayApplied waits until the SQL thread of host executed everything
// its stopped IO thread had fetched.
func waitRelayApplied(ctx context.Context, t *testing.T, c *Cluster, host string) {
	t.Helper()
	db := mustDB(ctx, t, c, host)
	for {
		rows, err := queryMaps(ctx, db, "SHOW SLAVE STATUS")
		if err != nil || len(rows) != 1 {
			t.Fatalf("slave status of %s: %v %v", host, rows, err)
		}
		st := rows[0]
		if st["Master_Log_File"] == st["Relay_Master_Log_File"] && st["Read_Master_Log_Pos"] == st["Exec_Master_Log_Pos"] {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s did not apply its relay log: %v", host, st)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// gtidSeq is the sequence number of a host's gtid_slave_pos (one domain).
func gtidSeq(ctx context.Context, t *testing.T, c *Cluster, host string) int64 {
	t.Helper()
	pos := gtidSlavePos(ctx, t, c, host)
	var d, s uint32
	var seq int64
	if _, err := fmt.Sscanf(pos, "%d-%d-%d", &d, &s, &seq); err != nil || strings.Contains(pos, ",") {
		t.Fatalf("gtid_slave_pos of %s is %q: want one domain", host, pos)
	}
	return seq
}

func gtidSlavePos(ctx context.Context, t *testing.T, c *Cluster, host string) string {
	t.Helper()
	var pos string
	if err := mustDB(ctx, t, c, host).QueryRowContext(ctx, "SELECT @@global.gtid_slave_pos").Scan(&pos); err != nil {
		t.Fatal(err)
	}
	return pos
}

// phaseStaleMaster restarts host1, which comes back writable with no
// replication: a stale old master next to host2.
func phaseStaleMaster(ctx context.Context, t *testing.T, c *Cluster, logger *slog.Logger, h1, h2, h3 Host) {
	if err := c.StartMysqld(ctx, "host1"); err != nil {
		t.Fatal(err)
	}
	_, err := c.CurrentMaster(ctx)
	if !errors.Is(err, ErrSeveralMasters) || !strings.Contains(err.Error(), h1.Addr+" and "+h2.Addr) {
		t.Errorf("CurrentMaster with host1 back writable: %v, want ErrSeveralMasters naming host1 and host2", err)
	}
	w, err := StartWriter(ctx, c, WriterOptions{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if err := w.WaitAcked(ctx, 20); err != nil {
		t.Fatal(err)
	}
	// The replicas move to host1 while host2 stays writable: the writer must
	// leave host2 by itself (no write fails there).
	if err := c.Exec(ctx, h3.Name, "STOP SLAVE", "CHANGE MASTER TO MASTER_HOST='"+h1.Addr+"'"); err != nil {
		t.Fatal(err)
	}
	if err := w.WaitAcked(ctx, w.Acked()+100); err != nil {
		t.Fatal(err)
	}
	// Fencing host1 with read_only must stop the writer there, although
	// the admin user could still write: it goes back to host2.
	if err := c.Exec(ctx, h1.Name, "SET GLOBAL read_only=1"); err != nil {
		t.Fatal(err)
	}
	if err := w.WaitAcked(ctx, w.Acked()+50); err != nil {
		t.Fatal(err)
	}
	rep := w.Stop()
	t.Logf("phase 4: acked %v, switches %+v, last error %s", rep.ByHost, rep.Switches, rep.LastError)
	if len(rep.Switches) != 2 || rep.Switches[0].From != h2.Addr || rep.Switches[0].To != h1.Addr || rep.Switches[1].To != h2.Addr {
		t.Fatalf("switches %+v, want host2 -> host1 (the replicas moved) -> host2 (host1 fenced)", rep.Switches)
	}
	if rep.Errors == 0 || !strings.Contains(rep.LastError, "read_only") {
		t.Errorf("errors %d, last %q: want the fenced write refused for read_only", rep.Errors, rep.LastError)
	}
	sw0, sw1 := rep.Switches[0], rep.Switches[1]
	if n := rep.AckedOnAfter(h2.Addr, sw0.FirstAckNew) - rep.AckedOnAfter(h2.Addr, sw1.LastAckOld); n != 0 {
		t.Errorf("%d writes went to host2 while the writer used host1", n)
	}
	// The writes host1 took are not on host2: the lost-write check sees them.
	err = c.VerifyAcked(ctx, "host2", rep.Table, rep.Acked)
	if want := fmt.Sprintf("%d of %d", rep.ByHost[h1.Addr], len(rep.Acked)); !errors.Is(err, ErrAckedMissing) || !strings.Contains(err.Error(), want) {
		t.Errorf("VerifyAcked on host2 after the writer moved to host1: %v, want ErrAckedMissing with %q", err, want)
	}
}

// execNoBinlog runs stmt on one connection with sql_log_bin=0: a change only
// host gets.
func execNoBinlog(ctx context.Context, c *Cluster, host, stmt string) error {
	db, err := c.DB(ctx, host)
	if err != nil {
		return err
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	for _, s := range []string{"SET SESSION sql_log_bin=0", stmt} {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("%s on %s: %w", s, host, err)
		}
	}
	return nil
}

func countRows(ctx context.Context, t *testing.T, c *Cluster, host string) int {
	t.Helper()
	var n int
	if err := mustDB(ctx, t, c, host).QueryRowContext(ctx, "SELECT COUNT(*) FROM gomha_test.writes").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// mustDB opens an admin pool to host, closed when the test ends.
func mustDB(ctx context.Context, t *testing.T, c *Cluster, host string) *sql.DB {
	t.Helper()
	db, err := c.DB(ctx, host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
