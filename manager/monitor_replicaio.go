package manager

import (
	"context"
	"database/sql"
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
	hb, err := node.QueryMaps(qctx, s.DB(), "SHOW /* gomha */ GLOBAL STATUS WHERE Variable_name IN ('Slave_heartbeat_period', 'Slave_received_heartbeats')")
	if err != nil {
		return io, nil // the heartbeat is extra evidence only
	}
	for _, row := range hb {
		switch row["Variable_name"] {
		case "Slave_heartbeat_period":
			f, _ := strconv.ParseFloat(row["Value"], 64)
			io.hbPeriod = time.Duration(f * float64(time.Second))
		case "Slave_received_heartbeats":
			io.heartbeats, _ = strconv.ParseInt(row["Value"], 10, 64)
		}
	}
	return io, nil
}

// readSlaveStatus reads the replica's row of SHOW SLAVE STATUS (SHOW
// REPLICA STATUS on MySQL).
func readSlaveStatus(ctx context.Context, s *node.Session) (replicaIO, error) {
	q := "SHOW /* gomha */ SLAVE STATUS"
	if s.Flavor() == topology.MySQL {
		q = "SHOW /* gomha */ REPLICA STATUS"
	}
	rows, err := s.DB().QueryContext(ctx, q)
	if err != nil && node.IsMySQLError(err, 1064) {
		rows, err = s.DB().QueryContext(ctx, "SHOW /* gomha */ SLAVE STATUS")
	}
	if err != nil {
		return replicaIO{}, fmt.Errorf("read replica status on %s: %w", s.Key(), err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return replicaIO{}, fmt.Errorf("read replica status on %s: %w", s.Key(), err)
	}
	var io replicaIO
	if rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return replicaIO{}, fmt.Errorf("read replica status on %s: %w", s.Key(), err)
		}
		m := map[string]string{}
		for i, c := range cols {
			m[c] = vals[i].String
		}
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
		io.errno, _ = strconv.Atoi(m["Last_IO_Errno"])
		io.errMsg = m["Last_IO_Error"]
		io.readPos = pick("Master_Log_File", "Source_Log_File") + ":" + pick("Read_Master_Log_Pos", "Read_Source_Log_Pos")
	}
	return io, rows.Err()
}
