package binlog

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// Sentinel errors. Callers test them with errors.Is.
var (
	// ErrBadMagic: the input does not start with the binlog magic bytes.
	ErrBadMagic = errors.New("not a binlog file: bad magic")
	// ErrChecksum: an event's CRC32 does not match its bytes.
	ErrChecksum = errors.New("binlog checksum mismatch")
	// ErrCorrupt: an event is malformed (size, fields).
	ErrCorrupt = errors.New("corrupt binlog event")
	// ErrUnsupported: a binlog format this package does not read.
	ErrUnsupported = errors.New("unsupported binlog format")
)

// Truncation describes an input that ended inside an event: a partial header
// (Have < HeaderSize) or a partial body.
type Truncation struct {
	Offset int64 // where the partial event starts: the end of the last complete event
	Have   int   // bytes present of the partial event
	Need   int   // bytes the event needs (HeaderSize when the header itself is cut)
}

func (t *Truncation) String() string {
	return fmt.Sprintf("partial event at %d: %d of %d bytes", t.Offset, t.Have, t.Need)
}

// ScanOptions configure a Scanner.
type ScanOptions struct {
	// Name is the file name used in error messages.
	Name string
	// SkipChecksum turns CRC32 verification off (it is on by default).
	SkipChecksum bool
	// BufferSize of the read buffer; events larger than it are read into a
	// separate growing buffer. Default 1 MiB.
	BufferSize int
}

// Scanner reads events one by one from a binlog or relay-log byte stream that
// starts with the magic bytes. It keeps true file offsets, tracks the checksum
// algorithm from the latest FORMAT_DESCRIPTION event and verifies CRC32s.
// At the end of the input Next returns false; Err is nil for a clean end and
// for a truncated tail (see Truncated), so no complete event is ever lost.
type Scanner struct {
	r      *bufio.Reader
	opts   ScanOptions
	off    int64
	alg    uint8
	ev     Event
	big    []byte
	fde    *FormatDescription
	first  *FormatDescription
	err    error
	trunc  *Truncation
	done   bool
	header bool
}

// NewScanner returns a Scanner reading r.
func NewScanner(r io.Reader, opts ScanOptions) *Scanner {
	if opts.BufferSize <= 0 {
		opts.BufferSize = 1 << 20
	}
	return &Scanner{r: bufio.NewReaderSize(r, opts.BufferSize), opts: opts, alg: ChecksumUndef}
}

// NewScannerAt returns a Scanner reading r, which is positioned at file
// offset off of a binlog whose FORMAT_DESCRIPTION event, read beforehand,
// is fde: no magic is expected there, events keep their true file offsets
// and checksums follow fde's algorithm; FirstFDE returns fde, and so does
// FDE until another one is read. It resumes in the middle of a file after
// its header.
func NewScannerAt(r io.Reader, off int64, fde *FormatDescription, opts ScanOptions) *Scanner {
	s := NewScanner(r, opts)
	s.off, s.header = off, true
	if fde != nil {
		s.fde, s.first, s.alg = fde, fde, fde.Checksum
	}
	return s
}

func (s *Scanner) fail(err error) bool {
	s.err = err
	s.done = true
	return false
}

func (s *Scanner) readMagic() bool {
	m, err := s.r.Peek(len(Magic))
	if len(m) < len(Magic) {
		if err == io.EOF || err == nil {
			return s.fail(fmt.Errorf("read magic of %s: %d bytes: %w", s.opts.Name, len(m), ErrBadMagic))
		}
		return s.fail(fmt.Errorf("read magic of %s: %w", s.opts.Name, err))
	}
	if !bytes.Equal(m, Magic) {
		return s.fail(fmt.Errorf("read %s: %w", s.opts.Name, ErrBadMagic))
	}
	_, _ = s.r.Discard(len(Magic))
	s.off = int64(len(Magic))
	s.header = true
	return true
}

// Next advances to the next complete event.
func (s *Scanner) Next() bool {
	if s.done {
		return false
	}
	if !s.header && !s.readMagic() {
		return false
	}
	h, err := s.r.Peek(HeaderSize)
	if len(h) < HeaderSize {
		return s.atEnd(len(h), HeaderSize, err)
	}
	ev := parseHeader(h)
	if ev.Size < HeaderSize {
		return s.fail(fmt.Errorf("event at %s:%d has size %d: %w", s.opts.Name, s.off, ev.Size, ErrCorrupt))
	}
	size := int(ev.Size)
	if size <= s.opts.BufferSize {
		raw, err := s.r.Peek(size)
		if len(raw) < size {
			return s.atEnd(len(raw), size, err)
		}
		ev.Raw = raw
		_, _ = s.r.Discard(size)
	} else {
		if cap(s.big) < size {
			s.big = make([]byte, size)
		}
		n, err := io.ReadFull(s.r, s.big[:size])
		if n < size {
			if err == io.ErrUnexpectedEOF {
				err = io.EOF
			}
			return s.atEnd(n, size, err)
		}
		ev.Raw = s.big[:size]
	}
	ev.Offset = s.off
	s.off += int64(size)
	s.ev = ev
	return s.check()
}

// check handles checksums and FDE tracking for the current event.
func (s *Scanner) check() bool {
	ev := &s.ev
	if ev.Type == FormatDescriptionEvent {
		f, err := decodeFDE(ev.Raw)
		if err != nil {
			return s.fail(fmt.Errorf("event at %s:%d: %w", s.opts.Name, ev.Offset, err))
		}
		s.fde = f
		if s.first == nil {
			s.first = f
		}
		s.alg = f.Checksum
	}
	ev.hasCRC = s.alg == ChecksumCRC32 && len(ev.Raw) >= HeaderSize+crcSize
	if ev.hasCRC && !s.opts.SkipChecksum && !crcMatches(ev.Raw, ev.Type == FormatDescriptionEvent) {
		return s.fail(fmt.Errorf("event type %d at %s:%d: %w", ev.Type, s.opts.Name, ev.Offset, ErrChecksum))
	}
	return true
}

// atEnd ends the scan when fewer than need bytes remain.
func (s *Scanner) atEnd(have, need int, err error) bool {
	s.done = true
	if err != nil && err != io.EOF {
		s.err = fmt.Errorf("read %s at %d: %w", s.opts.Name, s.off, err)
		return false
	}
	if have > 0 {
		s.trunc = &Truncation{Offset: s.off, Have: have, Need: need}
	}
	return false
}

// Event returns the current event; its Raw is valid until the next Next.
func (s *Scanner) Event() *Event { return &s.ev }

// Err returns the error that stopped the scan: nil at a clean end or a
// truncated tail.
func (s *Scanner) Err() error { return s.err }

// Truncated returns the partial event at the end of the input, or nil.
func (s *Scanner) Truncated() *Truncation { return s.trunc }

// Offset returns the offset right after the last complete event.
func (s *Scanner) Offset() int64 { return s.off }

// FDE returns the latest FORMAT_DESCRIPTION event seen, or nil.
func (s *Scanner) FDE() *FormatDescription { return s.fde }

// FirstFDE returns the file's own FORMAT_DESCRIPTION event (the first one).
func (s *Scanner) FirstFDE() *FormatDescription { return s.first }
