package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Bad input gets one line naming what is wrong and where, and exit code 1,
// under both the native and the MHA command names.
func TestConfigErrorsExitOne(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "app1.cnf")
	if err := os.WriteFile(bad, []byte("[server default]\nuser=root\n[server1]\nhostname=127.0.0.1\nport=33o6\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"missing file, MHA name", []string{"masterha_check_repl", "--conf=" + filepath.Join(dir, "nope.cnf")}, []string{"nope.cnf"}},
		{"bad port, native", []string{"check", "repl", "--conf", bad, "--global-conf", filepath.Join(dir, "none.cnf")}, []string{"app1.cnf", "[server1]", "port"}},
		{"bad port, MHA ssh", []string{"masterha_check_ssh", "--conf=" + bad}, []string{"app1.cnf", "[server1]", "port"}},
		{"conf required", []string{"check", "ssh"}, []string{"conf"}},
		{"bad output format", []string{"check", "repl", "--conf", bad, "-o", "yaml"}, []string{"--output"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out := gomha(t, tc.args...)
			if code != 1 {
				t.Fatalf("exit %d, want 1\n%s", code, out)
			}
			lines := strings.Split(strings.TrimSpace(out), "\n")
			last := lines[len(lines)-1]
			for _, w := range tc.want {
				if !strings.Contains(last, w) {
					t.Errorf("error line %q does not name %q", last, w)
				}
			}
		})
	}
}

func TestMHANamesDispatch(t *testing.T) {
	code, out := gomha(t, "masterha_check_repl", "--help")
	if code != 0 || !strings.Contains(out, "--global_conf") || !strings.Contains(out, "--seconds_behind_master") {
		t.Fatalf("masterha_check_repl --help: exit %d\n%s", code, out)
	}
}
