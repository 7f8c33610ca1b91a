package config

import (
	"fmt"
	"regexp"
	"strings"
)

// MHA reads its files with Perl's Config::Tiny, which is not quite INI as
// gopkg.in/ini.v1 understands it. ini.v1 treats a value starting with a
// backquote or `"""` as quoted (and may swallow the following lines), accepts
// `:` as a delimiter, joins lines ending in `\`, removes quotes only when
// they match, and keeps spaces inside `[ name ]`. Config::Tiny does none of
// that, so this file reproduces its grammar line for line:
//
//   - lines are split on \r\n, \r\r\n, \r or \n;
//   - a line that is empty or starts (after blanks) with # or ; is skipped;
//   - " ; comment" (blank, semicolon, blank, text) is cut from the line;
//   - "[ name ]" starts a block, the name trimmed;
//   - "key = value" sets key (everything before the first =, trimmed) to the
//     trimmed rest; a later duplicate key wins, a repeated block merges;
//   - any other line is a syntax error.
var (
	tinyLineBreak = regexp.MustCompile(`\r{1,2}\n|\r|\n`)
	tinySkip      = regexp.MustCompile(`^\s*(?:#|;|$)`)
	tinyInline    = regexp.MustCompile(`\s;\s.+$`)
	tinySection   = regexp.MustCompile(`^\s*\[\s*(.+?)\s*\]\s*$`)
	tinyProperty  = regexp.MustCompile(`^\s*([^=]+?)\s*=\s*(.*?)\s*$`)
	// mhaQuotes is the quote removal MHA applies to every non-false value:
	// an optional leading ' or " and a required trailing ' or ".
	mhaQuotes = regexp.MustCompile(`(?s)^['"]?(.*)['"]$`)
)

// rootBlock is where Config::Tiny puts keys found before any block header.
const rootBlock = "_"

// tinyFile is one parsed file: block name -> key -> raw value.
type tinyFile struct {
	blocks map[string]map[string]string
}

// readTiny reads and parses file. A failing system call is returned wrapped
// with the file name; a file that is not a regular file of sane size (see
// readConfigFile) and a syntax error are *Error.
func readTiny(file string) (*tinyFile, error) {
	data, err := readConfigFile(file)
	if err != nil {
		return nil, err
	}
	t, line := parseTiny(string(data))
	if line > 0 {
		return nil, &Error{File: file, Msg: fmt.Sprintf("line %d: syntax error: neither a [block] header nor key=value", line)}
	}
	return t, nil
}

// parseTiny parses text; it returns the 1-based number of the first line it
// cannot parse, or 0. The offending line is not echoed: it may hold a password.
func parseTiny(text string) (*tinyFile, int) {
	t := &tinyFile{blocks: map[string]map[string]string{}}
	text = strings.TrimPrefix(text, "\uFEFF")
	block := rootBlock
	for i, line := range tinyLineBreak.Split(text, -1) {
		if tinySkip.MatchString(line) {
			continue
		}
		line = tinyInline.ReplaceAllString(line, "")
		if m := tinySection.FindStringSubmatch(line); m != nil {
			block = m[1]
			if t.blocks[block] == nil {
				t.blocks[block] = map[string]string{}
			}
			continue
		}
		m := tinyProperty.FindStringSubmatch(line)
		if m == nil {
			return nil, i + 1
		}
		if t.blocks[block] == nil {
			t.blocks[block] = map[string]string{}
		}
		t.blocks[block][m[1]] = m[2]
	}
	return t, 0
}

// stripQuotes removes quotes the way MHA does after reading a value: for any
// value Perl finds true (not "" and not "0"), a trailing ' or " is removed,
// together with a leading ' or " if there is one. So "a b" and 'a b' lose
// their quotes, pa"ss keeps its quote, and abc" becomes abc.
func stripQuotes(v string) string {
	if v == "" || v == "0" {
		return v
	}
	return mhaQuotes.ReplaceAllString(v, "$1")
}
