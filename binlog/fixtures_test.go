package binlog

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// fixtureDir holds the files made by testdata/binlog/capture.sh.
const fixtureDir = "../testdata/binlog"

var masterBinlogs = []string{"mysql-bin.000001", "mysql-bin.000002"}

// slaveStatus is testdata/binlog/slave_status.json: the replica's SHOW SLAVE
// STATUS after it applied everything it received.
type slaveStatus struct {
	MasterLogFile       string `json:"Master_Log_File"`
	ReadMasterLogPos    int64  `json:"Read_Master_Log_Pos"`
	RelayLogFile        string `json:"Relay_Log_File"`
	RelayLogPos         int64  `json:"Relay_Log_Pos"`
	RelayMasterLogFile  string `json:"Relay_Master_Log_File"`
	ExecMasterLogPos    int64  `json:"Exec_Master_Log_Pos"`
	GtidIOPos           string `json:"Gtid_IO_Pos"`
	ReplicaServerID     uint32 `json:"Replica_Server_Id"`
	MasterGtidBinlogPos string `json:"Master_Gtid_Binlog_Pos"`
}

func fixture(name string) string { return filepath.Join(fixtureDir, name) }

func loadSlaveStatus(t *testing.T) slaveStatus {
	t.Helper()
	b, err := os.ReadFile(fixture("slave_status.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st slaveStatus
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// relayLogs reads relay-bin.index: the relay logs, oldest first.
func relayLogs(t *testing.T) []string {
	t.Helper()
	f, err := os.Open(fixture("relay-bin.index"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var names []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			names = append(names, filepath.Base(line))
		}
	}
	if len(names) < 3 {
		t.Fatalf("relay-bin.index lists %d files", len(names))
	}
	return names
}

func fixturePaths(names ...string) []string {
	p := make([]string, len(names))
	for i, n := range names {
		p[i] = fixture(n)
	}
	return p
}

// masterChecksums reads master_checksums.txt: "db.table checksum" lines
// taken on the master just before it was killed.
func masterChecksums(t *testing.T) map[string]uint64 {
	t.Helper()
	b, err := os.ReadFile(fixture("master_checksums.txt"))
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]uint64{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			t.Fatalf("bad checksum line %q", line)
		}
		v, err := strconv.ParseUint(f[1], 10, 64)
		if err != nil {
			t.Fatalf("bad checksum line %q", line)
		}
		m[f[0]] = v
	}
	return m
}

// copyToTemp copies a fixture into a temp dir, cut to size bytes (-1: whole).
func copyToTemp(t *testing.T, name string, size int64) string {
	t.Helper()
	b, err := os.ReadFile(fixture(name))
	if err != nil {
		t.Fatal(err)
	}
	if size >= 0 {
		b = b[:size]
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// allEvents scans a file and returns copies of its events' headers.
func allEvents(t *testing.T, path string) []Event {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := NewScanner(f, ScanOptions{Name: filepath.Base(path)})
	var evs []Event
	for sc.Next() {
		ev := *sc.Event()
		ev.Raw = append([]byte(nil), ev.Raw...)
		evs = append(evs, ev)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("scan %s: %v", path, err)
	}
	return evs
}
