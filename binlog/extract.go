package binlog

import (
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
	// Skip, when set, is asked once per transaction at its first event; a
	// transaction for which it returns true is read but not written, and is
	// listed in ExtractSummary.Skipped. It lets a caller leave out what the
	// target server already has (its GTIDs, or master coordinates before
	// the position it executed).
	Skip func(TrxStart) bool
	// Logger gets one debug line per dropped transaction; nil: discard.
	Logger *slog.Logger

	flushAt int // stream a transaction to a truncatable w past this many bytes; 0: flushSize
}

// TrxStart is what is known of a transaction at its first event.
type TrxStart struct {
	GTID   string // "domain-server-seq" (MariaDB), "uuid:gno" (MySQL); "" without GTIDs
	Master Pos    // master coordinates where it begins (File "" if unknown)
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
	// Skipped are the complete transactions that Skip left out, in order;
	// they count in none of the fields above.
	Skipped []TrxInfo
	// Incomplete is the trailing transaction that was not complete at the
	// end of the sources: not written, not applied (whatever Skip said).
	Incomplete *TrxInfo
	// Dropped are transactions cut off by the start of another one (a relay
	// log after a reconnect): not written (whatever Skip said).
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
// file name); of a local binlog that is not a relay log only the header
// events are read.
//
// When the start file is a local binlog (Path set, Open nil) that is not a
// relay log and start.Offset is past its header, only the header events
// (FDE, Gtid_list, Binlog_checkpoint, Previous_gtids, ...) are read and the
// file is then read from start.Offset on: the bytes in between may be a
// hole of a sparse copy. The event at start.Offset is checked (a sane
// header of a known type, and its CRC32, or when the file has no checksums
// or they are not verified, an end_log_pos equal to its end); a start that
// is not an event boundary gives an error wrapping ErrNotBoundary. Relay
// logs and streamed Sources are read from their first byte.
//
// Memory: when w can be cut back (it has Seek and Truncate and, if it has
// Stat, is a regular file, as an *os.File), the events of a transaction are
// written as they are read, through a buffer of 1 MiB, and a transaction
// that is not written after all (incomplete, dropped, beyond Until, or the
// header that went with it) is cut off by truncating w back to where it
// began and seeking there: the output is the same and the memory held is
// about the buffer plus the largest event. w is then written from its
// current offset. Otherwise each transaction is held in memory until it is
// complete. Skipped transactions are never held.
func Extract(ctx context.Context, w io.Writer, src []Source, start Pos, opts ExtractOptions) (ExtractSummary, error) {
	x := &extractor{opts: opts, start: start, startIdx: -1}
	if opts.Logger == nil {
		x.opts.Logger = slog.New(slog.DiscardHandler)
	}
	if x.opts.flushAt <= 0 {
		x.opts.flushAt = flushSize
	}
	x.out = newOutput(w, x.opts.flushAt)
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
		if err := x.file(ctx, s); err != nil {
			return x.sum, err
		}
		if x.sum.Stopped {
			break
		}
	}
	return x.sum, x.finish()
}

// finish reports and cuts off an incomplete trailing transaction, and
// writes the header if no transaction was written.
func (x *extractor) finish() error {
	if t := x.sp.Open(); t != nil && !x.skipping() {
		info := x.info(t)
		x.sum.Incomplete = &info
	}
	if err := x.cut(); err != nil {
		return err
	}
	if x.headerDone {
		return nil
	}
	_, err := x.keepHeader()
	return err
}

type extractor struct {
	opts       ExtractOptions
	start      Pos
	startIdx   int
	idx        int
	last       bool
	sp         Splitter
	out        *output
	masterFDE  *FormatDescription
	ownFDE     *FormatDescription
	masterFile string
	curName    string
	ownID      uint32
	seenGTID   bool
	leading    bool
	headerDone bool
	headerCRC  bool
	// header is the header written at the start of the pending transaction
	// when streaming, nil when none is pending.
	header    []byte
	headerAt  int64 // where header is in the output
	skip      bool  // the current transaction is not written (Skip)
	trxBytes  int64 // bytes of the current transaction's events so far
	trxCRC    bool
	trxMaster Pos
	sum       ExtractSummary
}

func (x *extractor) skipping() bool { return x.leading }

// file reads one source: before the start file for context, else from
// the start (or its first event) on.
func (x *extractor) file(ctx context.Context, src Source) error {
	so := x.opts.Scan
	so.Name = src.name()
	x.curName = so.Name
	if x.idx < x.startIdx {
		return x.context(ctx, src, so)
	}
	from := int64(len(Magic))
	if x.idx == x.startIdx && x.start.Offset > from {
		from = x.start.Offset
		x.leading = true
	}
	if from > int64(len(Magic)) && src.local() {
		sc, f, err := x.seekStart(src, so, from)
		if err != nil {
			return err
		}
		if sc != nil {
			defer func() { _ = f.Close() }()
			return x.scan(ctx, sc, so.Name, from)
		}
	}
	rc, err := src.open(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = rc.Close() }()
	return x.scan(ctx, NewScanner(rc, so), so.Name, from)
}

// scan reads the events of one file, passing those from offset from on to
// event and tracking those before it.
func (x *extractor) scan(ctx context.Context, sc *Scanner, name string, from int64) error {
	for n := 0; sc.Next(); n++ {
		if n%4096 == 0 && ctx.Err() != nil {
			return fmt.Errorf("extract from %s: %w", name, ctx.Err())
		}
		ev := sc.Event()
		if ev.Offset < from {
			if ev.End() > from {
				return fmt.Errorf("extract from %s: %w (event at %d-%d)", x.start, ErrNotBoundary, ev.Offset, ev.End())
			}
			x.track(ev)
			continue
		}
		if err := x.event(name, ev); err != nil || x.sum.Stopped {
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
			return fmt.Errorf("extract: %s ends with a %s but more files follow: %w", name, t, ErrCorrupt)
		}
		x.sum.Truncated = t
	}
	return nil
}

// context reads a file before the start file for the master FDE and file:
// only the header events of a local binlog that is not a relay log.
func (x *extractor) context(ctx context.Context, src Source, so ScanOptions) error {
	if src.local() {
		done, err := x.contextHead(src, so)
		if done || err != nil {
			return err
		}
	}
	rc, err := src.open(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = rc.Close() }()
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
