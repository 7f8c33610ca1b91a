package proc

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestStopOnlyOurs starts a real child (/bin/sh, its marker as $0) and
// checks the rule both sandboxes rely on: a pid is signalled only while its
// command line still holds the marker it was recorded with.
func TestStopOnlyOurs(t *testing.T) {
	log := filepath.Join(t.TempDir(), "child.out")
	const marker = "gomha-proc-test-marker"
	st, err := StartDetached("/bin/sh", []string{"-c", "echo up; while :; do sleep 0.05; done", marker}, log, StartOptions{Tied: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for !strings.Contains(Tail(log, 100), "up") || !CmdlineHas(st.PID, marker) {
		select {
		case <-ctx.Done():
			t.Fatalf("child never started: log %q", Tail(log, 100))
		case <-time.After(10 * time.Millisecond):
		}
	}
	if !Ours(st.PID, marker) {
		t.Fatalf("pid %d: a live child with its marker must be ours", st.PID)
	}
	if err := Stop(ctx, st.PID, "some other marker", syscall.SIGTERM, time.Second); err != nil || !Alive(st.PID) {
		t.Fatalf("Stop with another marker = %v, alive %v: a pid running something else must be left alone", err, Alive(st.PID))
	}
	if err := Stop(ctx, st.PID, marker, syscall.SIGTERM, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	select {
	case <-st.Exited:
	case <-ctx.Done():
		t.Fatal("Exited never closed after Stop")
	}
	if Alive(st.PID) || Ours(st.PID, marker) {
		t.Errorf("pid %d alive after Stop", st.PID)
	}
	if err := Stop(ctx, st.PID, marker, syscall.SIGKILL, time.Second); err != nil {
		t.Errorf("Stop of a gone pid = %v, want nil", err)
	}
}

func TestStartDetachedErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := StartDetached(filepath.Join(dir, "missing"), nil, filepath.Join(dir, "out"), StartOptions{}); err == nil || !strings.Contains(err.Error(), "start "+dir) {
		t.Errorf("err = %v, want it to name the binary", err)
	}
	if _, err := StartDetached("/bin/true", nil, filepath.Join(dir, "no", "out"), StartOptions{}); err == nil || !strings.Contains(err.Error(), "open "+dir) {
		t.Errorf("err = %v, want it to name the log", err)
	}
}

func TestTail(t *testing.T) {
	p := filepath.Join(t.TempDir(), "log")
	if err := os.WriteFile(p, []byte("first line\nsecond\nthird\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		why  string
		n    int64
		want []string
	}{
		{"the whole file: every line", 100, []string{"first line", "second", "third"}},
		{"a first line cut by n is left out", 15, []string{"second", "third"}},
		{"a cut line alone is kept, as better than nothing", 4, []string{"ird"}},
	}
	for _, tc := range cases {
		if got := TailLines(p, tc.n); !slices.Equal(got, tc.want) {
			t.Errorf("%s: TailLines(%d) = %q, want %q", tc.why, tc.n, got, tc.want)
		}
	}
	if got := Tail(p, 7); got != "third" {
		t.Errorf("Tail(7) = %q, want the last bytes trimmed", got)
	}
	if Tail(filepath.Join(p, "missing"), 10) != "" || !slices.Equal(TailLines(filepath.Join(p, "missing"), 10), []string{""}) {
		t.Error("a missing file must give nothing")
	}
}

func TestAliveDescendants(t *testing.T) {
	if Alive(0) || Alive(-1) {
		t.Error("pid <= 0 is never alive")
	}
	if !Alive(os.Getpid()) || !CmdlineHas(os.Getpid(), filepath.Base(os.Args[0])) {
		t.Error("this process must be alive and its command line readable")
	}
	if slices.Contains(Descendants(1), 1) {
		t.Error("a pid is not its own descendant")
	}
	if !slices.Contains(Descendants(os.Getppid()), os.Getpid()) {
		t.Error("this process must be a descendant of its parent")
	}
}
