package binlog

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrBadFileName: a binlog file name without a numeric suffix.
var ErrBadFileName = errors.New("binlog file name has no numeric suffix")

// Pos is a position in a binlog or relay-log file: a file name (as the
// server reports it, e.g. "mysql-bin.000012") and a byte offset.
type Pos struct {
	File   string
	Offset int64
}

func (p Pos) String() string { return p.File + ":" + strconv.FormatInt(p.Offset, 10) }

// IsZero reports whether p is the zero Pos.
func (p Pos) IsZero() bool { return p.File == "" && p.Offset == 0 }

// ParseFileName splits "mysql-bin.000012" into base "mysql-bin" and 12.
// Directories in name are kept in base.
func ParseFileName(name string) (base string, seq uint64, err error) {
	i := strings.LastIndexByte(name, '.')
	if i < 0 || i == len(name)-1 {
		return "", 0, fmt.Errorf("parse %q: %w", name, ErrBadFileName)
	}
	seq, err = strconv.ParseUint(name[i+1:], 10, 64)
	if err != nil {
		return "", 0, fmt.Errorf("parse %q: %w", name, ErrBadFileName)
	}
	return name[:i], seq, nil
}

// ParsePos parses "file:offset".
func ParsePos(s string) (Pos, error) {
	i := strings.LastIndexByte(s, ':')
	if i <= 0 {
		return Pos{}, fmt.Errorf("parse position %q: want file:offset", s)
	}
	off, err := strconv.ParseInt(s[i+1:], 10, 64)
	if err != nil || off < 0 {
		return Pos{}, fmt.Errorf("parse position %q: bad offset", s)
	}
	if _, _, err := ParseFileName(s[:i]); err != nil {
		return Pos{}, fmt.Errorf("parse position %q: %w", s, err)
	}
	return Pos{File: s[:i], Offset: off}, nil
}

// Compare orders positions: by file base name, then by the numeric suffix
// (so "mysql-bin.1000000" follows "mysql-bin.999999"), then by offset. It
// never panics: names without a numeric suffix compare as plain strings; use
// ParseFileName or ParsePos to reject them.
func (p Pos) Compare(q Pos) int {
	if c := CompareFileNames(p.File, q.File); c != 0 {
		return c
	}
	switch {
	case p.Offset < q.Offset:
		return -1
	case p.Offset > q.Offset:
		return 1
	}
	return 0
}

// CompareFileNames orders binlog file names as Compare does.
func CompareFileNames(a, b string) int {
	ab, an, aerr := ParseFileName(a)
	bb, bn, berr := ParseFileName(b)
	if aerr != nil || berr != nil {
		return strings.Compare(a, b)
	}
	if c := strings.Compare(ab, bb); c != 0 {
		return c
	}
	switch {
	case an < bn:
		return -1
	case an > bn:
		return 1
	}
	return 0
}

// prevFileName returns the file before name in its sequence, keeping the
// server's %06u suffix format ("mysql-bin.000010" -> "mysql-bin.000009",
// "mysql-bin.1000000" -> "mysql-bin.999999").
func prevFileName(name string) (string, bool) {
	base, seq, err := ParseFileName(name)
	if err != nil || seq == 0 {
		return "", false
	}
	width := min(len(name)-len(base)-1, 6)
	return fmt.Sprintf("%s.%0*d", base, width, seq-1), true
}
