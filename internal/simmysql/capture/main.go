// Command capture records what a real MariaDB server answers to the
// statements gomha's manager sends while it starts and monitors (column
// names, types, flags and values), into a JSON fixture that the simulator's
// tests compare their answers with. It was run against a `gomha sandbox up`
// cluster (see internal/simmysql/testdata/README.md).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/go-mysql-org/go-mysql/mysql"
)

// Answer is one statement's result on one server.
type Answer struct {
	Role   string      `json:"role"` // master, replica, replica-master-down
	Query  string      `json:"query"`
	Fields []Field     `json:"fields,omitempty"`
	Rows   [][]*string `json:"rows,omitempty"`
	Error  string      `json:"error,omitempty"`
}

// Field is one column's metadata as the server sent it.
type Field struct {
	Name     string `json:"name"`
	Type     uint8  `json:"type"`
	Flag     uint16 `json:"flag"`
	Charset  uint16 `json:"charset"`
	Length   uint32 `json:"length"`
	Decimals uint8  `json:"decimals"`
}

// Fixture is the file the command writes.
type Fixture struct {
	Server   string   `json:"server"`
	Captured string   `json:"captured"`
	Answers  []Answer `json:"answers"`
}

func main() {
	addr := flag.String("addr", "", "host:port of the server")
	user := flag.String("user", "gomha", "user")
	password := flag.String("password", "", "password")
	role := flag.String("role", "", "role label of the server (master, replica, replica-master-down)")
	out := flag.String("out", "", "fixture to write; an existing one gets these answers appended (replacing the role's)")
	flag.Parse()
	if err := run(*addr, *user, *password, *role, *out); err != nil {
		fmt.Fprintln(os.Stderr, "capture:", err)
		os.Exit(1)
	}
}

// Queries are the statements the manager sends at start-up and while it
// monitors (taken from a real server's general log).
var Queries = []string{
	"SELECT /* gomha */ @@version",
	"SELECT /* gomha */ @@version AS version, @@server_id AS server_id, @@log_bin AS log_bin, @@binlog_format AS binlog_format, @@read_only AS read_only, @@relay_log_purge AS relay_log_purge, @@datadir AS datadir, @@log_slave_updates AS log_slave_updates",
	"SELECT /* gomha */ @@gtid_current_pos AS cur, @@gtid_slave_pos AS slave, @@gtid_binlog_pos AS binlog, @@gtid_binlog_state AS state, @@gtid_strict_mode AS strict",
	"/* gomha */ SHOW MASTER STATUS",
	"/* gomha */ SHOW SLAVE STATUS",
	"SHOW /* gomha */ GLOBAL STATUS WHERE Variable_name IN ('Slave_heartbeat_period', 'Slave_received_heartbeats')",
	"SELECT /* gomha */ GET_LOCK('MHA_Master_High_Availability_Monitor', 0), CONNECTION_ID()",
	"SELECT /* gomha */ IS_USED_LOCK('MHA_Master_High_Availability_Monitor')",
	"SELECT /* gomha */ 1",
	"SELECT /* gomha: master watch */ SLEEP(0.25)",
	"SELECT /* gomha */ @@GLOBAL.gtid_binlog_pos AS v",
	"SELECT /* gomha */ @@GLOBAL.read_only AS v",
}

func run(addr, user, password, role, out string) error {
	if addr == "" || role == "" || out == "" {
		return fmt.Errorf("-addr, -role and -out are required")
	}
	c, err := client.ConnectWithTimeout(addr, user, password, "", 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	var fx Fixture
	if data, err := os.ReadFile(out); err == nil {
		if err := json.Unmarshal(data, &fx); err != nil {
			return fmt.Errorf("%s: %w", out, err)
		}
	}
	kept := fx.Answers[:0]
	for _, a := range fx.Answers {
		if a.Role != role {
			kept = append(kept, a)
		}
	}
	fx.Answers = kept
	fx.Server, fx.Captured = c.GetServerVersion(), time.Now().UTC().Format(time.DateOnly)
	for _, q := range Queries {
		fx.Answers = append(fx.Answers, capture(c, role, q))
	}
	data, err := json.MarshalIndent(fx, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(out, append(data, '\n'), 0o644)
}

func capture(c *client.Conn, role, q string) Answer {
	a := Answer{Role: role, Query: q}
	r, err := c.Execute(q)
	if err != nil {
		a.Error = err.Error()
		return a
	}
	defer r.Close()
	if r.Resultset == nil {
		return a
	}
	for _, f := range r.Fields {
		a.Fields = append(a.Fields, Field{Name: string(f.Name), Type: f.Type, Flag: f.Flag, Charset: f.Charset,
			Length: f.ColumnLength, Decimals: f.Decimal})
	}
	for i := range r.Values {
		var row []*string
		for j := range r.Fields {
			v := r.Values[i][j]
			if v.Type == mysql.FieldValueTypeNull {
				row = append(row, nil)
				continue
			}
			s := v.String() // numbers
			if v.Type == mysql.FieldValueTypeString {
				s = string(v.AsString())
			}
			row = append(row, &s)
		}
		a.Rows = append(a.Rows, row)
	}
	return a
}
