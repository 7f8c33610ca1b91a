package binlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
)

// ErrNotBoundary: an extraction start offset that is not an event boundary.
var ErrNotBoundary = errors.New("offset is not an event boundary")

// ExtractOptions tune Extract.
type ExtractOptions struct {
	// UntilGTID stops after the transaction with this GTID (inclusive).
	UntilGTID string
	// Until stops at a master coordinate: transactions ending at or before it
	// are written, the first one ending after it is not. Zero: no limit.
	Until Pos
	// FDE, when set, is the FORMAT_DESCRIPTION event written at the head of
	// the output instead of the one found in the sources.
	FDE []byte
	// Scan options for reading the sources (checksums are verified unless
	// Scan.SkipChecksum).
	Scan ScanOptions
	// Logger gets one debug line per dropped transaction; nil: discard.
	Logger *slog.Logger
}

// TrxInfo identifies one transaction handled by Extract.
type TrxInfo struct {
	GTID   string // "" without GTIDs: then Master identifies it
	Source Pos    // where its first event is in the sources
	Master Pos    // master coordinates right after it (file "" if unknown)
	Bytes  int64  // its size
}

// ExtractSummary reports what Extract wrote.
type ExtractSummary struct {
	Trxs        []TrxInfo // the transactions written, in order
	FirstMaster Pos       // master coordinates where the first written transaction starts
	LastMaster  Pos       // master coordinates right after the last written transaction
	End         Pos       // source position right after the last written transaction
	Bytes       int64     // bytes written, magic and FDE included
	RelayLog    bool      // the sources are relay logs
	// Incomplete is the trailing transaction that was not complete at the
	// end of the sources: not written, not applied.
	Incomplete *TrxInfo
	// Dropped are transactions cut off by the start of another one (a relay
	// log after a reconnect): not written.
	Dropped []TrxInfo
	// SkippedLeading counts events after the start that belonged to a
	// transaction begun before it.
	SkippedLeading int
	Truncated      *Truncation // partial event at the end of the last source
	Stopped        bool        // stopped by Until or UntilGTID
}

// GTIDs returns the GTIDs of the transactions written.
func (s *ExtractSummary) GTIDs() []string {
	var ids []string
	for _, t := range s.Trxs {
		if t.GTID != "" {
			ids = append(ids, t.GTID)
		}
	}
	return ids
}

// Extract writes to w a binlog holding every complete transaction from start
// to the end of src (files in order): the magic, the source's FORMAT
// DESCRIPTION event (the master's, in relay logs) with the in-use flag
// cleared and its CRC recomputed, then the transactions' events verbatim.
// FDE, Rotate, Gtid_list, checkpoint and Stop events are left out, and so
// is an incomplete trailing transaction (reported in Incomplete). Files of
// src before start.File are read for context only (the master's FDE and
// file name). A transaction is buffered in memory until it is complete.
func Extract(ctx context.Context, w io.Writer, src []Source, start Pos, opts ExtractOptions) (ExtractSummary, error) {
	x := &extractor{w: w, opts: opts, start: start, startIdx: -1}
	if opts.Logger == nil {
		x.opts.Logger = slog.New(slog.DiscardHandler)
	}
	for i, s := range src {
		if s.name() == start.File {
			x.startIdx = i
			break
		}
	}
	if x.startIdx < 0 {
		return x.sum, fmt.Errorf("extract from %s: file not among the sources", start)
	}
	for i, s := range src {
		x.idx, x.last = i, i == len(src)-1
		if err := x.file(ctx, s); err != nil || x.sum.Stopped {
			return x.sum, err
		}
	}
	if t := x.sp.Open(); t != nil && !x.skipping() {
		info := x.info(t)
		x.sum.Incomplete = &info
	}
	if !x.headerDone {
		if err := x.writeHeader(); err != nil {
			return x.sum, err
		}
	}
	return x.sum, nil
}

type extractor struct {
	w          io.Writer
	opts       ExtractOptions
	start      Pos
	startIdx   int
	idx        int
	last       bool
	sp         Splitter
	buf        bytes.Buffer
	masterFDE  *FormatDescription
	ownFDE     *FormatDescription
	masterFile string
	curName    string
	ownID      uint32
	seenGTID   bool
	leading    bool
	headerDone bool
	headerCRC  bool
	trxCRC     bool
	trxMaster  Pos
	sum        ExtractSummary
}

func (x *extractor) skipping() bool { return x.leading }

func (x *extractor) file(ctx context.Context, src Source) error {
	if x.idx < x.startIdx {
		return x.context(ctx, src)
	}
	rc, err := src.open(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = rc.Close() }()
	so := x.opts.Scan
	so.Name = src.name()
	x.curName = so.Name
	sc := NewScanner(rc, so)
	from := int64(len(Magic))
	if x.idx == x.startIdx && x.start.Offset > from {
		from = x.start.Offset
		x.leading = true
	}
	for n := 0; sc.Next(); n++ {
		if n%4096 == 0 && ctx.Err() != nil {
			return fmt.Errorf("extract from %s: %w", so.Name, ctx.Err())
		}
		ev := sc.Event()
		if ev.Offset < from {
			if ev.End() > from {
				return fmt.Errorf("extract from %s: %w (event at %d-%d)", x.start, ErrNotBoundary, ev.Offset, ev.End())
			}
			x.track(ev)
			continue
		}
		if err := x.event(so.Name, ev); err != nil || x.sum.Stopped {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("extract: %w", err)
	}
	if sc.Offset() < from {
		return fmt.Errorf("extract from %s: file ends at %d: %w", x.start, sc.Offset(), ErrNotBoundary)
	}
	if t := sc.Truncated(); t != nil {
		if !x.last {
			return fmt.Errorf("extract: %s ends with a %s but more files follow: %w", so.Name, t, ErrCorrupt)
		}
		x.sum.Truncated = t
	}
	return nil
}

// context reads a file before the start file for the master FDE and file.
func (x *extractor) context(ctx context.Context, src Source) error {
	rc, err := src.open(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = rc.Close() }()
	so := x.opts.Scan
	so.Name = src.name()
	x.curName = so.Name
	sc := NewScanner(rc, so)
	for sc.Next() {
		x.track(sc.Event())
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("extract: %w", err)
	}
	return nil
}

// track follows FDEs and the master's file name for events not written.
func (x *extractor) track(ev *Event) {
	switch ev.Type {
	case FormatDescriptionEvent:
		f, err := decodeFDE(ev.Raw)
		if err != nil {
			return
		}
		if ev.Offset == int64(len(Magic)) {
			x.ownFDE, x.ownID = f, 0
			if f.RelayLog() {
				x.ownID = f.ServerID
				x.sum.RelayLog = true
				return
			}
			x.masterFile = x.curName
		}
		x.masterFDE = f
	case RotateEvent:
		if x.sum.RelayLog && ev.ServerID != x.ownID {
			if r, err := DecodeRotate(ev); err == nil {
				x.masterFile = r.Next
			}
		}
	case MariadbGTIDEvent, MariadbGTIDListEvent, MySQLGTIDEvent, PreviousGTIDsEvent, AnonymousGTIDEvent:
		x.seenGTID = true
	}
}
