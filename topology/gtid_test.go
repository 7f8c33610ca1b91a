package topology

import (
	"errors"
	"testing"
)

func TestParseGTIDPos(t *testing.T) {
	tests := []struct {
		in, want string
		err      bool
		why      string
	}{
		{in: "", want: "", why: "an empty position is valid (a fresh server)"},
		{in: "0-1-100", want: "0-1-100", why: "single domain"},
		{in: "1-2-7, 0-1-100", want: "0-1-100,1-2-7", why: "domains are sorted and spaces tolerated"},
		{in: "0-1-5,0-2-7", err: true, why: "two GTIDs in one domain is gtid_binlog_state, not a position; go-mysql would silently keep the last"},
		{in: "0-1", err: true, why: "a GTID has three parts"},
		{in: "0-x-1", err: true, why: "non-numeric server_id"},
		{in: "0-1-18446744073709551615", want: "0-1-18446744073709551615", why: "seq is 64-bit"},
	}
	for _, tc := range tests {
		p, err := ParseGTIDPos(tc.in)
		if tc.err {
			if !errors.Is(err, ErrBadGTID) {
				t.Errorf("%q (%s): err = %v, want ErrBadGTID", tc.in, tc.why, err)
			}
			continue
		}
		if err != nil || p.String() != tc.want {
			t.Errorf("%q (%s): got %q, %v; want %q", tc.in, tc.why, p.String(), err, tc.want)
		}
	}
}

func TestCompareGTIDPos(t *testing.T) {
	tests := []struct {
		a, b    string
		domains []uint32
		want    GTIDOrder
		domain  uint32
		why     string
	}{
		{a: "0-1-10", b: "0-1-10", want: GTIDEqual, why: "identical positions"},
		{a: "0-1-10", b: "0-1-7", want: GTIDAhead, why: "higher seq in the only domain"},
		{a: "0-1-7", b: "0-1-10", want: GTIDBehind, why: "lower seq in the only domain"},
		{a: "0-1-10", b: "0-2-10", want: GTIDDiverged, domain: 0, why: "same seq, different server_id: two servers wrote seq 10 (go-mysql's Contain says equal)"},
		{a: "0-1-10,1-1-5", b: "0-1-10,1-3-5", want: GTIDDiverged, domain: 1, why: "divergence in the second domain is found"},
		{a: "0-1-10,1-1-3", b: "0-1-8,1-1-5", want: GTIDIncomparable, domain: 0, why: "ahead in one domain and behind in another cannot both be prefixes of one master's binlog"},
		{a: "0-1-10,1-1-5", b: "0-1-10", want: GTIDAhead, domain: 1, why: "a missing domain counts as seq 0"},
		{a: "0-1-10,9-5-3", b: "0-1-10", domains: []uint32{0}, want: GTIDEqual, why: "only the domains asked for are compared (a replica's local domain is not the master's)"},
		{a: "0-1-10", b: "0-2-12", want: GTIDBehind, why: "a divergence below the last GTID is invisible in positions (documented limit)"},
		{a: "", b: "", want: GTIDEqual, why: "two empty positions"},
	}
	for _, tc := range tests {
		a, b := mustPos(t, tc.a), mustPos(t, tc.b)
		got := CompareGTIDPos(a, b, tc.domains)
		if got.Order != tc.want || (tc.want != GTIDEqual && got.Domain != tc.domain) {
			t.Errorf("%q vs %q (%s): got %v in domain %d, want %v in domain %d", tc.a, tc.b, tc.why, got.Order, got.Domain, tc.want, tc.domain)
		}
		if tc.want == GTIDDiverged && (got.A.ServerID == got.B.ServerID) {
			t.Errorf("%q vs %q: divergence should name both GTIDs, got %v %v", tc.a, tc.b, got.A, got.B)
		}
	}
}

func TestGTIDPosLacksAndContains(t *testing.T) {
	tests := []struct {
		have, target string
		want         []string
		contains     bool
		why          string
	}{
		{have: "0-1-100", target: "0-1-120", want: []string{"domain 0: seq 101..120 (up to 0-1-120)"}, why: "per-domain range from its seq to the target's"},
		{have: "0-1-119", target: "0-1-120", want: []string{"domain 0: seq 120 (0-1-120)"}, why: "a single missing transaction prints as one seq"},
		{have: "0-1-100", target: "0-1-100,1-1-4", want: []string{"domain 1: seq 1..4 (up to 1-1-4)"}, why: "a whole domain missing"},
		{have: "0-1-100,1-1-9", target: "0-1-90,1-1-4", contains: true, why: "ahead everywhere lacks nothing"},
	}
	for _, tc := range tests {
		have, target := mustPos(t, tc.have), mustPos(t, tc.target)
		gaps := have.Lacks(target)
		if len(gaps) != len(tc.want) {
			t.Fatalf("%s: gaps = %v, want %v", tc.why, gaps, tc.want)
		}
		for i := range gaps {
			if gaps[i].String() != tc.want[i] {
				t.Errorf("%s: gap %d = %q, want %q", tc.why, i, gaps[i], tc.want[i])
			}
		}
		if have.Contains(target) != tc.contains {
			t.Errorf("%s: Contains = %v, want %v", tc.why, !tc.contains, tc.contains)
		}
	}
}

func mustPos(t *testing.T, s string) GTIDPos {
	t.Helper()
	p, err := ParseGTIDPos(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

const (
	uuidA = "3e11fa47-71ca-11e1-9e33-c80aa9429562"
	uuidB = "4e11fa47-71ca-11e1-9e33-c80aa9429562"
)

func TestMySQLGTIDSetSubtract(t *testing.T) {
	tests := []struct {
		a, b, want string
		why        string
	}{
		{a: uuidA + ":1-10", b: uuidA + ":1-10", want: "", why: "equal sets lack nothing"},
		{a: uuidA + ":1-10", b: uuidA + ":1-7", want: uuidA + ":8-10", why: "tail missing"},
		{a: uuidA + ":1-10", b: uuidA + ":3-5", want: uuidA + ":1-2:6-10", why: "a hole splits the interval"},
		{a: uuidA + ":1-10:20-30", b: uuidA + ":5-25", want: uuidA + ":1-4:26-30", why: "a cut spanning two intervals"},
		{a: uuidA + ":1-10," + uuidB + ":1-3", b: uuidA + ":1-10", want: uuidB + ":1-3", why: "a whole source UUID missing (errant transactions look like this)"},
		{a: uuidA + ":1-5", b: uuidA + ":1-10," + uuidB + ":1-3", want: "", why: "extra transactions in b do not matter"},
		{a: uuidA + ":1-5:tag1:1-3", b: uuidA + ":1-5", want: uuidA + ":tag1:1-3", why: "MySQL 8.4 tags are kept apart"},
		{a: uuidA + ":1-3,\n" + uuidB + ":1-2", b: "", want: uuidA + ":1-3," + uuidB + ":1-2", why: "newlines as SHOW SLAVE STATUS prints them"},
	}
	for _, tc := range tests {
		a, err := ParseMySQLGTIDSet(tc.a)
		if err != nil {
			t.Fatal(err)
		}
		b, err := ParseMySQLGTIDSet(tc.b)
		if err != nil {
			t.Fatal(err)
		}
		got := a.Subtract(b)
		if got.String() != tc.want {
			t.Errorf("%s: %q − %q = %q, want %q", tc.why, tc.a, tc.b, got, tc.want)
		}
		if b.Contains(a) != (tc.want == "") {
			t.Errorf("%s: Contains disagrees with Subtract", tc.why)
		}
	}
}

func TestMySQLGTIDSetUnionCount(t *testing.T) {
	a, _ := ParseMySQLGTIDSet(uuidA + ":1-10")
	b, _ := ParseMySQLGTIDSet(uuidA + ":5-20," + uuidB + ":1")
	u := a.Union(b)
	if u.String() != uuidA+":1-20,"+uuidB+":1" || u.Count() != 21 {
		t.Errorf("union = %q (%d), want 21 transactions", u, u.Count())
	}
	if a.String() != uuidA+":1-10" {
		t.Errorf("union modified its receiver: %q", a)
	}
	if got := u.Only([]string{uuidB}).String(); got != uuidB+":1" {
		t.Errorf("Only = %q", got)
	}
	if _, err := ParseMySQLGTIDSet("not-a-uuid:1"); !errors.Is(err, ErrBadGTID) {
		t.Errorf("bad set: err = %v, want ErrBadGTID", err)
	}
}

func TestCompareBinlogCoords(t *testing.T) {
	tests := []struct {
		a, b BinlogCoord
		want int
		err  bool
		why  string
	}{
		{a: BinlogCoord{"mysql-bin.000010", 4}, b: BinlogCoord{"mysql-bin.000009", 900}, want: 1, why: "file number wins over position"},
		{a: BinlogCoord{"mysql-bin.999999", 4}, b: BinlogCoord{"mysql-bin.1000000", 4}, want: -1, why: "a 7-digit suffix follows a 6-digit one; MHA's string compare gets this wrong"},
		{a: BinlogCoord{"mysql-bin.000003", 120}, b: BinlogCoord{"mysql-bin.000003", 4000}, want: -1, why: "same file: by position"},
		{a: BinlogCoord{}, b: BinlogCoord{"mysql-bin.000001", 4}, want: -1, why: "nothing read sorts first"},
		{a: BinlogCoord{"mysql-bin.000003", 4}, b: BinlogCoord{"other-bin.000003", 4}, err: true, why: "different base names cannot be ordered"},
		{a: BinlogCoord{"mysql-bin.abc", 4}, b: BinlogCoord{"mysql-bin.000003", 4}, err: true, why: "no numeric suffix (go-mysql panics here)"},
	}
	for _, tc := range tests {
		got, err := CompareBinlogCoords(tc.a, tc.b)
		if tc.err {
			if !errors.Is(err, ErrBinlogName) {
				t.Errorf("%s: err = %v, want ErrBinlogName", tc.why, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: %v vs %v = %d, %v; want %d", tc.why, tc.a, tc.b, got, err, tc.want)
		}
	}
}

func TestHeldGTIDs(t *testing.T) {
	cases := []struct {
		name, why, slave, state string
		want                    string
	}{
		{"slave position only", "what its SQL thread applied", "0-101-10", "", "0-101-10"},
		{"applied by a client", "mariadb-binlog | mariadb keeps the GTIDs in the binlog, not in gtid_slave_pos", "0-101-10", "0-101-25", "0-101-25"},
		{"own writes left out", "a write of the server itself (server_id 102) is not the stream's", "0-101-10", "0-101-10,0-102-30", "0-101-10"},
		{"several domains", "each domain on its own", "0-101-10,1-101-3", "1-101-7,2-105-1", "0-101-10,1-101-7,2-105-1"},
		{"slave ahead of binlog", "log_slave_updates off: the binlog lags", "0-101-40", "0-101-25", "0-101-40"},
	}
	for _, c := range cases {
		got, err := HeldGTIDs(&Status{ServerID: 102, GTIDSlavePos: c.slave, GTIDBinlogState: c.state})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got.String() != c.want {
			t.Errorf("%s (%s): HeldGTIDs = %s, want %s", c.name, c.why, got, c.want)
		}
	}
	if _, err := HeldGTIDs(&Status{GTIDBinlogState: "0-101"}); err == nil {
		t.Errorf("a malformed gtid_binlog_state must be an error")
	}
}
