package config

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// boolReading is how MHA 0.58 turns the text of a boolean parameter into a
// value. Its reader keeps the text as written (quotes removed); the code
// that uses the parameter decides, in one of three ways. gomha reads each
// parameter the way MHA's code does; where MHA has no single reading of a
// value (it stops on it, or reads it one way in one place and the other way
// elsewhere), gomha refuses the value rather than guess. testdata/mha_bools.pl
// asks MHA's own code, and TestBooleansSameAsMHA compares.
type boolReading int

const (
	// perlTruth: MHA tests the text as Perl does (if, unless, &&): only ""
	// and "0" are false, so "no", "false" and "off" are true.
	perlTruth boolReading = iota
	// perlNumber: MHA also compares the text with 1 (candidate_master and
	// no_master, when it chooses a new master and in masterha_check_repl).
	// Its modules make Perl warnings fatal, so a text that is not a number
	// ("yes", "") stops MHA; a number below 1 other than "0" ("0.5", "00")
	// is false there but true where MHA tests it as true or false.
	perlNumber
	// nodeInteger: MHA's manager tests the text as true or false, and hands
	// it to its node tools (save_binary_logs, apply_diff_relay_logs) as an
	// integer option: they refuse a text that is not an integer ("yes", ""),
	// failing MHA's failover, and read "00" or "+0" as 0 where the manager
	// read them as true (handle_raw_binlog, disable_log_bin).
	nodeInteger
	// gomhaBool is for gomha's own parameters, which MHA never read: 0 and
	// 1 only, so that no value can mean what its writer did not.
	gomhaBool
)

var (
	// perlDecimal is a text Perl reads as a number without a warning:
	// blanks around an optionally signed decimal or Inf/Infinity/NaN.
	perlDecimal = regexp.MustCompile(`^[ \t\n\r\f\v]*[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[ \t\n\r\f\v]*$`)
	perlSpecial = regexp.MustCompile(`(?i)^[ \t\n\r\f\v]*[+-]?(?:inf(?:inity)?|nan)[ \t\n\r\f\v]*$`)
	// getoptInteger is what Getopt::Long (2.52) accepts for an "=i" option;
	// it then removes the underscores.
	getoptInteger = regexp.MustCompile(`^[+-]?_*[0-9][0-9_]*$`)
)

// readBool returns what v (quotes already removed) means for a parameter read
// by r, and a note when v is not 0 or 1 but has a single reading. It fails
// when MHA has no single reading of v, or for gomha's own parameters when v
// is not 0 or 1. Neither the note nor the error names the parameter.
func readBool(r boolReading, v string) (value bool, note string, err error) {
	switch v {
	case "0":
		return false, "", nil
	case "1":
		return true, "", nil
	}
	switch r {
	case perlTruth:
		if v == "" {
			return false, `empty, not 0 or 1: MHA 0.58 reads it as 0, and so does gomha`, nil
		}
		return true, fmt.Sprintf(`%q is not 0 or 1: MHA 0.58 reads it as 1 (in Perl only "" and "0" are false), and so does gomha`, v), nil
	case perlNumber:
		n, ok := perlNum(v)
		switch {
		case !ok:
			return false, "", fmt.Errorf(`%q is not 0 or 1, and MHA 0.58 stops on it (a Perl error: not a number) where it compares it with 1; write 0 or 1`, v)
		case !(n >= 1): // true as a text, as it is not "" nor "0"; NaN too
			return false, "", fmt.Errorf(`%q is not 0 or 1, and MHA 0.58 reads it both ways: as 1 where it tests it as true or false, as 0 where it compares it with 1; write 0 or 1`, v)
		}
		return true, fmt.Sprintf(`%q is not 0 or 1: MHA 0.58 reads it as 1 (a number of at least 1), and so does gomha`, v), nil
	case nodeInteger:
		switch {
		case !getoptInteger.MatchString(v):
			return false, "", fmt.Errorf(`%q is not 0 or 1, and MHA 0.58's node tools refuse it (not an integer), failing its failover; write 0 or 1`, v)
		case strings.Trim(v, "+-_0") == "":
			return false, "", fmt.Errorf(`%q is not 0 or 1, and MHA 0.58 reads it both ways: as 1 in its manager, as 0 in its node tools; write 0 or 1`, v)
		}
		return true, fmt.Sprintf(`%q is not 0 or 1: MHA 0.58 reads it as 1 (a non-zero integer), and so does gomha`, v), nil
	}
	return false, "", fmt.Errorf(`%q is not 0 or 1 (gomha's own parameter takes no other value)`, v)
}

// perlNum reads v as Perl reads a number in a comparison; ok is false where
// Perl would warn that v is not numeric (fatal in MHA's modules).
func perlNum(v string) (float64, bool) {
	if !perlDecimal.MatchString(v) && !perlSpecial.MatchString(v) {
		return 0, false
	}
	n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) { // out of range: ±Inf, as for Perl
		return 0, false
	}
	return n, true
}
