package binlog

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Source is one binlog or relay-log file to read: a local path, or a function
// that opens a stream of the whole file from its first byte (an SSH `cat`).
type Source struct {
	// Name is the file name as the server knows it ("mysql-bin.000003"),
	// used in positions. Defaults to the base name of Path.
	Name string
	// Path of a local file, read when Open is nil.
	Path string
	// Open, when set, returns a reader of the whole file.
	Open func(ctx context.Context) (io.ReadCloser, error)
}

// FileSource returns a Source for a local file.
func FileSource(path string) Source { return Source{Name: filepath.Base(path), Path: path} }

// FileSources returns Sources for local files, in the order given.
func FileSources(paths ...string) []Source {
	src := make([]Source, len(paths))
	for i, p := range paths {
		src[i] = FileSource(p)
	}
	return src
}

func (s Source) name() string {
	if s.Name != "" {
		return s.Name
	}
	return filepath.Base(s.Path)
}

// local reports whether s is a local file, which can be read at any offset.
func (s Source) local() bool { return s.Open == nil && s.Path != "" }

func (s Source) open(ctx context.Context) (io.ReadCloser, error) {
	if s.Open != nil {
		rc, err := s.Open(ctx)
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", s.name(), err)
		}
		return rc, nil
	}
	f, err := os.Open(s.Path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", s.name(), err)
	}
	return f, nil
}

// FileSummary is what Scan found in one file.
type FileSummary struct {
	Name         string
	Events       int
	FDE          *FormatDescription // the file's own FDE (the first one)
	InUse        bool               // the binlog was not closed cleanly (or is open)
	RelayLog     bool               // written by a replica as a relay log
	LastEventEnd int64              // offset right after the last complete event
	// LastTrxEnd is the offset right after the last event at which no
	// transaction was open: applying up to here applies whole transactions.
	LastTrxEnd int64
	// Truncated is the partial event at the end, or nil.
	Truncated *Truncation
	// Incomplete is the transaction open at the end of the file (begun, not
	// ended), or nil. In a relay log it may go on in the next file.
	Incomplete *Trx
	Trxs       int           // complete transactions
	FirstGTID  string        // GTID of the first transaction that began in the file
	LastGTID   string        // GTID of the last complete transaction
	GTIDList   []MariadbGTID // the MariaDB Gtid_list event at the start, if any
	Rotate     *Rotate       // the last Rotate event of the file, if any
}

// ScanSource reads a whole file and summarises it. A truncated tail is not an
// error: see FileSummary.Truncated and LastTrxEnd.
func ScanSource(ctx context.Context, src Source, opts ScanOptions) (FileSummary, error) {
	rc, err := src.open(ctx)
	if err != nil {
		return FileSummary{}, err
	}
	defer func() { _ = rc.Close() }()
	if opts.Name == "" {
		opts.Name = src.name()
	}
	return ScanReader(ctx, rc, opts)
}

// ScanReader reads a binlog stream (starting with the magic) and summarises it.
func ScanReader(ctx context.Context, r io.Reader, opts ScanOptions) (FileSummary, error) {
	sum := FileSummary{Name: opts.Name, LastEventEnd: int64(len(Magic)), LastTrxEnd: int64(len(Magic))}
	sc := NewScanner(r, opts)
	var sp Splitter
	for sc.Next() {
		if sum.Events%4096 == 0 && ctx.Err() != nil {
			return sum, fmt.Errorf("scan %s: %w", opts.Name, ctx.Err())
		}
		ev := sc.Event()
		sum.Events++
		sum.LastEventEnd = ev.End()
		if err := sum.note(ev); err != nil {
			return sum, fmt.Errorf("scan %s: %w", opts.Name, err)
		}
		res, err := sp.Step(opts.Name, ev)
		if err != nil {
			return sum, fmt.Errorf("scan %s: %w", opts.Name, err)
		}
		if res.Kind == Begin && sum.FirstGTID == "" {
			sum.FirstGTID = res.Trx.GTID
		}
		if res.Kind == End {
			sum.Trxs++
			if res.Trx.GTID != "" {
				sum.LastGTID = res.Trx.GTID
			}
		}
		if sp.Open() == nil {
			sum.LastTrxEnd = ev.End()
		}
	}
	sum.FDE = sc.FirstFDE()
	if sum.FDE != nil {
		sum.InUse = sum.FDE.InUse()
		sum.RelayLog = sum.FDE.RelayLog()
	}
	sum.Truncated = sc.Truncated()
	sum.Incomplete = sp.Open()
	return sum, sc.Err()
}

func (sum *FileSummary) note(ev *Event) error {
	switch ev.Type {
	case RotateEvent:
		r, err := DecodeRotate(ev)
		if err != nil {
			return err
		}
		sum.Rotate = &r
	case MariadbGTIDListEvent:
		if sum.GTIDList != nil {
			return nil
		}
		l, err := DecodeGTIDList(ev)
		if err != nil {
			return err
		}
		sum.GTIDList = l
	}
	return nil
}
