package binlog

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// EventType is the one-byte type code of a binlog event.
type EventType uint8

// Event types this package looks at. Others are carried as raw bytes.
const (
	QueryEvent             EventType = 2
	StopEvent              EventType = 3
	RotateEvent            EventType = 4
	IntvarEvent            EventType = 5
	RandEvent              EventType = 13
	UserVarEvent           EventType = 14
	FormatDescriptionEvent EventType = 15
	XIDEvent               EventType = 16
	IncidentEvent          EventType = 26
	HeartbeatEvent         EventType = 27
	MySQLGTIDEvent         EventType = 33
	AnonymousGTIDEvent     EventType = 34
	PreviousGTIDsEvent     EventType = 35
	XAPrepareEvent         EventType = 38
	TransactionPayload     EventType = 40
	HeartbeatEventV2       EventType = 41
	AnnotateRowsEvent      EventType = 160
	BinlogCheckpointEvent  EventType = 161
	MariadbGTIDEvent       EventType = 162
	MariadbGTIDListEvent   EventType = 163
	StartEncryptionEvent   EventType = 164
	QueryCompressedEvent   EventType = 165
)

// Header flags (the 2-byte flags field of the common header).
const (
	FlagInUse      uint16 = 0x0001 // LOG_EVENT_BINLOG_IN_USE_F: binlog not closed cleanly
	FlagArtificial uint16 = 0x0020 // LOG_EVENT_ARTIFICIAL_F: made up by the sender (fake Rotate)
	FlagRelayLog   uint16 = 0x0040 // LOG_EVENT_RELAY_LOG_F: written by a replica into its relay log
)

// HeaderSize is the size of the v4 common event header.
const HeaderSize = 19

// Magic is the 4-byte header of every binlog and relay-log file.
var Magic = []byte{0xfe, 'b', 'i', 'n'}

const (
	flagsOffset  = 17
	logPosOffset = 13
	crcSize      = 4
)

// Checksum algorithms of BINLOG_CHECKSUM_ALG_*.
const (
	ChecksumOff   uint8 = 0
	ChecksumCRC32 uint8 = 1
	ChecksumUndef uint8 = 255
)

// Event is one binlog event as found in a file. Raw aliases the scanner's
// buffer and is valid only until the next call to Scanner.Next.
type Event struct {
	Offset    int64     // file offset of the first header byte
	Size      uint32    // event size, header and checksum included
	Type      EventType // type code
	ServerID  uint32    // server_id of the server that wrote the event first
	LogPos    uint32    // end_log_pos: in relay logs, the master's position
	Flags     uint16    // header flags
	Timestamp uint32    // seconds since the epoch
	Raw       []byte    // the whole event
	hasCRC    bool
}

// End is the file offset right after the event.
func (e *Event) End() int64 { return e.Offset + int64(e.Size) }

// Body returns the event body without header and checksum.
func (e *Event) Body() []byte {
	end := len(e.Raw)
	if e.hasCRC {
		end -= crcSize
	}
	if end < HeaderSize {
		return nil
	}
	return e.Raw[HeaderSize:end]
}

func parseHeader(h []byte) Event {
	return Event{
		Timestamp: binary.LittleEndian.Uint32(h[0:]),
		Type:      EventType(h[4]),
		ServerID:  binary.LittleEndian.Uint32(h[5:]),
		Size:      binary.LittleEndian.Uint32(h[9:]),
		LogPos:    binary.LittleEndian.Uint32(h[logPosOffset:]),
		Flags:     binary.LittleEndian.Uint16(h[flagsOffset:]),
	}
}

// crcMatches checks the trailing CRC32 of raw. For a FORMAT_DESCRIPTION
// event the server computes the CRC with the in-use flag cleared, so the flag
// is masked out first; the CRC as stored is accepted too.
func crcMatches(raw []byte, fde bool) bool {
	n := len(raw) - crcSize
	want := binary.LittleEndian.Uint32(raw[n:])
	got := crc32.ChecksumIEEE(raw[:n])
	if got == want {
		return true
	}
	if !fde || raw[flagsOffset]&byte(FlagInUse) == 0 {
		return false
	}
	masked := [2]byte{raw[flagsOffset] &^ byte(FlagInUse), raw[flagsOffset+1]}
	c := crc32.Update(0, crc32.IEEETable, raw[:flagsOffset])
	c = crc32.Update(c, crc32.IEEETable, masked[:])
	c = crc32.Update(c, crc32.IEEETable, raw[flagsOffset+2:n])
	return c == want
}

// FormatDescription is the decoded FORMAT_DESCRIPTION event of a file.
type FormatDescription struct {
	BinlogVersion uint16
	ServerVersion string
	ServerID      uint32
	HeaderLength  uint8
	Checksum      uint8 // ChecksumOff, ChecksumCRC32 or ChecksumUndef
	Flags         uint16
	Raw           []byte // a copy of the whole event
}

// InUse reports LOG_EVENT_BINLOG_IN_USE_F: the binlog was open when read,
// or its server stopped without closing it.
func (f *FormatDescription) InUse() bool { return f.Flags&FlagInUse != 0 }

// RelayLog reports whether the FDE was written by a replica for its relay log.
func (f *FormatDescription) RelayLog() bool { return f.Flags&FlagRelayLog != 0 }

func decodeFDE(raw []byte) (*FormatDescription, error) {
	body := raw[HeaderSize:]
	if len(body) < 57 {
		return nil, fmt.Errorf("format description event of %d bytes: %w", len(raw), ErrCorrupt)
	}
	h := parseHeader(raw)
	f := &FormatDescription{
		BinlogVersion: binary.LittleEndian.Uint16(body),
		ServerVersion: cString(body[2:52]),
		ServerID:      h.ServerID,
		HeaderLength:  body[56],
		Checksum:      ChecksumUndef,
		Flags:         h.Flags,
		Raw:           append([]byte(nil), raw...),
	}
	if f.BinlogVersion != 4 || f.HeaderLength != HeaderSize {
		return nil, fmt.Errorf("binlog version %d, header length %d: %w", f.BinlogVersion, f.HeaderLength, ErrUnsupported)
	}
	if hasChecksumAlg(f.ServerVersion) && len(body) >= 57+5 {
		f.Checksum = body[len(body)-5]
	}
	return f, nil
}

func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// hasChecksumAlg tells whether a server of this version writes the checksum
// algorithm byte in its FDE (MySQL 5.6.1+, MariaDB 5.3+).
func hasChecksumAlg(version string) bool {
	var v [3]int
	i := 0
	for _, c := range version {
		switch {
		case c >= '0' && c <= '9':
			v[i] = v[i]*10 + int(c-'0')
		case c == '.' && i < 2:
			i++
		default:
			goto done
		}
	}
done:
	n := v[0]*10000 + v[1]*100 + v[2]
	if containsFold(version, "mariadb") {
		return n >= 50300
	}
	return n >= 50601
}

func containsFold(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		ok := true
		for j := 0; j < len(sub); j++ {
			c := s[i+j]
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != sub[j] {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}
