package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
)

const pw = `pa ss#w"rd`

// TestSecretNeverPrinted: no formatting path shows a password, alone or
// inside a Server or Config.
func TestSecretNeverPrinted(t *testing.T) {
	s := Server{Name: "server1", Hostname: "h1", Password: Secret(pw), ReplPassword: Secret(pw), ReplPasswordSet: true}
	cfg := &Config{App: "app1", Servers: []Server{s}}
	var outputs []string
	for _, verb := range []string{"%s", "%v", "%+v", "%#v", "%q", "%x", "%X", "%d", "%10s"} {
		outputs = append(outputs, fmt.Sprintf(verb, s.Password), fmt.Sprintf(verb, s), fmt.Sprintf(verb, cfg))
	}
	js, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var logBuf bytes.Buffer
	slog.New(slog.NewJSONHandler(&logBuf, nil)).Info("cfg", "password", s.Password, "server", s)
	outputs = append(outputs, string(js), logBuf.String(), s.Password.String(), s.Password.GoString(), cfg.Redacted())
	for _, out := range outputs {
		if strings.Contains(out, "pa ss") || strings.Contains(out, fmt.Sprintf("%x", pw)) {
			t.Errorf("password revealed in %q", out)
		}
	}
	if got := fmt.Sprint(s.Password); got != "xxx" {
		t.Errorf("Sprint = %q, want xxx", got)
	}
	if got := fmt.Sprint(Secret("")); got != "" {
		t.Errorf("empty secret prints %q", got)
	}
	if !strings.Contains(string(js), `"Password":"xxx"`) {
		t.Errorf("JSON: %s", js)
	}
	if s.Password.Reveal() != pw {
		t.Errorf("Reveal lost the value")
	}
}

// TestRedacted: the dump is loadable MHA syntax with every parameter and
// no password.
func TestRedacted(t *testing.T) {
	opts := testOptions()
	opts.NoGlobal, opts.GlobalFile = false, filepath.Join("testdata", "masterha_default.cnf")
	cfg := mustLoad(t, filepath.Join("testdata", "app1.cnf"), opts)
	out := cfg.Redacted()
	for _, want := range []string{"[server1]\n", "[server3]\n", "[binlog1]\n", "password=xxx\n", "repl_password=xxx\n",
		"port=3307\n", "candidate_master=1\n", "master_binlog_dir=/var/lib/mysql/binlog,/data/binlog\n", "# global file: testdata/masterha_default.cnf\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("Redacted lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "secret#1") || strings.Contains(out, "r3pl") {
		t.Errorf("Redacted reveals a password:\n%s", out)
	}
	if n := strings.Count(out, "\nssh_connection_timeout="); n != 4 {
		t.Errorf("expected every parameter for 3 servers and 1 binlog server, got %d blocks", n)
	}
	// The dump itself parses with the same grammar.
	if _, line := parseTiny(out); line != 0 {
		t.Errorf("Redacted output does not parse at line %d", line)
	}
}
