package binlog

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
)

// seekStart opens the local start file, reads its header events only and
// returns a Scanner positioned at from, an event boundary checked first, so
// that the bytes between the header and from are never read (they may be a
// hole of a sparse copy). It returns a nil Scanner, having read and tracked
// nothing, for a relay log: that is read whole for the master's Rotates.
func (x *extractor) seekStart(src Source, so ScanOptions, from int64) (*Scanner, *os.File, error) {
	f, err := os.Open(src.Path)
	if err != nil {
		return nil, nil, fmt.Errorf("open %s: %w", so.Name, err)
	}
	sc, err := x.seekIn(f, so, from)
	if sc == nil || err != nil {
		_ = f.Close()
		return nil, nil, err
	}
	return sc, f, nil
}

func (x *extractor) seekIn(f *os.File, so ScanOptions, from int64) (*Scanner, error) {
	fde, err := x.head(f, so, from)
	if err != nil || fde == nil {
		if err != nil {
			err = fmt.Errorf("extract from %s: %w", x.start, err)
		}
		return nil, err
	}
	if err := checkBoundary(f, from, fde.Checksum, so); err != nil {
		return nil, fmt.Errorf("extract from %s: %w", x.start, err)
	}
	if _, err := f.Seek(from, io.SeekStart); err != nil {
		return nil, fmt.Errorf("extract from %s: seek %s: %w", x.start, so.Name, err)
	}
	return NewScannerAt(f, from, fde, so), nil
}

// contextHead reads the header events of a local file before the start
// file: all the context a binlog gives. done is false for a relay log,
// which must be read whole.
func (x *extractor) contextHead(src Source, so ScanOptions) (done bool, err error) {
	f, err := os.Open(src.Path)
	if err != nil {
		return false, fmt.Errorf("open %s: %w", so.Name, err)
	}
	defer func() { _ = f.Close() }()
	fde, err := x.head(f, so, math.MaxInt64)
	if err != nil {
		return false, fmt.Errorf("extract: %w", err)
	}
	return fde != nil, nil
}

// head reads the FDE of a local file and the events outside transactions
// that follow it (Gtid_list, Binlog_checkpoint, Previous_gtids, ...) up to
// limit, feeding them to track. It returns a nil FDE, having tracked
// nothing, for a relay log or a file that does not begin with an FDE.
func (x *extractor) head(r io.ReaderAt, so ScanOptions, limit int64) (*FormatDescription, error) {
	ev, fde, err := readFDE(r, so)
	if err != nil || fde == nil || fde.RelayLog() {
		return nil, err
	}
	if ev.End() > limit {
		return nil, fmt.Errorf("%w (event at %d-%d)", ErrNotBoundary, ev.Offset, ev.End())
	}
	x.track(&ev)
	for off := ev.End(); off < limit; off = ev.End() {
		var ok bool
		ev, ok, err = peekHeader(r, off, so.Name)
		if err != nil || !ok || !isOutside(ev.Type) || ev.Type == FormatDescriptionEvent {
			return fde, err
		}
		if ev.Size < HeaderSize {
			return nil, fmt.Errorf("event at %s:%d has size %d: %w", so.Name, off, ev.Size, ErrCorrupt)
		}
		if ev.End() > limit {
			return nil, fmt.Errorf("%w (event at %d-%d)", ErrNotBoundary, ev.Offset, ev.End())
		}
		if err := readEvent(r, &ev, fde.Checksum, so); err != nil {
			return nil, err
		}
		x.track(&ev)
	}
	return fde, nil
}

// readFDE reads the magic and the event at offset 4 of a file; the FDE is
// nil when that event is not a FORMAT_DESCRIPTION event.
func readFDE(r io.ReaderAt, so ScanOptions) (Event, *FormatDescription, error) {
	var m [4]byte
	if n, err := r.ReadAt(m[:], 0); n < len(m) || !bytes.Equal(m[:], Magic) {
		if err != nil && err != io.EOF {
			return Event{}, nil, fmt.Errorf("read magic of %s: %w", so.Name, err)
		}
		return Event{}, nil, fmt.Errorf("read %s: %w", so.Name, ErrBadMagic)
	}
	ev, ok, err := peekHeader(r, int64(len(Magic)), so.Name)
	if err != nil || !ok || ev.Type != FormatDescriptionEvent || ev.Size < HeaderSize {
		return ev, nil, err
	}
	ev.Raw = make([]byte, ev.Size)
	if err := readFull(r, ev.Raw, ev.Offset, so.Name); err != nil {
		return ev, nil, err
	}
	fde, err := decodeFDE(ev.Raw)
	if err != nil {
		return ev, nil, fmt.Errorf("event at %s:%d: %w", so.Name, ev.Offset, err)
	}
	ev.hasCRC = fde.Checksum == ChecksumCRC32 && len(ev.Raw) >= HeaderSize+crcSize
	if ev.hasCRC && !so.SkipChecksum && !crcMatches(ev.Raw, true) {
		return ev, nil, fmt.Errorf("event type %d at %s:%d: %w", ev.Type, so.Name, ev.Offset, ErrChecksum)
	}
	return ev, fde, nil
}

// peekHeader reads the common header of the event at off and nothing
// more; ok is false when fewer than HeaderSize bytes remain.
func peekHeader(r io.ReaderAt, off int64, name string) (Event, bool, error) {
	var h [HeaderSize]byte
	n, err := r.ReadAt(h[:], off)
	if n < HeaderSize {
		if err != nil && err != io.EOF {
			return Event{}, false, fmt.Errorf("read %s at %d: %w", name, off, err)
		}
		return Event{}, false, nil
	}
	ev := parseHeader(h[:])
	ev.Offset = off
	return ev, true, nil
}

// readEvent reads the whole event whose header is ev and checks its CRC32.
func readEvent(r io.ReaderAt, ev *Event, alg uint8, so ScanOptions) error {
	ev.Raw = make([]byte, ev.Size)
	if err := readFull(r, ev.Raw, ev.Offset, so.Name); err != nil {
		return err
	}
	ev.hasCRC = alg == ChecksumCRC32 && len(ev.Raw) >= HeaderSize+crcSize
	if ev.hasCRC && !so.SkipChecksum && !crcMatches(ev.Raw, false) {
		return fmt.Errorf("event type %d at %s:%d: %w", ev.Type, so.Name, ev.Offset, ErrChecksum)
	}
	return nil
}

func readFull(r io.ReaderAt, p []byte, off int64, name string) error {
	n, err := r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == io.EOF {
		return fmt.Errorf("read %s at %d: %d of %d bytes: %w", name, off, n, len(p), ErrCorrupt)
	}
	return fmt.Errorf("read %s at %d: %w", name, off, err)
}

// checkBoundary checks that an event begins at off of a binlog that is not
// a relay log: a sane header of a known type, and its CRC32 when the file
// has checksums that are verified; otherwise (or when the file ends inside
// the event) an end_log_pos equal to its end, as the server writes it. A
// file ending less than a header after off passes: the scan reports the
// truncation. It reads nothing before off.
func checkBoundary(f *os.File, off int64, alg uint8, so ScanOptions) error {
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat %s: %w", so.Name, err)
	}
	if off > fi.Size() {
		return fmt.Errorf("%s ends at %d: %w", so.Name, fi.Size(), ErrNotBoundary)
	}
	ev, ok, err := peekHeader(f, off, so.Name)
	if err != nil || !ok {
		return err
	}
	if ev.Size < HeaderSize || !knownEventType(ev.Type) {
		return fmt.Errorf("%s:%d holds no event header (type %d, size %d): %w", so.Name, off, ev.Type, ev.Size, ErrNotBoundary)
	}
	if alg == ChecksumCRC32 && !so.SkipChecksum && ev.End() <= fi.Size() {
		match, err := crcAt(f, off, int64(ev.Size))
		if err != nil {
			return fmt.Errorf("read %s at %d: %w", so.Name, off, err)
		}
		if !match {
			return fmt.Errorf("%s:%d: no event of type %d and size %d there: %w: %w", so.Name, off, ev.Type, ev.Size, ErrNotBoundary, ErrChecksum)
		}
		return nil
	}
	if ev.LogPos != uint32(ev.End()) {
		return fmt.Errorf("%s:%d: event of type %d ends at %d, its end_log_pos says %d: %w", so.Name, off, ev.Type, ev.End(), ev.LogPos, ErrNotBoundary)
	}
	return nil
}

// crcAt checks the trailing CRC32 of the size bytes at off, reading them
// through a small buffer however large the event.
func crcAt(r io.ReaderAt, off, size int64) (bool, error) {
	body := io.NewSectionReader(r, off, size-crcSize)
	h := crc32.NewIEEE()
	if _, err := io.CopyBuffer(h, body, make([]byte, 64<<10)); err != nil {
		return false, err
	}
	var want [crcSize]byte
	if _, err := r.ReadAt(want[:], off+size-crcSize); err != nil {
		return false, err
	}
	return h.Sum32() == binary.LittleEndian.Uint32(want[:]), nil
}

// knownEventType reports the event types MySQL (1..42, up to
// GTID_TAGGED_LOG_EVENT) and MariaDB (160..172, up to
// PARTIAL_ROW_DATA_EVENT) write.
func knownEventType(t EventType) bool {
	return (t >= 1 && t <= 42) || (t >= AnnotateRowsEvent && t <= 172)
}
