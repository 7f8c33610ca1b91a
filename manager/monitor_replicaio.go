package manager

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/gomha/gomha/node"
	"github.com/gomha/gomha/topology"
)

// replicaIO is the part of SHOW SLAVE STATUS the monitor reads.
type replicaIO struct {
	host          string
	port          int
	running       string
	sqlRunning    bool
	errno         int
	errMsg        string
	hasReplicaRow bool
	readPos       string        // Master_Log_File:Read_Master_Log_Pos
	hbPeriod      time.Duration // MariaDB: Slave_heartbeat_period
	heartbeats    int64         // MariaDB: Slave_received_heartbeats
}

// silentSince: an IO thread that says Yes but received neither a
// heartbeat nor an event since first, over two heartbeat periods.
func (io replicaIO) silentSince(first replicaIO, elapsed time.Duration) bool {
	return io.running == "Yes" && io.hbPeriod > 0 && elapsed >= 2*io.hbPeriod &&
		io.heartbeats == first.heartbeats && io.readPos == first.readPos
}

// readReplicaIO runs SHOW SLAVE STATUS (SHOW REPLICA STATUS on MySQL, where
// 8.4 removed the old words) and, on MariaDB, reads the heartbeat counters,
// on one connection: the status rows are closed before the second query.
func readReplicaIO(ctx context.Context, s *node.Session, timeout time.Duration) (replicaIO, error) {
	qctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	io, err := readSlaveStatus(qctx, s)
	if err != nil || !io.hasReplicaRow || s.Flavor() != topology.MariaDB {
		return io, err
	}
	// The heartbeat is extra evidence only: unread, it counts as unknown.
	io.hbPeriod, io.heartbeats, _ = node.ReadHeartbeat(qctx, s.DB())
	return io, nil
}

// readSlaveStatus reads the replica's row of SHOW SLAVE STATUS (SHOW
// REPLICA STATUS on MySQL).
func readSlaveStatus(ctx context.Context, s *node.Session) (replicaIO, error) {
	q := "SHOW /* gomha */ SLAVE STATUS"
	if s.Flavor() == topology.MySQL {
		q = "SHOW /* gomha */ REPLICA STATUS"
	}
	rows, err := node.QueryMaps(ctx, s.DB(), q)
	if err != nil && node.IsMySQLError(err, 1064) {
		rows, err = node.QueryMaps(ctx, s.DB(), "SHOW /* gomha */ SLAVE STATUS")
	}
	if err != nil {
		return replicaIO{}, fmt.Errorf("read replica status on %s: %w", s.Key(), err)
	}
	var io replicaIO
	if len(rows) == 0 {
		return io, nil
	}
	m := rows[0]
	pick := func(a, b string) string {
		if v, ok := m[a]; ok {
			return v
		}
		return m[b]
	}
	io.hasReplicaRow = true
	io.host = pick("Master_Host", "Source_Host")
	io.port, _ = strconv.Atoi(pick("Master_Port", "Source_Port"))
	io.running = pick("Slave_IO_Running", "Replica_IO_Running")
	io.sqlRunning = pick("Slave_SQL_Running", "Replica_SQL_Running") == "Yes"
	io.errno, _ = strconv.Atoi(m["Last_IO_Errno"])
	io.errMsg = m["Last_IO_Error"]
	io.readPos = pick("Master_Log_File", "Source_Log_File") + ":" + pick("Read_Master_Log_Pos", "Read_Source_Log_Pos")
	return io, nil
}
