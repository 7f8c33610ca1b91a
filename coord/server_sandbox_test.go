package coord

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomha/gomha/node"
	"github.com/gomha/gomha/sandbox"
	"github.com/gomha/gomha/sandbox/sandboxtest"
	"github.com/gomha/gomha/topology"
)

// Addresses of this package's tests: 127.0.0.240-249. The sandbox takes
// .241 and .242; nothing listens on .249; .248 accepts and never answers.
const (
	silentAddr = "127.0.0.249"
	hungAddr   = "127.0.0.248"
)

// sbEnv is one sandbox shared by the cases of TestServerLockSandbox.
type sbEnv struct {
	c       *sandbox.Cluster
	servers []node.MySQLConfig
}

func (e *sbEnv) opts(t *testing.T, host, action string) Options {
	return Options{Workdir: t.TempDir(), App: "app1", Action: action, Hostname: host,
		Servers: e.servers, ServerTimeout: 2 * time.Second}
}

// db opens an admin pool on a sandbox host, closed with the test.
func (e *sbEnv) db(t *testing.T, host string) *sql.DB {
	t.Helper()
	db, err := e.c.DB(context.Background(), host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// row returns app1's gomha.actors row on a host ("" when none).
func (e *sbEnv) row(t *testing.T, host string) string {
	t.Helper()
	var h string
	err := e.db(t, host).QueryRow("SELECT holder FROM gomha.actors WHERE app = 'app1'").Scan(&h)
	if err != nil && !errors.Is(err, sql.ErrNoRows) && !node.IsMySQLError(err, 1146) {
		t.Fatal(err)
	}
	return h
}

// binlogState is what a write that reached the binlog would change.
func (e *sbEnv) binlogState(t *testing.T, host string) string {
	t.Helper()
	db := e.db(t, host)
	var gtid, file, pos, doDB, ignDB string
	if err := db.QueryRow("SELECT @@gtid_binlog_pos").Scan(&gtid); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow("SHOW MASTER STATUS").Scan(&file, &pos, &doDB, &ignDB); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("gtid_binlog_pos=%s %s:%s", gtid, file, pos)
}

// killLockHolder kills, on a host, the session holding app1's named lock.
func (e *sbEnv) killLockHolder(t *testing.T, host string) {
	t.Helper()
	db := e.db(t, host)
	var id sql.NullInt64
	if err := db.QueryRow("SELECT IS_USED_LOCK('gomha_actor_app1')").Scan(&id); err != nil || !id.Valid {
		t.Fatalf("nobody holds the lock on %s (%v)", host, err)
	}
	if _, err := db.Exec(fmt.Sprintf("KILL CONNECTION %d", id.Int64)); err != nil {
		t.Fatal(err)
	}
}

func mustAcquire(t *testing.T, o Options) *Lock {
	t.Helper()
	l, err := Acquire(context.Background(), o)
	if err != nil {
		t.Fatalf("Acquire: %v", err)
	}
	t.Cleanup(func() { l.Release(context.Background()) })
	return l
}

// hungServer accepts connections on hungAddr:3306 and never says a word,
// like a mysqld stuck before its handshake.
func hungServer(t *testing.T) node.MySQLConfig {
	ln, err := net.Listen("tcp", hungAddr+":3306")
	if err != nil {
		t.Fatalf("listen on %s: %v", hungAddr, err)
	}
	var mu sync.Mutex
	var held []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	})
	return node.MySQLConfig{Key: topology.Key{Host: hungAddr, Port: 3306}, User: "x", Password: "x"}
}

func TestServerLockSandbox(t *testing.T) {
	c := sandboxtest.Up(t, sandbox.Options{Hosts: 2, BaseOctet: 240})
	env := &sbEnv{c: c}
	for _, h := range c.Hosts {
		env.servers = append(env.servers, node.MySQLConfig{Key: topology.Key{Host: h.Addr, Port: h.Port},
			User: c.User, Password: c.Password})
	}
	cases := []struct {
		why string
		run func(t *testing.T, e *sbEnv)
	}{
		{"a free cluster is locked on every server, the read_only replica included, and nothing reaches a binlog", testLockedEverywhere},
		{"an actor on another machine (another workdir) is refused, naming the holder and the server", testOtherWorkdirRefused},
		{"a session outside gomha holding the named lock is named from the processlist", testForeignSession},
		{"a row left by a crashed holder whose lock is free is stale: ignored and overwritten", testStaleRow},
		{"a holder killed with SIGKILL leaves its servers free", testKilledHolderFreesServers},
		{"a killed lock connection is noticed by Check before the next step", testLostConnection},
		{"servers that refuse or hang are skipped, reported, and cost no more than the deadline", testSkipped},
		{"when no server answers nothing proves no one else acts: refused", testNoServer},
		{"the keepalive keeps a lock longer than its connection's wait_timeout", testKeepalive},
	}
	for _, tc := range cases {
		t.Run(tc.why, func(t *testing.T) { tc.run(t, env) })
	}
}

func testLockedEverywhere(t *testing.T, e *sbEnv) {
	var ro int
	if err := e.db(t, "host2").QueryRow("SELECT @@read_only").Scan(&ro); err != nil || ro != 1 {
		t.Fatalf("host2 read_only=%d (%v); the case needs a read_only replica", ro, err)
	}
	before := map[string]string{"host1": e.binlogState(t, "host1"), "host2": e.binlogState(t, "host2")}
	l := mustAcquire(t, e.opts(t, "mgrA", "failover"))
	if got := l.Servers(); len(got) != 2 || len(l.Skipped()) != 0 {
		t.Fatalf("locked %v, skipped %v; want both servers", got, l.Skipped())
	}
	for _, h := range []string{"host1", "host2"} {
		var row actorRow
		if err := json.Unmarshal([]byte(e.row(t, h)), &row); err != nil || !sameHolder(row.Holder, l.Holder()) {
			t.Errorf("%s: gomha.actors row %+v (%v), want %+v", h, row, err, l.Holder())
		}
	}
	if err := l.Check(context.Background()); err != nil {
		t.Errorf("Check right after Acquire: %v", err)
	}
	if err := l.Release(context.Background()); err != nil {
		t.Fatalf("Release: %v", err)
	}
	for h, b := range before {
		if r := e.row(t, h); r != "" {
			t.Errorf("%s: row %s left after Release", h, r)
		}
		if a := e.binlogState(t, h); a != b {
			t.Errorf("%s: binlog moved from %s to %s: the lock wrote to the binlog", h, b, a)
		}
	}
	if err := l.Check(context.Background()); !errors.Is(err, ErrLost) {
		t.Errorf("Check after Release = %v, want ErrLost", err)
	}
}

func testOtherWorkdirRefused(t *testing.T, e *sbEnv) {
	a := mustAcquire(t, e.opts(t, "mgrA", "failover"))
	ob := e.opts(t, "mgrB", "switchover")
	start := time.Now()
	_, err := Acquire(context.Background(), ob)
	var he *HeldError
	if !errors.As(err, &he) || !errors.Is(err, ErrHeld) {
		t.Fatalf("second actor: %v, want a *HeldError", err)
	}
	want := fmt.Sprintf("app1: failover by pid %d on host mgrA since ", os.Getpid())
	if msg := err.Error(); !strings.HasPrefix(msg, want) || !strings.HasSuffix(msg, "holds the lock on "+he.Server) || he.Server == "" {
		t.Errorf("refusal %q, want it to start %q and name the server", msg, want)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("refused after %s, want at once", d)
	}
	if _, held, _ := ReadLocal(ob.Workdir, "app1"); held {
		t.Error("the refused actor kept its local lock")
	}
	if err := a.Check(context.Background()); err != nil {
		t.Errorf("the holder lost its lock to a refused actor: %v", err)
	}
}

func testForeignSession(t *testing.T, e *sbEnv) {
	conn, err := e.db(t, "host2").Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var got, id int
	if err := conn.QueryRowContext(context.Background(), "SELECT GET_LOCK('gomha_actor_app1', 0), CONNECTION_ID()").Scan(&got, &id); err != nil || got != 1 {
		t.Fatalf("take the lock by hand: %d %v", got, err)
	}
	_, err = Acquire(context.Background(), e.opts(t, "mgrA", "failover"))
	want := fmt.Sprintf("app1: connection %d of gomha from 127.", id)
	if !errors.Is(err, ErrHeld) || !strings.HasPrefix(err.Error(), want) ||
		!strings.HasSuffix(err.Error(), "(which left no description) holds the lock on "+e.servers[1].Key.String()) {
		t.Fatalf("Acquire = %v, want a refusal starting %q naming %s", err, want, e.servers[1].Key)
	}
	conn.ExecContext(context.Background(), "DO RELEASE_LOCK('gomha_actor_app1')")
	// The refusal released what it had taken on host1.
	mustAcquire(t, e.opts(t, "mgrA", "failover"))
}

func testStaleRow(t *testing.T, e *sbEnv) {
	stale := `{"host":"mgrDead","pid":1,"action":"failover","since":"2026-01-01T00:00:00Z","connection_id":999999}`
	for _, h := range []string{"host1", "host2"} {
		sandboxtest.Exec(t, e.c, h, "SET SESSION sql_log_bin = 0",
			"CREATE DATABASE IF NOT EXISTS gomha", createActors,
			"REPLACE INTO gomha.actors VALUES ('app1', '"+stale+"', '2026-01-01')")
	}
	l := mustAcquire(t, e.opts(t, "mgrA", "failover"))
	for _, h := range []string{"host1", "host2"} {
		if r := e.row(t, h); !strings.Contains(r, `"host":"mgrA"`) {
			t.Errorf("%s: row %s, want the new holder's", h, r)
		}
	}
	l.Release(context.Background())
}

func testKilledHolderFreesServers(t *testing.T, e *sbEnv) {
	dir := t.TempDir()
	srv, _ := json.Marshal(e.servers)
	helper := startLockHelper(t, dir, string(srv))
	_, err := Acquire(context.Background(), e.opts(t, "mgrB", "switchover"))
	if want := fmt.Sprintf("failover by pid %d on host mgr1", helper.Process.Pid); !errors.Is(err, ErrHeld) || !strings.Contains(err.Error(), want) {
		t.Fatalf("while the helper holds the servers: %v, want a refusal naming %q", err, want)
	}
	killHelper(t, helper)
	deadline := time.Now().Add(10 * time.Second)
	for {
		l, err := Acquire(context.Background(), e.opts(t, "mgrB", "switchover"))
		if err == nil {
			if len(l.Servers()) != 2 {
				t.Errorf("locked %v after the holder's death, want both servers", l.Servers())
			}
			l.Release(context.Background())
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("10 s after SIGKILL the servers are still locked: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func testLostConnection(t *testing.T, e *sbEnv) {
	l := mustAcquire(t, e.opts(t, "mgrA", "failover"))
	e.killLockHolder(t, "host2")
	err := l.Check(context.Background())
	if !errors.Is(err, ErrLost) || !strings.Contains(err.Error(), e.servers[1].Key.String()) {
		t.Fatalf("Check after KILL = %v, want ErrLost naming %s", err, e.servers[1].Key)
	}
	if err := l.Check(context.Background()); !errors.Is(err, ErrLost) {
		t.Errorf("a lost lock came back: %v", err)
	}
	// What is still held still refuses others.
	_, err = Acquire(context.Background(), e.opts(t, "mgrB", "switchover"))
	if !errors.Is(err, ErrHeld) || !strings.Contains(err.Error(), "on "+e.servers[0].Key.String()) {
		t.Fatalf("with host1 still held: %v, want a refusal naming %s", err, e.servers[0].Key)
	}
	l.Release(context.Background()) // host2's part fails: its connection is gone
	mustAcquire(t, e.opts(t, "mgrB", "switchover"))
}

func testSkipped(t *testing.T, e *sbEnv) {
	o := e.opts(t, "mgrA", "failover")
	silent := node.MySQLConfig{Key: topology.Key{Host: silentAddr, Port: 3306}, User: "x", Password: "x"}
	o.Servers = append([]node.MySQLConfig{silent, hungServer(t)}, e.servers...)
	start := time.Now()
	l := mustAcquire(t, o)
	if d := time.Since(start); d > o.ServerTimeout+time.Second {
		t.Errorf("Acquire took %s with a hung server, want about ServerTimeout (%s)", d, o.ServerTimeout)
	}
	var skipped []string
	for _, s := range l.Skipped() {
		skipped = append(skipped, s.Server)
		if s.Err == nil {
			t.Errorf("%s skipped without a reason", s.Server)
		}
	}
	if want := []string{silentAddr + ":3306", hungAddr + ":3306"}; !slices.Equal(skipped, want) {
		t.Errorf("skipped %v, want %v", skipped, want)
	}
	if len(l.Servers()) != 2 {
		t.Errorf("locked %v, want the two sandbox servers", l.Servers())
	}
}

func testNoServer(t *testing.T, e *sbEnv) {
	o := e.opts(t, "mgrA", "failover")
	o.Servers = []node.MySQLConfig{{Key: topology.Key{Host: silentAddr, Port: 3306}, User: "x", Password: "x"}}
	_, err := Acquire(context.Background(), o)
	if !errors.Is(err, ErrNoServer) || !strings.Contains(err.Error(), silentAddr) {
		t.Fatalf("Acquire = %v, want ErrNoServer naming %s", err, silentAddr)
	}
	if _, held, _ := ReadLocal(o.Workdir, "app1"); held {
		t.Error("a refused Acquire kept its local lock")
	}
}

func testKeepalive(t *testing.T, e *sbEnv) {
	o := e.opts(t, "mgrA", "failover")
	o.Keepalive = 500 * time.Millisecond // wait_timeout 2 s
	l := mustAcquire(t, o)
	time.Sleep(3500 * time.Millisecond)
	if err := l.Check(context.Background()); err != nil {
		t.Fatalf("after 3.5 s with wait_timeout 2 s: %v", err)
	}
	l.Release(context.Background())
	// The same lock without its keepalive: the server drops it, which
	// proves both that wait_timeout is set and that the keepalive matters.
	l = mustAcquire(t, o)
	l.servers.stop()
	<-l.servers.done
	time.Sleep(3500 * time.Millisecond)
	if err := l.Check(context.Background()); !errors.Is(err, ErrLost) {
		t.Fatalf("without keepalive, after 3.5 s with wait_timeout 2 s: %v, want ErrLost", err)
	}
}
