package sandbox

import (
	"context"
	"database/sql"
	"fmt"
	"github.com/gomha/gomha/node"
	"time"

	"golang.org/x/sync/errgroup"
)

const replTimeout = 30 * time.Second

// TestDatabase is created on the master once replication runs.
const TestDatabase = "gomha_test"

// binlogPos is a master's SHOW MASTER STATUS.
type binlogPos struct {
	File string
	Pos  uint64
}

func masterStatus(ctx context.Context, db *sql.DB) (binlogPos, error) {
	rows, err := queryMaps(ctx, db, "SHOW MASTER STATUS /* gomha sandbox */")
	if err != nil {
		return binlogPos{}, err
	}
	if len(rows) == 0 {
		return binlogPos{}, fmt.Errorf("SHOW MASTER STATUS returned no row (binary log off?)")
	}
	var p binlogPos
	p.File = rows[0]["File"]
	if _, err := fmt.Sscan(rows[0]["Position"], &p.Pos); err != nil {
		return p, fmt.Errorf("parse master position %q: %w", rows[0]["Position"], err)
	}
	return p, nil
}

// queryMaps is node.QueryMaps: rows as column -> text maps.
func queryMaps(ctx context.Context, db *sql.DB, q string, args ...any) ([]map[string]string, error) {
	return node.QueryMaps(ctx, db, q, args...)
}

// setupReplication points every other host at host1, waits until both
// replica threads run, makes replicas read-only, then creates TestDatabase on
// the master and waits until every replica has it.
func (c *Cluster) setupReplication(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, replTimeout)
	defer cancel()
	m := c.Master()
	mdb, err := c.openDB(ctx, m, dialTimeout)
	if err != nil {
		return err
	}
	defer mdb.Close()
	pos, err := masterStatus(ctx, mdb)
	if err != nil {
		return fmt.Errorf("read binlog position of master %s: %w", m.Name, err)
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, h := range c.Hosts[1:] {
		g.Go(func() error { return c.startReplica(gctx, h, m, pos) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if _, err := mdb.ExecContext(ctx, "CREATE DATABASE "+TestDatabase+" /* gomha sandbox */"); err != nil {
		return fmt.Errorf("create %s on master %s: %w", TestDatabase, m.Name, err)
	}
	g, gctx = errgroup.WithContext(ctx)
	for _, h := range c.Hosts[1:] {
		g.Go(func() error { return c.waitSchema(gctx, h, TestDatabase) })
	}
	return g.Wait()
}

// startReplica runs CHANGE MASTER TO (with the heartbeat period gomha would
// set, see heartbeatPeriod) and START SLAVE on h and waits for both threads.
func (c *Cluster) startReplica(ctx context.Context, h, m Host, pos binlogPos) error {
	db, err := c.openDB(ctx, h, dialTimeout)
	if err != nil {
		return err
	}
	defer db.Close()
	q := "CHANGE MASTER TO MASTER_HOST=?, MASTER_PORT=?, MASTER_USER=?, MASTER_PASSWORD=?, MASTER_CONNECT_RETRY=1, " +
		fmt.Sprintf("MASTER_HEARTBEAT_PERIOD=%.3f, ", heartbeatPeriod.Seconds())
	args := []any{m.Addr, m.Port, c.ReplUser, c.ReplPassword}
	if c.GTID {
		q += "MASTER_USE_GTID=slave_pos"
	} else {
		q += "MASTER_LOG_FILE=?, MASTER_LOG_POS=?, MASTER_USE_GTID=no"
		args = append(args, pos.File, pos.Pos)
	}
	for _, s := range []struct {
		q    string
		args []any
	}{
		{q + " /* gomha sandbox */", args},
		{"START SLAVE /* gomha sandbox */", nil},
		{"SET GLOBAL read_only=ON /* gomha sandbox */", nil},
	} {
		if _, err := db.ExecContext(ctx, s.q, s.args...); err != nil {
			return fmt.Errorf("set up replica %s of %s: %w", h.Name, m.Name, err)
		}
	}
	return waitReplicaRunning(ctx, db, h)
}

// WaitReplicating waits (bounded by ctx) until both replication threads of
// host report Yes: START SLAVE returns while the IO thread is still
// connecting.
func (c *Cluster) WaitReplicating(ctx context.Context, host string) error {
	h, err := c.Host(host)
	if err != nil {
		return err
	}
	db, err := c.DB(ctx, host)
	if err != nil {
		return err
	}
	defer db.Close()
	return waitReplicaRunning(ctx, db, h)
}

func waitReplicaRunning(ctx context.Context, db *sql.DB, h Host) error {
	var last map[string]string
	for {
		rows, err := queryMaps(ctx, db, "SHOW SLAVE STATUS /* gomha sandbox */")
		if err == nil && len(rows) == 1 {
			last = rows[0]
			if last["Slave_IO_Running"] == "Yes" && last["Slave_SQL_Running"] == "Yes" {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for replica threads on %s: %w (io=%q sql=%q io_error=%q sql_error=%q)",
				h.Name, ctx.Err(), last["Slave_IO_Running"], last["Slave_SQL_Running"],
				last["Last_IO_Error"], last["Last_SQL_Error"])
		case <-time.After(pollInterval):
		}
	}
}

func (c *Cluster) waitSchema(ctx context.Context, h Host, schema string) error {
	db, err := c.openDB(ctx, h, dialTimeout)
	if err != nil {
		return err
	}
	defer db.Close()
	for {
		var n int
		err := db.QueryRowContext(ctx,
			"SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME=? /* gomha sandbox */", schema).Scan(&n)
		if err == nil && n == 1 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for database %s to replicate to %s: %w", schema, h.Name, ctx.Err())
		case <-time.After(pollInterval):
		}
	}
}
