package binlog

import "fmt"

// Trx is one transaction found in a binlog or relay log.
type Trx struct {
	GTID       string // "domain-server-seq" (MariaDB), "uuid:gno" (MySQL), "" without GTIDs
	Standalone bool   // MariaDB FL_STANDALONE, or a MySQL GTID followed by a single DDL
	File       string // file holding the first event
	Start      int64  // offset of the first event (the GTID event, or BEGIN)
	EndFile    string // file holding the last event
	End        int64  // offset right after the last event
	LogPos     uint32 // end_log_pos of the last event seen: the master's end position
	Events     int    // events counted in the transaction
}

func (t *Trx) String() string {
	id := t.GTID
	if id == "" {
		id = "no gtid"
	}
	return fmt.Sprintf("%s at %s:%d", id, t.File, t.Start)
}

// StepKind says what an event means to the transaction structure.
type StepKind uint8

// Step kinds.
const (
	// Outside: the event is not part of any transaction (FDE, Rotate,
	// Gtid_list, binlog checkpoint, Stop, heartbeat, ...). It can occur in the
	// middle of a transaction in relay logs; the transaction goes on.
	Outside StepKind = iota
	// Begin: the event starts a transaction that is still open.
	Begin
	// Inside: the event belongs to the open transaction.
	Inside
	// End: the event completes a transaction (possibly one it also began).
	End
)

type trxMode uint8

const (
	modeNone       trxMode = iota
	modeMulti              // ends at XID, COMMIT, ROLLBACK, XA_PREPARE
	modeStandalone         // ends at the first Query (or XID)
	modeMySQLFirst         // MySQL GTID: the first Query decides (BEGIN or DDL)
)

// Splitter groups a stream of events into transactions. Feed it every event
// in file order, across files, with Step.
//
// MariaDB: a GTID event starts a transaction; it ends at XID, at the Query
// COMMIT or ROLLBACK, at XA_PREPARE, or after the single statement of a
// standalone GTID. MySQL: GTID or ANONYMOUS_GTID starts one; the following
// Query is BEGIN (then as MariaDB) or a DDL that is the whole transaction.
// Without GTID events, BEGIN starts one and a lone Query is one by itself.
type Splitter struct {
	cur  *Trx
	mode trxMode
}

// StepResult is what Step found.
type StepResult struct {
	Kind StepKind
	// Trx is the open (Begin, Inside) or completed (End) transaction.
	Trx *Trx
	// Dropped is a transaction this event proved incomplete: a new one
	// started before it ended. Its events must not be applied.
	Dropped *Trx
}

// Open returns the transaction that has begun and not ended, or nil.
func (s *Splitter) Open() *Trx { return s.cur }

// Reset forgets an open transaction (returned) and starts afresh.
func (s *Splitter) Reset() *Trx {
	t := s.cur
	s.cur, s.mode = nil, modeNone
	return t
}

// Step classifies ev, read from file, and advances the splitter.
func (s *Splitter) Step(file string, ev *Event) (StepResult, error) {
	if isOutside(ev.Type) {
		return StepResult{Kind: Outside}, nil
	}
	switch ev.Type {
	case MariadbGTIDEvent, MySQLGTIDEvent, AnonymousGTIDEvent:
		return s.startGTID(file, ev)
	case XIDEvent, XAPrepareEvent, TransactionPayload:
		if s.cur == nil {
			return StepResult{Kind: Outside}, nil
		}
		return s.end(file, ev), nil
	case QueryEvent:
		return s.query(file, ev)
	case QueryCompressedEvent:
		// A compressed query is never BEGIN/COMMIT: a statement.
		return s.statement(file, ev), nil
	}
	if s.cur == nil {
		// Intvar/Rand/User_var before a statement without GTIDs.
		s.begin(file, ev, "", modeStandalone)
		return StepResult{Kind: Begin, Trx: s.cur}, nil
	}
	s.add(file, ev)
	return StepResult{Kind: Inside, Trx: s.cur}, nil
}

func (s *Splitter) startGTID(file string, ev *Event) (StepResult, error) {
	res := StepResult{Kind: Begin, Dropped: s.Reset()}
	var id string
	mode := modeMySQLFirst
	if ev.Type == MariadbGTIDEvent {
		g, err := DecodeMariadbGTID(ev)
		if err != nil {
			return res, err
		}
		id = g.GTID.String()
		mode = modeMulti
		if g.Standalone() {
			mode = modeStandalone
		}
	} else {
		var err error
		if id, err = DecodeMySQLGTID(ev); err != nil {
			return res, err
		}
	}
	s.begin(file, ev, id, mode)
	s.cur.Standalone = mode == modeStandalone
	res.Trx = s.cur
	return res, nil
}

func (s *Splitter) query(file string, ev *Event) (StepResult, error) {
	q, err := QueryText(ev)
	if err != nil {
		return StepResult{}, err
	}
	kind := classifyQuery(q)
	switch {
	case s.cur == nil && kind == queryBegin:
		s.begin(file, ev, "", modeMulti)
		return StepResult{Kind: Begin, Trx: s.cur}, nil
	case s.cur == nil:
		s.begin(file, ev, "", modeStandalone)
		return s.end(file, nil), nil
	case s.mode == modeMySQLFirst && kind == queryBegin:
		s.mode = modeMulti
		s.add(file, ev)
		return StepResult{Kind: Inside, Trx: s.cur}, nil
	case s.mode == modeMySQLFirst:
		s.cur.Standalone = true
		return s.end(file, ev), nil
	case s.mode == modeStandalone, kind == queryCommit, kind == queryRollback:
		return s.end(file, ev), nil
	}
	s.add(file, ev)
	return StepResult{Kind: Inside, Trx: s.cur}, nil
}

// statement handles an event that is a statement but never BEGIN/COMMIT.
func (s *Splitter) statement(file string, ev *Event) StepResult {
	if s.cur == nil {
		s.begin(file, ev, "", modeStandalone)
		return s.end(file, nil)
	}
	if s.mode == modeStandalone || s.mode == modeMySQLFirst {
		return s.end(file, ev)
	}
	s.add(file, ev)
	return StepResult{Kind: Inside, Trx: s.cur}
}

func (s *Splitter) begin(file string, ev *Event, gtid string, mode trxMode) {
	s.cur = &Trx{GTID: gtid, File: file, Start: ev.Offset}
	s.mode = mode
	s.add(file, ev)
}

func (s *Splitter) add(file string, ev *Event) {
	s.cur.Events++
	s.cur.EndFile = file
	s.cur.End = ev.End()
	s.cur.LogPos = ev.LogPos
}

// end completes the open transaction with ev (nil: already added).
func (s *Splitter) end(file string, ev *Event) StepResult {
	if ev != nil {
		s.add(file, ev)
	}
	t := s.Reset()
	return StepResult{Kind: End, Trx: t}
}
