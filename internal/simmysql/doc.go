// Package simmysql simulates MariaDB 10.11 servers for gomha's scale
// benchmark: many replication clusters (a master and two replicas each) on
// loopback addresses 127.0.4.x, each server with its own listener, speaking
// the MySQL protocol through go-mysql's server package.
//
// A simulated server answers what gomha's manager asks while it starts
// (check repl: variables, GTID positions, SHOW MASTER STATUS, SHOW SLAVE
// STATUS, the heartbeat counters) and while it monitors (the ping, the
// advisory lock, the SELECT SLEEP watch, the replicas' status), with the
// column names, types and values a real healthy MariaDB 10.11 GTID cluster
// sends (testdata/mariadb-10.11.json was captured from one; the tests
// compare). Any other statement is refused and reported through
// Options.OnUnknown, so that a test finds every statement it does not know.
//
// Cluster.Kill is a crash of the master's mysqld: its listener closes (new
// connections are refused), its connections are closed (a SLEEP in
// progress ends with them), and its replicas' IO threads report
// Connecting with Last_IO_Errno 2003, as MariaDB's do once the master's
// port refuses. There is no data and no real replication: positions and
// GTIDs are fixed, heartbeats are counted from the clock.
//
// The benchmark runs the simulator as a helper process (cmd/simmysql,
// driven by Serve's JSON-lines protocol) so that the manager's process is
// measured alone.
package simmysql
