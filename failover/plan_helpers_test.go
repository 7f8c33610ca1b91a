package failover

import (
	"errors"
	"fmt"

	"github.com/gomha/gomha/topology"
)

// Snapshot builders. Server i lives on 127.0.0.1i:3306 with server_id 100+i;
// server 1 is the master.

var deadKey = topology.Key{Host: "127.0.0.11", Port: 3306}

func key(i int) topology.Key { return topology.Key{Host: fmt.Sprintf("127.0.0.1%d", i), Port: 3306} }

func server(i int) topology.Server {
	h := key(i).Host
	return topology.Server{Name: fmt.Sprintf("server%d", i), Hostname: h, IP: h, Port: 3306}
}

// deadMaster is server 1, refusing connections.
func deadMaster() *topology.Node {
	return &topology.Node{Server: server(1), Err: &topology.ConnError{Key: key(1), Kind: topology.ConnRefused, Err: errors.New("connection refused")}}
}

type mod func(n *topology.Node)

// replica is server i, a MariaDB 10.11 replica of server 1 whose IO thread
// read up to file:read and whose SQL thread applied all of it.
func replica(i int, file string, read int64, mods ...mod) *topology.Node {
	n := &topology.Node{Server: server(i), Status: &topology.Status{
		Key: key(i), Flavor: topology.MariaDB, Version: "10.11.19-MariaDB-0+deb12u1-log",
		ServerID: uint32(100 + i), LogBin: true, ReadOnly: true,
		Replica: &topology.Replica{
			MasterHost: "127.0.0.11", MasterPort: 3306, IORunning: "Connecting", SQLRunning: true,
			MasterLogFile: file, ReadMasterLogPos: read, RelayMasterLogFile: file, ExecMasterLogPos: read,
			RelayLogFile: "relay-bin.000002", RelayLogPos: 1000, UsingGTID: "No",
		},
	}}
	for _, m := range mods {
		m(n)
	}
	return n
}

func candidate(n *topology.Node)  { n.Server.CandidateMaster = true }
func noMaster(n *topology.Node)   { n.Server.NoMaster = true }
func ignoreFail(n *topology.Node) { n.Server.IgnoreFail = true }
func noLogBin(n *topology.Node)   { n.Status.LogBin = false }

// down makes the server unreadable (keeps its configuration).
func down(n *topology.Node) {
	n.Status = nil
	n.Err = &topology.ConnError{Key: n.Key(), Kind: topology.ConnTimeout, Err: errors.New("i/o timeout")}
}

func version(v string) mod { return func(n *topology.Node) { n.Status.Version = v } }

func exec(file string, pos int64) mod {
	return func(n *topology.Node) {
		n.Status.Replica.RelayMasterLogFile, n.Status.Replica.ExecMasterLogPos = file, pos
	}
}

func from(host string) mod { return func(n *topology.Node) { n.Status.Replica.MasterHost = host } }

func sqlError(errno int) mod {
	return func(n *topology.Node) {
		n.Status.Replica.SQLRunning, n.Status.Replica.LastSQLErrno, n.Status.Replica.LastSQLError = false, errno, "Duplicate entry"
	}
}

// gtid sets MariaDB GTID positioning: Gtid_IO_Pos io, gtid_slave_pos slave;
// gtid_current_pos equals slave unless cur is given.
func gtid(io, slave string, cur ...string) mod {
	return func(n *topology.Node) {
		n.Status.Replica.UsingGTID = "Slave_Pos"
		n.Status.Replica.GTIDIOPos = io
		n.Status.GTIDSlavePos, n.Status.GTIDCurrentPos = slave, slave
		if len(cur) > 0 {
			n.Status.GTIDCurrentPos = cur[0]
		}
	}
}

// gtidState sets the GTID state a MariaDB replica keeps in file/position
// replication: gtid_slave_pos and gtid_binlog_state.
func gtidState(slave, state string) mod {
	return func(n *topology.Node) { n.Status.GTIDSlavePos, n.Status.GTIDBinlogState = slave, state }
}

func binlogPos(pos string) mod { return func(n *topology.Node) { n.Status.GTIDBinlogPos = pos } }

// mysqlGTID makes the server MySQL 8.0 with gtid_mode=ON and auto-position.
func mysqlGTID(retrieved, executed string) mod {
	return func(n *topology.Node) {
		n.Status.Flavor, n.Status.Version, n.Status.GTIDMode = topology.MySQL, "8.0.36", "ON"
		n.Status.Replica.UsingGTID, n.Status.Replica.AutoPosition = "", true
		n.Status.Replica.RetrievedGTIDSet, n.Status.Replica.ExecutedGTIDSet = retrieved, executed
		n.Status.GTIDExecuted = executed
	}
}

func snap(nodes ...*topology.Node) *topology.Snapshot { return &topology.Snapshot{Nodes: nodes} }

// aliveMaster is server 1 alive and writable, for switchovers.
func aliveMaster() *topology.Node {
	return &topology.Node{Server: server(1), Status: &topology.Status{
		Key: key(1), Flavor: topology.MariaDB, Version: "10.11.19-MariaDB", ServerID: 101, LogBin: true,
		BinlogFile: "mysql-bin.000003", BinlogPos: 500,
	}}
}

// healthy makes a replica's threads run with no lag.
func healthy(n *topology.Node) {
	lag := int64(0)
	n.Status.Replica.IORunning, n.Status.Replica.SecondsBehindMaster = "Yes", &lag
}

const (
	uuidM = "3e11fa47-71ca-11e1-9e33-c80aa9429562" // the master's server_uuid
	uuidX = "9f000000-0000-0000-0000-000000000003" // a replica's own server_uuid
)
