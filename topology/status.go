package topology

import "time"

// Flavor is the server family; it decides SQL dialect and GTID semantics.
type Flavor string

// Server flavours gomha knows.
const (
	MariaDB Flavor = "mariadb"
	MySQL   Flavor = "mysql"
)

// Filters are replication filter rules, as SHOW MASTER STATUS (binlog_*) and
// SHOW SLAVE STATUS (replicate_*) report them.
type Filters struct {
	BinlogDoDB, BinlogIgnoreDB                     string
	ReplicateDoDB, ReplicateIgnoreDB               string
	ReplicateDoTable, ReplicateIgnoreTable         string
	ReplicateWildDoTable, ReplicateWildIgnoreTable string
}

// Status is what was observed on one server at one moment.
type Status struct {
	Key     Key
	Version string // e.g. "10.11.19-MariaDB-0+deb12u1-log"
	Flavor  Flavor

	ServerID        uint32
	LogBin          bool
	LogSlaveUpdates bool
	BinlogFormat    string
	ReadOnly        bool
	SuperReadOnly   bool // MySQL only
	RelayLogPurge   bool
	Datadir         string

	// Binary log coordinates from SHOW MASTER STATUS (LogBin only).
	BinlogFile string
	BinlogPos  int64
	Filters    Filters // binlog_do_db / binlog_ignore_db

	// GTID state. MariaDB fills the three *Pos fields; MySQL fills GTIDMode
	// and GTIDExecuted.
	GTIDCurrentPos string
	GTIDSlavePos   string
	GTIDBinlogPos  string
	// GTIDBinlogState is MariaDB's gtid_binlog_state: the last GTID logged
	// for every (domain, server_id) pair, including events applied by a
	// client such as mariadb-binlog | mariadb (they keep their GTIDs).
	GTIDBinlogState string
	GTIDStrictMode  bool
	GTIDMode        string
	GTIDExecuted    string

	Replica *Replica // nil when the server replicates from nobody

	ObservedAt time.Time
	Took       time.Duration // how long discovery took
}

// IsReplica reports whether the server has a replication source configured.
func (s *Status) IsReplica() bool { return s != nil && s.Replica != nil }

// GTIDEnabled reports whether the server keeps GTIDs usable for failover.
// MariaDB always has GTIDs; MySQL needs gtid_mode=ON.
func (s *Status) GTIDEnabled() bool {
	if s.Flavor == MariaDB {
		return true
	}
	return s.GTIDMode == "ON"
}

// MajorVersion returns "10.11" of "10.11.19-MariaDB-...".
func (s *Status) MajorVersion() string {
	dots := 0
	for i, c := range s.Version {
		if c == '.' {
			dots++
			if dots == 2 {
				return s.Version[:i]
			}
		}
		if c == '-' {
			return s.Version[:i]
		}
	}
	return s.Version
}

// Replica is one replication channel as SHOW SLAVE STATUS reports it.
type Replica struct {
	MasterHost string
	MasterPort int
	MasterUser string

	IORunning  string // "Yes", "No", "Connecting"
	SQLRunning bool
	SQLState   string // Slave_SQL_Running_State, e.g. "Slave has read all relay log; ..."

	MasterLogFile       string // what the IO thread has read up to
	ReadMasterLogPos    int64
	RelayLogFile        string // what the SQL thread has executed up to
	RelayLogPos         int64
	RelayMasterLogFile  string
	ExecMasterLogPos    int64
	SecondsBehindMaster *int64 // nil = NULL

	LastIOErrno  int
	LastIOError  string
	LastSQLErrno int
	LastSQLError string

	Filters Filters // replicate_* rules

	// MariaDB: the heartbeat period set by MASTER_HEARTBEAT_PERIOD and the
	// heartbeats received (Slave_heartbeat_period, Slave_received_heartbeats).
	HeartbeatPeriod    time.Duration
	ReceivedHeartbeats int64

	// MariaDB: Using_Gtid ("No", "Slave_Pos", "Current_Pos") and Gtid_IO_Pos.
	UsingGTID string
	GTIDIOPos string
	// MySQL: Auto_Position, Retrieved_Gtid_Set, Executed_Gtid_Set.
	AutoPosition     bool
	RetrievedGTIDSet string
	ExecutedGTIDSet  string
}

// IORunningOK reports whether the IO thread is connected to its master.
func (r *Replica) IORunningOK() bool { return r.IORunning == "Yes" }

// MasterKey returns the replication source as a Key.
func (r *Replica) MasterKey() Key { return Key{Host: r.MasterHost, Port: r.MasterPort} }

// UsesGTID reports whether the channel positions itself by GTID.
func (r *Replica) UsesGTID() bool {
	return r.AutoPosition || (r.UsingGTID != "" && r.UsingGTID != "No")
}
