package binlog

import (
	"os"
	"strings"
	"testing"
)

// TestClientOptionFile: the password goes into a 0600 file, quoted so that
// '#', quotes and backslashes survive the option-file parser.
func TestClientOptionFile(t *testing.T) {
	dir := t.TempDir()
	p, err := writeClientOptions(Target{Host: "127.0.0.1", Port: 3306, User: "u", Password: `a#b"c\d`}, ApplyOptions{TempDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	b, _ := os.ReadFile(p)
	if !strings.Contains(string(b), `password="a#b\"c\\d"`) || !strings.Contains(string(b), "protocol=TCP") {
		t.Errorf("option file:\n%s", b)
	}
}
