package main

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomha/gomha/failover"
)

// With -o json, standard output always holds exactly one JSON document:
// the command's report, or, for any error without one (a configuration
// error included), {"error": ..., "exit_code": ...}. Standard error keeps
// its one line; the exit code does not change.
func TestJSONErrors(t *testing.T) {
	conf, dir := testApp(t, "")
	missing := filepath.Join(dir, "nope.cnf")
	tests := []struct {
		why      string
		args     []string
		rec      *recorder
		code     int
		wantErr  string // in the error object; "" = the report is the document
		wantKeys []string
	}{
		{"configuration error, check repl", []string{"check", "repl", "--conf", missing, "-o", "json"}, &recorder{}, 1, "nope.cnf", nil},
		{"configuration error, show", []string{"show", "--conf", missing, "--output=json"}, &recorder{}, 1, "nope.cnf", nil},
		{"configuration error, check ssh", []string{"check", "ssh", "--conf", missing, "-ojson"}, &recorder{}, 1, "nope.cnf", nil},
		{"configuration error, check status", []string{"check", "status", "--conf", missing, "-o", "json"}, &recorder{}, 1, "nope.cnf", nil},
		{"usage error before -o is parsed", []string{"switch", "--bogus", "--conf", conf, "-o", "json"}, &recorder{}, 1, "--bogus", nil},
		{"missing required flag", []string{"failover", "-o", "json"}, &recorder{}, 1, "conf", nil},
		{"refused failover: no dead master named", []string{"failover", "--conf", conf, "-o", "json"}, &recorder{}, 1, "--dead_master_host", nil},
		{"the plan failed", []string{"failover", "--conf", conf, "--dead-master-host", "127.0.0.1", "--dry-run", "-o", "json"},
			&recorder{err: errors.New("no candidate")}, 1, "no candidate", nil},
		{"a failed failover with a report: the report carries the error, alone",
			[]string{"failover", "--conf", conf, "--dead-master-host", "127.0.0.1", "-o", "json"},
			&recorder{err: errors.New("apply failed"), rep: &failover.Report{Kind: "failover", Error: "apply failed"}}, 1, "", []string{"kind", "error"}},
	}
	for _, tc := range tests {
		t.Run(tc.why, func(t *testing.T) {
			args := append(tc.args, "--global-conf", filepath.Join(dir, "none.cnf"))
			res := gomhaWith(t, cliEnv{eng: tc.rec}, args...)
			if res.code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", res.code, tc.code, res.stdout, res.stderr)
			}
			dec := json.NewDecoder(strings.NewReader(res.stdout))
			var doc map[string]any
			if err := dec.Decode(&doc); err != nil {
				t.Fatalf("stdout is not JSON: %v\n%s", err, res.stdout)
			}
			if dec.More() {
				t.Fatalf("stdout holds more than one JSON document:\n%s", res.stdout)
			}
			if tc.wantErr != "" {
				msg, _ := doc["error"].(string)
				if !strings.Contains(msg, tc.wantErr) || doc["exit_code"] != float64(tc.code) || len(doc) != 2 {
					t.Errorf("error object %v, want one naming %q with exit_code %d", doc, tc.wantErr, tc.code)
				}
			}
			for _, k := range tc.wantKeys {
				if _, ok := doc[k]; !ok {
					t.Errorf("report lacks %q: %v", k, doc)
				}
			}
			if lines := strings.Split(strings.TrimSpace(res.stderr), "\n"); !strings.HasPrefix(lines[len(lines)-1], "gomha: ") {
				t.Errorf("stderr does not end with the error line:\n%s", res.stderr)
			}
		})
	}
}
