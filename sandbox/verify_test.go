package sandbox

import (
	"reflect"
	"strings"
	"testing"
)

func TestMissingIDs(t *testing.T) {
	present := map[int64]bool{1: true, 2: true, 4: true}
	cases := []struct {
		why   string
		acked []int64
		want  []int64
	}{
		{"all present", []int64{1, 2, 4}, nil},
		{"missing ones in acked order", []int64{5, 1, 3, 2}, []int64{5, 3}},
		{"an id listed twice is reported once", []int64{3, 3}, []int64{3}},
	}
	for _, tc := range cases {
		if got := missingIDs(tc.acked, present); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: missingIDs = %v, want %v", tc.why, got, tc.want)
		}
	}
}

func TestListIDs(t *testing.T) {
	many := make([]int64, 25)
	for i := range many {
		many[i] = int64(i + 1)
	}
	cases := []struct {
		why  string
		ids  []int64
		want string
	}{
		{"few ids are all listed", []int64{3, 9}, "3, 9"},
		{"at most 20 listed, then the count of the rest", many,
			"1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20 and 5 more"},
	}
	for _, tc := range cases {
		if got := listIDs(tc.ids, maxListedIDs); got != tc.want {
			t.Errorf("%s: listIDs = %q, want %q", tc.why, got, tc.want)
		}
	}
}

func TestDiffSums(t *testing.T) {
	m := Host{Name: "host1", Addr: "127.0.0.1"}
	r := Host{Name: "host3", Addr: "127.0.0.3"}
	base := map[string]tableSum{"writes": {"123", 10}, "t": {"7", 1}}
	cases := []struct {
		why     string
		replica map[string]tableSum
		want    []string // substrings, one per expected line
	}{
		{"identical data", map[string]tableSum{"writes": {"123", 10}, "t": {"7", 1}}, nil},
		{"an errant row changes checksum and count",
			map[string]tableSum{"writes": {"456", 11}, "t": {"7", 1}},
			[]string{"host3 (127.0.0.3): table gomha_test.writes has checksum 456 and 11 rows, master host1 (127.0.0.1) has checksum 123 and 10 rows"}},
		{"a table missing on the replica, and one only the replica has",
			map[string]tableSum{"writes": {"123", 10}, "x": {"1", 1}},
			[]string{"table gomha_test.t exists on master host1 (127.0.0.1) but not on host3", "table gomha_test.x exists on host3 (127.0.0.3) but not on master"}},
	}
	for _, tc := range cases {
		got := diffSums(m, r, base, tc.replica)
		if len(got) != len(tc.want) {
			t.Errorf("%s: diffSums = %q, want %d lines", tc.why, got, len(tc.want))
			continue
		}
		for i, w := range tc.want {
			if !strings.Contains(got[i], w) {
				t.Errorf("%s: line %q lacks %q", tc.why, got[i], w)
			}
		}
	}
}

func TestPosReached(t *testing.T) {
	want := binlogPos{File: "mysql-bin.000002", Pos: 500}
	cases := []struct {
		why string
		at  binlogPos
		ok  bool
	}{
		{"same position", binlogPos{"mysql-bin.000002", 500}, true},
		{"behind in the same file", binlogPos{"mysql-bin.000002", 499}, false},
		{"an earlier file, whatever the offset", binlogPos{"mysql-bin.000001", 90000}, false},
		{"a later file (the master rotated)", binlogPos{"mysql-bin.000003", 4}, true},
	}
	for _, tc := range cases {
		if got := posReached(tc.at, want); got != tc.ok {
			t.Errorf("%s: posReached(%v) = %v", tc.why, tc.at, got)
		}
	}
}
