package manager_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gomha/gomha/failover"
	"github.com/gomha/gomha/sandbox"
)

// Scenarios of replicas in a less tidy state than "both threads running":
// what a replica received must be applied before positions are compared,
// and nothing may be applied twice (issue 8).

// slaveStatus reads SHOW SLAVE STATUS of host.
func (s *scenario) slaveStatus(host string) map[string]string {
	return s.row(host, "SHOW SLAVE STATUS")
}

// waitSQLError waits until host's SQL thread stopped with errno.
func (s *scenario) waitSQLError(host string, errno int) {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		st := s.slaveStatus(host)
		if st["Slave_SQL_Running"] == "No" && st["Last_SQL_Errno"] == fmt.Sprint(errno) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatalf("%s: SQL thread did not stop with error %d: %v", host, errno, s.slaveStatus(host))
}

// waitReceived waits until host's IO thread has received everything the
// master logged so far (its SQL thread may be anywhere).
func (s *scenario) waitReceived(host string) {
	s.t.Helper()
	file, pos := s.masterPos()
	s.waitFor(host+" to receive the master's binlog up to "+file, 10*time.Second, func() bool {
		_, got := s.received1(host, file, pos)
		return got
	})
}

// ackMore lets the writers commit n more rows each.
func (s *scenario) ackMore(n int) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, w := range append([]*sandbox.Writer{s.w}, s.more...) {
		if err := w.WaitAcked(ctx, w.Acked()+n); err != nil {
			s.t.Fatal(err)
		}
	}
}

// holdGapLock opens a transaction on host that locks every id of table
// beyond its current largest, so that the replica's applier blocks on the
// next insert. The lock is released after d, or by the returned func.
func (s *scenario) holdGapLock(host, table string, d time.Duration) (release func()) {
	s.t.Helper()
	ctx := context.Background()
	conn := s.conn(host)
	for _, q := range []string{"SET SESSION innodb_lock_wait_timeout=600", "BEGIN",
		"SELECT id FROM " + table + " WHERE id > (SELECT COALESCE(MAX(id), 0) - 1 FROM " + table + ") FOR UPDATE"} {
		rows, err := conn.QueryContext(ctx, q)
		if err != nil {
			s.t.Fatalf("%s on %s: %v", q, host, err)
		}
		rows.Close()
	}
	done := make(chan struct{})
	stop := func() {
		select {
		case <-done:
		default:
			close(done)
			conn.ExecContext(ctx, "COMMIT")
		}
	}
	timer := time.AfterFunc(d, stop)
	s.t.Cleanup(func() { timer.Stop(); stop() })
	return stop
}

func (s *scenario) startMoreWriters(tables ...string) {
	s.t.Helper()
	for _, tb := range tables {
		s.more = append(s.more, s.newWriter(tb))
	}
	s.ackMore(20)
}

// latestSQLStopped is the first case: the candidate lags (IO
// thread stopped), the latest replica received everything but its SQL
// thread is stopped, and the master's host vanishes.
func latestSQLStopped(s *scenario) {
	s.exec("host3", "STOP SLAVE SQL_THREAD")
	s.ackMore(60)
	s.exec("host2", "STOP SLAVE IO_THREAD")
	s.ackMore(150)
	s.waitReceived("host3")
}

// latestSQLError: the same, with host3's SQL thread stopped on a
// duplicate-key error: a row the writer will insert was written on host3
// alone (outside the binlog).
func latestSQLError(s *scenario) {
	next := s.maxID("host1") + 40
	s.exec("host3", "SET SESSION sql_log_bin=0",
		fmt.Sprintf("INSERT INTO gomha_test.writes VALUES (%d, 'local', 'host3', NOW(6))", next))
	s.waitSQLError("host3", 1062)
	s.exec("host2", "STOP SLAVE IO_THREAD")
	s.ackMore(150)
	s.waitReceived("host3")
}

// parallelBusyWorker: parallel replication on every replica and four
// writers; host3, the latest, has a worker blocked on a row lock held by a
// local transaction when the master's host vanishes, so its SQL thread says
// it has read all its relay log while workers still have to commit.
func parallelBusyWorker(s *scenario) {
	s.startMoreWriters("gomha_test.w2", "gomha_test.w3", "gomha_test.w4")
	s.exec("host2", "STOP SLAVE IO_THREAD")
	s.ackMore(40)
	s.waitReceived("host3")
	s.holdGapLock("host3", "gomha_test.writes", 3*time.Second)
	s.ackMore(40)
	s.waitReceived("host3")
}

func (s *scenario) maxID(host string) int64 {
	return s.queryInt(host, "SELECT COALESCE(MAX(id), 0) FROM gomha_test.writes")
}

func untidyCases() []failCase {
	parallel := func(mode string) failCase {
		return failCase{name: "parallel replication " + mode + ", worker still committing on the latest",
			why:        "the relay-log wait must not end while parallel workers still commit",
			extraMyCnf: []string{"slave_parallel_threads=4", "slave_parallel_mode=" + mode},
			serverConf: map[string]string{"server2": "candidate_master=1"},
			prepare:    parallelBusyWorker,
			fault:      func(s *scenario) { s.killHost("host1") }, wantMaster: "host2", skip: []string{"host1"}}
	}
	return []failCase{
		{name: "latest replica's SQL thread stopped, candidate lagging",
			why:        "what host3 received and never applied must reach host2 and host3 itself",
			serverConf: map[string]string{"server2": "candidate_master=1"},
			prepare:    latestSQLStopped,
			fault:      func(s *scenario) { s.killHost("host1") }, wantMaster: "host2", skip: []string{"host1"}},
		{name: "latest replica's SQL thread stopped on an error, candidate lagging",
			why:        "host3 cannot be promoted or repaired, but its relay log still feeds host2; the report names it",
			serverConf: map[string]string{"server2": "candidate_master=1"},
			prepare:    latestSQLError,
			fault:      func(s *scenario) { s.killHost("host1") }, wantMaster: "host2", skip: []string{"host1", "host3"},
			partial: true,
			check: func(s *scenario, rep *failover.Report) {
				found := false
				for _, e := range rep.Replicas {
					if e.Server == s.key("host3").String() && e.Role == "failed" && strings.Contains(e.Error, "1062") {
						found = true
					}
				}
				if !found {
					s.t.Errorf("the report does not name host3 and its duplicate-key error: %+v", rep.Replicas)
				}
			}},
		parallel("optimistic"),
		parallel("conservative"),
	}
}

func TestFailoverUntidyReplicasSandbox(t *testing.T) {
	for _, mode := range []struct {
		name string
		gtid bool
	}{{"gtid", true}, {"file", false}} {
		for _, fc := range untidyCases() {
			t.Run(mode.name+"/"+fc.name, func(t *testing.T) {
				runFailCase(t, mode.gtid, fc)
			})
		}
	}
}

var _ = sql.ErrNoRows
