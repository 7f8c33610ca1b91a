package binlog

import (
	"bytes"
	"context"
	"errors"
	"os"
	"testing"

	"github.com/go-mysql-org/go-mysql/replication"
)

// TestScanFixtures reads every captured file whole: offsets add up, CRCs
// verify, the killed master's last binlog carries the in-use flag, and the
// events agree with go-mysql's parser (an independent reader).
func TestScanFixtures(t *testing.T) {
	cases := []struct {
		name     string
		inUse    bool
		relayLog bool
		why      string
	}{
		{"mysql-bin.000001", false, false, "closed by FLUSH BINARY LOGS: flag cleared"},
		{"mysql-bin.000002", true, false, "open when the master was killed with SIGKILL"},
	}
	for _, n := range relayLogs(t) {
		cases = append(cases, struct {
			name     string
			inUse    bool
			relayLog bool
			why      string
		}{n, false, true, "relay log: FDE written by the replica"})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := fixture(c.name)
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			sum, err := ScanSource(context.Background(), FileSource(path), ScanOptions{})
			if err != nil {
				t.Fatalf("scan (%s): %v", c.why, err)
			}
			if sum.LastEventEnd != fi.Size() || sum.Truncated != nil {
				t.Errorf("last event ends at %d, file size %d, truncated %v", sum.LastEventEnd, fi.Size(), sum.Truncated)
			}
			if sum.InUse != c.inUse || sum.RelayLog != c.relayLog {
				t.Errorf("in use %v relay %v, want %v %v (%s)", sum.InUse, sum.RelayLog, c.inUse, c.relayLog, c.why)
			}
			if sum.FDE.Checksum != ChecksumCRC32 {
				t.Errorf("checksum alg %d, want CRC32", sum.FDE.Checksum)
			}
			evs := allEvents(t, path)
			var total int64 = int64(len(Magic))
			for _, ev := range evs {
				total += int64(ev.Size)
			}
			if total != fi.Size() {
				t.Errorf("sum of sizes + 4 = %d, file size %d", total, fi.Size())
			}
			compareWithGoMySQL(t, path, evs)
		})
	}
}

func compareWithGoMySQL(t *testing.T, path string, evs []Event) {
	t.Helper()
	p := replication.NewBinlogParser()
	p.SetFlavor("mariadb")
	p.SetVerifyChecksum(false)
	p.SetRawMode(true)
	i := 0
	err := p.ParseFile(path, 0, func(e *replication.BinlogEvent) error {
		if i >= len(evs) {
			t.Errorf("go-mysql has more events than %d", len(evs))
			return nil
		}
		h := e.Header
		if uint8(h.EventType) != uint8(evs[i].Type) || h.LogPos != evs[i].LogPos || h.EventSize != evs[i].Size || h.ServerID != evs[i].ServerID {
			t.Errorf("event %d: go-mysql %v pos %d size %d; ours type %d pos %d size %d", i, h.EventType, h.LogPos, h.EventSize, evs[i].Type, evs[i].LogPos, evs[i].Size)
		}
		i++
		return nil
	})
	if err != nil {
		t.Fatalf("go-mysql parse %s: %v", path, err)
	}
	if i != len(evs) {
		t.Errorf("go-mysql saw %d events, we saw %d", i, len(evs))
	}
}

// TestScanTruncated cuts the killed master's last binlog inside its last
// transaction, at a partial header and at a partial body, and checks that
// every complete event is kept and the last whole transaction is reported.
func TestScanTruncated(t *testing.T) {
	evs := allEvents(t, fixture("mysql-bin.000002"))
	last := evs[len(evs)-1] // XID of the transaction the replica did not get
	if last.Type != XIDEvent {
		t.Fatalf("last event type %d, want XID", last.Type)
	}
	var gtidEv Event
	for _, ev := range evs {
		if ev.Type == MariadbGTIDEvent {
			gtidEv = ev
		}
	}
	g, err := DecodeMariadbGTID(&gtidEv)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name      string
		cut       int64
		wantTrunc bool
		wantHave  int
		wantNeed  int
		why       string
	}{
		{"partial header", last.Offset + 10, true, 10, HeaderSize, "go-mysql silently ignores this case"},
		{"partial body", last.Offset + 25, true, 25, int(last.Size), "the body is cut before its checksum"},
		{"at event boundary", last.Offset, false, 0, 0, "a clean cut inside a transaction is not a truncation"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := copyToTemp(t, "mysql-bin.000002", c.cut)
			sum, err := ScanSource(context.Background(), FileSource(path), ScanOptions{})
			if err != nil {
				t.Fatalf("scan must not fail on a cut file (%s): %v", c.why, err)
			}
			if sum.LastEventEnd != last.Offset {
				t.Errorf("last complete event ends at %d, want %d", sum.LastEventEnd, last.Offset)
			}
			if sum.LastTrxEnd != gtidEv.Offset {
				t.Errorf("last transaction ends at %d, want %d (start of the cut one)", sum.LastTrxEnd, gtidEv.Offset)
			}
			if sum.Incomplete == nil || sum.Incomplete.GTID != g.GTID.String() {
				t.Errorf("incomplete trx %v, want %s", sum.Incomplete, g.GTID)
			}
			if (sum.Truncated != nil) != c.wantTrunc {
				t.Fatalf("truncated %v, want %v", sum.Truncated, c.wantTrunc)
			}
			if c.wantTrunc && (sum.Truncated.Offset != last.Offset || sum.Truncated.Have != c.wantHave || sum.Truncated.Need != c.wantNeed) {
				t.Errorf("truncation %s, want at %d %d of %d", sum.Truncated, last.Offset, c.wantHave, c.wantNeed)
			}
		})
	}
}

// TestScanCorrupt flips one byte: the CRC check must catch it after
// delivering the events before it, and SkipChecksum must let it through.
func TestScanCorrupt(t *testing.T) {
	evs := allEvents(t, fixture("mysql-bin.000001"))
	target := evs[len(evs)/2]
	b, err := os.ReadFile(fixture("mysql-bin.000001"))
	if err != nil {
		t.Fatal(err)
	}
	b[target.Offset+HeaderSize+1] ^= 0xff
	sc := NewScanner(bytes.NewReader(b), ScanOptions{Name: "corrupt"})
	n := 0
	for sc.Next() {
		n++
	}
	if !errors.Is(sc.Err(), ErrChecksum) {
		t.Fatalf("err %v, want ErrChecksum", sc.Err())
	}
	if n != len(evs)/2 || sc.Offset() != target.End() {
		t.Errorf("delivered %d events before the bad one, want %d", n, len(evs)/2)
	}
	sum, err := ScanReader(context.Background(), bytes.NewReader(b), ScanOptions{SkipChecksum: true})
	if err != nil || sum.Events != len(evs) {
		t.Errorf("SkipChecksum: %d events, err %v", sum.Events, err)
	}
}

// TestScanFDEInUseCRC: the in-use FDE's CRC was computed with the flag
// cleared (go-mysql's verification fails here); clearing the flag and
// recomputing (CleanFDE) gives a valid event too.
func TestScanFDEInUseCRC(t *testing.T) {
	evs := allEvents(t, fixture("mysql-bin.000002"))
	fde := evs[0]
	if fde.Flags&FlagInUse == 0 {
		t.Fatal("FDE lacks the in-use flag")
	}
	if crcStored := crcMatches(fde.Raw, false); crcStored {
		t.Error("CRC over the bytes as stored matches: the fixture does not show the server's behaviour")
	}
	if !crcMatches(fde.Raw, true) {
		t.Error("CRC with the in-use flag cleared does not match")
	}
	f, err := decodeFDE(fde.Raw)
	if err != nil {
		t.Fatal(err)
	}
	clean := CleanFDE(f)
	if !crcMatches(clean, false) || clean[flagsOffset]&byte(FlagInUse) != 0 {
		t.Error("CleanFDE: flag still set or CRC wrong")
	}
	if f.ServerID != 231 || f.ServerVersion == "" || !f.InUse() {
		t.Errorf("decoded FDE %+v", f)
	}
}

// TestScanBadMagic: a file that is not a binlog is an error, not zero events.
func TestScanBadMagic(t *testing.T) {
	for _, in := range []string{"", "\xfeb", "GIF89a..."} {
		sc := NewScanner(bytes.NewReader([]byte(in)), ScanOptions{Name: "x"})
		if sc.Next() || !errors.Is(sc.Err(), ErrBadMagic) {
			t.Errorf("%q: err %v, want ErrBadMagic", in, sc.Err())
		}
	}
}

// TestScanSmallBuffer reads with a buffer smaller than the large row
// events, exercising the separate large-event path.
func TestScanSmallBuffer(t *testing.T) {
	want := allEvents(t, fixture("mysql-bin.000001"))
	f, err := os.Open(fixture("mysql-bin.000001"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := NewScanner(f, ScanOptions{BufferSize: 64})
	i := 0
	for sc.Next() {
		if !bytes.Equal(sc.Event().Raw, want[i].Raw) {
			t.Fatalf("event %d differs", i)
		}
		i++
	}
	if sc.Err() != nil || i != len(want) {
		t.Fatalf("%d events, err %v", i, sc.Err())
	}
}
