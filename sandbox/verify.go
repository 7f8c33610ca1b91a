package sandbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/gomha/gomha/sandbox/internal/proc"
)

// Sentinel errors of the verification helpers, for errors.Is.
var (
	// ErrNoMaster means no host answered as a writable master.
	ErrNoMaster = errors.New("no writable master")
	// ErrSeveralMasters means more than one host is a writable master.
	ErrSeveralMasters = errors.New("several writable masters")
	// ErrNotReplicating means a replica does not replicate from the expected
	// master with both threads running, or did not catch up in time.
	ErrNotReplicating = errors.New("replica not replicating from the master")
	// ErrDataDiffers means a table differs between the master and a replica.
	ErrDataDiffers = errors.New("data differs from the master")
	// ErrAckedMissing means acknowledged writes are missing from a host.
	ErrAckedMissing = errors.New("acknowledged writes missing")
)

const (
	probeAllTimeout = time.Second // CurrentMaster: per-host bound
	gtidWaitStep    = 0.5         // seconds of one MASTER_GTID_WAIT call
	ackedChunk      = 1000        // ids per SELECT of VerifyAcked
	maxListedIDs    = 20
)

func (h Host) label() string { return h.Name + " (" + h.Addr + ")" }

// CurrentMaster returns the address of the single host that answers with
// read_only=0 and no replica status. Hosts that do not answer within a
// second (dead, isolated) are not considered. It fails with ErrNoMaster or
// ErrSeveralMasters, naming what each host is.
func (c *Cluster) CurrentMaster(ctx context.Context) (string, error) {
	probes := c.probeAll(ctx)
	var masters []string
	for _, p := range probes {
		if p.writable() {
			masters = append(masters, p.Addr)
		}
	}
	switch len(masters) {
	case 1:
		return masters[0], nil
	case 0:
		return "", fmt.Errorf("current master of sandbox %s: %w: %s", c.Dir, ErrNoMaster, probeSummary(probes))
	default:
		return "", fmt.Errorf("current master of sandbox %s: %w: %s (%s)", c.Dir, ErrSeveralMasters,
			strings.Join(masters, " and "), probeSummary(probes))
	}
}

// probeAll probes every host in parallel, in host order.
func (c *Cluster) probeAll(ctx context.Context) []masterProbe {
	out := make([]masterProbe, len(c.Hosts))
	var wg sync.WaitGroup
	for i, h := range c.Hosts {
		wg.Go(func() {
			pctx, cancel := context.WithTimeout(ctx, probeAllTimeout)
			defer cancel()
			db, err := c.openShort(h, probeAllTimeout, probeAllTimeout, c.logger)
			if err != nil {
				out[i] = masterProbe{Addr: h.Addr, At: time.Now(), Err: err}
				return
			}
			defer db.Close()
			out[i] = probeMaster(pctx, db, h.Addr, time.Now())
		})
	}
	wg.Wait()
	return out
}

// VerifyReplicas checks that every host whose mariadbd runs, other than
// master and those in skip (names or addresses), replicates from master with
// both threads running; waits (bounded by ctx) until each has applied all
// the master has logged: MASTER_GTID_WAIT(@@gtid_binlog_pos of the master)
// for a GTID replica, Exec_Master_Log_Pos against SHOW MASTER STATUS
// otherwise; then compares CHECKSUM TABLE and row counts of every table of
// TestDatabase with the master's. Call it once writes have stopped.
func (c *Cluster) VerifyReplicas(ctx context.Context, master string, skip ...string) error {
	m, err := c.Host(master)
	if err != nil {
		return err
	}
	replicas, err := c.replicasToVerify(m, skip)
	if err != nil {
		return err
	}
	mdb, err := c.DB(ctx, m.Name)
	if err != nil {
		return fmt.Errorf("verify replicas of %s: %w", m.label(), err)
	}
	defer mdb.Close()
	var target replTarget
	if err := mdb.QueryRowContext(ctx, "SELECT @@global.gtid_binlog_pos /* gomha verify */").Scan(&target.gtid); err != nil {
		return fmt.Errorf("read gtid_binlog_pos of master %s: %w", m.label(), err)
	}
	if target.pos, err = masterStatus(ctx, mdb); err != nil {
		return fmt.Errorf("read binlog position of master %s: %w", m.label(), err)
	}
	errs := make([]error, len(replicas))
	var wg sync.WaitGroup
	for i, r := range replicas {
		wg.Go(func() { errs[i] = c.waitCaughtUp(ctx, r, m, target) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("verify replicas of %s: %w", m.label(), err)
	}
	return c.compareTables(ctx, m, mdb, replicas)
}

// replicasToVerify lists the hosts other than m and skip whose mariadbd runs.
func (c *Cluster) replicasToVerify(m Host, skip []string) ([]Host, error) {
	skipped := map[string]bool{m.Name: true}
	for _, s := range skip {
		h, err := c.Host(s)
		if err != nil {
			return nil, err
		}
		skipped[h.Name] = true
	}
	var out []Host
	for _, h := range c.Hosts {
		if p, _ := c.PIDs(h.Name); !skipped[h.Name] && proc.Ours(p.Mysqld, h.mysqldMarker()) {
			out = append(out, h)
		}
	}
	return out, nil
}

// replTarget is what a replica must have applied: the master's
// gtid_binlog_pos, or its binlog file and position.
type replTarget struct {
	gtid string
	pos  binlogPos
}

// waitCaughtUp checks that r replicates from m with both threads running and
// waits until it has applied target.
func (c *Cluster) waitCaughtUp(ctx context.Context, r, m Host, target replTarget) error {
	db, err := c.DB(ctx, r.Name)
	if err != nil {
		return err
	}
	defer db.Close()
	for {
		rows, err := queryMaps(ctx, db, "SHOW SLAVE STATUS /* gomha verify */")
		if err != nil {
			return fmt.Errorf("show slave status on %s: %w", r.label(), err)
		}
		if len(rows) == 0 {
			return fmt.Errorf("%s: %w: it replicates from nobody", r.label(), ErrNotReplicating)
		}
		st := rows[0]
		if err := followsMaster(r, m, st); err != nil {
			return err
		}
		done, err := appliedUpTo(ctx, db, st, target)
		if err != nil {
			return fmt.Errorf("wait for %s to catch up with %s: %w", r.label(), m.label(), err)
		}
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w: not caught up with master %s (gtid_binlog_pos %q, %s:%d) before the deadline: "+
				"Gtid_Slave_Pos %q, Relay_Master_Log_File %s, Exec_Master_Log_Pos %s", r.label(), ErrNotReplicating,
				m.label(), target.gtid, target.pos.File, target.pos.Pos, st["Gtid_Slave_Pos"],
				st["Relay_Master_Log_File"], st["Exec_Master_Log_Pos"])
		case <-time.After(pollInterval):
		}
	}
}

// followsMaster checks one SHOW SLAVE STATUS row against the master.
func followsMaster(r, m Host, st map[string]string) error {
	if st["Master_Host"] != m.Addr || st["Master_Port"] != fmt.Sprint(m.Port) {
		return fmt.Errorf("%s: %w: it replicates from %s:%s, want %s:%d", r.label(), ErrNotReplicating,
			st["Master_Host"], st["Master_Port"], m.Addr, m.Port)
	}
	if st["Slave_IO_Running"] != "Yes" || st["Slave_SQL_Running"] != "Yes" {
		return fmt.Errorf("%s: %w: Slave_IO_Running=%s Slave_SQL_Running=%s, Last_IO_Error=%q Last_SQL_Error=%q",
			r.label(), ErrNotReplicating, st["Slave_IO_Running"], st["Slave_SQL_Running"],
			st["Last_IO_Error"], st["Last_SQL_Error"])
	}
	return nil
}

// appliedUpTo says whether the replica with status st has applied target:
// by MASTER_GTID_WAIT (waiting a little) when it uses GTID, else by
// comparing its executed coordinates.
func appliedUpTo(ctx context.Context, db *sql.DB, st map[string]string, target replTarget) (bool, error) {
	if st["Using_Gtid"] != "" && st["Using_Gtid"] != "No" {
		var res sql.NullInt64
		err := db.QueryRowContext(ctx, "SELECT MASTER_GTID_WAIT(?, ?) /* gomha verify */", target.gtid, gtidWaitStep).Scan(&res)
		if err != nil {
			return false, fmt.Errorf("MASTER_GTID_WAIT(%q): %w", target.gtid, err)
		}
		return res.Valid && res.Int64 == 0, nil
	}
	var exec uint64
	if _, err := fmt.Sscan(st["Exec_Master_Log_Pos"], &exec); err != nil {
		return false, fmt.Errorf("parse Exec_Master_Log_Pos %q: %w", st["Exec_Master_Log_Pos"], err)
	}
	return posReached(binlogPos{File: st["Relay_Master_Log_File"], Pos: exec}, target.pos), nil
}

// posReached compares binlog coordinates of one server. Binlog file names
// share their base name and a fixed-width number, so they sort as strings.
func posReached(at, want binlogPos) bool {
	return at.File > want.File || (at.File == want.File && at.Pos >= want.Pos)
}
