package binlog

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// extractRun is one Extract call: its output and summary.
type extractRun struct {
	out []byte
	sum ExtractSummary
	err error
}

// extractBuffered extracts into a bytes.Buffer, which cannot be cut back:
// each transaction is held in memory until it is complete.
func extractBuffered(t *testing.T, src []Source, start Pos, opts ExtractOptions) extractRun {
	t.Helper()
	var buf bytes.Buffer
	sum, err := Extract(context.Background(), &buf, src, start, opts)
	return extractRun{out: buf.Bytes(), sum: sum, err: err}
}

// extractStreamed extracts into an *os.File, streaming transactions through
// a buffer of flushAt bytes (0: the default), and returns the file's bytes.
func extractStreamed(t *testing.T, src []Source, start Pos, opts ExtractOptions, flushAt int) extractRun {
	t.Helper()
	p := filepath.Join(t.TempDir(), "streamed.binlog")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	opts.flushAt = flushAt
	sum, err := Extract(context.Background(), f, src, start, opts)
	if cerr := f.Close(); cerr != nil {
		t.Fatal(cerr)
	}
	out, rerr := os.ReadFile(p)
	if rerr != nil {
		t.Fatal(rerr)
	}
	return extractRun{out: out, sum: sum, err: err}
}

// streamedSource opens a local file as a stream: Extract reads it from its
// first byte, as it always did, whatever the start offset.
func streamedSource(path string) Source {
	return Source{Name: filepath.Base(path), Open: func(context.Context) (io.ReadCloser, error) { return os.Open(path) }}
}

// eventAfterGTID returns the n-th event after the GTID event of gtid in a
// fixture file (n = 0: the GTID event itself).
func eventAfterGTID(t *testing.T, path, gtid string, n int) Event {
	t.Helper()
	evs := allEvents(t, path)
	for i, ev := range evs {
		if ev.Type != MariadbGTIDEvent {
			continue
		}
		g, err := DecodeMariadbGTID(&ev)
		if err != nil {
			t.Fatal(err)
		}
		if g.GTID.String() == gtid && i+n < len(evs) {
			return evs[i+n]
		}
	}
	t.Fatalf("no event %d after %s in %s", n, gtid, path)
	return Event{}
}

// TestExtractStreamedSameAsBuffered: streaming into a file, with the
// default buffer and with every event written at once (so that every
// transaction not written is truncated away), gives the bytes and summary
// of the in-memory extraction.
func TestExtractStreamedSameAsBuffered(t *testing.T) {
	masters := FileSources(fixturePaths(masterBinlogs...)...)
	relays := FileSources(fixturePaths(relayLogs(t)...)...)
	lastXID := lastEventOfType(t, "mysql-bin.000002", XIDEvent)
	trx10 := eventAfterGTID(t, fixture("relay-bin.000002"), "0-231-10", 0)
	inTrx10 := eventAfterGTID(t, fixture("relay-bin.000002"), "0-231-10", 2)
	relayCut := []Source{relays[0], FileSource(copyToTemp(t, "relay-bin.000002", inTrx10.Offset)), FileSource(fixture("relay-bin.000006"))}
	rp, err := FindRelayPos(context.Background(), relays, Pos{File: "mysql-bin.000001", Offset: 1925}, RelayOptions{})
	if err != nil {
		t.Fatal(err)
	}
	first := Pos{File: "mysql-bin.000001", Offset: 4}
	stopped := func(s ExtractSummary) bool { return s.Stopped }
	relayLog := func(s ExtractSummary) bool { return s.RelayLog }
	firstIs := func(gtid string) func(ExtractSummary) bool {
		return func(s ExtractSummary) bool { return len(s.Trxs) > 0 && s.Trxs[0].GTID == gtid }
	}
	dropped10 := func(s ExtractSummary) bool { return len(s.Dropped) == 1 && s.Dropped[0].GTID == "0-231-10" }
	cases := []struct {
		name  string
		src   []Source
		start Pos
		opts  ExtractOptions
		shows func(ExtractSummary) bool // the summary shows the case happened
		why   string
	}{
		{"master binlogs", masters, first, ExtractOptions{}, func(s ExtractSummary) bool { return len(s.Trxs) == 29 },
			"every transaction written, across a FLUSH BINARY LOGS"},
		{"start inside a transaction", masters, Pos{File: "mysql-bin.000001", Offset: 1742}, ExtractOptions{}, func(s ExtractSummary) bool { return s.SkippedLeading > 0 },
			"leading events skipped"},
		{"incomplete tail", []Source{masters[0], FileSource(copyToTemp(t, "mysql-bin.000002", lastXID.Offset+22))}, first, ExtractOptions{},
			func(s ExtractSummary) bool { return s.Incomplete != nil }, "the last transaction is cut off after it was written"},
		{"until gtid", masters, first, ExtractOptions{UntilGTID: "0-231-12"}, stopped, "stop after a transaction kept"},
		{"until mid-transaction", masters, first, ExtractOptions{Until: Pos{File: "mysql-bin.000001", Offset: 1930}}, stopped, "a transaction past the limit is cut off"},
		{"until before the first transaction", masters, first, ExtractOptions{Until: Pos{File: "mysql-bin.000001", Offset: 400}},
			func(s ExtractSummary) bool { return s.Stopped && len(s.Trxs) == 0 }, "the header that went out with the first transaction is cut off too, and written again at the end"},
		{"relay logs from a master position", relays, Pos(rp), ExtractOptions{}, relayLog, "the master's FDE heads the output"},
		{"relay logs whole", relays, Pos{File: "relay-bin.000001", Offset: 4}, ExtractOptions{}, relayLog, "the 2000-row transaction spans three relay logs"},
		{"relay FDE changes in the first transaction", relays, Pos{File: "relay-bin.000002", Offset: trx10.Offset},
			ExtractOptions{}, firstIs("0-231-10"), "the master FDE repeated by the relay log rotation has no create time: the header is rewritten in place"},
		{"relay dropped transaction", relayCut, Pos{File: "relay-bin.000001", Offset: 4}, ExtractOptions{}, dropped10, "0-231-10 is cut off by 0-231-11 after it was written"},
		{"relay dropped first transaction", relayCut, Pos{File: "relay-bin.000002", Offset: trx10.Offset}, ExtractOptions{},
			func(s ExtractSummary) bool { return dropped10(s) && firstIs("0-231-11")(s) }, "the header goes with the dropped transaction"},
		{"relay until inside a long transaction", relays, Pos{File: "relay-bin.000001", Offset: 4}, ExtractOptions{Until: Pos{File: "mysql-bin.000001", Offset: 24300}},
			func(s ExtractSummary) bool { return s.Stopped && s.GTIDs()[len(s.Trxs)-1] == "0-231-9" }, "20 KiB written then cut off"},
		{"skip", masters, first, ExtractOptions{Skip: func(s TrxStart) bool { return s.GTID <= "0-231-20" }},
			func(s ExtractSummary) bool { return len(s.Skipped) > 0 && len(s.Trxs) > 0 }, "skipped transactions are never written"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := extractBuffered(t, c.src, c.start, c.opts)
			if want.err != nil {
				t.Fatalf("buffered: %v", want.err)
			}
			for _, flushAt := range []int{0, 1} {
				got := extractStreamed(t, c.src, c.start, c.opts, flushAt)
				if got.err != nil {
					t.Fatalf("streamed (buffer %d): %v", flushAt, got.err)
				}
				if !bytes.Equal(got.out, want.out) {
					t.Errorf("streamed (buffer %d): %d bytes differ from the %d buffered ones (%s)", flushAt, len(got.out), len(want.out), c.why)
				}
				if !reflect.DeepEqual(got.sum, want.sum) {
					t.Errorf("streamed (buffer %d) summary\n got %+v\nwant %+v", flushAt, got.sum, want.sum)
				}
			}
			if !c.shows(want.sum) {
				t.Errorf("summary %+v does not show the case: %s", want.sum, c.why)
			}
			if int64(len(want.out)) != want.sum.Bytes {
				t.Errorf("%d bytes written, summary says %d", len(want.out), want.sum.Bytes)
			}
		})
	}
}

// TestExtractRelayHeaderRewritten guards the case above: the FDE known when
// 0-231-10 begins differs from the one known when it ends (same size).
func TestExtractRelayHeaderRewritten(t *testing.T) {
	var fdes [][]byte
	for _, n := range []string{"relay-bin.000002", "relay-bin.000004"} {
		for _, ev := range allEvents(t, fixture(n)) {
			if ev.Type == FormatDescriptionEvent && ev.Flags&FlagRelayLog == 0 {
				f, err := decodeFDE(ev.Raw)
				if err != nil {
					t.Fatal(err)
				}
				fdes = append(fdes, CleanFDE(f))
			}
		}
	}
	if len(fdes) != 2 || bytes.Equal(fdes[0], fdes[1]) || len(fdes[0]) != len(fdes[1]) {
		t.Fatalf("master FDEs of relay-bin.000002 and 000004: want two of one size that differ")
	}
	start := eventAfterGTID(t, fixture("relay-bin.000002"), "0-231-10", 0)
	got := extractStreamed(t, FileSources(fixturePaths(relayLogs(t)...)...), Pos{File: "relay-bin.000002", Offset: start.Offset}, ExtractOptions{}, 1)
	if got.err != nil || !bytes.Equal(got.out[len(Magic):len(Magic)+len(fdes[1])], fdes[1]) {
		t.Errorf("header is not the FDE known at the end of the first transaction (err %v)", got.err)
	}
	if ids := got.sum.GTIDs(); len(ids) == 0 || ids[0] != "0-231-10" {
		t.Errorf("first transaction %v, want 0-231-10", got.sum.GTIDs())
	}
}
