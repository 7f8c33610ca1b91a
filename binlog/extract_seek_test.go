package binlog

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// headEnd returns the offset right after the header events of a binlog
// and the 19-byte header of the event that follows them: all of the head
// of the file that Extract reads when it seeks.
func headEnd(t *testing.T, path string) int64 {
	t.Helper()
	for _, ev := range allEvents(t, path) {
		if !isOutside(ev.Type) {
			return ev.Offset + HeaderSize
		}
	}
	t.Fatalf("%s has no transaction", path)
	return 0
}

// sparseCopy copies a binlog as the file manager does: its first head
// bytes, then the bytes from offset from on at their true offsets, leaving
// a hole of zeros in between. cut >= 0 ends the copy there.
func sparseCopy(t *testing.T, path string, head, from, cut int64) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if cut >= 0 {
		b = b[:cut]
	}
	p := filepath.Join(t.TempDir(), filepath.Base(path))
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(b[:min(head, int64(len(b)))]); err != nil {
		t.Fatal(err)
	}
	if from < int64(len(b)) {
		if _, err := f.WriteAt(b[from:], from); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Truncate(int64(len(b))); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestExtractSeekStart starts in the middle of a sparse copy of a binlog:
// Extract reads its header events, seeks to the start and gives what a full
// scan of the whole file gives; a start that is not an event boundary is
// refused with ErrNotBoundary.
func TestExtractSeekStart(t *testing.T) {
	const bin1, bin2 = "mysql-bin.000001", "mysql-bin.000002"
	size1 := fileSize(t, fixture(bin1))
	cases := []struct {
		name    string
		file    string
		from    int64
		cut     int64 // end of the copy, -1: whole
		corrupt bool  // flip a byte of the event at from
		err     error // nil: same output as a full scan
		why     string
	}{
		{"transaction boundary", bin1, 1925, -1, false, nil, "the GTID event of 0-231-8"},
		{"boundary inside a transaction", bin1, 1742, -1, false, nil, "the rest of 0-231-7 is skipped as leading events"},
		{"end of the header", bin1, 328, -1, false, nil, "no hole: the first transaction follows the header"},
		{"long transaction then the next file", bin1, 3126, -1, false, nil, "0-231-10, then mysql-bin.000002 read whole"},
		{"in-use binlog", bin2, 5141, -1, false, nil, "the killed master's last transaction"},
		{"end of the file", bin1, size1, -1, false, nil, "nothing to extract: the header alone"},
		{"start event cut by the end of the file", bin2, 5141, 5141 + 30, false, nil,
			"its end_log_pos vouches for it: a truncated tail, as a full scan reports"},
		{"inside an event", bin1, 1000, -1, false, ErrNotBoundary, "in the rows of 0-231-5"},
		{"a byte past a boundary", bin1, 1926, -1, false, ErrNotBoundary, "a header of garbage"},
		{"inside the header events", bin1, 270, -1, false, ErrNotBoundary, "inside the Gtid_list event"},
		{"past the end", bin1, size1 + 10, -1, false, ErrNotBoundary, "the file ends before"},
		{"corrupt event at the start", bin1, 1925, -1, true, ErrChecksum, "a sane header whose CRC32 does not match"},
		{"garbage cut by the end of the file", bin2, 5141 + 5, 5141 + 30, false, ErrNotBoundary,
			"no CRC32 to check: its end_log_pos does not match"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sparse := sparseCopy(t, fixture(c.file), headEnd(t, fixture(c.file)), c.from, c.cut)
			if c.corrupt {
				flipByte(t, sparse, c.from+HeaderSize+1)
			}
			whole := copyToTemp(t, c.file, c.cut)
			src, ref := []Source{FileSource(sparse)}, []Source{streamedSource(whole)}
			if c.file == bin1 {
				next := FileSource(fixture(bin2))
				src, ref = append(src, next), append(ref, next)
			}
			start := Pos{File: c.file, Offset: c.from}
			got := extractBuffered(t, src, start, ExtractOptions{})
			if c.err != nil {
				if !errors.Is(got.err, ErrNotBoundary) || !errors.Is(got.err, c.err) {
					t.Errorf("err %v, want %v (%s)", got.err, c.err, c.why)
				}
				return
			}
			want := extractBuffered(t, ref, start, ExtractOptions{})
			if got.err != nil || want.err != nil {
				t.Fatalf("sparse copy: %v; full scan: %v (%s)", got.err, want.err, c.why)
			}
			if !bytes.Equal(got.out, want.out) || !reflect.DeepEqual(got.sum, want.sum) {
				t.Errorf("sparse copy gives %d bytes %+v\nfull scan %d bytes %+v (%s)", len(got.out), got.sum, len(want.out), want.sum, c.why)
			}
		})
	}
}

// TestExtractSeekLargeHole: a start 7 MiB into a binlog whose copy holds
// only its header before it.
func TestExtractSeekLargeHole(t *testing.T) {
	path, _ := benchBinlog(t, 8<<20)
	var from int64
	for _, ev := range allEvents(t, path) {
		if ev.Type == MariadbGTIDEvent && ev.Offset > 7<<20 {
			from = ev.Offset
			break
		}
	}
	sparse := sparseCopy(t, path, headEnd(t, path), from, -1)
	start := Pos{File: filepath.Base(path), Offset: from}
	got := extractBuffered(t, []Source{FileSource(sparse)}, start, ExtractOptions{})
	want := extractBuffered(t, []Source{streamedSource(path)}, start, ExtractOptions{})
	if got.err != nil || want.err != nil || len(got.sum.Trxs) == 0 {
		t.Fatalf("sparse copy: %v, %d transactions; full scan: %v", got.err, len(got.sum.Trxs), want.err)
	}
	if !bytes.Equal(got.out, want.out) || !reflect.DeepEqual(got.sum, want.sum) {
		t.Errorf("sparse copy gives %d bytes, full scan %d", len(got.out), len(want.out))
	}
}

func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b [1]byte
	if _, err := f.ReadAt(b[:], off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b[:], off); err != nil {
		t.Fatal(err)
	}
}

// guardedReader fails every read that touches the hole [from, to).
type guardedReader struct {
	r        io.ReaderAt
	from, to int64
}

func (g *guardedReader) ReadAt(p []byte, off int64) (int, error) {
	if off < g.to && off+int64(len(p)) > g.from {
		return 0, errors.New("read in the hole")
	}
	return g.r.ReadAt(p, off)
}

// TestExtractHeadReadsNoHole: reading the header of a sparse copy reads
// nothing past the header events but the header of the event after them.
func TestExtractHeadReadsNoHole(t *testing.T) {
	head := headEnd(t, fixture("mysql-bin.000001"))
	sparse := sparseCopy(t, fixture("mysql-bin.000001"), head, 3126, -1)
	f, err := os.Open(sparse)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	g := &guardedReader{r: f, from: head, to: 3126}
	x := &extractor{curName: "mysql-bin.000001"}
	fde, err := x.head(g, ScanOptions{Name: "mysql-bin.000001"}, 3126)
	if err != nil || fde == nil || fde.ServerID != 231 {
		t.Fatalf("head: %+v, %v", fde, err)
	}
	if !x.seenGTID || x.masterFile != "mysql-bin.000001" {
		t.Errorf("seen GTID %v, master file %q: want the Gtid_list seen and the file's own name", x.seenGTID, x.masterFile)
	}
}

// TestExtractSeekRelayLogReadWhole: a relay log is read from its first
// byte whatever the start (the master's Rotate events in it name the master
// file), so a sparse copy of one is refused where its hole begins: the
// file manager must copy relay logs whole.
func TestExtractSeekRelayLogReadWhole(t *testing.T) {
	start := eventAfterGTID(t, fixture("relay-bin.000002"), "0-231-10", 0)
	sparse := sparseCopy(t, fixture("relay-bin.000002"), headEnd(t, fixture("relay-bin.000002")), start.Offset, -1)
	got := extractBuffered(t, []Source{FileSource(sparse)}, Pos{File: "relay-bin.000002", Offset: start.Offset}, ExtractOptions{})
	if !errors.Is(got.err, ErrChecksum) && !errors.Is(got.err, ErrCorrupt) {
		t.Errorf("err %v, want the zeros of the hole read and refused", got.err)
	}
}

// TestScannerAt resumes a scan at an offset after the header: the events
// and their offsets are those of a full scan.
func TestScannerAt(t *testing.T) {
	all := allEvents(t, fixture("mysql-bin.000001"))
	f, err := os.Open(fixture("mysql-bin.000001"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fde, err := decodeFDE(all[0].Raw)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Seek(1925, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	sc := NewScannerAt(f, 1925, fde, ScanOptions{})
	i := 0
	for i < len(all) && all[i].Offset < 1925 {
		i++
	}
	for ; sc.Next(); i++ {
		ev := sc.Event()
		if i >= len(all) || ev.Offset != all[i].Offset || !bytes.Equal(ev.Raw, all[i].Raw) || ev.hasCRC != all[i].hasCRC {
			t.Fatalf("event at %d differs from the full scan's", ev.Offset)
		}
	}
	if sc.Err() != nil || i != len(all) || sc.FirstFDE() != fde {
		t.Errorf("%d of %d events, err %v", i, len(all), sc.Err())
	}
}
