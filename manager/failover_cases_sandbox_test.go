package manager_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gomha/gomha/failover"
	"github.com/gomha/gomha/manager"
	"github.com/gomha/gomha/sandbox"
)

// failCase is one failover scenario of the issue, run in both replication
// modes unless fileOnly/gtidOnly.
type failCase struct {
	name       string
	why        string
	conf       string            // extra [server default] lines
	serverConf map[string]string // extra [serverN] lines
	format     string            // binlog format of the sandbox
	extraMyCnf []string          // extra mysqld options on every host
	prepare    func(s *scenario) // after the writer started, before the fault
	fault      func(s *scenario)
	wantMaster string
	skip       []string // hosts left out of the final checks
	wantErr    error
	partial    bool // the failover must end with a *failover.PartialError (MHA's exit 10)
	noWriter   bool
	check      func(s *scenario, rep *failover.Report)
}

// latestReplica returns which of host2 and host3 received more of the
// master's binlog (host2 on a tie, as the configuration order decides),
// once what they received stops moving.
func (s *scenario) latestReplica() string {
	s.t.Helper()
	prev := s.receivedPositions()
	for range 50 {
		time.Sleep(100 * time.Millisecond)
		cur := s.receivedPositions()
		if cur == prev {
			break
		}
		prev = cur
	}
	if prev[1] > prev[0] {
		return "host3"
	}
	return "host2"
}

// receivedPositions returns how far host2 and host3 read the master's
// binlog, as comparable "file/zero-padded position" strings.
func (s *scenario) receivedPositions() [2]string {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pos := map[string][2]string{}
	for _, h := range []string{"host2", "host3"} {
		db, err := s.c.DB(ctx, h)
		if err != nil {
			s.t.Fatal(err)
		}
		rows, err := db.QueryContext(ctx, "SHOW SLAVE STATUS")
		if err != nil {
			s.t.Fatal(err)
		}
		cols, _ := rows.Columns()
		vals := make([]any, len(cols))
		raw := make([][]byte, len(cols))
		for i := range vals {
			vals[i] = &raw[i]
		}
		rows.Next()
		rows.Scan(vals...)
		for i, c := range cols {
			switch c {
			case "Master_Log_File":
				p := pos[h]
				p[0] = string(raw[i])
				pos[h] = p
			case "Read_Master_Log_Pos":
				p := pos[h]
				p[1] = fmt.Sprintf("%020s", string(raw[i]))
				pos[h] = p
			}
		}
		rows.Close()
		db.Close()
	}
	return [2]string{pos["host2"][0] + "/" + pos["host2"][1], pos["host3"][0] + "/" + pos["host3"][1]}
}

func (s *scenario) kill(host string) {
	s.t.Helper()
	if err := s.c.KillMysqld(context.Background(), host); err != nil {
		s.t.Fatal(err)
	}
}

func (s *scenario) killHost(host string) {
	s.t.Helper()
	s.noteReceived()
	s.lostTail = s.c.Hosts[0].Addr
	if err := s.c.KillHost(context.Background(), host); err != nil {
		s.t.Fatal(err)
	}
}

// lag stops the IO threads of hosts and lets the writer commit n more rows on
// the master, so those hosts miss them.
func (s *scenario) lag(n int, hosts ...string) {
	s.t.Helper()
	for _, h := range hosts {
		s.exec(h, "STOP SLAVE IO_THREAD")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.w.WaitAcked(ctx, s.w.Acked()+n); err != nil {
		s.t.Fatal(err)
	}
}

// checksum returns CHECKSUM TABLE of a table on host.
func (s *scenario) checksum(host, table string) string {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := s.c.DB(ctx, host)
	if err != nil {
		s.t.Fatal(err)
	}
	defer db.Close()
	var name, sum string
	if err := db.QueryRowContext(ctx, "CHECKSUM TABLE "+table).Scan(&name, &sum); err != nil {
		s.t.Fatalf("checksum %s on %s: %v", table, host, err)
	}
	return sum
}

const trickyTable = "gomha_test.tricky"

// trickyStatements are statements that only replay correctly with their
// context: user variables, RAND seeds, NOW(), LAST_INSERT_ID, multi-line
// strings holding the word ROLLBACK, binary data.
var trickyStatements = []string{
	"CREATE TABLE IF NOT EXISTS " + trickyTable + " (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(200), r DOUBLE, t DATETIME, b BLOB)",
	"SET @x = 'user var'",
	"INSERT INTO " + trickyTable + " (v, r, t) VALUES (@x, RAND(7), NOW())",
	"INSERT INTO " + trickyTable + " (v, r, t) VALUES (CONCAT('last id ', LAST_INSERT_ID()), RAND(), NOW())",
	"INSERT INTO " + trickyTable + " (v) VALUES ('line one\nROLLBACK;\nline three')",
	"INSERT INTO " + trickyTable + " (v, b) VALUES ('blob', UNHEX(REPEAT('00FF7F80275C0A0D1A', 30)))",
	"UPDATE " + trickyTable + " SET r = r + 1 WHERE id % 2 = 0",
}

// bigTransaction inserts 10,000 rows in one transaction (one statement).
var bigTransaction = []string{
	"CREATE TABLE IF NOT EXISTS gomha_test.big (id INT PRIMARY KEY, v VARCHAR(64)) ENGINE=InnoDB",
	"INSERT INTO gomha_test.big SELECT seq, MD5(seq) FROM gomha_test.seq_1_to_10000",
}

// trickyCase salvages trickyStatements, written in the given binlog format
// while no replica receives anything, and compares the table's checksum.
func trickyCase(name, why, format string) failCase {
	return failCase{name: name, why: why, format: format, noWriter: true,
		prepare: func(s *scenario) {
			s.exec("host1", trickyStatements[0])
			for _, h := range []string{"host2", "host3"} {
				s.exec(h, "STOP SLAVE IO_THREAD")
			}
			s.exec("host1", trickyStatements[1:]...)
			s.want = map[string]string{trickyTable: s.checksum("host1", trickyTable)}
		},
		fault: func(s *scenario) { s.kill("host1") }, wantMaster: "latest", skip: []string{"host1"}}
}

func failCases() []failCase {
	return []failCase{
		{name: "mysqld crash with replicas in sync", why: "the basic case",
			fault: func(s *scenario) { s.kill("host1") }, wantMaster: "latest", skip: []string{"host1"}},
		{name: "mysqld crash with replicas in sync, master binlog beyond 64 KiB", why: "the salvage copies the header and an empty tail of a long binlog",
			prepare: func(s *scenario) {
				s.exec("host1", "CREATE TABLE gomha_test.pad (id INT AUTO_INCREMENT PRIMARY KEY, b LONGBLOB)",
					"INSERT INTO gomha_test.pad (b) VALUES (REPEAT('x', 200000))")
				s.waitReceived("host2")
				s.waitReceived("host3")
			},
			fault: func(s *scenario) { s.kill("host1") }, wantMaster: "latest", skip: []string{"host1"}},
		{name: "host gone with one replica behind", why: "no salvage possible; host3 must get what host2 has",
			prepare: func(s *scenario) { s.lag(30, "host3") },
			fault:   func(s *scenario) { s.killHost("host1") }, wantMaster: "host2", skip: []string{"host1"},
			check: func(s *scenario, rep *failover.Report) {
				if rep.Lost.Nothing {
					s.t.Errorf("the dead host's binlog could not be read, yet the report says nothing was lost")
				}
			}},
		{name: "salvage from the dead master", why: "writes acknowledged by the master reached no replica",
			prepare: func(s *scenario) { s.lag(40, "host2", "host3") },
			fault:   func(s *scenario) { s.kill("host1") }, wantMaster: "latest", skip: []string{"host1"},
			check: func(s *scenario, rep *failover.Report) {
				if len(rep.Salvaged) == 0 || !rep.Lost.Nothing {
					s.t.Errorf("salvaged %d transactions, lost %+v", len(rep.Salvaged), rep.Lost)
				}
			}},
		{name: "master rotated its binlog", why: "the missing events span two binlog files",
			prepare: func(s *scenario) {
				s.lag(20, "host2", "host3")
				s.exec("host1", "FLUSH BINARY LOGS")
				s.lag(20)
			},
			fault: func(s *scenario) { s.kill("host1") }, wantMaster: "latest", skip: []string{"host1"}},
		{name: "candidate not the latest", why: "candidate_master wins and first catches up from the latest",
			serverConf: map[string]string{"server3": "candidate_master=1"},
			prepare:    func(s *scenario) { s.lag(30, "host3") },
			fault:      func(s *scenario) { s.kill("host1") }, wantMaster: "host3", skip: []string{"host1"}},
		{name: "candidate not the latest without log_slave_updates", why: "the latest replica's binlog lacks what it replicated: catch up from its relay logs",
			serverConf: map[string]string{"server3": "candidate_master=1"}, extraMyCnf: []string{"log_slave_updates=OFF"},
			prepare: func(s *scenario) { s.lag(30, "host3") },
			fault:   func(s *scenario) { s.kill("host1") }, wantMaster: "host3", skip: []string{"host1"}},
		{name: "no_master on the latest", why: "the latest replica may not be promoted",
			serverConf: map[string]string{"server2": "no_master=1"},
			prepare:    func(s *scenario) { s.lag(30, "host3") },
			fault:      func(s *scenario) { s.kill("host1") }, wantMaster: "host3", skip: []string{"host1"}},
		{name: "replica down without ignore_fail", why: "MHA refuses: a replica would be left behind",
			fault: func(s *scenario) { s.kill("host3"); s.kill("host1") }, wantErr: failover.ErrReplicaDead},
		{name: "replica down with ignore_fail", why: "ignore_fail lets the failover leave it out, with MHA's exit code 10",
			serverConf: map[string]string{"server3": "ignore_fail=1"},
			fault:      func(s *scenario) { s.kill("host3"); s.kill("host1") }, wantMaster: "host2", skip: []string{"host1", "host3"},
			partial: true,
			check: func(s *scenario, rep *failover.Report) {
				if !strings.Contains(rep.String(), s.key("host3").String()+": failed (left out: dead") {
					s.t.Errorf("the report does not name host3 as left out:\n%s", rep)
				}
			}},
		trickyCase("statement-based tricky statements", "statement events need their context to replay", "STATEMENT"),
		trickyCase("mixed-format tricky statements", "MIXED logs unsafe statements as rows, the rest as statements", "MIXED"),
		{name: "10000-row transaction", why: "a big transaction salvaged and replayed whole", noWriter: true,
			prepare: func(s *scenario) {
				for _, h := range []string{"host2", "host3"} {
					s.exec(h, "STOP SLAVE IO_THREAD")
				}
				s.exec("host1", bigTransaction...)
				s.want = map[string]string{"gomha_test.big": s.checksum("host1", "gomha_test.big")}
			},
			fault: func(s *scenario) { s.kill("host1") }, wantMaster: "latest", skip: []string{"host1"}},
	}
}

func TestFailoverScenariosSandbox(t *testing.T) {
	for _, mode := range []struct {
		name string
		gtid bool
	}{{"gtid", true}, {"file", false}} {
		for _, fc := range failCases() {
			t.Run(mode.name+"/"+fc.name, func(t *testing.T) {
				runFailCase(t, mode.gtid, fc)
			})
		}
	}
}

func runFailCase(t *testing.T, gtid bool, fc failCase) {
	s := newScenarioConf(t, gtid, fc.conf, fc.serverConf, func(o *sandbox.Options) { o.BinlogFormat, o.ExtraMyCnf = fc.format, fc.extraMyCnf })
	if !fc.noWriter {
		s.startWriter(50)
	}
	if fc.prepare != nil {
		fc.prepare(s)
	}
	fc.fault(s)
	want := fc.wantMaster
	if want == "latest" {
		// Read once the master is dead: with the writer running, which
		// replica is ahead is decided by the last events it sent.
		want = s.latestReplica()
	}
	rep, err := s.failover("host1", manager.FailoverOptions{})
	if fc.wantErr != nil {
		if !errors.Is(err, fc.wantErr) {
			t.Fatalf("%s: error %v, want %v", fc.why, err, fc.wantErr)
		}
		if s.w != nil {
			s.w.Stop()
		}
		return
	}
	var pe *failover.PartialError
	switch {
	case fc.partial && !errors.As(err, &pe):
		t.Fatalf("%s: failover: %v, want a partial failover (exit 10)", fc.why, err)
	case !fc.partial && err != nil:
		t.Fatalf("%s: failover: %v", fc.why, err)
	}
	for _, p := range rep.Phases {
		if p.Error != "" && !fc.partial {
			t.Errorf("%s: phase %q failed: %s", fc.why, p.Name, p.Error)
		}
	}
	s.verify(want, fc.skip...)
	for table, sum := range s.want {
		if got := s.checksum(want, table); got != sum {
			t.Errorf("%s: %s checksum %s on the new master, %s on the dead master before it died", fc.why, table, got, sum)
		}
	}
	if fc.check != nil {
		fc.check(s, rep)
	}
}

// TestSecondFailoverRefusedSandbox: a second automatic failover inside
// last_failover_minute is refused; --ignore_last_failover allows it.
func TestSecondFailoverRefusedSandbox(t *testing.T) {
	s := newScenario(t, true, "")
	s.kill("host1")
	if _, err := s.failover("host1", manager.FailoverOptions{}); err != nil {
		t.Fatalf("first failover: %v", err)
	}
	s.kill("host2")
	_, err := s.failover("host2", manager.FailoverOptions{})
	if !errors.Is(err, manager.ErrRecentFailover) {
		t.Fatalf("second failover: %v, want ErrRecentFailover", err)
	}
	if !strings.Contains(fmt.Sprint(err), "last_failover_minute") {
		t.Fatalf("the refusal should name last_failover_minute: %v", err)
	}
	if _, err := s.failover("host2", manager.FailoverOptions{IgnoreLastFailover: true}); err == nil {
		t.Fatalf("with host1 and host2 dead and no ignore_fail, the failover must still refuse (dead replica host1)")
	}
}
