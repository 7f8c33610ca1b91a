package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func copyFixture(t *testing.T, name string, mode os.FileMode) (string, []byte) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // not subject to umask
		t.Fatal(err)
	}
	return path, data
}

// TestEditHostRoundTrip: add then delete gives the file back byte for byte,
// and the added block loads with its parameters.
func TestEditHostRoundTrip(t *testing.T) {
	path, orig := copyFixture(t, "app1.cnf", 0o640)
	params := map[string]string{"candidate_master": "1", "port": "3308", "password": `p w"`, "node_label": " dc2 "}
	if err := EditHost(path, "add", "", "127.0.0.14", params); err != nil {
		t.Fatal(err)
	}
	added, _ := os.ReadFile(path)
	wantTail := "\n[server_127.0.0.14]\nhostname=127.0.0.14\ncandidate_master=1\nnode_label=\" dc2 \"\npassword=\"p w\"\"\nport=3308\n"
	if !strings.HasPrefix(string(added), string(orig)) || string(added[len(orig):]) != wantTail {
		t.Errorf("add changed existing lines or wrote %q, want %q", added[len(orig):], wantTail)
	}
	cfg := mustLoad(t, path, testOptions())
	s, ok := cfg.Server("127.0.0.14", 3308)
	if !ok || !s.CandidateMaster || s.Password.Reveal() != `p w"` || s.NodeLabel != " dc2 " || s.User != "mha" {
		t.Errorf("added server reads as %+v (found %v)", s, ok)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640", st.Mode().Perm())
	}
	if err := EditHost(path, "delete", "_127.0.0.14", "", nil); err != nil {
		t.Fatal(err)
	}
	if back, _ := os.ReadFile(path); string(back) != string(orig) {
		t.Errorf("delete did not restore the file:\n%s", back)
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
}

// TestEditHostDeleteKeepsComments: deleting a middle block removes its lines
// only; the comment introducing the next block stays.
func TestEditHostDeleteKeepsComments(t *testing.T) {
	path, orig := copyFixture(t, "app1.cnf", 0o600)
	if err := EditHost(path, "remove", "2", "", nil); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	want := strings.Replace(string(orig), "[server2]\nhostname=host2\ncandidate_master=1\ncheck_repl_delay=0\n\n", "", 1)
	if string(got) != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	cfg := mustLoad(t, path, testOptions())
	if len(cfg.Servers) != 2 || cfg.Servers[1].Name != "server3" {
		t.Errorf("servers after delete: %+v", cfg.Servers)
	}
}

// TestEditHostCRLF: a CRLF file gets CRLF lines and keeps its other bytes.
func TestEditHostCRLF(t *testing.T) {
	path := writeFile(t, t.TempDir(), "app.cnf", "# dos file\r\n[server1]\r\nhostname=h1")
	if err := EditHost(path, "add", "server2", "h2", nil); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	if want := "# dos file\r\n[server1]\r\nhostname=h1\r\n\r\n[server2]\r\nhostname=h2\r\n"; string(got) != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestEditHostErrors: each refusal leaves the file untouched.
func TestEditHostErrors(t *testing.T) {
	cases := []struct {
		why, cmd, block, host string
		params                map[string]string
		is                    error
		contains              string
	}{
		{"block exists", "add", "server1", "host9", nil, ErrBlockExists, ""},
		{"block missing", "delete", "server9", "", nil, ErrBlockNotFound, ""},
		{"unknown parameter", "add", "", "host9", map[string]string{"pasword": "topsecretvalue"}, nil, "pasword: unknown parameter"},
		{"line break in a value", "add", "", "host9", map[string]string{"password": "a\n[server1]"}, nil, "line break"},
		{"' ; ' cannot be written", "add", "", "host9", map[string]string{"report_script": "a ; b"}, nil, "comment"},
		{"add needs a hostname", "add", "server9", "", nil, nil, "hostname is required"},
		{"hostname given twice", "add", "", "host9", map[string]string{"hostname": "x"}, nil, "host name argument"},
		{"no block and no hostname", "delete", "", "", nil, nil, "block name or a hostname"},
		{"bad block name", "add", "server 9", "host9", nil, nil, "invalid block name"},
		{"unknown command", "modify", "server1", "", nil, nil, "unknown command"},
	}
	for _, c := range cases {
		path, orig := copyFixture(t, "app1.cnf", 0o644)
		err := EditHost(path, c.cmd, c.block, c.host, c.params)
		if err == nil || (c.is != nil && !errors.Is(err, c.is)) || !strings.Contains(err.Error(), c.contains) ||
			strings.Contains(err.Error(), "topsecretvalue") {
			t.Errorf("%s: err = %v", c.why, err)
		}
		if got, _ := os.ReadFile(path); string(got) != string(orig) {
			t.Errorf("%s: file changed", c.why)
		}
	}
}

// TestEditHostSymlink: the link's target is edited, the link stays a link.
func TestEditHostSymlink(t *testing.T) {
	path, _ := copyFixture(t, "app1.cnf", 0o644)
	link := filepath.Join(t.TempDir(), "link.cnf")
	if err := os.Symlink(path, link); err != nil {
		t.Fatal(err)
	}
	if err := EditHost(link, "add", "server4", "host4", nil); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Lstat(link); err != nil || st.Mode()&os.ModeSymlink == 0 {
		t.Errorf("link replaced: %v", err)
	}
	if data, _ := os.ReadFile(path); !strings.Contains(string(data), "[server4]\nhostname=host4\n") {
		t.Errorf("target not edited")
	}
}
