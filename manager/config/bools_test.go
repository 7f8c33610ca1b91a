package config

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// mhaBoolNames are MHA's boolean parameters: those whose default in
// paramCases is a bool.
func mhaBoolNames() []string {
	var names []string
	for _, c := range paramCases {
		if _, ok := c.def.(bool); ok {
			names = append(names, c.name)
		}
	}
	slices.Sort(names)
	return names
}

// TestBooleansSameAsMHA compares, value by value, how gomha reads each of
// MHA's boolean parameters with what MHA 0.58's own code made of the same
// text (booleans.mha.txt, made by testdata/mha_bools.pl): 1 or 0, or
// "refused" where MHA stops on the value or reads it both ways. Each value
// is loaded alone in a [server1] block, so that a refusal names its key.
func TestBooleansSameAsMHA(t *testing.T) {
	fixture := filepath.Join("testdata", "booleans.cnf")
	tf, err := readTiny(fixture)
	if err != nil {
		t.Fatal(err)
	}
	names := mhaBoolNames()
	if len(names) != 12 {
		t.Fatalf("%d boolean parameters, MHA 0.58 has 12: %v", len(names), names)
	}
	var blocks []string
	for name := range tf.blocks {
		blocks = append(blocks, name)
	}
	sortServerNames(blocks)
	dir := t.TempDir()
	var got strings.Builder
	for _, block := range blocks {
		got.WriteString("[" + block + "]\n")
		for _, name := range names {
			got.WriteString(name + "=" + gomhaReading(t, dir, name, tf.blocks[block][name]) + "\n")
		}
	}
	data, err := os.ReadFile(filepath.Join("testdata", "booleans.mha.txt"))
	if err != nil {
		t.Fatal(err)
	}
	want := regexp.MustCompile(`(?m)  # .*$`).ReplaceAllString(string(data), "")
	if got.String() != want {
		gotLines, wantLines := strings.Split(got.String(), "\n"), strings.Split(want, "\n")
		for i := range min(len(gotLines), len(wantLines)) {
			if gotLines[i] != wantLines[i] {
				t.Errorf("line %d: gomha %q, MHA %q (%s)", i+1, gotLines[i], wantLines[i], strings.Split(string(data), "\n")[i])
			}
		}
		if len(gotLines) != len(wantLines) {
			t.Errorf("gomha gives %d lines, MHA %d", len(gotLines), len(wantLines))
		}
	}
}

// gomhaReading loads name=raw alone in [server1] and says "1", "0" or
// "refused" (a one-line *Error on that key).
func gomhaReading(t *testing.T, dir, name, raw string) string {
	t.Helper()
	file := writeFile(t, dir, "one.cnf", "[server1]\nhostname=127.0.0.1\n"+name+"="+raw+"\n")
	cfg, err := Load(context.Background(), file, testOptions())
	if err != nil {
		ce := asConfigError(t, err)
		if ce.Section != "server1" || ce.Key != name || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s=%s: refusal does not name the key: %v", name, raw, err)
		}
		return "refused"
	}
	p, _ := lookupParam(name)
	return p.get(&cfg.Servers[0])
}

// TestReadBool pins the value, the note and the error of each reading.
func TestReadBool(t *testing.T) {
	cases := []struct {
		why      string
		r        boolReading
		in       string
		want     bool
		note     string // "" = no warning
		errWords string // "" = no error
	}{
		{"0 and 1 are what every reading agrees on", perlTruth, "0", false, "", ""},
		{"1 needs no warning", perlNumber, "1", true, "", ""},
		{"Perl truth: 'no' is a non-empty text, so true", perlTruth, "no", true,
			`"no" is not 0 or 1: MHA 0.58 reads it as 1 (in Perl only "" and "0" are false), and so does gomha`, ""},
		{"Perl truth: 'false' and 'off' too", perlTruth, "off", true,
			`"off" is not 0 or 1: MHA 0.58 reads it as 1 (in Perl only "" and "0" are false), and so does gomha`, ""},
		{"Perl truth: empty is false", perlTruth, "", false,
			`empty, not 0 or 1: MHA 0.58 reads it as 0, and so does gomha`, ""},
		{"compared with 1: a number of at least 1 is true", perlNumber, "2", true,
			`"2" is not 0 or 1: MHA 0.58 reads it as 1 (a number of at least 1), and so does gomha`, ""},
		{"compared with 1: blanks around a number are allowed by Perl", perlNumber, " 1", true,
			`" 1" is not 0 or 1: MHA 0.58 reads it as 1 (a number of at least 1), and so does gomha`, ""},
		{"compared with 1: 'yes' stops MHA (candidate_master=yes fails its failover)", perlNumber, "yes", false, "", "stops on it"},
		{"compared with 1: empty stops MHA too", perlNumber, "", false, "", "stops on it"},
		{"compared with 1: hexadecimal is not a Perl number", perlNumber, "0x1", false, "", "stops on it"},
		{"compared with 1: 0.5 is true as a text and below 1 as a number", perlNumber, "0.5", false, "", "both ways"},
		{"compared with 1: NaN is never at least 1", perlNumber, "NaN", false, "", "both ways"},
		{"compared with 1: -1 is true as a text and below 1", perlNumber, "-1", false, "", "both ways"},
		{"compared with 1: an overflowing number is Inf, at least 1", perlNumber, "1e999", true,
			`"1e999" is not 0 or 1: MHA 0.58 reads it as 1 (a number of at least 1), and so does gomha`, ""},
		{"node integer: a non-zero integer is true everywhere", nodeInteger, "-1", true,
			`"-1" is not 0 or 1: MHA 0.58 reads it as 1 (a non-zero integer), and so does gomha`, ""},
		{"node integer: Getopt::Long drops underscores", nodeInteger, "1_000", true,
			`"1_000" is not 0 or 1: MHA 0.58 reads it as 1 (a non-zero integer), and so does gomha`, ""},
		{"node integer: 'yes' is refused by save_binary_logs", nodeInteger, "yes", false, "", "node tools refuse it"},
		{"node integer: empty is refused by save_binary_logs", nodeInteger, "", false, "", "node tools refuse it"},
		{"node integer: 00 is true to the manager, 0 to the node tools", nodeInteger, "00", false, "", "both ways"},
		{"node integer: +0 likewise", nodeInteger, "+0", false, "", "both ways"},
		{"gomha's own: 1", gomhaBool, "1", true, "", ""},
		{"gomha's own: 'yes' has no MHA reading to follow", gomhaBool, "yes", false, "", `"yes" is not 0 or 1 (gomha's own parameter takes no other value)`},
		{"gomha's own: empty is not 0", gomhaBool, "", false, "", "is not 0 or 1"},
	}
	for _, c := range cases {
		got, note, err := readBool(c.r, c.in)
		if c.errWords != "" {
			if err == nil || !strings.Contains(err.Error(), c.errWords) || !strings.Contains(err.Error(), "write 0 or 1") && c.r != gomhaBool {
				t.Errorf("%s: readBool(%q) error %v, want one with %q", c.why, c.in, err, c.errWords)
			}
			continue
		}
		if err != nil || got != c.want || note != c.note {
			t.Errorf("%s: readBool(%q) = %v, %q, %v", c.why, c.in, got, note, err)
		}
	}
}

// TestBoolWarnings: Load reports each boolean written as neither 0 nor 1
// once, where it is written (file, block, key, value), in the order the
// files are read, and a local-only parameter in a block of defaults as
// ignored.
func TestBoolWarnings(t *testing.T) {
	dir := t.TempDir()
	global := writeFile(t, dir, "global.cnf", "[server default]\nlatest_priority=yes\n")
	app := writeFile(t, dir, "app1.cnf", "[server default]\ncheck_repl_delay=no\nno_master=1\n"+
		"[server1]\nhostname=h1\nno_master=2\nignore_fail=\n[server2]\nhostname=h2\nhandle_raw_binlog=-1\ncandidate_master=0\n")
	opts := testOptions()
	opts.NoGlobal, opts.GlobalFile = false, global
	cfg := mustLoad(t, app, opts)
	want := []string{
		global + `: [server default] latest_priority: "yes" is not 0 or 1: MHA 0.58 reads it as 1 (in Perl only "" and "0" are false), and so does gomha`,
		app + `: [server default] check_repl_delay: "no" is not 0 or 1: MHA 0.58 reads it as 1 (in Perl only "" and "0" are false), and so does gomha`,
		app + `: [server default] no_master: read only in [server...] and [binlog...] blocks: ignored here, by MHA 0.58 as by gomha`,
		app + `: [server1] ignore_fail: empty, not 0 or 1: MHA 0.58 reads it as 0, and so does gomha`,
		app + `: [server1] no_master: "2" is not 0 or 1: MHA 0.58 reads it as 1 (a number of at least 1), and so does gomha`,
		app + `: [server2] handle_raw_binlog: "-1" is not 0 or 1: MHA 0.58 reads it as 1 (a non-zero integer), and so does gomha`,
	}
	if !slices.Equal(cfg.Warnings, want) {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(cfg.Warnings, "\n"), strings.Join(want, "\n"))
	}
	s1, s2 := cfg.Servers[0], cfg.Servers[1]
	if !s1.CheckReplDelay || !s1.LatestPriority || !s1.NoMaster || s1.IgnoreFail || !s2.HandleRawBinlog || s2.NoMaster {
		t.Errorf("values not read as MHA reads them: %+v / %+v", s1, s2)
	}
	if clean := mustLoad(t, filepath.Join("testdata", "order_names.cnf"), testOptions()); clean.Warnings != nil {
		t.Errorf("a file with nothing to say gave warnings %q", clean.Warnings)
	}
}
