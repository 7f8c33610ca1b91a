// Package archtest keeps the import arrows of DESIGN.md honest.
package archtest

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

const mod = "github.com/gomha/gomha/"

// allowed lists, for each package tree, the gomha packages it may import.
var allowed = map[string][]string{
	"topology": {},
	"node":     {"topology"},
	"binlog":   {"topology"},
	"failover": {"topology", "binlog"},
	"sandbox":  {"node", "topology"},
	"coord":    {"node", "topology"},
	"sshpool":  {"node", "topology"},
	"manager":  {"manager", "coord", "failover", "binlog", "node", "topology", "sshpool"},
	// supervisor runs many managers in one process: one unit per cluster.
	"supervisor": {"manager", "coord", "failover", "node", "topology", "sshpool"},
	// httpapi serves the API and metrics of the clusters a process runs.
	"httpapi":  {"supervisor", "manager", "coord", "failover", "node", "topology"},
	"cmd":      {"httpapi", "supervisor", "manager", "coord", "failover", "binlog", "node", "topology", "sandbox", "sshpool"},
	"internal": {"httpapi", "supervisor", "manager", "coord", "failover", "binlog", "node", "topology", "sandbox", "sshpool"},
}

type pkg struct {
	ImportPath string
	Imports    []string
}

func TestImportDirection(t *testing.T) {
	out, err := exec.Command("go", "list", "-json=ImportPath,Imports", mod+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	n := 0
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		n++
		rel := strings.TrimPrefix(p.ImportPath, mod)
		top := strings.SplitN(rel, "/", 2)[0]
		ok, known := allowed[top]
		if !known {
			t.Errorf("%s: top-level package %q is not in the design's table", p.ImportPath, top)
			continue
		}
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, mod) {
				continue
			}
			itop := strings.SplitN(strings.TrimPrefix(imp, mod), "/", 2)[0]
			if itop == top && top != "cmd" {
				continue
			}
			if !contains(ok, itop) {
				t.Errorf("%s imports %s: %s may only import %v", p.ImportPath, imp, top, ok)
			}
		}
	}
	if n < 5 {
		t.Fatalf("only %d packages listed; the check would prove nothing", n)
	}
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}
