package topology

import (
	"fmt"
	"slices"
	"strings"

	"github.com/go-mysql-org/go-mysql/mysql"
)

// MySQLGTIDSet is a MySQL GTID set ("uuid:1-5:11-18,uuid2:tag:1-3"), as
// gtid_executed, Retrieved_Gtid_Set and Executed_Gtid_Set print it. Parsing
// is go-mysql's; subtraction, which go-mysql lacks, is ours. The zero value
// is the empty set.
type MySQLGTIDSet struct {
	set mysql.MysqlGTIDSet
}

// ParseMySQLGTIDSet parses a MySQL GTID set. Whitespace and newlines between
// members (as SHOW SLAVE STATUS prints long sets) are allowed.
func ParseMySQLGTIDSet(s string) (MySQLGTIDSet, error) {
	s = strings.Join(strings.Fields(s), "")
	gs, err := mysql.ParseMysqlGTIDSet(s)
	if err != nil {
		return MySQLGTIDSet{}, fmt.Errorf("parse MySQL GTID set %q: %w: %v", s, ErrBadGTID, err)
	}
	return MySQLGTIDSet{set: *gs.(*mysql.MysqlGTIDSet)}, nil
}

// String returns the set in MySQL's form, UUIDs sorted.
func (s MySQLGTIDSet) String() string {
	if len(s.set) == 0 {
		return ""
	}
	return s.set.String()
}

// MarshalText makes a set appear as its string in JSON.
func (s MySQLGTIDSet) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// IsEmpty reports whether the set holds no transaction.
func (s MySQLGTIDSet) IsEmpty() bool { return s.Count() == 0 }

// Count returns the number of transactions in the set.
func (s MySQLGTIDSet) Count() int64 {
	var n int64
	for _, tags := range s.set {
		for _, ivs := range tags {
			for _, iv := range ivs {
				n += iv.Stop - iv.Start
			}
		}
	}
	return n
}

// UUIDs returns the source UUIDs present in the set, sorted.
func (s MySQLGTIDSet) UUIDs() []string {
	var out []string
	for u, tags := range s.set {
		for _, ivs := range tags {
			if len(ivs) > 0 {
				out = append(out, u.String())
				break
			}
		}
	}
	slices.Sort(out)
	return out
}

// Contains reports whether every transaction of o is in s.
func (s MySQLGTIDSet) Contains(o MySQLGTIDSet) bool { return o.Subtract(s).IsEmpty() }

// Union returns the transactions in s or o.
func (s MySQLGTIDSet) Union(o MySQLGTIDSet) MySQLGTIDSet {
	out := s.clone()
	for u, tags := range o.set {
		if out.set[u] == nil {
			out.set[u] = map[mysql.Tag]mysql.IntervalSlice{}
		}
		for tag, ivs := range tags {
			merged := append(slices.Clone(out.set[u][tag]), ivs...)
			out.set[u][tag] = merged.Normalize()
		}
	}
	return out
}

// Subtract returns the transactions of s that o lacks: s − o.
func (s MySQLGTIDSet) Subtract(o MySQLGTIDSet) MySQLGTIDSet {
	out := MySQLGTIDSet{set: mysql.NewMysqlGTIDSet()}
	for u, tags := range s.set {
		for tag, ivs := range tags {
			rest := subtractIntervals(ivs, o.set[u][tag])
			if len(rest) == 0 {
				continue
			}
			if out.set[u] == nil {
				out.set[u] = map[mysql.Tag]mysql.IntervalSlice{}
			}
			out.set[u][tag] = rest
		}
	}
	return out
}

// Only returns the part of s whose source UUID is in uuids.
func (s MySQLGTIDSet) Only(uuids []string) MySQLGTIDSet {
	out := MySQLGTIDSet{set: mysql.NewMysqlGTIDSet()}
	for u, tags := range s.set {
		if slices.Contains(uuids, u.String()) {
			out.set[u] = tags
		}
	}
	return out
}

func (s MySQLGTIDSet) clone() MySQLGTIDSet {
	out := MySQLGTIDSet{set: make(mysql.MysqlGTIDSet, len(s.set))}
	for u, tags := range s.set {
		m := make(map[mysql.Tag]mysql.IntervalSlice, len(tags))
		for tag, ivs := range tags {
			m[tag] = slices.Clone(ivs)
		}
		out.set[u] = m
	}
	return out
}

// subtractIntervals returns a − b for half-open intervals [Start, Stop).
func subtractIntervals(a, b mysql.IntervalSlice) mysql.IntervalSlice {
	a = slices.Clone(a).Normalize()
	b = slices.Clone(b).Normalize()
	var out mysql.IntervalSlice
	for _, iv := range a {
		start := iv.Start
		for _, cut := range b {
			if cut.Stop <= start || cut.Start >= iv.Stop {
				continue
			}
			if cut.Start > start {
				out = append(out, mysql.Interval{Start: start, Stop: cut.Start})
			}
			start = max(start, cut.Stop)
			if start >= iv.Stop {
				break
			}
		}
		if start < iv.Stop {
			out = append(out, mysql.Interval{Start: start, Stop: iv.Stop})
		}
	}
	return out
}

// Has reports whether the set holds one GTID ("uuid:n" or "uuid:tag:n");
// false when gtid does not parse.
func (s MySQLGTIDSet) Has(gtid string) bool {
	one, err := ParseMySQLGTIDSet(gtid)
	return err == nil && !one.IsEmpty() && s.Contains(one)
}

// With returns the set with one more GTID; s is not modified.
func (s MySQLGTIDSet) With(gtid string) MySQLGTIDSet {
	one, err := ParseMySQLGTIDSet(gtid)
	if err != nil {
		return s
	}
	return s.Union(one)
}
