package binlog

import (
	"context"
	"encoding/binary"
	"hash/crc32"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// synth builds events for tests, with CRC32 and running offsets.
type synth struct {
	off int64
	evs []Event
}

func (s *synth) add(typ EventType, serverID uint32, flags uint16, body []byte) {
	size := HeaderSize + len(body) + crcSize
	raw := make([]byte, HeaderSize, size)
	raw[4] = byte(typ)
	binary.LittleEndian.PutUint32(raw[5:], serverID)
	binary.LittleEndian.PutUint32(raw[9:], uint32(size))
	if s.off == 0 {
		s.off = int64(len(Magic))
	}
	binary.LittleEndian.PutUint32(raw[13:], uint32(s.off)+uint32(size))
	binary.LittleEndian.PutUint16(raw[17:], flags)
	raw = append(raw, body...)
	raw = binary.LittleEndian.AppendUint32(raw, crc32.ChecksumIEEE(raw))
	ev := parseHeader(raw)
	ev.Raw, ev.Offset, ev.hasCRC = raw, s.off, true
	s.evs = append(s.evs, ev)
	s.off += int64(size)
}

func queryBody(q string) []byte {
	b := make([]byte, 13)
	b[8] = 1 // db "t"
	return append(append(b, 't', 0), q...)
}

func (s *synth) query(q string) { s.add(QueryEvent, 1, 0, queryBody(q)) }
func (s *synth) rows()          { s.add(EventType(30), 1, 0, []byte{1, 2, 3}) } // WRITE_ROWS v1
func (s *synth) xid()           { s.add(XIDEvent, 1, 0, make([]byte, 8)) }
func (s *synth) ev(t EventType) { s.add(t, 1, 0, make([]byte, 8)) }
func (s *synth) mariaGTID(seq uint64, flags uint8) {
	b := binary.LittleEndian.AppendUint64(nil, seq)
	b = binary.LittleEndian.AppendUint32(b, 0)
	s.add(MariadbGTIDEvent, 1, 0, append(append(b, flags), make([]byte, 6)...))
}
func (s *synth) mysqlGTID(gno uint64) {
	b := append([]byte{1}, []byte("0123456789abcdef")...)
	b = binary.LittleEndian.AppendUint64(b, gno)
	s.add(MySQLGTIDEvent, 1, 0, append(b, make([]byte, 16)...))
}
func (s *synth) anonGTID() { s.add(AnonymousGTIDEvent, 1, 0, make([]byte, 42)) }

// split runs a Splitter and renders its transactions and drops as text.
func split(t *testing.T, s *synth) (done []string, dropped []string, open string) {
	t.Helper()
	var sp Splitter
	for i := range s.evs {
		res, err := sp.Step("f.000001", &s.evs[i])
		if err != nil {
			t.Fatal(err)
		}
		if res.Dropped != nil {
			dropped = append(dropped, res.Dropped.GTID)
		}
		if res.Kind == End {
			done = append(done, res.Trx.GTID+"/"+strconv.Itoa(res.Trx.Events))
		}
	}
	if o := sp.Open(); o != nil {
		open = o.GTID
	}
	return done, dropped, open
}

func TestSplitterSynthetic(t *testing.T) {
	const uuid = "30313233-3435-3637-3839-616263646566"
	cases := []struct {
		name    string
		build   func(s *synth)
		done    []string // gtid/events
		dropped []string
		open    string
		why     string
	}{
		{"mariadb row trx", func(s *synth) {
			s.mariaGTID(1, GTIDTransaction)
			s.ev(AnnotateRowsEvent)
			s.ev(EventType(19))
			s.rows()
			s.xid()
		},
			[]string{"0-1-1/5"}, nil, "", "ends at XID"},
		{"mariadb standalone ddl", func(s *synth) {
			s.mariaGTID(2, GTIDStandalone|GTIDDDL)
			s.query("CREATE TABLE x (a int)")
			s.mariaGTID(3, GTIDStandalone)
			s.query("DROP TABLE x")
		},
			[]string{"0-1-2/2", "0-1-3/2"}, nil, "", "standalone GTID: one statement"},
		{"mariadb statement with ROLLBACK in data", func(s *synth) {
			s.mariaGTID(4, 0)
			s.query("BEGIN")
			s.ev(IntvarEvent)
			s.query("INSERT INTO s VALUES ('ROLLBACK')")
			s.query("INSERT INTO s VALUES ('x\nROLLBACK\n')")
			s.query("COMMIT")
		}, []string{"0-1-4/6"}, nil, "", "ROLLBACK inside a statement does not end it; COMMIT does"},
		{"mariadb rollback of non-transactional", func(s *synth) {
			s.mariaGTID(5, 0)
			s.query("BEGIN")
			s.query("INSERT INTO m VALUES (1)")
			s.query("ROLLBACK")
		},
			[]string{"0-1-5/4"}, nil, "", "Query ROLLBACK ends the group"},
		{"relay rotate inside trx", func(s *synth) {
			s.mariaGTID(6, 0)
			s.query("BEGIN")
			s.ev(RotateEvent)
			s.ev(FormatDescriptionEvent)
			s.rows()
			s.xid()
		},
			[]string{"0-1-6/4"}, nil, "", "relay-log rotation events are outside, the trx goes on"},
		{"cut by a new gtid", func(s *synth) {
			s.mariaGTID(7, 0)
			s.query("BEGIN")
			s.rows()
			s.mariaGTID(8, 0)
			s.query("BEGIN")
			s.xid()
		},
			[]string{"0-1-8/3"}, []string{"0-1-7"}, "", "a reconnect re-sends a transaction from its GTID"},
		{"open at end", func(s *synth) { s.mariaGTID(9, 0); s.query("BEGIN"); s.rows() },
			nil, nil, "0-1-9", "trailing incomplete transaction"},
		{"mariadb xa prepare", func(s *synth) {
			s.mariaGTID(10, GTIDPreparedXA)
			s.query("XA START 'x'")
			s.rows()
			s.query("XA END 'x'")
			s.ev(XAPrepareEvent)
		},
			[]string{"0-1-10/5"}, nil, "", "XA_PREPARE ends the prepared part"},
		{"mysql gtid dml", func(s *synth) { s.mysqlGTID(5); s.query("BEGIN"); s.ev(EventType(19)); s.rows(); s.xid() },
			[]string{uuid + ":5/5"}, nil, "", "MySQL GTID then BEGIN: ends at XID"},
		{"mysql gtid ddl", func(s *synth) {
			s.mysqlGTID(6)
			s.query("CREATE TABLE y (a int)")
			s.mysqlGTID(7)
			s.query("BEGIN")
			s.query("INSERT INTO y VALUES (1)")
			s.query("COMMIT")
		},
			[]string{uuid + ":6/2", uuid + ":7/4"}, nil, "", "MySQL has no standalone flag: a first Query that is not BEGIN is the whole trx"},
		{"mysql anonymous", func(s *synth) {
			s.anonGTID()
			s.query("BEGIN")
			s.rows()
			s.xid()
			s.anonGTID()
			s.query("DROP TABLE y")
		},
			[]string{"/4", "/2"}, nil, "", "ANONYMOUS_GTID behaves as GTID without an id"},
		{"mysql compressed payload", func(s *synth) { s.mysqlGTID(8); s.ev(TransactionPayload) },
			[]string{uuid + ":8/2"}, nil, "", "a TRANSACTION_PAYLOAD holds the whole transaction"},
		{"no gtid", func(s *synth) {
			s.query("BEGIN")
			s.rows()
			s.xid()
			s.ev(IntvarEvent)
			s.query("INSERT INTO t VALUES (NULL)")
			s.query("CREATE TABLE z (a int)")
		},
			[]string{"/3", "/2", "/1"}, nil, "", "old binlogs: BEGIN groups, lone statements with their Intvar"},
		{"outside only", func(s *synth) {
			s.ev(FormatDescriptionEvent)
			s.ev(MariadbGTIDListEvent)
			s.ev(BinlogCheckpointEvent)
			s.xid()
			s.ev(StopEvent)
		},
			nil, nil, "", "an orphan XID outside any transaction starts nothing"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var s synth
			c.build(&s)
			done, dropped, open := split(t, &s)
			if !slices.Equal(done, c.done) || !slices.Equal(dropped, c.dropped) || open != c.open {
				t.Errorf("done %v dropped %v open %q; want %v %v %q (%s)", done, dropped, open, c.done, c.dropped, c.open, c.why)
			}
		})
	}
}

// TestSplitterFixture: the master's binlogs split into the 29 GTIDs the
// master reported, each DDL standalone, none dropped or left open.
func TestSplitterFixture(t *testing.T) {
	st := loadSlaveStatus(t)
	var sp Splitter
	var ids []string
	standalone := 0
	for _, n := range masterBinlogs {
		evs := allEvents(t, fixture(n))
		for i := range evs {
			res, err := sp.Step(n, &evs[i])
			if err != nil {
				t.Fatal(err)
			}
			if res.Dropped != nil {
				t.Errorf("dropped %s", res.Dropped)
			}
			if res.Kind == End {
				ids = append(ids, res.Trx.GTID)
				if res.Trx.Standalone {
					standalone++
				}
			}
		}
	}
	if sp.Open() != nil {
		t.Errorf("open at end: %s", sp.Open())
	}
	if !slices.Equal(ids, masterGTIDs(t)) {
		t.Errorf("transactions %v", ids)
	}
	// gtid_binlog_pos "0-231-28,7-231-1": 28 in domain 0, 1 in domain 7.
	if len(ids) != 29 || !strings.Contains(st.MasterGtidBinlogPos, ids[len(ids)-1]) {
		t.Errorf("%d transactions, last %s; master at %s", len(ids), ids[len(ids)-1], st.MasterGtidBinlogPos)
	}
	if standalone < 6 {
		t.Errorf("%d standalone (DDL) transactions, want at least 6", standalone)
	}
}

// TestScanSummaryFixture checks the decoded Gtid_list and Rotate.
func TestScanSummaryFixture(t *testing.T) {
	s1, err := ScanSource(context.Background(), FileSource(fixture("mysql-bin.000001")), ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s1.Rotate == nil || s1.Rotate.Next != "mysql-bin.000002" || s1.Rotate.Pos != 4 || s1.FirstGTID != "0-231-1" {
		t.Errorf("mysql-bin.000001: rotate %+v first %s", s1.Rotate, s1.FirstGTID)
	}
	s2, err := ScanSource(context.Background(), FileSource(fixture("mysql-bin.000002")), ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []MariadbGTID{{Domain: 0, ServerID: 231, Seq: 10}}
	if !slices.Equal(s2.GTIDList, want) || s2.LastGTID != "0-231-28" || s2.Rotate != nil {
		t.Errorf("mysql-bin.000002: gtid list %v last %s rotate %v", s2.GTIDList, s2.LastGTID, s2.Rotate)
	}
}
