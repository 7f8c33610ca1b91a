package binlog

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
)

// benchBinlog writes a binlog of about size bytes: the FDE of the captured
// master binlog, then its transactions (ROW events including the 2000-row
// one, DDL) repeated.
func benchBinlog(tb testing.TB, size int) (string, int) {
	tb.Helper()
	f, err := os.Open(fixture("mysql-bin.000001"))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var head, body bytes.Buffer
	head.Write(Magic)
	sc := NewScanner(f, ScanOptions{})
	var sp Splitter
	for sc.Next() {
		ev := sc.Event()
		res, err := sp.Step("", ev)
		if err != nil {
			tb.Fatal(err)
		}
		switch {
		case ev.Type == FormatDescriptionEvent:
			head.Write(ev.Raw)
		case res.Kind != Outside:
			body.Write(ev.Raw)
		}
	}
	if sc.Err() != nil || body.Len() == 0 {
		tb.Fatalf("read fixture: %v", sc.Err())
	}
	out := head.Bytes()
	for len(out) < size {
		out = append(out, body.Bytes()...)
	}
	p := filepath.Join(tb.TempDir(), "bench-bin.000001")
	if err := os.WriteFile(p, out, 0o600); err != nil {
		tb.Fatal(err)
	}
	return p, len(out)
}

// BenchmarkScan measures ScanSource (header parsing, CRC32 verification,
// transaction splitting) on a 32 MiB binlog file. Target: >= 300 MB/s.
func BenchmarkScan(b *testing.B) {
	path, size := benchBinlog(b, 32<<20)
	b.SetBytes(int64(size))
	b.ResetTimer()
	for b.Loop() {
		sum, err := ScanSource(context.Background(), FileSource(path), ScanOptions{})
		if err != nil || sum.LastEventEnd != int64(size) {
			b.Fatalf("scan: %v, end %d of %d", err, sum.LastEventEnd, size)
		}
	}
}

// TestScanThroughput guards the benchmark's fixture: the generated file
// scans whole, with every transaction complete.
func TestScanThroughput(t *testing.T) {
	path, size := benchBinlog(t, 2<<20)
	sum, err := ScanSource(context.Background(), FileSource(path), ScanOptions{})
	if err != nil || sum.LastEventEnd != int64(size) || sum.Incomplete != nil || sum.Trxs < 100 {
		t.Fatalf("scan: %v, %+v", err, sum)
	}
}
