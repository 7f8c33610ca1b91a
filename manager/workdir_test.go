package manager

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomha/gomha/manager/config"
)

// TestPrepareWorkdir: a missing manager_workdir is created owner-only; one
// that cannot be created stops the manager at once, in one line naming it.
func TestPrepareWorkdir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "work")
	if err := PrepareWorkdir(dir); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("%s: %v %v, want a directory of mode 0700", dir, fi.Mode(), err)
	}
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o600)
	bad := filepath.Join(file, "work")
	err := RunManager(context.Background(), &config.Config{App: "app1", ManagerWorkdir: bad}, ManagerOptions{})
	if err == nil || !strings.Contains(err.Error(), "manager_workdir "+bad+" cannot be created") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("RunManager with an impossible workdir: %v", err)
	}
	if err := PrepareWorkdir(""); err == nil {
		t.Error("an empty manager_workdir was accepted")
	}
}
