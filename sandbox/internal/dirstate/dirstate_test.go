package dirstate

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSaveLoad(t *testing.T) {
	dir := t.TempDir()
	type rec struct {
		Dir  string `json:"dir"`
		PIDs []int  `json:"pids"`
	}
	var got rec
	err := Load(dir, "x.json", "test sandbox", &got)
	if !errors.Is(err, os.ErrNotExist) || !strings.HasPrefix(err.Error(), "open test sandbox: ") {
		t.Errorf("Load of a missing file = %v; Up tells a fresh dir by os.ErrNotExist", err)
	}
	want := rec{Dir: dir, PIDs: []int{12, 0, 14}}
	if err := Save(dir, "x.json", "test sandbox state", want); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, "x.json"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("state file: %v, mode %v; want 0600, it may hold passwords", err, st.Mode().Perm())
	}
	if err := Load(dir, "x.json", "test sandbox", &got); err != nil || got.Dir != want.Dir || len(got.PIDs) != 3 || got.PIDs[2] != 14 {
		t.Errorf("Load = %+v, %v; want %+v", got, err, want)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("%d files in dir: the temporary file must be gone", len(ents))
	}

	if err := os.WriteFile(filepath.Join(dir, "bad.json"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Load(dir, "bad.json", "test sandbox", &got); err == nil || !strings.Contains(err.Error(), "decode "+filepath.Join(dir, "bad.json")) {
		t.Errorf("Load of bad JSON = %v, want it to name the file", err)
	}
	if err := Save(dir, "y.json", "test sandbox state", func() {}); err == nil || !strings.HasPrefix(err.Error(), "encode test sandbox state of "+dir) {
		t.Errorf("Save of a func = %v", err)
	}
	if err := Save(filepath.Join(dir, "missing"), "y.json", "test sandbox state", want); err == nil || !strings.HasPrefix(err.Error(), "write test sandbox state ") {
		t.Errorf("Save into a missing dir = %v", err)
	}
}

func TestID(t *testing.T) {
	// The cgroups, firewall chains and etcd tokens of sandboxes already on
	// disk are named by it: it must not change (sha256 of the path, 4 bytes).
	if got := ID("/tmp/sb"); got != "6dc84475" || ID("/tmp/sb2") == got {
		t.Errorf("ID(/tmp/sb) = %q, want 6dc84475, and another dir another id", got)
	}
}
