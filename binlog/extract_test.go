package binlog

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// masterGTIDs lists the GTIDs of the master's binlogs in order.
func masterGTIDs(t *testing.T) []string {
	t.Helper()
	var ids []string
	for _, n := range masterBinlogs {
		for _, ev := range allEvents(t, fixture(n)) {
			if ev.Type == MariadbGTIDEvent {
				g, err := DecodeMariadbGTID(&ev)
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, g.GTID.String())
			}
		}
	}
	return ids
}

func extractToFile(t *testing.T, src []Source, start Pos, opts ExtractOptions) (string, ExtractSummary) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "extract.binlog")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := Extract(context.Background(), f, src, start, opts)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatalf("extract from %s: %v", start, err)
	}
	return out, sum
}

// checkExtracted scans the output (CRCs, no in-use flag, GTIDs) and has
// mariadb-binlog read it.
func checkExtracted(t *testing.T, path string, sum ExtractSummary, wantGTIDs []string, wantFDEServer uint32) {
	t.Helper()
	fs, err := ScanSource(context.Background(), FileSource(path), ScanOptions{})
	if err != nil {
		t.Fatalf("scan extracted: %v", err)
	}
	fi, _ := os.Stat(path)
	if fs.InUse || fs.RelayLog || fs.Truncated != nil || fs.Incomplete != nil || fs.LastEventEnd != fi.Size() || sum.Bytes != fi.Size() {
		t.Errorf("extracted file: %+v, size %d, summary bytes %d", fs, fi.Size(), sum.Bytes)
	}
	if fs.FDE.ServerID != wantFDEServer {
		t.Errorf("FDE from server %d, want the master's %d", fs.FDE.ServerID, wantFDEServer)
	}
	if got := sum.GTIDs(); !slices.Equal(got, wantGTIDs) {
		t.Errorf("GTIDs written\n got %v\nwant %v", got, wantGTIDs)
	}
	if fs.Trxs != len(wantGTIDs) {
		t.Errorf("extracted file holds %d transactions, want %d", fs.Trxs, len(wantGTIDs))
	}
	mariadbBinlogReads(t, path)
}

func mariadbBinlogReads(t *testing.T, path string) {
	t.Helper()
	bin, err := exec.LookPath("mariadb-binlog")
	if err != nil {
		needBinary(t, "mariadb-binlog")
		return
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, "--no-defaults", path)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil || stderr.Len() > 0 {
		t.Errorf("mariadb-binlog %s: %v: %s", path, err, stderr.String())
	}
	if strings.Contains(stdout.String(), "not closed properly") {
		t.Errorf("mariadb-binlog sees the in-use flag in %s", path)
	}
	if !strings.Contains(stdout.String(), "End of log file") {
		t.Errorf("mariadb-binlog did not reach the end of %s", path)
	}
}

// needBinary fails in CI and skips elsewhere when a tool is missing.
func needBinary(t *testing.T, name string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not installed", name)
	}
	t.Skipf("%s is not installed", name)
}

// TestExtractMasterBinlogs: everything from the start of the first binlog,
// across the FLUSH BINARY LOGS, to the end of the killed master's last file.
func TestExtractMasterBinlogs(t *testing.T) {
	src := FileSources(fixturePaths(masterBinlogs...)...)
	out, sum := extractToFile(t, src, Pos{File: "mysql-bin.000001", Offset: 4}, ExtractOptions{})
	want := masterGTIDs(t)
	checkExtracted(t, out, sum, want, 231)
	if sum.Incomplete != nil || sum.RelayLog || len(sum.Dropped) != 0 || sum.SkippedLeading != 0 {
		t.Errorf("summary %+v", sum)
	}
	size := fileSize(t, fixture("mysql-bin.000002"))
	if sum.LastMaster != (Pos{File: "mysql-bin.000002", Offset: size}) || sum.End != sum.LastMaster {
		t.Errorf("last master %s end %s, want mysql-bin.000002:%d", sum.LastMaster, sum.End, size)
	}
	if sum.FirstMaster != (Pos{File: "mysql-bin.000001", Offset: 328}) {
		t.Errorf("first master %s, want the first GTID at mysql-bin.000001:328", sum.FirstMaster)
	}
}

// TestExtractRelayLogs: from the mapped relay position of a master
// coordinate to the end of the relay logs, with the master's FDE.
func TestExtractRelayLogs(t *testing.T) {
	st := loadSlaveStatus(t)
	names := relayLogs(t)
	src := FileSources(fixturePaths(names...)...)
	from := Pos{File: "mysql-bin.000001", Offset: 1925} // end of 0-231-7
	rp, err := FindRelayPos(context.Background(), src, from, RelayOptions{})
	if err != nil {
		t.Fatal(err)
	}
	all := masterGTIDs(t)
	i := slices.Index(all, "0-231-8")
	j := -1
	for _, g := range strings.Split(st.GtidIOPos, ",") {
		if strings.HasPrefix(g, "0-") {
			j = slices.Index(all, g) // the last transaction received in domain 0
		}
	}
	if i < 0 || j < i {
		t.Fatalf("fixture GTIDs %v", all)
	}
	out, sum := extractToFile(t, src, Pos(rp), ExtractOptions{})
	checkExtracted(t, out, sum, all[i:j+1], 231)
	if !sum.RelayLog || sum.FirstMaster != from {
		t.Errorf("relay %v first master %s, want %s", sum.RelayLog, sum.FirstMaster, from)
	}
	if want := (Pos{File: st.MasterLogFile, Offset: st.ReadMasterLogPos}); sum.LastMaster != want {
		t.Errorf("last master %s, want %s", sum.LastMaster, want)
	}
}

// TestExtractRelayStartFileWithoutFDE starts in relay-bin.000005, which holds
// no master FDE: the earlier files given for context provide it.
func TestExtractRelayStartFileWithoutFDE(t *testing.T) {
	names := relayLogs(t)
	src := FileSources(fixturePaths(names...)...)
	out, sum := extractToFile(t, src, Pos{File: "relay-bin.000005", Offset: 4}, ExtractOptions{})
	fs, err := ScanSource(context.Background(), FileSource(out), ScanOptions{})
	if err != nil || fs.FDE.ServerID != 231 || fs.FDE.RelayLog() {
		t.Fatalf("header FDE %+v err %v: want the master's", fs.FDE, err)
	}
	if len(sum.Trxs) == 0 || sum.Trxs[0].GTID != "0-231-11" {
		t.Errorf("first trx %+v, want 0-231-11", sum.Trxs)
	}
}

// TestExtractCut drops the killed master's incomplete last transaction and
// stops at the Until limits.
func TestExtractCut(t *testing.T) {
	all := masterGTIDs(t)
	last := lastEventOfType(t, "mysql-bin.000002", XIDEvent)
	lastGTID := all[len(all)-1]
	cases := []struct {
		name       string
		cut        int64
		opts       ExtractOptions
		want       []string
		incomplete string
		why        string
	}{
		{"partial header", last.Offset + 7, ExtractOptions{}, all[:len(all)-1], lastGTID, "tail cut in the XID header"},
		{"partial body", last.Offset + 22, ExtractOptions{}, all[:len(all)-1], lastGTID, "tail cut in the XID body"},
		{"until gtid", -1, ExtractOptions{UntilGTID: "0-231-12"}, all[:slices.Index(all, "0-231-12")+1], "", "inclusive GTID stop"},
		{"until master pos", -1, ExtractOptions{Until: Pos{File: "mysql-bin.000001", Offset: 1925}},
			all[:slices.Index(all, "0-231-7")+1], "", "stop at a transaction end"},
		{"until mid-transaction", -1, ExtractOptions{Until: Pos{File: "mysql-bin.000001", Offset: 1930}},
			all[:slices.Index(all, "0-231-7")+1], "", "never write a transaction ending past the limit"},
		{"until before the first transaction", -1, ExtractOptions{Until: Pos{File: "mysql-bin.000001", Offset: 400}},
			nil, "", "nothing to write: still a valid binlog, the header alone"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := []Source{FileSource(fixture("mysql-bin.000001")), FileSource(copyToTemp(t, "mysql-bin.000002", c.cut))}
			out, sum := extractToFile(t, src, Pos{File: "mysql-bin.000001", Offset: 4}, c.opts)
			checkExtracted(t, out, sum, c.want, 231)
			got := ""
			if sum.Incomplete != nil {
				got = sum.Incomplete.GTID
			}
			if got != c.incomplete {
				t.Errorf("incomplete %q, want %q (%s)", got, c.incomplete, c.why)
			}
			if sum.Stopped != (c.opts.UntilGTID != "" || !c.opts.Until.IsZero()) {
				t.Errorf("stopped %v", sum.Stopped)
			}
		})
	}
}

// TestExtractStart: a start inside an event is refused; a start on an event
// boundary inside a transaction skips the rest of that transaction.
func TestExtractStart(t *testing.T) {
	src := FileSources(fixturePaths(masterBinlogs...)...)
	var buf bytes.Buffer
	_, err := Extract(context.Background(), &buf, src, Pos{File: "mysql-bin.000001", Offset: 1000}, ExtractOptions{})
	if !errors.Is(err, ErrNotBoundary) {
		t.Errorf("start inside an event: err %v, want ErrNotBoundary", err)
	}
	_, err = Extract(context.Background(), &buf, src, Pos{File: "mysql-bin.000009", Offset: 4}, ExtractOptions{})
	if err == nil {
		t.Error("start file not among the sources: no error")
	}
	buf.Reset()
	// 1742 is the end of the GTID event of 0-231-7: mid-transaction.
	sum, err := Extract(context.Background(), &buf, src, Pos{File: "mysql-bin.000001", Offset: 1742}, ExtractOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sum.SkippedLeading == 0 || len(sum.Trxs) == 0 || sum.Trxs[0].GTID != "0-231-8" {
		t.Errorf("skipped %d, first %+v: want the partial 0-231-7 skipped", sum.SkippedLeading, sum.Trxs[:1])
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
