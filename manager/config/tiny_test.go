package config

import (
	"reflect"
	"testing"
)

// TestParseTiny pins the Config::Tiny grammar MHA reads files with.
func TestParseTiny(t *testing.T) {
	cases := []struct {
		why  string
		text string
		want map[string]map[string]string
		bad  int
	}{
		{"CRLF and CR line ends", "[s1]\r\na=1\rb=2\r\n", map[string]map[string]string{"s1": {"a": "1", "b": "2"}}, 0},
		{"blanks around header name and key are trimmed", "  [  server default ]  \n  k  =  v v  \n", map[string]map[string]string{"server default": {"k": "v v"}}, 0},
		{"later duplicate key wins, repeated block merges", "[s]\na=1\n[t]\n[s]\na=2\nb=3\n", map[string]map[string]string{"s": {"a": "2", "b": "3"}, "t": {}}, 0},
		{"# and ; only as whole-line comments", "#c\n ;c\n[s]\na=x#y;z\n", map[string]map[string]string{"s": {"a": "x#y;z"}}, 0},
		{"' ; ' starts a comment (Config::Tiny)", "[s]\na=x ; y\n", map[string]map[string]string{"s": {"a": "x"}}, 0},
		{"a header with text after ] is not a header", "[s] x\n", nil, 1},
		{"keys before any block go to the root block", "a=1\n", map[string]map[string]string{rootBlock: {"a": "1"}}, 0},
		{"a UTF-8 byte order mark is ignored", "\uFEFF[s]\na=1\n", map[string]map[string]string{"s": {"a": "1"}}, 0},
		{"= inside the value is kept", "[s]\na=b=c\n", map[string]map[string]string{"s": {"a": "b=c"}}, 0},
		{"no line continuation", "[s]\na=b\\\nc=d\n", map[string]map[string]string{"s": {"a": `b\`, "c": "d"}}, 0},
		{"empty key is a syntax error", "[s]\n=v\n", nil, 2},
	}
	for _, c := range cases {
		got, bad := parseTiny(c.text)
		if bad != c.bad {
			t.Errorf("%s: bad line %d, want %d", c.why, bad, c.bad)
			continue
		}
		if bad == 0 && !reflect.DeepEqual(got.blocks, c.want) {
			t.Errorf("%s: got %v, want %v", c.why, got.blocks, c.want)
		}
	}
}

// TestStripQuotes pins MHA's quote removal, including its odd cases.
func TestStripQuotes(t *testing.T) {
	cases := []struct{ in, want, why string }{
		{`"a b"`, "a b", "double quotes"},
		{`'a b'`, "a b", "single quotes"},
		{`"it's"`, "it's", "inner quote kept"},
		{`pa"ss`, `pa"ss`, "no trailing quote, nothing removed"},
		{`abc"`, "abc", "MHA removes a lone trailing quote"},
		{`"abc`, `"abc`, "a lone leading quote stays"},
		{`""x""`, `"x"`, "only one layer"},
		{`"`, "", "a single quote character"},
		{"0", "0", "false values are left alone"},
	}
	for _, c := range cases {
		if got := stripQuotes(c.in); got != c.want {
			t.Errorf("%s: stripQuotes(%q) = %q, want %q", c.why, c.in, got, c.want)
		}
	}
}
