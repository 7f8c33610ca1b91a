package node

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gomha/gomha/topology"
)

// Discover reads everything failover needs to know about the server:
// identity, binary logging, read_only, GTID state, replication status and
// filters. Errors are classified *topology.ConnError values.
func (s *Session) Discover(ctx context.Context) (*topology.Status, error) {
	start := time.Now()
	st := &topology.Status{Key: s.key, Flavor: s.flavor}
	steps := []func(context.Context, *topology.Status) error{s.readVariables, s.readGTID, s.readMasterStatus, s.readReplica}
	for _, step := range steps {
		if err := step(ctx, st); err != nil {
			return nil, ClassifyMySQLError(s.key, err)
		}
	}
	st.ObservedAt = time.Now()
	st.Took = st.ObservedAt.Sub(start)
	return st, nil
}

func (s *Session) readVariables(ctx context.Context, st *topology.Status) error {
	rows, err := s.queryMaps(ctx, "SELECT /* gomha */ @@version AS version, @@server_id AS server_id, @@log_bin AS log_bin, "+
		"@@binlog_format AS binlog_format, @@read_only AS read_only, @@relay_log_purge AS relay_log_purge, "+
		"@@datadir AS datadir, @@log_slave_updates AS log_slave_updates")
	if err != nil {
		return err
	}
	if len(rows) != 1 {
		return fmt.Errorf("read variables on %s: %d rows", s.key, len(rows))
	}
	v := rows[0]
	st.Version = v["version"]
	st.ServerID = uint32(atoi64(v["server_id"]))
	st.LogBin = boolVar(v["log_bin"])
	st.BinlogFormat = v["binlog_format"]
	st.ReadOnly = boolVar(v["read_only"])
	st.RelayLogPurge = boolVar(v["relay_log_purge"])
	st.Datadir = v["datadir"]
	st.LogSlaveUpdates = boolVar(v["log_slave_updates"])
	return nil
}

func (s *Session) readGTID(ctx context.Context, st *topology.Status) error {
	if s.flavor == topology.MariaDB {
		rows, err := s.queryMaps(ctx, "SELECT /* gomha */ @@gtid_current_pos AS cur, @@gtid_slave_pos AS slave, "+
			"@@gtid_binlog_pos AS binlog, @@gtid_binlog_state AS state, @@gtid_strict_mode AS strict")
		if err != nil || len(rows) != 1 {
			return err
		}
		st.GTIDCurrentPos, st.GTIDSlavePos, st.GTIDBinlogPos = rows[0]["cur"], rows[0]["slave"], rows[0]["binlog"]
		st.GTIDBinlogState = rows[0]["state"]
		st.GTIDStrictMode = boolVar(rows[0]["strict"])
		return nil
	}
	rows, err := s.queryMaps(ctx, "SELECT /* gomha */ @@gtid_mode AS mode, @@gtid_executed AS executed, @@super_read_only AS sro")
	if err != nil || len(rows) != 1 {
		return err
	}
	st.GTIDMode = rows[0]["mode"]
	st.GTIDExecuted = strings.ReplaceAll(rows[0]["executed"], "\n", "")
	st.SuperReadOnly = boolVar(rows[0]["sro"])
	return nil
}

func (s *Session) readMasterStatus(ctx context.Context, st *topology.Status) error {
	if !st.LogBin {
		return nil
	}
	rows, err := s.queryMaps(ctx, "/* gomha */ "+terms(s.flavor, st.Version).showBinlogStatus)
	if err != nil {
		return err
	}
	if len(rows) == 0 {
		return nil
	}
	m := rows[0]
	st.BinlogFile = m["File"]
	st.BinlogPos = atoi64(m["Position"])
	st.Filters.BinlogDoDB = m["Binlog_Do_DB"]
	st.Filters.BinlogIgnoreDB = m["Binlog_Ignore_DB"]
	return nil
}

func (s *Session) readReplica(ctx context.Context, st *topology.Status) error {
	rows, err := s.queryMaps(ctx, "/* gomha */ "+terms(s.flavor, st.Version).showReplicaStatus)
	if err != nil {
		return err
	}
	if len(rows) == 0 {
		return nil
	}
	if len(rows) > 1 {
		return fmt.Errorf("read replica status on %s: %d replication channels; gomha manages single-source replication only", s.key, len(rows))
	}
	st.Replica = replicaFromRow(rows[0])
	if st.Replica.MasterHost == "" {
		st.Replica = nil // RESET SLAVE leaves an empty row on some versions
		return nil
	}
	if s.flavor == topology.MariaDB {
		return s.readHeartbeat(ctx, st.Replica)
	}
	return nil
}

// readHeartbeat reads MariaDB's heartbeat period and count.
func (s *Session) readHeartbeat(ctx context.Context, r *topology.Replica) error {
	qctx, cancel := s.queryCtx(ctx)
	defer cancel()
	var err error
	r.HeartbeatPeriod, r.ReceivedHeartbeats, err = ReadHeartbeat(qctx, s.db)
	if err != nil {
		return fmt.Errorf("SHOW GLOBAL STATUS on %s: %w", s.key, err)
	}
	return nil
}

// ReadHeartbeat reads a MariaDB replica's heartbeat period
// (MASTER_HEARTBEAT_PERIOD, as Slave_heartbeat_period) and the heartbeats
// it received (Slave_received_heartbeats), bounded by ctx.
func ReadHeartbeat(ctx context.Context, db *sql.DB) (period time.Duration, received int64, err error) {
	rows, err := QueryMaps(ctx, db, "SHOW /* gomha */ GLOBAL STATUS WHERE Variable_name IN ('Slave_heartbeat_period', 'Slave_received_heartbeats')")
	if err != nil {
		return 0, 0, err
	}
	for _, row := range rows {
		switch row["Variable_name"] {
		case "Slave_heartbeat_period":
			f, _ := strconv.ParseFloat(row["Value"], 64)
			period = time.Duration(f * float64(time.Second))
		case "Slave_received_heartbeats":
			received = atoi64(row["Value"])
		}
	}
	return period, received, nil
}

// col returns the first present of the MySQL 8 (Source_*/Replica_*) and the
// classic (Master_*/Slave_*) column names.
func col(m map[string]string, names ...string) string {
	for _, n := range names {
		if v, ok := m[n]; ok {
			return v
		}
	}
	return ""
}

func replicaFromRow(m map[string]string) *topology.Replica {
	r := &topology.Replica{
		MasterHost:         col(m, "Master_Host", "Source_Host"),
		MasterPort:         int(atoi64(col(m, "Master_Port", "Source_Port"))),
		MasterUser:         col(m, "Master_User", "Source_User"),
		IORunning:          col(m, "Slave_IO_Running", "Replica_IO_Running"),
		SQLRunning:         col(m, "Slave_SQL_Running", "Replica_SQL_Running") == "Yes",
		SQLState:           col(m, "Slave_SQL_Running_State", "Replica_SQL_Running_State"),
		MasterLogFile:      col(m, "Master_Log_File", "Source_Log_File"),
		ReadMasterLogPos:   atoi64(col(m, "Read_Master_Log_Pos", "Read_Source_Log_Pos")),
		RelayLogFile:       m["Relay_Log_File"],
		RelayLogPos:        atoi64(m["Relay_Log_Pos"]),
		RelayMasterLogFile: col(m, "Relay_Master_Log_File", "Relay_Source_Log_File"),
		ExecMasterLogPos:   atoi64(col(m, "Exec_Master_Log_Pos", "Exec_Source_Log_Pos")),
		LastIOErrno:        int(atoi64(m["Last_IO_Errno"])),
		LastIOError:        m["Last_IO_Error"],
		LastSQLErrno:       int(atoi64(m["Last_SQL_Errno"])),
		LastSQLError:       m["Last_SQL_Error"],
		UsingGTID:          m["Using_Gtid"],
		GTIDIOPos:          m["Gtid_IO_Pos"],
		AutoPosition:       m["Auto_Position"] == "1",
		RetrievedGTIDSet:   strings.ReplaceAll(m["Retrieved_Gtid_Set"], "\n", ""),
		ExecutedGTIDSet:    strings.ReplaceAll(m["Executed_Gtid_Set"], "\n", ""),
		Filters: topology.Filters{
			ReplicateDoDB:            m["Replicate_Do_DB"],
			ReplicateIgnoreDB:        m["Replicate_Ignore_DB"],
			ReplicateDoTable:         m["Replicate_Do_Table"],
			ReplicateIgnoreTable:     m["Replicate_Ignore_Table"],
			ReplicateWildDoTable:     m["Replicate_Wild_Do_Table"],
			ReplicateWildIgnoreTable: m["Replicate_Wild_Ignore_Table"],
		},
	}
	if v, ok := m["Seconds_Behind_Master"]; ok {
		n := atoi64(v)
		r.SecondsBehindMaster = &n
	} else if v, ok := m["Seconds_Behind_Source"]; ok {
		n := atoi64(v)
		r.SecondsBehindMaster = &n
	}
	return r
}
