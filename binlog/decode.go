package binlog

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
)

// MariaDB GTID event flags (flags2 of Gtid_log_event).
const (
	GTIDStandalone  uint8 = 0x01 // FL_STANDALONE: the transaction is a single statement (DDL)
	GTIDGroupCommit uint8 = 0x02 // FL_GROUP_COMMIT_ID: a commit id follows
	GTIDTransaction uint8 = 0x04 // FL_TRANSACTIONAL
	GTIDDDL         uint8 = 0x20 // FL_DDL
	GTIDPreparedXA  uint8 = 0x40 // FL_PREPARED_XA: ends with an XA_PREPARE event
	GTIDCompletedXA uint8 = 0x80 // FL_COMPLETED_XA
)

// MariadbGTID is a MariaDB global transaction id.
type MariadbGTID struct {
	Domain   uint32
	ServerID uint32
	Seq      uint64
}

// String formats the GTID as domain-server-seq.
func (g MariadbGTID) String() string {
	return strconv.FormatUint(uint64(g.Domain), 10) + "-" +
		strconv.FormatUint(uint64(g.ServerID), 10) + "-" + strconv.FormatUint(g.Seq, 10)
}

// MariadbGTIDInfo is a decoded MariaDB GTID event.
type MariadbGTIDInfo struct {
	GTID     MariadbGTID
	Flags    uint8
	CommitID uint64
}

// Standalone reports FL_STANDALONE: the transaction is the GTID event and a
// single statement, with no BEGIN/COMMIT around it.
func (g MariadbGTIDInfo) Standalone() bool { return g.Flags&GTIDStandalone != 0 }

// DecodeMariadbGTID decodes a MARIADB_GTID_EVENT.
func DecodeMariadbGTID(ev *Event) (MariadbGTIDInfo, error) {
	b := ev.Body()
	if ev.Type != MariadbGTIDEvent || len(b) < 13 {
		return MariadbGTIDInfo{}, fmt.Errorf("gtid event at %d: %w", ev.Offset, ErrCorrupt)
	}
	g := MariadbGTIDInfo{
		GTID: MariadbGTID{
			Seq:      binary.LittleEndian.Uint64(b),
			Domain:   binary.LittleEndian.Uint32(b[8:]),
			ServerID: ev.ServerID,
		},
		Flags: b[12],
	}
	if g.Flags&GTIDGroupCommit != 0 && len(b) >= 21 {
		g.CommitID = binary.LittleEndian.Uint64(b[13:])
	}
	return g, nil
}

// DecodeMySQLGTID decodes a GTID_LOG_EVENT or ANONYMOUS_GTID_LOG_EVENT into
// "uuid:gno" (empty for an anonymous one).
func DecodeMySQLGTID(ev *Event) (string, error) {
	b := ev.Body()
	if (ev.Type != MySQLGTIDEvent && ev.Type != AnonymousGTIDEvent) || len(b) < 25 {
		return "", fmt.Errorf("mysql gtid event at %d: %w", ev.Offset, ErrCorrupt)
	}
	if ev.Type == AnonymousGTIDEvent {
		return "", nil
	}
	u := hex.EncodeToString(b[1:17])
	gno := binary.LittleEndian.Uint64(b[17:])
	return u[0:8] + "-" + u[8:12] + "-" + u[12:16] + "-" + u[16:20] + "-" + u[20:32] + ":" +
		strconv.FormatUint(gno, 10), nil
}

// Rotate is a decoded ROTATE event: the next file and the position in it.
type Rotate struct {
	Next string
	Pos  uint64
}

// DecodeRotate decodes a ROTATE event.
func DecodeRotate(ev *Event) (Rotate, error) {
	b := ev.Body()
	if ev.Type != RotateEvent || len(b) < 8 {
		return Rotate{}, fmt.Errorf("rotate event at %d: %w", ev.Offset, ErrCorrupt)
	}
	return Rotate{Pos: binary.LittleEndian.Uint64(b), Next: string(b[8:])}, nil
}

// DecodeGTIDList decodes a MARIADB_GTID_LIST event: the binlog state at the
// start of the file.
func DecodeGTIDList(ev *Event) ([]MariadbGTID, error) {
	b := ev.Body()
	if ev.Type != MariadbGTIDListEvent || len(b) < 4 {
		return nil, fmt.Errorf("gtid list event at %d: %w", ev.Offset, ErrCorrupt)
	}
	n := int(binary.LittleEndian.Uint32(b) & 0x0fffffff)
	b = b[4:]
	if len(b) < n*16 {
		return nil, fmt.Errorf("gtid list event at %d with %d entries in %d bytes: %w", ev.Offset, n, len(b), ErrCorrupt)
	}
	list := make([]MariadbGTID, n)
	for i := range list {
		e := b[i*16:]
		list[i] = MariadbGTID{
			Domain:   binary.LittleEndian.Uint32(e),
			ServerID: binary.LittleEndian.Uint32(e[4:]),
			Seq:      binary.LittleEndian.Uint64(e[8:]),
		}
	}
	return list, nil
}

// QueryText returns the statement text of a QUERY event (aliasing Raw).
func QueryText(ev *Event) ([]byte, error) {
	b := ev.Body()
	const postHeader = 13
	if ev.Type != QueryEvent || len(b) < postHeader {
		return nil, fmt.Errorf("query event at %d: %w", ev.Offset, ErrCorrupt)
	}
	dbLen := int(b[8])
	statusLen := int(binary.LittleEndian.Uint16(b[11:]))
	start := postHeader + statusLen + dbLen + 1
	if start > len(b) {
		return nil, fmt.Errorf("query event at %d: %w", ev.Offset, ErrCorrupt)
	}
	return b[start:], nil
}

// queryKind classifies the statements that delimit transactions.
type queryKind uint8

const (
	queryOther queryKind = iota
	queryBegin
	queryCommit
	queryRollback
)

func classifyQuery(q []byte) queryKind {
	q = bytes.TrimSpace(q)
	switch {
	case len(q) > 8:
		return queryOther
	case bytes.EqualFold(q, []byte("BEGIN")):
		return queryBegin
	case bytes.EqualFold(q, []byte("COMMIT")):
		return queryCommit
	case bytes.EqualFold(q, []byte("ROLLBACK")):
		return queryRollback
	}
	return queryOther
}
