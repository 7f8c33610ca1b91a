package binlog

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// bigTrxName is the file name of the synthetic binlog of bigTrxBinlog.
const bigTrxName = "big-bin.000001"

// bigTrx describes the binlog written by bigTrxBinlog.
type bigTrx struct {
	path     string // the complete binlog
	cut      string // the same without the XID: the transaction is incomplete
	size     int64  // size of path
	trxBytes int64  // size of the transaction
	endPos   uint32 // end_log_pos of its XID
	xidSize  int64
}

// bigTrxBinlog writes a binlog holding one ROW transaction of at least size
// bytes: the magic and FDE of the captured mysql-bin.000001, the GTID event
// of its 2000-row transaction (0-231-10), that transaction's Annotate_rows,
// Table_map and Write_rows events repeated (each repetition a complete
// statement ending with STMT_END_F, the events verbatim so their CRCs hold),
// and its XID. It is written through a small buffer: the test's own heap
// stays small too.
func bigTrxBinlog(tb testing.TB, size int64) bigTrx {
	tb.Helper()
	var sp Splitter
	var fde []byte
	var trx [][]byte
	f, err := os.Open(fixture("mysql-bin.000001"))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	sc := NewScanner(f, ScanOptions{})
	for sc.Next() {
		ev := sc.Event()
		res, err := sp.Step("", ev)
		switch {
		case err != nil:
			tb.Fatal(err)
		case ev.Type == FormatDescriptionEvent:
			fde = append([]byte(nil), ev.Raw...)
		case res.Kind == Begin:
			trx = [][]byte{append([]byte(nil), ev.Raw...)}
		case res.Kind != Outside:
			trx = append(trx, append([]byte(nil), ev.Raw...))
		}
		if res.Kind == End && res.Trx.GTID == "0-231-10" {
			break
		}
	}
	if sc.Err() != nil || len(trx) < 4 || trx[1][4] != byte(AnnotateRowsEvent) {
		tb.Fatalf("fixture transaction 0-231-10: %d events, err %v", len(trx), sc.Err())
	}
	b := bigTrx{path: filepath.Join(tb.TempDir(), bigTrxName)}
	b.cut = filepath.Join(tb.TempDir(), bigTrxName)
	xid := trx[len(trx)-1]
	b.xidSize = int64(len(xid))
	b.endPos = parseHeader(xid).LogPos
	head := append(append(append([]byte(nil), Magic...), fde...), trx[0]...)
	body := bytes.Join(trx[1:len(trx)-1], nil)
	for _, p := range []string{b.cut, b.path} {
		out, err := os.Create(p)
		if err != nil {
			tb.Fatal(err)
		}
		w := bufio.NewWriterSize(out, 1<<20)
		n, _ := w.Write(head)
		for int64(n) < size {
			m, _ := w.Write(body)
			n += m
		}
		if p == b.path {
			m, _ := w.Write(xid)
			n += m
		}
		if err := w.Flush(); err != nil {
			tb.Fatal(err)
		}
		if err := out.Close(); err != nil {
			tb.Fatal(err)
		}
		b.size = int64(n)
	}
	b.trxBytes = b.size - int64(len(Magic)+len(fde))
	return b
}

// allocDuring runs f and returns the bytes the Go heap allocated meanwhile
// and the peak growth of HeapInuse, sampled every millisecond.
func allocDuring(f func()) (total, peak uint64) {
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	stop, done := make(chan struct{}), make(chan uint64)
	go func() {
		var ms runtime.MemStats
		var max uint64
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&ms)
			max = maxUint(max, ms.HeapInuse)
			select {
			case <-stop:
				done <- max
				return
			case <-tick.C:
			}
		}
	}()
	f()
	close(stop)
	max := <-done
	runtime.ReadMemStats(&after)
	if max > before.HeapInuse {
		peak = max - before.HeapInuse
	}
	return after.TotalAlloc - before.TotalAlloc, peak
}

func maxUint(a, b uint64) uint64 {
	if a > b {
		return a
	}
	return b
}

func fileHash(t *testing.T, path string) [32]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return sum
}

// TestExtractBigTransactionMemory extracts one 128 MiB transaction into an
// *os.File: whether it is written, cut off or skipped, the heap allocated
// stays a small fraction of its size.
func TestExtractBigTransactionMemory(t *testing.T) {
	const size = 128 << 20
	const limit = 16 << 20
	big := bigTrxBinlog(t, size)
	start := Pos{File: bigTrxName, Offset: 4}
	header := int64(len(Magic)) + 252
	cases := []struct {
		name  string
		path  string
		opts  ExtractOptions
		out   int64 // output size
		check func(ExtractSummary) bool
		why   string
	}{
		{"written", big.path, ExtractOptions{}, big.size,
			func(s ExtractSummary) bool { return len(s.Trxs) == 1 && s.Trxs[0].Bytes == big.trxBytes },
			"streamed to the file as it is read"},
		{"incomplete", big.cut, ExtractOptions{}, header,
			func(s ExtractSummary) bool {
				return s.Incomplete != nil && s.Incomplete.Bytes == big.trxBytes-big.xidSize
			},
			"written, then truncated away at the end of the source"},
		{"beyond until", big.path, ExtractOptions{Until: Pos{File: bigTrxName, Offset: int64(big.endPos) - 1}}, header,
			func(s ExtractSummary) bool { return s.Stopped && len(s.Trxs) == 0 },
			"written, then truncated away at its XID"},
		{"skipped", big.path, ExtractOptions{Skip: func(TrxStart) bool { return true }}, header,
			func(s ExtractSummary) bool { return len(s.Skipped) == 1 && s.Skipped[0].Bytes == big.trxBytes },
			"read, never written nor held"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.binlog")
			f, err := os.Create(out)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			var sum ExtractSummary
			total, peak := allocDuring(func() {
				sum, err = Extract(context.Background(), f, []Source{{Name: bigTrxName, Path: c.path}}, start, c.opts)
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%d MiB transaction %s: %.1f MiB allocated, heap in use peaked %.1f MiB above the start",
				big.trxBytes>>20, c.name, float64(total)/(1<<20), float64(peak)/(1<<20))
			if total > limit {
				t.Errorf("%d MiB allocated, want < %d MiB (%s)", total>>20, limit>>20, c.why)
			}
			if fi, err := f.Stat(); err != nil || fi.Size() != c.out || sum.Bytes != c.out {
				t.Errorf("output of %d bytes (summary %d), want %d (%s)", fileSize(t, out), sum.Bytes, c.out, c.why)
			}
			if !c.check(sum) {
				t.Errorf("summary %+v (%s)", sum, c.why)
			}
			if c.out == big.size && fileHash(t, out) != fileHash(t, c.path) {
				t.Error("output differs from the source (same FDE, same single transaction)")
			}
		})
	}
}

// BenchmarkExtractBigTransaction extracts one 128 MiB transaction into a
// file: streamed (an *os.File) and buffered (a writer that cannot be cut
// back, so the transaction is held in memory). B/op is the heap each costs.
func BenchmarkExtractBigTransaction(b *testing.B) {
	big := bigTrxBinlog(b, 128<<20)
	src := []Source{{Name: bigTrxName, Path: big.path}}
	for _, mode := range []string{"streamed", "buffered"} {
		b.Run(mode, func(b *testing.B) {
			f, err := os.Create(filepath.Join(b.TempDir(), "out.binlog"))
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			var w io.Writer = f
			if mode == "buffered" {
				w = struct{ io.Writer }{f}
			}
			b.SetBytes(big.size)
			b.ReportAllocs()
			for b.Loop() {
				if err := f.Truncate(0); err != nil {
					b.Fatal(err)
				}
				if _, err := f.Seek(0, io.SeekStart); err != nil {
					b.Fatal(err)
				}
				sum, err := Extract(context.Background(), w, src, Pos{File: bigTrxName, Offset: 4}, ExtractOptions{})
				if err != nil || sum.Bytes != big.size {
					b.Fatalf("extract: %v, %d of %d bytes", err, sum.Bytes, big.size)
				}
			}
		})
	}
}
