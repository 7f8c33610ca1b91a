package binlog

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Helpers of TestApplyRealLimits: a binlog made on the test's server, a
// session that holds locks, and the processes Apply starts, seen in /proc.

// wantLimitsRows is what limitsBinlog writes: 3 rows into limits.t (the table
// the tests lock), then 20 rows of 100 KB into limits.big so that the SQL
// (some 2.7 MB) fills every pipe and buffer and mariadb-binlog is still
// running while the client waits for a lock.
const wantLimitsRows = "3 20"

// limitsBinlog makes, on s, a binlog file holding the two transactions of
// wantLimitsRows (ROW format), copies it out of the datadir and empties the
// tables again (in the next binlog).
func (s *realServer) limitsBinlog(t *testing.T) string {
	t.Helper()
	s.mustQuery(t, "CREATE DATABASE limits; CREATE TABLE limits.t (id INT PRIMARY KEY) ENGINE=InnoDB;"+
		"CREATE TABLE limits.big (id INT PRIMARY KEY, v MEDIUMTEXT) ENGINE=InnoDB; FLUSH BINARY LOGS")
	name := strings.Fields(s.mustQuery(t, "SHOW MASTER STATUS"))[0]
	s.mustQuery(t, "USE limits; SET SESSION binlog_format=ROW; INSERT INTO limits.t VALUES (1), (2), (3);"+
		"INSERT INTO limits.big SELECT seq, REPEAT(CHAR(65 + seq), 100000) FROM seq_1_to_20; FLUSH BINARY LOGS")
	s.mustQuery(t, "DELETE FROM limits.t; DELETE FROM limits.big")
	b, err := os.ReadFile(filepath.Join(s.dir, "data", name))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(out, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return out
}

// limitsRows counts the rows of limits.t and limits.big.
func (s *realServer) limitsRows(t *testing.T) string {
	t.Helper()
	return strings.Join(strings.Fields(s.mustQuery(t, "SELECT (SELECT COUNT(*) FROM limits.t), (SELECT COUNT(*) FROM limits.big)")), " ")
}

// rootDB connects as root over the socket, for the test's own sessions.
func (s *realServer) rootDB(t *testing.T) *sql.DB {
	t.Helper()
	cfg := mysql.NewConfig()
	cfg.User, cfg.Net, cfg.Addr = "root", "unix", s.sock
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// lockTable holds LOCK TABLES limits.t <mode> in a session of its own, the
// way a client of the target blocks the apply, until the returned func.
func lockTable(t *testing.T, db *sql.DB, mode string) (unlock func()) {
	t.Helper()
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "LOCK TABLES limits.t "+mode); err != nil {
		t.Fatal(err)
	}
	return func() {
		_, _ = conn.ExecContext(ctx, "UNLOCK TABLES")
		_ = conn.Close()
	}
}

// waitBlocked waits until session id, gomha's, waits for the metadata lock.
func waitBlocked(t *testing.T, db *sql.DB, id uint64) {
	t.Helper()
	var user, state string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		err := db.QueryRow("SELECT USER, STATE FROM information_schema.PROCESSLIST WHERE ID = ?", id).Scan(&user, &state)
		if err == nil && user == "gomha" && state == "Waiting for table metadata lock" {
			return
		}
	}
	t.Fatalf("session %d (OnSession's) is not gomha's waiting for the lock: user %q state %q", id, user, state)
}

// waitSessionGone waits until the server has ended session id.
func waitSessionGone(t *testing.T, db *sql.DB, id uint64) {
	t.Helper()
	var n int
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if err := db.QueryRow("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = ?", id).Scan(&n); err == nil && n == 0 {
			return
		}
	}
	t.Fatalf("session %d still on the server", id)
}

// applyChildren are the live children of ppid that Apply started: pid ->
// "mariadb" (the client, told --defaults-file) or "mariadb-binlog".
func applyChildren(t *testing.T, ppid int) map[int]string {
	t.Helper()
	dirs, err := filepath.Glob("/proc/[0-9]*")
	if err != nil {
		t.Fatal(err)
	}
	kids := map[int]string{}
	for _, d := range dirs {
		pid, _ := strconv.Atoi(filepath.Base(d))
		state, parent, ok := procStat(pid)
		if !ok || parent != ppid || state == "Z" {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join(d, "cmdline"))
		argv := strings.Split(string(cmdline), "\x00")
		switch name := filepath.Base(argv[0]); {
		case name == "mariadb-binlog" || name == "mysqlbinlog":
			kids[pid] = "mariadb-binlog"
		case (name == "mariadb" || name == "mysql") && strings.Contains(string(cmdline), "--defaults-file="):
			kids[pid] = "mariadb"
		}
	}
	return kids
}

// procStat reads the state and parent of pid from /proc/pid/stat.
func procStat(pid int) (state string, ppid int, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", 0, false
	}
	// pid (comm) state ppid ...: comm may hold spaces and parentheses.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(f) < 2 {
		return "", 0, false
	}
	ppid, _ = strconv.Atoi(f[1])
	return f[0], ppid, true
}

// waitChildren polls until ppid has both of Apply's tools running.
func waitChildren(t *testing.T, ppid int) map[int]string {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if kids := applyChildren(t, ppid); len(kids) == 2 {
			return kids
		}
	}
	t.Fatalf("process %d does not run mariadb and mariadb-binlog: %v", ppid, applyChildren(t, ppid))
	return nil
}

// waitGone polls until none of pids runs (gone, or a zombie whose new
// parent has not reaped it yet); it returns how long that took.
func waitGone(t *testing.T, pids map[int]string, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		var left []string
		for pid, name := range pids {
			if state, _, ok := procStat(pid); ok && state != "Z" {
				left = append(left, fmt.Sprintf("%s (%d)", name, pid))
			}
		}
		if len(left) == 0 {
			return time.Since(start)
		}
		if time.Since(start) > within {
			t.Fatalf("still running %s after %s: %v", within, time.Since(start), left)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// helperEnv names the binlog the helper process applies.
const helperEnv = "GOMHA_APPLY_HELPER_FILE"

// startHelper runs this test binary as TestApplyHelperProcess: a manager
// applying file with its option file in dir. It returns the helper and the
// session id it prints from OnSession.
func startHelper(t *testing.T, file, dir string) (*exec.Cmd, uint64) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestApplyHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+file, "TMPDIR="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if s, ok := strings.CutPrefix(sc.Text(), "session "); ok {
				lines <- s
				break
			}
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case s := <-lines:
		id, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		return cmd, id
	case <-time.After(20 * time.Second):
		t.Fatal("the helper printed no session id")
	}
	return nil, 0
}
