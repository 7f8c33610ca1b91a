package simmysql

import (
	"context"
	"database/sql"
	"errors"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

func open(t *testing.T, srv *Server) *sql.DB {
	t.Helper()
	mc := mysql.NewConfig()
	mc.User, mc.Passwd, mc.Net, mc.Addr = "gomha", "gomha", "tcp", srv.Addr()
	mc.Timeout = 2 * time.Second
	c, err := mysql.NewConnector(mc)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(c)
	t.Cleanup(func() { db.Close() })
	return db
}

// ioRunning reads a replica's Slave_IO_Running, Last_IO_Errno and
// Slave_received_heartbeats.
func ioRunning(t *testing.T, db *sql.DB) (state string, errno int, beats int) {
	t.Helper()
	rows, err := db.Query("SHOW SLAVE STATUS")
	if err != nil {
		t.Fatal(err)
	}
	cols, _ := rows.Columns()
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if !rows.Next() {
		t.Fatal("SHOW SLAVE STATUS: no row on a replica")
	}
	if err := rows.Scan(ptrs...); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	for i, c := range cols {
		switch c {
		case "Slave_IO_Running":
			state = vals[i].String
		case "Last_IO_Errno":
			errno = atoi(vals[i].String)
		}
	}
	var name string
	if err := db.QueryRow("SHOW GLOBAL STATUS LIKE 'Slave_received_heartbeats'").Scan(&name, &beats); err != nil {
		t.Fatal(err)
	}
	return state, errno, beats
}

func atoi(s string) int {
	n := 0
	for _, ch := range s {
		n = n*10 + int(ch-'0')
	}
	return n
}

// TestKillIsACrash: after Kill the master's port refuses connections, an
// open connection breaks, the replicas say Connecting with error 2003 and
// count no more heartbeats; after Restart all is as before.
func TestKillIsACrash(t *testing.T) {
	sim := newTestSim(t)
	c := addCluster(t, sim)
	master, replica := open(t, c.Master), open(t, c.Replicas[0])
	conn, err := master.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	time.Sleep(600 * time.Millisecond)
	if st, errno, beats := ioRunning(t, replica); st != "Yes" || errno != 0 || beats < 1 {
		t.Fatalf("healthy replica: Slave_IO_Running=%s Last_IO_Errno=%d heartbeats=%d, want Yes, 0, >= 1", st, errno, beats)
	}
	c.Kill()
	var one int
	if err := conn.QueryRowContext(context.Background(), "SELECT 1").Scan(&one); err == nil {
		t.Error("a connection to the killed master still answers")
	}
	if _, err := net.DialTimeout("tcp", c.Master.Addr(), time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("connect to the killed master: %v, want connection refused", err)
	}
	st, errno, beats := ioRunning(t, replica)
	if st != "Connecting" || errno != 2003 {
		t.Errorf("replica of a killed master: Slave_IO_Running=%s Last_IO_Errno=%d, want Connecting, 2003", st, errno)
	}
	time.Sleep(600 * time.Millisecond)
	if _, _, later := ioRunning(t, replica); later != beats {
		t.Errorf("heartbeats went on from %d to %d after the master died", beats, later)
	}
	if err := c.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := master.QueryRow("SELECT 1").Scan(&one); err != nil {
		t.Errorf("restarted master: %v", err)
	}
	if st, errno, _ := ioRunning(t, replica); st != "Yes" || errno != 0 {
		t.Errorf("replica after the restart: Slave_IO_Running=%s Last_IO_Errno=%d, want Yes, 0", st, errno)
	}
}

// TestSleepSleeps: SLEEP(n) answers after n seconds; it ends at once when
// the client goes away or the master crashes, leaving no session behind.
func TestSleepSleeps(t *testing.T) {
	sim := newTestSim(t)
	c := addCluster(t, sim)
	db := open(t, c.Master)
	start := time.Now()
	var r int
	if err := db.QueryRow("SELECT /* gomha: master watch */ SLEEP(0.3)").Scan(&r); err != nil || r != 0 {
		t.Fatalf("SLEEP(0.3) = %d, %v", r, err)
	}
	if took := time.Since(start); took < 300*time.Millisecond || took > 600*time.Millisecond {
		t.Errorf("SLEEP(0.3) took %s", took)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := db.QueryRowContext(ctx, "SELECT SLEEP(5)").Scan(&r); err == nil {
		t.Fatal("SLEEP(5) with a 100 ms deadline answered")
	}
	waitSessions(t, sim, 0, 500*time.Millisecond) // the driver closed the connection: the server's session ends

	errc := make(chan error, 1)
	start = time.Now()
	go func() { errc <- db.QueryRow("SELECT SLEEP(5)").Scan(&r) }()
	waitSessions(t, sim, 1, time.Second)
	time.Sleep(50 * time.Millisecond)
	c.Kill()
	select {
	case err := <-errc:
		if err == nil {
			t.Error("SLEEP(5) on a crashed master answered")
		}
		if took := time.Since(start); took > time.Second {
			t.Errorf("SLEEP(5) broke %s after its start, the crash was at 50 ms", took)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("SLEEP(5) on a crashed master still running after 2 s")
	}
}

func waitSessions(t *testing.T, sim *Sim, n int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for sim.Stats().Sessions != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d open sessions after %s, want %d", sim.Stats().Sessions, within, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestAdvisoryLock: GET_LOCK excludes another connection and is released
// with its holder's connection, as the manager's lock on the master is.
func TestAdvisoryLock(t *testing.T) {
	sim := newTestSim(t)
	c := addCluster(t, sim)
	db := open(t, c.Master)
	ctx := context.Background()
	a, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var got, id, holder sql.NullInt64
	q := "SELECT /* gomha */ GET_LOCK('MHA_Master_High_Availability_Monitor', 0), CONNECTION_ID()"
	if err := a.QueryRowContext(ctx, q).Scan(&got, &id); err != nil || got.Int64 != 1 {
		t.Fatalf("first GET_LOCK = %v, %v", got, err)
	}
	if err := b.QueryRowContext(ctx, q).Scan(&got, new(int64)); err != nil || got.Int64 != 0 {
		t.Fatalf("second GET_LOCK = %v, %v; want 0 (held)", got, err)
	}
	if err := b.QueryRowContext(ctx, "SELECT IS_USED_LOCK('MHA_Master_High_Availability_Monitor')").Scan(&holder); err != nil || holder != id {
		t.Fatalf("IS_USED_LOCK = %v, %v; want %v", holder, err, id)
	}
	if _, err := b.ExecContext(ctx, "KILL /* gomha */ CONNECTION "+itoa(id.Int64)); err != nil {
		t.Fatalf("KILL the holder: %v", err)
	}
	deadline := time.Now().Add(time.Second)
	for {
		if err := b.QueryRowContext(ctx, q).Scan(&got, new(int64)); err != nil {
			t.Fatal(err)
		}
		if got.Int64 == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the lock of a killed connection was not released")
		}
		time.Sleep(10 * time.Millisecond)
	}
	a.Close()
}

func itoa(n int64) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// TestUnknownStatementIsReported: a statement the simulator does not know
// is refused and reported, so that a test notices gomha asked something new.
func TestUnknownStatementIsReported(t *testing.T) {
	var seen []string
	sim := New(Options{OnUnknown: func(_, q string) { seen = append(seen, q) }})
	defer sim.Close()
	c := addCluster(t, sim)
	db := open(t, c.Master)
	if _, err := db.Exec("SHOW ALL SLAVES STATUS"); err == nil {
		t.Error("SHOW ALL SLAVES STATUS answered; the simulator does not know it")
	}
	if len(seen) != 1 || seen[0] != "SHOW ALL SLAVES STATUS" || sim.Stats().Unknown["SHOW ALL SLAVES STATUS"] != 1 {
		t.Errorf("reported %q, stats %v", seen, sim.Stats().Unknown)
	}
}

func TestNormalize(t *testing.T) {
	for _, tc := range []struct{ in, want, why string }{
		{"SELECT /* gomha */ 1", "SELECT 1", "gomha's comment"},
		{"/* gomha */ SHOW SLAVE STATUS;", "SHOW SLAVE STATUS", "leading comment, trailing semicolon"},
		{"SELECT  '/* x */'\n, 2", "SELECT '/* x */' , 2", "a comment inside a string stays"},
		{"SELECT 'a\\'b /* c */'", "SELECT 'a\\'b /* c */'", "escaped quote inside a string"},
	} {
		if got := normalize(tc.in); got != tc.want {
			t.Errorf("%s: normalize(%q) = %q, want %q", tc.why, tc.in, got, tc.want)
		}
	}
	for _, tc := range []struct {
		s, pat string
		want   bool
	}{
		{"slave_received_heartbeats", "slave_%", true},
		{"slave_running", "slave\\_running", false}, // no escapes: literal backslash
		{"uptime", "up_ime", true},
		{"uptime", "%heart%", false},
	} {
		if got := like(tc.s, tc.pat); got != tc.want {
			t.Errorf("like(%q, %q) = %v", tc.s, tc.pat, got)
		}
	}
	if got := strings.Join(splitTop("GET_LOCK('a,b', 0), CONNECTION_ID() AS id"), "|"); got != "GET_LOCK('a,b', 0)|CONNECTION_ID() AS id" {
		t.Errorf("splitTop: %q", got)
	}
}
