package binlog

import (
	"errors"
	"testing"
)

func TestPosCompare(t *testing.T) {
	cases := []struct {
		a, b Pos
		want int
		why  string
	}{
		{Pos{"mysql-bin.000002", 4}, Pos{"mysql-bin.000010", 4}, -1, "numeric, not lexical, suffix order"},
		{Pos{"mysql-bin.999999", 900}, Pos{"mysql-bin.1000000", 4}, -1, "suffix wider than six digits"},
		{Pos{"mysql-bin.000003", 120}, Pos{"mysql-bin.000003", 4}, 1, "same file: offsets"},
		{Pos{"mysql-bin.000003", 120}, Pos{"mysql-bin.000003", 120}, 0, "equal"},
		{Pos{"a-bin.000009", 4}, Pos{"b-bin.000001", 4}, -1, "different bases compare by base"},
		{Pos{"mysql-bin.abc", 4}, Pos{"mysql-bin.000001", 4}, 1, "non-numeric suffix must not panic (go-mysql's does)"},
		{Pos{"", 0}, Pos{"mysql-bin.000001", 4}, -1, "empty name sorts first"},
	}
	for _, c := range cases {
		if got := c.a.Compare(c.b); got != c.want {
			t.Errorf("%s vs %s = %d, want %d (%s)", c.a, c.b, got, c.want, c.why)
		}
		if got := c.b.Compare(c.a); got != -c.want {
			t.Errorf("%s vs %s = %d, want %d (antisymmetry)", c.b, c.a, got, -c.want)
		}
	}
}

func TestParsePos(t *testing.T) {
	cases := []struct {
		in      string
		want    Pos
		wantErr bool
		why     string
	}{
		{"mysql-bin.000012:4567", Pos{"mysql-bin.000012", 4567}, false, "plain"},
		{"/var/lib/mysql/mysql-bin.000012:4", Pos{"/var/lib/mysql/mysql-bin.000012", 4}, false, "with a directory"},
		{"mysql-bin.abc:4", Pos{}, true, "non-numeric suffix"},
		{"mysql-bin:4", Pos{}, true, "no suffix"},
		{"mysql-bin.000001:-4", Pos{}, true, "negative offset"},
		{"mysql-bin.000001", Pos{}, true, "no offset"},
		{"mysql-bin.:4", Pos{}, true, "empty suffix"},
	}
	for _, c := range cases {
		got, err := ParsePos(c.in)
		if (err != nil) != c.wantErr || got != c.want {
			t.Errorf("ParsePos(%q) = %v, %v; want %v err %v (%s)", c.in, got, err, c.want, c.wantErr, c.why)
		}
	}
	if _, _, err := ParseFileName("relay-bin.x1"); !errors.Is(err, ErrBadFileName) {
		t.Errorf("ParseFileName error %v, want ErrBadFileName", err)
	}
}

func TestPrevFileName(t *testing.T) {
	cases := []struct {
		in, want string
		ok       bool
	}{
		{"mysql-bin.000010", "mysql-bin.000009", true},
		{"mysql-bin.1000000", "mysql-bin.999999", true},
		{"mysql-bin.000000", "", false},
		{"mysql-bin", "", false},
	}
	for _, c := range cases {
		got, ok := prevFileName(c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("prevFileName(%q) = %q %v, want %q %v", c.in, got, ok, c.want, c.ok)
		}
	}
}
