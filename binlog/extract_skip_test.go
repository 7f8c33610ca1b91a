package binlog

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func trxGTIDs(ts []TrxInfo) []string {
	var ids []string
	for _, t := range ts {
		ids = append(ids, t.GTID)
	}
	return ids
}

// TestExtractSkip leaves out what a target already has, by GTID and by
// master coordinates: the skipped transactions are listed in Skipped, not in
// Trxs, and the output still parses.
func TestExtractSkip(t *testing.T) {
	all := masterGTIDs(t)
	masters := FileSources(fixturePaths(masterBinlogs...)...)
	relays := FileSources(fixturePaths(relayLogs(t)...)...)
	executed := Pos{File: "mysql-bin.000001", Offset: 1925} // end of 0-231-7
	has := map[string]bool{"0-231-1": true, "0-231-2": true, "0-231-3": true, "7-231-1": true}
	byGTID := func(s TrxStart) bool { return has[s.GTID] }
	without := func(ids []string, drop map[string]bool) []string {
		return slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return drop[id] })
	}
	i7 := slices.Index(all, "0-231-7")
	cases := []struct {
		name        string
		src         []Source
		start       Pos
		opts        ExtractOptions
		wantTrxs    []string
		wantSkipped []string
		why         string
	}{
		{"gtids the target has", masters, Pos{File: "mysql-bin.000001", Offset: 4}, ExtractOptions{Skip: byGTID},
			without(all, has), []string{"0-231-1", "0-231-2", "0-231-3", "7-231-1"},
			"a GTID set, another domain included"},
		{"before the executed master position", relays, Pos{File: "relay-bin.000001", Offset: 4},
			ExtractOptions{Skip: func(s TrxStart) bool { return s.Master.Compare(executed) < 0 }},
			all[i7+1 : len(all)-1], all[:i7+1], "relay logs from their start: the master coordinates are followed through its Rotates"},
		{"until a skipped gtid", masters, Pos{File: "mysql-bin.000001", Offset: 4}, ExtractOptions{Skip: byGTID, UntilGTID: "0-231-3"},
			nil, []string{"0-231-1", "0-231-2", "0-231-3"}, "a skipped transaction still stops the extraction"},
		{"everything", masters, Pos{File: "mysql-bin.000001", Offset: 4}, ExtractOptions{Skip: func(TrxStart) bool { return true }},
			nil, all, "the output is the header alone"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var starts []TrxStart
			skip := c.opts.Skip
			c.opts.Skip = func(s TrxStart) bool {
				starts = append(starts, s)
				return skip(s)
			}
			out, sum := extractToFile(t, c.src, c.start, c.opts)
			checkExtracted(t, out, sum, c.wantTrxs, 231)
			if got := trxGTIDs(sum.Skipped); !slices.Equal(got, c.wantSkipped) {
				t.Errorf("skipped\n got %v\nwant %v (%s)", got, c.wantSkipped, c.why)
			}
			if n := len(sum.Trxs) + len(sum.Skipped) + len(sum.Dropped); len(starts) != n && (sum.Incomplete == nil || len(starts) != n+1) {
				t.Errorf("Skip asked %d times for %d transactions", len(starts), n)
			}
			if c.opts.UntilGTID != "" && !sum.Stopped {
				t.Errorf("not stopped at %s", c.opts.UntilGTID)
			}
		})
	}
}

// TestExtractSkipMasterStart: Skip is told where each transaction begins in
// master coordinates, the position FirstMaster reports for the first one
// written, in the master's binlogs and in the replica's relay logs alike.
func TestExtractSkipMasterStart(t *testing.T) {
	executed := Pos{File: "mysql-bin.000001", Offset: 1925}
	for _, src := range [][]Source{
		FileSources(fixturePaths(masterBinlogs...)...),
		FileSources(fixturePaths(relayLogs(t)...)...),
	} {
		var first *TrxStart
		skip := func(s TrxStart) bool {
			if s.Master.Compare(executed) < 0 {
				return true
			}
			if first == nil {
				first = &s
			}
			return false
		}
		_, sum := extractToFile(t, src, Pos{File: src[0].name(), Offset: 4}, ExtractOptions{Skip: skip})
		if first == nil || first.GTID != "0-231-8" || first.Master != executed || sum.FirstMaster != executed {
			t.Errorf("%s: first kept %+v, first master %s: want 0-231-8 at %s", src[0].name(), first, sum.FirstMaster, executed)
		}
		if n := len(sum.Skipped); n != 7 || sum.Skipped[n-1].Master != executed {
			t.Errorf("%s: skipped %+v, want 7 ending at %s", src[0].name(), sum.Skipped, executed)
		}
	}
}

// beginQuery returns a Query event "BEGIN" with a CRC32, as a server
// without GTIDs writes it ahead of a transaction.
func beginQuery(serverID, logPos uint32) []byte {
	body := make([]byte, 13, 13+1+5)
	body = append(body, 0) // empty db name
	body = append(body, "BEGIN"...)
	raw := make([]byte, HeaderSize, HeaderSize+len(body)+crcSize)
	raw[4] = byte(QueryEvent)
	binary.LittleEndian.PutUint32(raw[5:], serverID)
	binary.LittleEndian.PutUint32(raw[9:], uint32(HeaderSize+len(body)+crcSize))
	binary.LittleEndian.PutUint32(raw[logPosOffset:], logPos)
	raw = append(raw, body...)
	return binary.LittleEndian.AppendUint32(raw, crc32.ChecksumIEEE(raw))
}

// TestExtractWithoutGTIDs: mysql-bin.000002 as a server without GTIDs
// would write it (each GTID event replaced by a BEGIN, or dropped before a
// standalone DDL), where a statement outside BEGIN...COMMIT is a
// transaction of one event, ended by the event that begins it. Each
// transaction is written once, with the checksum setting and the master
// start of its own first event.
func TestExtractWithoutGTIDs(t *testing.T) {
	var in, want bytes.Buffer
	in.Write(Magic)
	add := func(raw []byte, written bool) {
		in.Write(raw)
		if written {
			want.Write(raw)
		}
	}
	for _, ev := range allEvents(t, fixture("mysql-bin.000002")) {
		switch ev.Type {
		case MariadbGTIDListEvent, BinlogCheckpointEvent:
		case MariadbGTIDEvent:
			g, err := DecodeMariadbGTID(&ev)
			if err != nil {
				t.Fatal(err)
			}
			if !g.Standalone() {
				add(beginQuery(ev.ServerID, ev.LogPos), true)
			}
		default:
			add(ev.Raw, !isOutside(ev.Type))
		}
	}
	p := filepath.Join(t.TempDir(), "mysql-bin.000002")
	if err := os.WriteFile(p, in.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	fs, err := ScanSource(context.Background(), FileSource(p), ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var starts []TrxStart
	skip := func(s TrxStart) bool { starts = append(starts, s); return false }
	out, sum := extractToFile(t, []Source{FileSource(p)}, Pos{File: "mysql-bin.000002", Offset: 4}, ExtractOptions{Skip: skip})
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if header := len(Magic) + 252; len(b) < header || !bytes.Equal(b[header:], want.Bytes()) {
		t.Errorf("output of %d bytes, want the header and the %d bytes of the events", len(b), want.Len())
	}
	if len(sum.Trxs) != fs.Trxs || len(starts) != fs.Trxs {
		t.Errorf("%d transactions written, Skip asked %d times, want %d", len(sum.Trxs), len(starts), fs.Trxs)
	}
	if len(starts) > 0 && (starts[0].GTID != "" || starts[0].Master != (Pos{File: "mysql-bin.000002", Offset: 427})) {
		t.Errorf("first start %+v, want the first statement at mysql-bin.000002:427", starts[0])
	}
	mariadbBinlogReads(t, out)
}
