package node

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/gomha/gomha/topology"
)

func TestClassifyMySQLError(t *testing.T) {
	k := topology.Key{Host: "127.0.0.12", Port: 3306}
	tests := []struct {
		name string
		err  error
		want topology.ConnErrorKind
	}{
		{"wrong password is access denied, not a dead server", &mysql.MySQLError{Number: 1045, Message: "Access denied"}, topology.ConnAccessDenied},
		{"too many connections proves mysqld alive", fmt.Errorf("wrapped: %w", &mysql.MySQLError{Number: 1040}), topology.ConnRefusedByServer},
		{"refused port means host up, mysqld down", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, topology.ConnRefused},
		{"context deadline is a timeout", context.DeadlineExceeded, topology.ConnTimeout},
		{"driver invalid connection after read timeout", mysql.ErrInvalidConn, topology.ConnTimeout},
		{"no route is unreachable", &net.OpError{Op: "dial", Err: syscall.EHOSTUNREACH}, topology.ConnUnreachable},
		{"other server error after connecting", &mysql.MySQLError{Number: 1146}, topology.ConnQueryFailed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ce := ClassifyMySQLError(k, tc.err)
			if ce.Kind != tc.want {
				t.Fatalf("kind = %v, want %v", ce.Kind, tc.want)
			}
			if !errors.Is(ce, tc.err) && ce.Err != tc.err {
				t.Fatalf("cause lost")
			}
		})
	}
}

func TestTerms(t *testing.T) {
	tests := []struct {
		flavor  topology.Flavor
		version string
		show    string
		binlog  string
	}{
		{topology.MariaDB, "10.11.19-MariaDB-0+deb12u1-log", "SHOW SLAVE STATUS", "SHOW MASTER STATUS"},
		{topology.MySQL, "5.7.44-log", "SHOW SLAVE STATUS", "SHOW MASTER STATUS"},
		{topology.MySQL, "8.0.21", "SHOW SLAVE STATUS", "SHOW MASTER STATUS"},
		{topology.MySQL, "8.0.36", "SHOW REPLICA STATUS", "SHOW MASTER STATUS"},
		{topology.MySQL, "8.4.2", "SHOW REPLICA STATUS", "SHOW BINARY LOG STATUS"},
	}
	for _, tc := range tests {
		got := terms(tc.flavor, tc.version)
		if got.showReplicaStatus != tc.show || got.showBinlogStatus != tc.binlog {
			t.Errorf("%s %s: got %q/%q", tc.flavor, tc.version, got.showReplicaStatus, got.showBinlogStatus)
		}
	}
}

func TestReplicaFromRow(t *testing.T) {
	mariadb := map[string]string{"Master_Host": "127.0.0.11", "Master_Port": "3306", "Slave_IO_Running": "Connecting",
		"Slave_SQL_Running": "Yes", "Read_Master_Log_Pos": "1601", "Using_Gtid": "Slave_Pos", "Gtid_IO_Pos": "0-101-14",
		"Replicate_Ignore_DB": "scratch"}
	r := replicaFromRow(mariadb)
	if r.MasterKey().String() != "127.0.0.11:3306" || r.IORunningOK() || !r.SQLRunning || r.ReadMasterLogPos != 1601 ||
		!r.UsesGTID() || r.SecondsBehindMaster != nil || r.Filters.ReplicateIgnoreDB != "scratch" {
		t.Fatalf("MariaDB row read wrongly: %+v", r)
	}
	mysql8 := map[string]string{"Source_Host": "db1", "Source_Port": "3307", "Replica_IO_Running": "Yes",
		"Replica_SQL_Running": "Yes", "Seconds_Behind_Source": "3", "Auto_Position": "1",
		"Executed_Gtid_Set": "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5,\n4e11fa47-71ca-11e1-9e33-c80aa9429562:1-2"}
	r = replicaFromRow(mysql8)
	if r.MasterHost != "db1" || r.MasterPort != 3307 || !r.IORunningOK() || *r.SecondsBehindMaster != 3 || !r.UsesGTID() ||
		r.ExecutedGTIDSet != "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5,4e11fa47-71ca-11e1-9e33-c80aa9429562:1-2" {
		t.Fatalf("MySQL 8 row read wrongly: %+v", r)
	}
}

func TestClassifyConnect(t *testing.T) {
	cfg := MySQLConfig{Key: topology.Key{Host: "127.0.0.11", Port: 3306}, ConnectTimeout: time.Second}
	tests := []struct {
		name string
		err  error
		took time.Duration
		want topology.ConnErrorKind
	}{
		{"reset right after accept: mysqld dying, not a slow server", mysql.ErrInvalidConn, 3 * time.Millisecond, topology.ConnRefused},
		{"invalid connection at the deadline is a timeout", mysql.ErrInvalidConn, 990 * time.Millisecond, topology.ConnTimeout},
		{"refused stays refused", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, time.Millisecond, topology.ConnRefused},
		{"access denied is never turned into refused", &mysql.MySQLError{Number: 1045}, time.Millisecond, topology.ConnAccessDenied},
	}
	for _, tc := range tests {
		if got := classifyConnect(cfg, tc.err, tc.took).Kind; got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
