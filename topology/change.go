package topology

import "time"

// PositionMode says how CHANGE MASTER TO positions a replica.
type PositionMode string

// Position modes.
const (
	PositionFile         PositionMode = "file"          // MASTER_LOG_FILE/MASTER_LOG_POS (MariaDB: MASTER_USE_GTID=no)
	PositionSlavePos     PositionMode = "slave_pos"     // MariaDB MASTER_USE_GTID=slave_pos
	PositionAutoPosition PositionMode = "auto_position" // MySQL MASTER_AUTO_POSITION=1
)

// ChangeMaster is what a CHANGE MASTER TO statement sets.
type ChangeMaster struct {
	Host         string
	Port         int
	User         string
	Password     string // "" with PasswordSet false: keep the replica's current one
	PasswordSet  bool
	Mode         PositionMode
	File         string // PositionFile only
	Pos          int64  // PositionFile only
	ConnectRetry int    // seconds; 0 = leave unchanged
	// HeartbeatPeriod is MASTER_HEARTBEAT_PERIOD: an idle master sends a
	// heartbeat this often, so a replica notices a silent master well
	// before slave_net_timeout; 0 = leave unchanged.
	HeartbeatPeriod time.Duration
}
