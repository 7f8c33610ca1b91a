package simmysql

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
)

// What every simulated server holds: one transaction in its first binlog,
// replicated by GTID (MASTER_USE_GTID=slave_pos), as a fresh sandbox.
const (
	replUser      = "repl"
	connectRetry  = 1
	binlogFile    = "mysql-bin.000001"
	binlogPos     = "489"
	relayLogFile  = "relay-bin.000002"
	relayLogPos   = "788"
	relayLogSpace = "1091"
	datadir       = "/var/lib/mysql/"
)

// gtid is the cluster's GTID position: one transaction of the master.
func (s *Server) gtid() string {
	m := s
	if s.source != nil {
		m = s.source
	}
	return fmt.Sprintf("0-%d-1", m.serverID)
}

// sysVar is one system variable: a string, or an integer (bool: ON/OFF in
// SHOW VARIABLES).
type sysVar struct {
	value    func(s *Server) string
	integer  bool
	boolean  bool
	unsigned bool
}

func constVar(v string) func(*Server) string { return func(*Server) string { return v } }

func boolOf(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// sysVars are the system variables a simulated server knows.
var sysVars = map[string]sysVar{
	"version":           {value: constVar(Version)},
	"version_comment":   {value: constVar("Debian 12")},
	"server_id":         {value: func(s *Server) string { return strconv.FormatUint(uint64(s.serverID), 10) }, integer: true, unsigned: true},
	"port":              {value: func(s *Server) string { return strconv.Itoa(s.port) }, integer: true},
	"hostname":          {value: func(s *Server) string { return s.host }},
	"log_bin":           {value: constVar("1"), integer: true, boolean: true},
	"binlog_format":     {value: constVar("ROW")},
	"binlog_checksum":   {value: constVar("CRC32")},
	"read_only":         {value: func(s *Server) string { return boolOf(s.readOnly) }, integer: true, boolean: true},
	"relay_log_purge":   {value: constVar("0"), integer: true, boolean: true},
	"datadir":           {value: constVar(datadir)},
	"log_bin_basename":  {value: constVar(datadir + "mysql-bin")},
	"relay_log":         {value: constVar("relay-bin")},
	"log_slave_updates": {value: constVar("1"), integer: true, boolean: true},
	"gtid_domain_id":    {value: constVar("0"), integer: true, unsigned: true},
	"gtid_strict_mode":  {value: constVar("1"), integer: true, boolean: true},
	"gtid_current_pos":  {value: func(s *Server) string { return s.gtid() }},
	"gtid_binlog_pos":   {value: func(s *Server) string { return s.gtid() }},
	"gtid_binlog_state": {value: func(s *Server) string { return s.gtid() }},
	"gtid_slave_pos": {value: func(s *Server) string {
		if s.source == nil {
			return ""
		}
		return s.gtid()
	}},
	"slave_net_timeout": {value: constVar("60"), integer: true, unsigned: true},
	"wait_timeout":      {value: constVar("600"), integer: true, unsigned: true},
}

// variable is @@name in a SELECT (name may start with global. or
// session.); text names the column.
func (s *Server) variable(name, text string) (column, *string, bool) {
	n := strings.ToLower(name)
	n = strings.TrimPrefix(strings.TrimPrefix(n, "global."), "session.")
	v, ok := sysVars[n]
	if !ok {
		return column{}, nil, false
	}
	val := v.value(s)
	switch {
	case v.boolean:
		return intExpr(text, mysql.MYSQL_TYPE_LONGLONG, 0, 1), sp(val), true
	case v.unsigned:
		return intExpr(text, mysql.MYSQL_TYPE_LONGLONG, flagUnsigned, 21), sp(val), true
	case v.integer:
		return intExpr(text, mysql.MYSQL_TYPE_LONGLONG, 0, 21), sp(val), true
	}
	return expr(text, val), sp(val), true
}

// showVariables are SHOW VARIABLES's rows, sorted by name.
func (s *Server) showVariables() []nameValue {
	var out []nameValue
	for n, v := range sysVars {
		val := v.value(s)
		if v.boolean {
			val = map[string]string{"1": "ON", "0": "OFF"}[val]
		}
		out = append(out, nameValue{n, val})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// statusVars are SHOW STATUS's rows, sorted by name.
func (s *Server) statusVars() []nameValue {
	now := time.Now()
	period, beats, running := "0.000", int64(0), "OFF"
	if s.source != nil {
		io, n := s.ioState(now)
		period, beats = fmt.Sprintf("%.3f", s.sim.opts.Heartbeat.Seconds()), n
		if io.connected {
			running = "ON"
		}
	}
	return []nameValue{
		{"Slave_heartbeat_period", period},
		{"Slave_received_heartbeats", strconv.FormatInt(beats, 10)},
		{"Slave_running", running},
		{"Threads_connected", strconv.Itoa(s.stats())},
	}
}

// masterStatus is SHOW MASTER STATUS.
func (s *Server) masterStatus() *table {
	t := &table{cols: masterStatusColumns}
	t.add(sp(binlogFile), sp(binlogPos), sp(""), sp(""))
	return t
}

// slaveStatus is SHOW SLAVE STATUS: no row on a master.
func (s *Server) slaveStatus() *table {
	t := &table{cols: slaveStatusColumns}
	if s.source == nil {
		return t
	}
	io, _ := s.ioState(time.Now())
	m := s.source
	v := map[string]*string{
		"Slave_IO_State": sp("Waiting for master to send event"), "Master_Host": sp(m.host), "Master_User": sp(replUser),
		"Master_Port": sp(strconv.Itoa(m.port)), "Connect_Retry": sp(strconv.Itoa(connectRetry)),
		"Master_Log_File": sp(binlogFile), "Read_Master_Log_Pos": sp(binlogPos),
		"Relay_Log_File": sp(relayLogFile), "Relay_Log_Pos": sp(relayLogPos), "Relay_Master_Log_File": sp(binlogFile),
		"Slave_IO_Running": sp("Yes"), "Slave_SQL_Running": sp("Yes"),
		"Last_Errno": sp("0"), "Skip_Counter": sp("0"), "Exec_Master_Log_Pos": sp(binlogPos), "Relay_Log_Space": sp(relayLogSpace),
		"Until_Condition": sp("None"), "Until_Log_Pos": sp("0"), "Master_SSL_Allowed": sp("No"),
		"Seconds_Behind_Master": sp("0"), "Master_SSL_Verify_Server_Cert": sp("No"),
		"Last_IO_Errno": sp("0"), "Last_SQL_Errno": sp("0"), "Master_Server_Id": sp(strconv.FormatUint(uint64(m.serverID), 10)),
		"Using_Gtid": sp("Slave_Pos"), "Gtid_IO_Pos": sp(s.gtid()), "Parallel_Mode": sp("optimistic"),
		"SQL_Delay": sp("0"), "SQL_Remaining_Delay": nil,
		"Slave_SQL_Running_State":        sp("Slave has read all relay log; waiting for more updates"),
		"Slave_DDL_Groups":               sp("1"),
		"Slave_Non_Transactional_Groups": sp("0"), "Slave_Transactional_Groups": sp("0"),
	}
	if !io.connected {
		v["Slave_IO_State"] = sp("Reconnecting after a failed master event read")
		v["Slave_IO_Running"] = sp("Connecting")
		v["Seconds_Behind_Master"] = nil
		v["Last_IO_Errno"] = sp(strconv.Itoa(io.errno))
		v["Last_IO_Error"] = sp(io.err)
	}
	row := make([]*string, len(t.cols))
	for i, c := range t.cols {
		val, ok := v[c.name]
		if !ok {
			val = sp("") // filters, SSL files, errors: empty
		}
		row[i] = val
	}
	t.add(row...)
	return t
}
