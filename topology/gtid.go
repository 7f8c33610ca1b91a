package topology

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// ErrBadGTID is returned for a GTID or GTID position that does not parse.
var ErrBadGTID = errors.New("malformed GTID")

// GTID is one MariaDB global transaction id, "domain-server_id-seq".
type GTID struct {
	Domain   uint32
	ServerID uint32
	Seq      uint64
}

// String returns "domain-server_id-seq".
func (g GTID) String() string {
	return fmt.Sprintf("%d-%d-%d", g.Domain, g.ServerID, g.Seq)
}

// ParseGTID parses "domain-server_id-seq".
func ParseGTID(s string) (GTID, error) {
	parts := strings.Split(strings.TrimSpace(s), "-")
	if len(parts) != 3 {
		return GTID{}, fmt.Errorf("%w: %q: want domain-server_id-seq", ErrBadGTID, s)
	}
	d, err1 := strconv.ParseUint(parts[0], 10, 32)
	srv, err2 := strconv.ParseUint(parts[1], 10, 32)
	seq, err3 := strconv.ParseUint(parts[2], 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return GTID{}, fmt.Errorf("%w: %q: want three unsigned numbers", ErrBadGTID, s)
	}
	return GTID{Domain: uint32(d), ServerID: uint32(srv), Seq: seq}, nil
}

// GTIDPos is a MariaDB GTID position (gtid_current_pos, gtid_slave_pos,
// gtid_binlog_pos, Gtid_IO_Pos): the last GTID of each replication domain,
// at most one per domain, kept sorted by domain. It is a position, not a
// set: in a domain, every seq up to the last is taken to be present.
type GTIDPos []GTID

// ParseGTIDPos parses "0-1-100,1-2-7". The empty string is the empty
// position. Two GTIDs in one domain (the form of gtid_binlog_state) are
// rejected rather than silently collapsed.
func ParseGTIDPos(s string) (GTIDPos, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return GTIDPos{}, nil
	}
	var p GTIDPos
	for part := range strings.SplitSeq(s, ",") {
		g, err := ParseGTID(part)
		if err != nil {
			return nil, fmt.Errorf("parse GTID position %q: %w", s, err)
		}
		if _, dup := p.Get(g.Domain); dup {
			return nil, fmt.Errorf("parse GTID position %q: %w: two GTIDs in domain %d (a binlog state, not a position)", s, ErrBadGTID, g.Domain)
		}
		p = append(p, g)
	}
	slices.SortFunc(p, func(a, b GTID) int { return cmp.Compare(a.Domain, b.Domain) })
	return p, nil
}

// String returns the position as MariaDB prints it, sorted by domain.
func (p GTIDPos) String() string {
	parts := make([]string, len(p))
	for i, g := range p {
		parts[i] = g.String()
	}
	return strings.Join(parts, ",")
}

// MarshalText makes a position appear as its string in JSON.
func (p GTIDPos) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// Get returns the GTID of a domain.
func (p GTIDPos) Get(domain uint32) (GTID, bool) {
	for _, g := range p {
		if g.Domain == domain {
			return g, true
		}
	}
	return GTID{}, false
}

// Seq returns the last seq of a domain, 0 when the domain is absent.
func (p GTIDPos) Seq(domain uint32) uint64 {
	g, _ := p.Get(domain)
	return g.Seq
}

// Domains returns the domains present, sorted.
func (p GTIDPos) Domains() []uint32 {
	out := make([]uint32, len(p))
	for i, g := range p {
		out[i] = g.Domain
	}
	return out
}

// Contains reports whether p has reached q in every domain of q (p's seq >=
// q's seq). Like go-mysql's MariadbGTIDSet.Contain it ignores server_id; use
// CompareGTIDPos to detect diverged histories.
func (p GTIDPos) Contains(q GTIDPos) bool {
	for _, g := range q {
		if p.Seq(g.Domain) < g.Seq {
			return false
		}
	}
	return true
}

// GTIDOrder is the outcome of comparing two GTID positions.
type GTIDOrder int

// Orders returned by CompareGTIDPos.
const (
	GTIDEqual        GTIDOrder = iota + 1 // same GTID in every domain compared
	GTIDBehind                            // a is behind b in some domain, never ahead
	GTIDAhead                             // a is ahead of b in some domain, never behind
	GTIDIncomparable                      // a ahead in one domain, behind in another
	GTIDDiverged                          // same seq, different server_id: alternate histories
)

func (o GTIDOrder) String() string {
	switch o {
	case GTIDEqual:
		return "equal"
	case GTIDBehind:
		return "behind"
	case GTIDAhead:
		return "ahead"
	case GTIDIncomparable:
		return "incomparable"
	case GTIDDiverged:
		return "diverged"
	}
	return "unknown"
}

// GTIDComparison is the result of CompareGTIDPos. For GTIDDiverged and
// GTIDIncomparable, Domain names the domain where the conflict was found and
// A and B are the two GTIDs there (zero GTID when a side lacks the domain).
type GTIDComparison struct {
	Order  GTIDOrder
	Domain uint32
	A, B   GTID
}

// CompareGTIDPos compares a and b in the given domains (all domains of
// either when domains is nil). A domain absent from one side counts as seq 0
// there. Equal seqs with different server_ids are a divergence: two servers
// each wrote that seq, so the histories differ even though go-mysql's Contain
// would call them equal.
//
// Positions alone cannot see a divergence below the last GTID (a behind
// position whose last GTID differs from what the ahead one holds at that
// seq); only the binlogs can. That case compares as GTIDBehind/GTIDAhead.
func CompareGTIDPos(a, b GTIDPos, domains []uint32) GTIDComparison {
	if domains == nil {
		domains = unionDomains(a, b)
	}
	var ahead, behind *GTIDComparison
	for _, d := range domains {
		ga, _ := a.Get(d)
		gb, _ := b.Get(d)
		switch {
		case ga.Seq == gb.Seq && ga.Seq != 0 && ga.ServerID != gb.ServerID:
			return GTIDComparison{Order: GTIDDiverged, Domain: d, A: ga, B: gb}
		case ga.Seq > gb.Seq && ahead == nil:
			ahead = &GTIDComparison{Order: GTIDAhead, Domain: d, A: ga, B: gb}
		case ga.Seq < gb.Seq && behind == nil:
			behind = &GTIDComparison{Order: GTIDBehind, Domain: d, A: ga, B: gb}
		}
	}
	switch {
	case ahead != nil && behind != nil:
		c := *ahead
		c.Order = GTIDIncomparable
		return c
	case ahead != nil:
		return *ahead
	case behind != nil:
		return *behind
	}
	return GTIDComparison{Order: GTIDEqual}
}

// DomainGap is what one position lacks in one domain relative to another:
// seqs FromSeq+1 .. ToSeq, ending with GTID Domain-ServerID-ToSeq.
type DomainGap struct {
	Domain   uint32
	ServerID uint32 // server_id of the last missing GTID
	FromSeq  uint64 // last seq held (0 = none)
	ToSeq    uint64
}

// String returns "domain 0: seq 101..120 (up to 0-1-120)".
func (g DomainGap) String() string {
	end := GTID{Domain: g.Domain, ServerID: g.ServerID, Seq: g.ToSeq}
	if g.FromSeq+1 == g.ToSeq {
		return fmt.Sprintf("domain %d: seq %d (%s)", g.Domain, g.ToSeq, end)
	}
	return fmt.Sprintf("domain %d: seq %d..%d (up to %s)", g.Domain, g.FromSeq+1, g.ToSeq, end)
}

// Count is the number of missing transactions.
func (g DomainGap) Count() uint64 { return g.ToSeq - g.FromSeq }

// Lacks returns, per domain of target, what p lacks to reach target, sorted
// by domain. It assumes the two positions are ordered (see CompareGTIDPos).
func (p GTIDPos) Lacks(target GTIDPos) []DomainGap {
	var out []DomainGap
	for _, t := range target {
		if have := p.Seq(t.Domain); have < t.Seq {
			out = append(out, DomainGap{Domain: t.Domain, ServerID: t.ServerID, FromSeq: have, ToSeq: t.Seq})
		}
	}
	return out
}

func unionDomains(ps ...GTIDPos) []uint32 {
	var out []uint32
	for _, p := range ps {
		for _, g := range p {
			if !slices.Contains(out, g.Domain) {
				out = append(out, g.Domain)
			}
		}
	}
	slices.Sort(out)
	return out
}

// UnionGTIDDomains returns the sorted domains present in any position.
func UnionGTIDDomains(ps ...GTIDPos) []uint32 { return unionDomains(ps...) }

// ParseGTIDState parses MariaDB's gtid_binlog_state: the last GTID of every
// (domain, server_id) pair, so a domain may appear more than once.
func ParseGTIDState(s string) ([]GTID, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	var out []GTID
	for part := range strings.SplitSeq(s, ",") {
		g, err := ParseGTID(part)
		if err != nil {
			return nil, fmt.Errorf("parse GTID state %q: %w", s, err)
		}
		out = append(out, g)
	}
	return out, nil
}

// HeldGTIDs is how far a MariaDB server holds the replication stream, per
// domain: the further of gtid_slave_pos (what its SQL thread applied) and
// the GTIDs of other servers in its binlog (replicated with
// log_slave_updates, or applied by a client such as mariadb-binlog |
// mariadb, which keeps the GTIDs but leaves gtid_slave_pos alone). GTIDs
// of its own server_id are its own writes, not the stream's, and are left
// out.
func HeldGTIDs(st *Status) (GTIDPos, error) {
	slave, err := ParseGTIDPos(st.GTIDSlavePos)
	if err != nil {
		return nil, fmt.Errorf("gtid_slave_pos of %s: %w", st.Key, err)
	}
	state, err := ParseGTIDState(st.GTIDBinlogState)
	if err != nil {
		return nil, fmt.Errorf("gtid_binlog_state of %s: %w", st.Key, err)
	}
	held := slices.Clone(slave)
	for _, g := range state {
		if g.ServerID == st.ServerID {
			continue
		}
		held = held.With(g)
	}
	return held, nil
}

// With returns p advanced to g in g's domain when g is further (or the
// domain is new); p is not modified.
func (p GTIDPos) With(g GTID) GTIDPos {
	out := slices.Clone(p)
	for i, h := range out {
		if h.Domain == g.Domain {
			if g.Seq > h.Seq {
				out[i] = g
			}
			return out
		}
	}
	out = append(out, g)
	slices.SortFunc(out, func(a, b GTID) int { return cmp.Compare(a.Domain, b.Domain) })
	return out
}
