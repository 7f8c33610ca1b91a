package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gomha/gomha/node"
	"github.com/gomha/gomha/sandbox"
)

// bigResult is the salvage of one large transaction.
type bigResult struct {
	trxBytes int64         // the transaction's size in the dead master's binlog
	took     time.Duration // the failover command, start to end
	peakRSS  int64         // the failover process's own peak resident memory (VmHWM), bytes
	treeRSS  int64         // the largest peak in its process tree (mariadb-binlog, mariadb), bytes
	rows     int64         // rows it inserted, all found on the new master
}

// bigTransaction measures the salvage of one transaction of about mib MiB
// (one INSERT ... SELECT of 1 KiB rows, logged in ROW format): written by
// the master while no replica receives anything, then its mysqld dies. The
// failover runs as the gomha binary in a child process so that its own
// peak RSS is what getrusage reports: the copy, the extraction and the
// apply (mariadb-binlog | mariadb, children of their own) must stream.
func bigTransaction(ctx context.Context, gomha string, mib int, dir string, logger *slog.Logger) (bigResult, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
	defer cancel()
	c, err := sandbox.Up(ctx, sandbox.Options{Dir: dir, Hosts: 3, GTID: true, BaseOctet: 180, Logger: logger,
		ExtraMyCnf: []string{"innodb_buffer_pool_size=512M", "max_allowed_packet=1G"}})
	if err != nil {
		return bigResult{}, err
	}
	defer c.Destroy(context.Background())
	rows := int64(mib) << 10
	if err := c.Exec(ctx, "host1", "CREATE TABLE gomha_test.big (id BIGINT PRIMARY KEY, pad VARBINARY(1000)) ENGINE=InnoDB"); err != nil {
		return bigResult{}, err
	}
	if err := waitTable(ctx, c, "host2", "host3"); err != nil {
		return bigResult{}, err
	}
	for _, h := range []string{"host2", "host3"} {
		if err := c.Exec(ctx, h, "STOP SLAVE IO_THREAD"); err != nil {
			return bigResult{}, err
		}
	}
	before, err := masterPos(ctx, c)
	if err != nil {
		return bigResult{}, err
	}
	insert := fmt.Sprintf("INSERT INTO gomha_test.big SELECT seq, REPEAT(CHAR(65 + seq %% 26), 1000) FROM seq_1_to_%d", rows)
	if err := c.Exec(ctx, "host1", "USE gomha_test", insert); err != nil {
		return bigResult{}, fmt.Errorf("write the big transaction: %w", err)
	}
	after, err := masterPos(ctx, c)
	if err != nil {
		return bigResult{}, err
	}
	if err := c.KillMysqld(ctx, "host1"); err != nil {
		return bigResult{}, err
	}
	res := bigResult{trxBytes: after - before, rows: rows}
	start := time.Now()
	cmd := exec.CommandContext(ctx, gomha, "failover", "--conf", c.ConfPath, "--dead-master-host", c.Hosts[0].Addr)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return res, err
	}
	done := make(chan struct{})
	go func() { res.peakRSS = watchHWM(cmd.Process.Pid, done) }()
	runErr := cmd.Wait()
	res.took = time.Since(start)
	close(done)
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		res.treeRSS = ru.Maxrss << 10 // KiB on Linux; the waited-for children's peaks included
	}
	if runErr != nil {
		return res, fmt.Errorf("gomha failover: %v\n%s", runErr, out.String())
	}
	return res, checkRows(ctx, c, "host2", rows)
}

// watchHWM samples a process's peak resident size (VmHWM) until done is
// closed and returns the last value read, in bytes.
func watchHWM(pid int, done chan struct{}) int64 {
	var peak int64
	path := fmt.Sprintf("/proc/%d/status", pid)
	for {
		if b, err := os.ReadFile(path); err == nil {
			for _, line := range strings.Split(string(b), "\n") {
				if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
					kib, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
					peak = max(peak, kib<<10)
				}
			}
		}
		select {
		case <-done:
			return peak
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func waitTable(ctx context.Context, c *sandbox.Cluster, hosts ...string) error {
	for _, h := range hosts {
		for {
			err := c.Exec(ctx, h, "SELECT 1 FROM gomha_test.big LIMIT 1")
			if err == nil {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("table gomha_test.big on %s: %w", h, err)
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	return nil
}

// masterPos is host1's binlog position (the test writes one file).
func masterPos(ctx context.Context, c *sandbox.Cluster) (int64, error) {
	db, err := c.DB(ctx, "host1")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	rows, err := node.QueryMaps(ctx, db, "SHOW MASTER STATUS")
	if err != nil || len(rows) != 1 {
		return 0, fmt.Errorf("show master status: %v", err)
	}
	return strconv.ParseInt(rows[0]["Position"], 10, 64)
}

func checkRows(ctx context.Context, c *sandbox.Cluster, host string, want int64) error {
	db, err := c.DB(ctx, host)
	if err != nil {
		return err
	}
	defer db.Close()
	var n int64
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM gomha_test.big").Scan(&n); err != nil {
		return err
	}
	if n != want {
		return fmt.Errorf("%s holds %d rows of the big transaction, want %d", host, n, want)
	}
	return nil
}
