package failover

import (
	"testing"

	"github.com/gomha/gomha/binlog"
	"github.com/gomha/gomha/topology"
)

func mariaStatus(serverID uint32, exec topology.BinlogCoord, slavePos, binlogState string) *topology.Status {
	return &topology.Status{Key: topology.Key{Host: "10.0.0.2", Port: 3306}, Flavor: topology.MariaDB, ServerID: serverID,
		GTIDSlavePos: slavePos, GTIDBinlogState: binlogState,
		Replica: &topology.Replica{RelayMasterLogFile: exec.File, ExecMasterLogPos: exec.Pos}}
}

func TestHoldingHas(t *testing.T) {
	at := func(f string, p int64) binlog.Pos { return binlog.Pos{File: f, Offset: p} }
	exec := topology.BinlogCoord{File: "mysql-bin.000002", Pos: 1000}
	cases := []struct {
		name string
		why  string
		st   *topology.Status
		trx  binlog.TrxStart
		want bool
	}{
		{"gtid applied by its SQL thread", "gtid_slave_pos says it was applied",
			mariaStatus(102, exec, "0-101-50", ""), binlog.TrxStart{GTID: "0-101-50", Master: at("mysql-bin.000009", 4)}, true},
		{"gtid applied by a client", "an interrupted apply leaves GTIDs in gtid_binlog_state only",
			mariaStatus(102, exec, "0-101-50", "0-101-70,0-102-3"), binlog.TrxStart{GTID: "0-101-70", Master: at("mysql-bin.000009", 4)}, true},
		{"next gtid", "one past what it holds is missing",
			mariaStatus(102, exec, "0-101-50", "0-101-70"), binlog.TrxStart{GTID: "0-101-71", Master: at("mysql-bin.000009", 4)}, false},
		{"own writes do not count", "a replica's local write in the master's domain is not the master's transaction",
			mariaStatus(102, exec, "0-101-50", "0-102-90"), binlog.TrxStart{GTID: "0-101-60", Master: at("mysql-bin.000009", 4)}, false},
		{"other domain", "a domain it never saw is missing",
			mariaStatus(102, exec, "0-101-50", ""), binlog.TrxStart{GTID: "1-101-1", Master: at("mysql-bin.000009", 4)}, false},
		{"before the executed coordinate", "without a GTID the coordinate it executed cuts",
			&topology.Status{Flavor: topology.MySQL, Replica: &topology.Replica{RelayMasterLogFile: exec.File, ExecMasterLogPos: exec.Pos}},
			binlog.TrxStart{Master: at("mysql-bin.000002", 900)}, true},
		{"at the executed coordinate", "the transaction that starts where it stopped is the next one",
			&topology.Status{Flavor: topology.MySQL, Replica: &topology.Replica{RelayMasterLogFile: exec.File, ExecMasterLogPos: exec.Pos}},
			binlog.TrxStart{Master: at("mysql-bin.000002", 1000)}, false},
		{"earlier file", "file numbers, not names, order coordinates",
			&topology.Status{Flavor: topology.MySQL, Replica: &topology.Replica{RelayMasterLogFile: "mysql-bin.000010", ExecMasterLogPos: 4}},
			binlog.TrxStart{Master: at("mysql-bin.000009", 99999)}, true},
		{"mysql gtid executed", "gtid_executed holds it",
			&topology.Status{Flavor: topology.MySQL, GTIDMode: "ON", GTIDExecuted: "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-77",
				Replica: &topology.Replica{}},
			binlog.TrxStart{GTID: "3e11fa47-71ca-11e1-9e33-c80aa9429562:77"}, true},
		{"mysql gtid missing", "one past gtid_executed",
			&topology.Status{Flavor: topology.MySQL, GTIDMode: "ON", GTIDExecuted: "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-77",
				Replica: &topology.Replica{}},
			binlog.TrxStart{GTID: "3e11fa47-71ca-11e1-9e33-c80aa9429562:78"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, err := holdingOf(c.st)
			if err != nil {
				t.Fatal(err)
			}
			if got := h.has(c.trx); got != c.want {
				t.Errorf("%s: has(%+v) = %v, want %v (holding %s)", c.why, c.trx, got, c.want, h)
			}
		})
	}
}

// TestHoldingApplied: what was applied moves the holding, so the next
// source is cut after it: a relay-log difference followed by the salvaged
// tail that overlaps it is applied once.
func TestHoldingApplied(t *testing.T) {
	h, err := holdingOf(&topology.Status{Flavor: topology.MySQL,
		Replica: &topology.Replica{RelayMasterLogFile: "mysql-bin.000001", ExecMasterLogPos: 500}})
	if err != nil {
		t.Fatal(err)
	}
	h.applied(binlog.ExtractSummary{Trxs: []binlog.TrxInfo{
		{Master: binlog.Pos{File: "mysql-bin.000001", Offset: 800}},
		{Master: binlog.Pos{File: "mysql-bin.000001", Offset: 1200}},
	}})
	if h.coord.Pos != 1200 {
		t.Fatalf("coordinate after the apply: %s, want mysql-bin.000001:1200", h.coord)
	}
	overlap := binlog.TrxStart{Master: binlog.Pos{File: "mysql-bin.000001", Offset: 800}}
	next := binlog.TrxStart{Master: binlog.Pos{File: "mysql-bin.000001", Offset: 1200}}
	if !h.has(overlap) || h.has(next) {
		t.Errorf("after applying up to 1200: has(800)=%v has(1200)=%v, want true, false", h.has(overlap), h.has(next))
	}
	m, _ := holdingOf(mariaStatus(102, topology.BinlogCoord{}, "0-101-5", ""))
	m.applied(binlog.ExtractSummary{Trxs: []binlog.TrxInfo{{GTID: "0-101-9"}}})
	if !m.has(binlog.TrxStart{GTID: "0-101-9"}) || m.has(binlog.TrxStart{GTID: "0-101-10"}) {
		t.Errorf("MariaDB holding after applying 0-101-9: %s", m)
	}
}

func TestHoldingLacks(t *testing.T) {
	nm, _ := holdingOf(mariaStatus(102, topology.BinlogCoord{}, "0-101-90", "0-101-120"))
	ok, _ := holdingOf(mariaStatus(103, topology.BinlogCoord{}, "0-101-120", ""))
	short, _ := holdingOf(mariaStatus(103, topology.BinlogCoord{}, "0-101-80", ""))
	if l := ok.lacks(nm); l != "" {
		t.Errorf("a replica holding 0-101-120 lacks %q of a new master at 0-101-120", l)
	}
	if l := short.lacks(nm); l != "domain 0: 0-101-81 to 0-101-120" {
		t.Errorf("a replica at 0-101-80 lacks %q, want domain 0: 0-101-81 to 0-101-120", l)
	}
}
