package topology

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrBinlogName is returned when binlog file names cannot be ordered: a name
// without a numeric suffix, or two names with different base names.
var ErrBinlogName = errors.New("binlog file names cannot be ordered")

// BinlogCoord is a position in a master's binary log: a file name as the
// server reports it ("mysql-bin.000012") and a byte offset in that file.
type BinlogCoord struct {
	File string
	Pos  int64
}

// String returns "file:pos".
func (c BinlogCoord) String() string {
	if c.IsZero() {
		return "(none)"
	}
	return c.File + ":" + strconv.FormatInt(c.Pos, 10)
}

// IsZero reports whether the coordinate is unset (nothing read yet).
func (c BinlogCoord) IsZero() bool { return c.File == "" && c.Pos == 0 }

// SplitBinlogName splits "mysql-bin.000012" into "mysql-bin" and 12.
func SplitBinlogName(name string) (base string, seq uint64, err error) {
	i := strings.LastIndexByte(name, '.')
	if i <= 0 || i == len(name)-1 {
		return "", 0, fmt.Errorf("%w: %q has no numeric suffix", ErrBinlogName, name)
	}
	seq, err = strconv.ParseUint(name[i+1:], 10, 64)
	if err != nil {
		return "", 0, fmt.Errorf("%w: %q has no numeric suffix", ErrBinlogName, name)
	}
	return name[:i], seq, nil
}

// CompareBinlogFiles orders two binlog file names of one server by their
// numeric suffix, never as strings: "mysql-bin.1000000" follows
// "mysql-bin.999999" (MHA compares them as strings and gets this wrong).
// An empty name sorts before any other. Names with different base names, or
// without a numeric suffix, return ErrBinlogName.
func CompareBinlogFiles(a, b string) (int, error) {
	switch {
	case a == b:
		return 0, nil
	case a == "":
		return -1, nil
	case b == "":
		return 1, nil
	}
	ab, an, err := SplitBinlogName(a)
	if err != nil {
		return 0, err
	}
	bb, bn, err := SplitBinlogName(b)
	if err != nil {
		return 0, err
	}
	if ab != bb {
		return 0, fmt.Errorf("%w: %q and %q have different base names", ErrBinlogName, a, b)
	}
	switch {
	case an < bn:
		return -1, nil
	case an > bn:
		return 1, nil
	}
	return 0, nil
}

// CompareBinlogCoords orders two coordinates of one server's binary log:
// by file (numerically, see CompareBinlogFiles), then by position.
func CompareBinlogCoords(a, b BinlogCoord) (int, error) {
	c, err := CompareBinlogFiles(a.File, b.File)
	if err != nil || c != 0 {
		return c, err
	}
	switch {
	case a.Pos < b.Pos:
		return -1, nil
	case a.Pos > b.Pos:
		return 1, nil
	}
	return 0, nil
}

// ReadCoord is how far the IO thread has read the master's binlog
// (Master_Log_File, Read_Master_Log_Pos).
func (r *Replica) ReadCoord() BinlogCoord {
	return BinlogCoord{File: r.MasterLogFile, Pos: r.ReadMasterLogPos}
}

// ExecCoord is how far the SQL thread has applied the master's binlog
// (Relay_Master_Log_File, Exec_Master_Log_Pos).
func (r *Replica) ExecCoord() BinlogCoord {
	return BinlogCoord{File: r.RelayMasterLogFile, Pos: r.ExecMasterLogPos}
}

// RelayCoord is where the SQL thread stands in the replica's own relay log
// (Relay_Log_File, Relay_Log_Pos).
func (r *Replica) RelayCoord() BinlogCoord {
	return BinlogCoord{File: r.RelayLogFile, Pos: r.RelayLogPos}
}
