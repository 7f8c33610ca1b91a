package binlog

import (
	"context"
	"crypto/md5"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// realIP is the loopback address of the test's own mariadbd (the capture
// script uses .231 and .232; other packages' tests use .11-.19, .61-.79).
const realIP = "127.0.0.233"

// tricky password: quotes, backslash, '#', '=' and spaces for the option file.
const realPassword = `p@ss w#rd="x"\'y`

type realServer struct {
	dir  string
	sock string
	cmd  *exec.Cmd
}

// startRealServer installs a datadir in a temp dir and starts mariadbd on
// realIP:3306 with a binlog; it is killed by pid when the test ends.
func startRealServer(t *testing.T) *realServer {
	t.Helper()
	for _, b := range []string{"mariadbd", "mariadb-install-db", "mariadb", "mariadb-binlog"} {
		if _, err := exec.LookPath(b); err != nil {
			if _, err := os.Stat("/usr/sbin/" + b); err != nil {
				needBinary(t, b)
			}
		}
	}
	dir := t.TempDir()
	s := &realServer{dir: dir, sock: filepath.Join(dir, "sock")}
	install := exec.Command("mariadb-install-db", "--no-defaults", "--user=root", "--datadir="+filepath.Join(dir, "data"),
		"--auth-root-authentication-method=normal")
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("mariadb-install-db: %v\n%s", err, out)
	}
	mariadbd := "mariadbd"
	if _, err := exec.LookPath(mariadbd); err != nil {
		mariadbd = "/usr/sbin/mariadbd"
	}
	s.cmd = exec.Command(mariadbd, "--no-defaults", "--user=root", "--datadir="+filepath.Join(dir, "data"),
		"--socket="+s.sock, "--bind-address="+realIP, "--port=3306", "--server-id=233",
		"--log-bin=target-bin", "--log-error="+filepath.Join(dir, "err.log"), "--pid-file="+filepath.Join(dir, "pid"),
		"--innodb-buffer-pool-size=16M", "--innodb-log-file-size=8M", "--skip-name-resolve")
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start mariadbd: %v", err)
	}
	t.Cleanup(func() {
		_ = s.cmd.Process.Signal(syscall.SIGKILL)
		_ = s.cmd.Wait()
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := s.query("SELECT 1"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "err.log"))
			t.Fatalf("mariadbd did not start:\n%s", log)
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.mustQuery(t, fmt.Sprintf("CREATE USER gomha@'%%' IDENTIFIED BY '%s'; GRANT ALL ON *.* TO gomha@'%%' WITH GRANT OPTION",
		strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(realPassword)))
	return s
}

func (s *realServer) query(q string) (string, error) {
	out, err := exec.Command("mariadb", "--no-defaults", "-S", s.sock, "-uroot", "-N", "-B", "-e", q).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func (s *realServer) mustQuery(t *testing.T, q string) string {
	t.Helper()
	out, err := s.query(q)
	if err != nil {
		t.Fatalf("%s: %v: %s", q, err, out)
	}
	return out
}

func (s *realServer) target() Target { return realTarget() }

func realTarget() Target {
	return Target{Host: realIP, Port: 3306, User: "gomha", Password: realPassword}
}

// checkChecksums compares CHECKSUM TABLE on the target with the master's.
func (s *realServer) checkChecksums(t *testing.T, want map[string]uint64) {
	t.Helper()
	var names []string
	for n := range want {
		names = append(names, n)
	}
	slices.Sort(names)
	out := s.mustQuery(t, "CHECKSUM TABLE "+strings.Join(names, ", "))
	got := map[string]uint64{}
	for _, line := range strings.Split(out, "\n") {
		var name string
		var sum uint64
		if _, err := fmt.Sscanf(line, "%s %d", &name, &sum); err != nil {
			t.Fatalf("checksum line %q: %v", line, err)
		}
		got[name] = sum
	}
	for _, n := range names {
		if got[n] != want[n] {
			t.Errorf("CHECKSUM TABLE %s = %d on the target, %d on the master", n, got[n], want[n])
		}
	}
}

func gtidSet(s string) []string {
	f := strings.Split(s, ",")
	slices.Sort(f)
	return f
}

// TestApplyReal extracts from the captured binlogs and relay logs and
// applies them into a fresh mariadbd: ROW, STATEMENT (user variables,
// RAND, NOW, LAST_INSERT_ID, ROLLBACK and newlines in strings), MIXED, a
// raw 256-byte BLOB literal, a 2000-row transaction, MyISAM and a DDL must
// give the master's table checksums.
func TestApplyReal(t *testing.T) {
	s := startRealServer(t)
	want := masterChecksums(t)
	st := loadSlaveStatus(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	// The manager host's own option files play no part: a ~/.my.cnf that
	// would send the client to a missing database changes nothing.
	home := t.TempDir()
	if err := os.WriteFile(filepath.Join(home, ".my.cnf"), []byte("[client]\ndatabase=gomha_no_such_db\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOME", home)

	// 1. The master's binlogs, whole.
	all, _ := extractToFile(t, FileSources(fixturePaths(masterBinlogs...)...), Pos{File: "mysql-bin.000001", Offset: 4}, ExtractOptions{})
	if err := Apply(ctx, s.target(), []string{all}, ApplyOptions{TempDir: dir}); err != nil {
		t.Fatalf("apply master binlogs: %v", err)
	}
	s.checkChecksums(t, want)
	allBytes := make([]byte, 256)
	for i := range allBytes {
		allBytes[i] = byte(i)
	}
	wantBlob := fmt.Sprintf("256\t%x", md5.Sum(allBytes))
	for _, q := range []string{"SELECT LENGTH(b), MD5(b) FROM gomha.r WHERE v = 'row blob'",
		"SELECT LENGTH(b), MD5(b) FROM gomha.s WHERE v = 'stmt blob'"} {
		if got := s.mustQuery(t, q); got != wantBlob {
			t.Errorf("%s: %q, want %q (all 256 byte values)", q, got, wantBlob)
		}
	}
	if got := s.mustQuery(t, "SELECT COUNT(*) FROM gomha.s WHERE v LIKE '%ROLLBACK%\nCOMMIT'"); got != "1" {
		t.Errorf("multi-line string with ROLLBACK: %s rows", got)
	}
	if got := s.mustQuery(t, "SELECT @@gtid_binlog_pos"); !slices.Equal(gtidSet(got), gtidSet(st.MasterGtidBinlogPos)) {
		t.Errorf("target gtid_binlog_pos %s, master's %s: GTIDs not kept", got, st.MasterGtidBinlogPos)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "gomha-client-*")); len(left) != 0 {
		t.Errorf("client option file left behind: %v", left)
	}

	// 2. MHA's way: the replica's relay logs, then the dead master's binlog
	// from the replica's Read_Master_Log_Pos, with --disable-log-bin.
	s.mustQuery(t, "DROP DATABASE gomha; DROP USER repl@'%'; RESET MASTER")
	relay, rsum := extractToFile(t, FileSources(fixturePaths(relayLogs(t)...)...), Pos{File: "relay-bin.000001", Offset: 4}, ExtractOptions{})
	tail, tsum := extractToFile(t, FileSources(fixturePaths(masterBinlogs...)...),
		Pos{File: st.MasterLogFile, Offset: st.ReadMasterLogPos}, ExtractOptions{})
	if rsum.LastMaster != (Pos{File: st.MasterLogFile, Offset: st.ReadMasterLogPos}) || len(tsum.Trxs) != 1 {
		t.Fatalf("relay extract ends at %s, tail holds %d transactions", rsum.LastMaster, len(tsum.Trxs))
	}
	if err := Apply(ctx, s.target(), []string{relay, tail}, ApplyOptions{TempDir: dir, DisableLogBin: true}); err != nil {
		t.Fatalf("apply relay logs + master tail: %v", err)
	}
	s.checkChecksums(t, want)
	if got := s.mustQuery(t, "SELECT @@gtid_binlog_pos"); got != "" {
		t.Errorf("gtid_binlog_pos %q after --disable-log-bin, want empty", got)
	}

	// 3. Applying again fails on the first duplicate: the error names the
	// target, the file and the server's message, never the password.
	err := Apply(ctx, s.target(), []string{relay}, ApplyOptions{TempDir: dir})
	if !errors.Is(err, ErrApply) {
		t.Fatalf("re-apply: err %v, want ErrApply", err)
	}
	msg := err.Error()
	for _, part := range []string{realIP + ":3306", relay, "ERROR"} {
		if !strings.Contains(msg, part) {
			t.Errorf("error %q lacks %q", msg, part)
		}
	}
	if strings.Contains(msg, realPassword) {
		t.Error("error shows the password")
	}

	// 4. A wrong password is reported as such.
	bad := s.target()
	bad.Password = "wrong"
	if err := Apply(ctx, bad, []string{tail}, ApplyOptions{TempDir: dir}); err == nil || !strings.Contains(err.Error(), "1045") {
		t.Errorf("wrong password: err %v, want access denied (1045)", err)
	}
}

// TestApplyRealLimits: on one mariadbd, the cases that keep Apply bounded,
// killable and observable during a failover, mostly against a target where
// another session locks the table the binlog writes to.
func TestApplyRealLimits(t *testing.T) {
	s := startRealServer(t)
	c := &limitsCase{s: s, file: s.limitsBinlog(t), db: s.rootDB(t)}
	fi, err := os.Stat(c.file)
	if err != nil {
		t.Fatal(err)
	}
	c.size = fi.Size()
	c.base = ApplyOptions{TempDir: t.TempDir(), DisableLogBin: true}
	t.Run("deadline kills a blocked apply", c.deadline)
	t.Run("lock wait fails with ErrLockWait, then the retry applies", c.lockWait)
	t.Run("killed session fails the apply", c.killedSession)
	t.Run("tools die with the manager", c.managerDies)
}

// limitsCase is what TestApplyRealLimits' cases share: the server, a root
// connection pool for the blocking sessions, the binlog and base options.
type limitsCase struct {
	s    *realServer
	db   *sql.DB
	file string
	size int64
	base ApplyOptions
}

// deadline: a locked target must not hold a failover past its deadline,
// nor may a tool outlive Apply; OnSession's id is the session that waits,
// Progress reports the stall, and no transaction goes through half.
func (c *limitsCase) deadline(t *testing.T) {
	unlock := lockTable(t, c.db, "WRITE")
	defer unlock()
	opts := c.base
	opts.Timeout, opts.LockWaitTimeout = 3*time.Second, time.Minute
	sessions := make(chan uint64, 2)
	opts.OnSession = func(id uint64) { sessions <- id }
	var progress []int64 // Apply's calls never overlap
	opts.Progress = func(f string, done, total int64) {
		if f == c.file && total == c.size && done < total {
			progress = append(progress, done)
		}
	}
	start := time.Now()
	errc := make(chan error, 1)
	go func() { errc <- Apply(context.Background(), c.s.target(), []string{c.file}, opts) }()
	var id uint64
	select {
	case id = <-sessions:
	case err := <-errc:
		t.Fatalf("Apply returned before OnSession: %v", err)
	}
	waitBlocked(t, c.db, id)
	kids := waitChildren(t, os.Getpid())
	err := <-errc
	if late := time.Since(start) - opts.Timeout; late > 1500*time.Millisecond {
		t.Errorf("Apply returned %s after its deadline", late)
	}
	var ae *ApplyError
	if !errors.As(err, &ae) || !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrApply) {
		t.Fatalf("err %v: want an *ApplyError for the deadline, not ErrApply", err)
	}
	if ae.File != c.file || ae.Size != c.size || ae.Offset <= 0 || ae.Offset >= ae.Size ||
		!strings.Contains(err.Error(), "apply timeout 3s expired") {
		t.Errorf("err %v: want the file, the timeout and how far", err)
	}
	waitGone(t, kids, 0)
	t.Logf("after %s: %v (progress %v, tools %v)", time.Since(start), err, progress, kids)
	if len(progress) != 2 { // one tick at 2 s, one at the end
		t.Errorf("progress calls %v, want one while blocked and one at the end", progress)
	}
	unlock()
	waitSessionGone(t, c.db, id)
	if got := c.s.limitsRows(t); got != "0 0" {
		t.Errorf("rows %s after the stop, want none: a transaction went through half", got)
	}
}

// lockWait: a read lock (LOCK TABLES ... READ, FLUSH TABLES WITH READ
// LOCK) must fail the apply after LockWaitTimeout with ErrLockWait, not
// after the server's default of a day: the caller kills the blocker and
// retries, and the retry applies the whole file.
func (c *limitsCase) lockWait(t *testing.T) {
	unlock := lockTable(t, c.db, "READ")
	defer unlock()
	opts := c.base
	opts.Timeout, opts.LockWaitTimeout = time.Minute, time.Second
	start := time.Now()
	err := Apply(context.Background(), c.s.target(), []string{c.file}, opts)
	if took := time.Since(start); took < time.Second || took > 5*time.Second {
		t.Errorf("Apply failed after %s, want about LockWaitTimeout (1s)", took)
	}
	var ae *ApplyError
	if !errors.Is(err, ErrLockWait) || !errors.Is(err, ErrApply) || !errors.As(err, &ae) {
		t.Fatalf("err %v: want ErrLockWait and ErrApply", err)
	}
	if ae.Code != 1205 || ae.Tool != "mariadb" || ae.File != c.file || ae.Target != realIP+":3306" ||
		!strings.Contains(ae.Message, "ERROR 1205") || strings.Contains(err.Error(), realPassword) {
		t.Errorf("err %#v", ae)
	}
	unlock()
	var sessions, final atomic.Int64
	opts.OnSession = func(uint64) { sessions.Add(1) }
	opts.Progress = func(f string, done, total int64) {
		if f == c.file && done == c.size && total == c.size {
			final.Add(1)
		}
	}
	if err := Apply(context.Background(), c.s.target(), []string{c.file}, opts); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if got := c.s.limitsRows(t); got != wantLimitsRows {
		t.Errorf("rows %s after the retry, want %s", got, wantLimitsRows)
	}
	if sessions.Load() != 1 || final.Load() != 1 {
		t.Errorf("OnSession called %d times, Progress(done == total) %d times: want once each", sessions.Load(), final.Load())
	}
	c.s.mustQuery(t, "DELETE FROM limits.t; DELETE FROM limits.big")
}

// killedSession: a killed apply session must fail the apply; a client
// that reconnected would go on mid-transaction in a new session, without
// the session's settings (--skip-reconnect; --batch turns reconnecting off
// as well, so this guards against either being dropped).
func (c *limitsCase) killedSession(t *testing.T) {
	opts := c.base
	opts.Timeout = time.Minute
	opts.OnSession = func(id uint64) {
		if _, err := c.db.Exec(fmt.Sprintf("KILL %d", id)); err != nil {
			t.Errorf("KILL %d: %v", id, err)
		}
	}
	err := Apply(context.Background(), c.s.target(), []string{c.file}, opts)
	var ae *ApplyError
	if !errors.Is(err, ErrApply) || !errors.As(err, &ae) || (ae.Code != 2006 && ae.Code != 2013) {
		t.Fatalf("err %v: want ErrApply with the client's 2006 or 2013 (connection gone)", err)
	}
	if got := c.s.limitsRows(t); got != "0 0" {
		t.Errorf("rows %s after the kill, want none", got)
	}
}

// managerDies: if the manager dies (SIGKILL, OOM killer), the kernel kills
// its tools (Pdeathsig): a client left applying after a failed failover
// would write to a server that another manager may be promoting. The
// option file, password inside, is gone already.
func (c *limitsCase) managerDies(t *testing.T) {
	unlock := lockTable(t, c.db, "WRITE")
	defer unlock()
	dir := t.TempDir()
	helper, id := startHelper(t, c.file, dir)
	waitBlocked(t, c.db, id)
	kids := waitChildren(t, helper.Process.Pid)
	if left, _ := filepath.Glob(filepath.Join(dir, "gomha-client-*")); len(left) != 0 {
		t.Errorf("option file still on disk once the client connected: %v", left)
	}
	if err := helper.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = helper.Wait()
	took := waitGone(t, kids, 2*time.Second)
	t.Logf("%v gone %s after the helper", kids, took)
	waitSessionGone(t, c.db, id)
}

// TestApplyHelperProcess is not a test: TestApplyRealLimits runs this test
// binary again with helperEnv set, as a manager that dies while it applies.
func TestApplyHelperProcess(t *testing.T) {
	file := os.Getenv(helperEnv)
	if file == "" {
		return
	}
	err := Apply(context.Background(), realTarget(), []string{file}, ApplyOptions{DisableLogBin: true,
		Timeout: time.Minute, LockWaitTimeout: time.Minute, OnSession: func(id uint64) { fmt.Printf("session %d\n", id) }})
	fmt.Printf("apply: %v\n", err)
}
