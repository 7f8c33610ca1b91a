package binlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestApplyClientOptionFile: the password goes into a 0600 file, quoted so
// that '#', quotes and backslashes survive the option-file parser.
func TestApplyClientOptionFile(t *testing.T) {
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

// TestApplyErrorCode: the number comes from the client's ERROR line, the
// only stable part of its message (the text varies with the version).
func TestApplyErrorCode(t *testing.T) {
	for _, c := range []struct {
		why, out string
		want     int
	}{
		{"lock wait on a statement of the stream", "ERROR 1205 (HY000) at line 12: Lock wait timeout exceeded; try restarting transaction", codeLockWaitTimeout},
		{"connection refused before any line", "ERROR 1045 (28000): Access denied for user 'gomha'@'127.0.0.1' (using password: YES)", 1045},
		{"client-side error after a kill", "--------------\nINSERT INTO t VALUES (1)\n--------------\n\nERROR 2006 (HY000) at line 3: Server has gone away", 2006},
		{"only the first ERROR line counts", "ERROR 1062 (23000) at line 9: Duplicate entry\nERROR 1205 (HY000) at line 10: x", 1062},
		{"a tool's message without a number", "mariadb: unknown option '--foo'", 0},
		{"ERROR inside a line is not the client's report", "note: ERROR 1205 (HY000) quoted", 0},
		{"nothing printed", "", 0},
	} {
		if got := errorCode(c.out); got != c.want {
			t.Errorf("%s: errorCode(%q) = %d, want %d", c.why, c.out, got, c.want)
		}
	}
}

// TestApplyErrorIs: callers decide with errors.Is, so each kind of failure
// must match its sentinels and no others.
func TestApplyErrorIs(t *testing.T) {
	exitErr := exec.Command("false").Run()
	deadline, cancel := context.WithTimeoutCause(context.Background(), 0, errors.New("apply timeout 1s expired"))
	defer cancel()
	<-deadline.Done()
	canceled, cancel2 := context.WithCancel(context.Background())
	cancel2()
	for _, c := range []struct {
		why                              string
		err                              *ApplyError
		apply, lockWait, deadline, cncld bool
	}{
		{"the client failed: ErrApply", &ApplyError{Tool: "mariadb", Code: 1062, Err: exitErr}, true, false, false, false},
		{"lock wait timeout: the caller kills blockers and retries", &ApplyError{Tool: "mariadb", Code: 1205, Err: exitErr}, true, true, false, false},
		{"mariadb-binlog failed", &ApplyError{Tool: "mariadb-binlog", Err: exitErr}, true, false, false, false},
		{"the file cannot be read", &ApplyError{Err: os.ErrNotExist}, true, false, false, false},
		{"ApplyOptions.Timeout stopped it: not a failure of the tools", &ApplyError{Err: stopCause(deadline)}, false, false, true, false},
		{"ctx cancelled", &ApplyError{Err: stopCause(canceled)}, false, false, false, true},
	} {
		var err error = fmt.Errorf("salvage: %w", c.err)
		got := [4]bool{errors.Is(err, ErrApply), errors.Is(err, ErrLockWait), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled)}
		if want := [4]bool{c.apply, c.lockWait, c.deadline, c.cncld}; got != want {
			t.Errorf("%s: Is ErrApply, ErrLockWait, DeadlineExceeded, Canceled = %v, want %v (%v)", c.why, got, want, err)
		}
	}
	if msg := (&ApplyError{File: "f", Target: "h:1", Offset: 10, Size: 20, Err: stopCause(deadline)}).Error(); !strings.Contains(msg, "apply timeout 1s expired") ||
		!strings.Contains(msg, "stopped at byte 10 of 20") {
		t.Errorf("stop message %q: says neither the timeout nor how far", msg)
	}
}

// TestApplyLockWaitSeconds: the server takes whole seconds; a sub-second
// timeout must not become 0 (no wait at all).
func TestApplyLockWaitSeconds(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want int64
	}{{0, 10}, {-time.Second, 10}, {time.Millisecond, 1}, {time.Second, 1}, {1500 * time.Millisecond, 2}, {time.Minute, 60}} {
		if got := lockWaitSeconds(c.d); got != c.want {
			t.Errorf("lockWaitSeconds(%v) = %d, want %d", c.d, got, c.want)
		}
	}
}

// TestApplyEventOffsets: progress follows mariadb-binlog's "# at N" lines,
// each counted once a statement end follows (rows events are written after
// all their "# at" lines), wherever the copy's reads cut the lines, and
// ignores look-alikes inside values.
func TestApplyEventOffsets(t *testing.T) {
	out := "DELIMITER /*!*/;\n# at 4\n#261123 server id 231\nBINLOG '\nAAAA\n'/*!*/;\n" +
		"# at 256\nINSERT INTO t VALUES ('\n# at 900000\n')\n/*!*/;\n" + // beyond the file: a value
		"# at 300\n# at 350\nBINLOG '\nBBBB\n'/*!*/;\n" + // rows events: both lines, then the statement
		"INSERT INTO t VALUES ('\n# at 100\nx# at 400\n# at 3a0\n')/*!*/;\n" + // backwards, not a line, not a number
		"# at 420\nCOMMIT/*!*/;\n# at 500\nINSERT INTO t VALUES ('" + strings.Repeat("y", 100) + "')/*!*/;\n" +
		"# at 891\nDELIMITER ;\n# End of log file\nROLLBACK;\n"
	for chunk := 1; chunk <= len(out); chunk++ {
		var sink bytes.Buffer
		o := &eventOffsets{w: &sink, size: 891}
		seen := []int64{0}
		for p := []byte(out); len(p) > 0; p = p[min(chunk, len(p)):] {
			if _, err := o.Write(p[:min(chunk, len(p))]); err != nil {
				t.Fatal(err)
			}
			if n := o.at.Load(); seen[len(seen)-1] != n {
				seen = append(seen, n)
			}
		}
		if sink.String() != out {
			t.Fatalf("chunk %d: output changed", chunk)
		}
		// 891, the end, has no statement after it: Apply sets it on success.
		if o.at.Load() != 500 {
			t.Errorf("chunk %d: offset %d, want 500", chunk, o.at.Load())
		}
		if got := fmt.Sprint(seen); chunk == 1 && got != "[0 4 256 350 420 500]" {
			t.Errorf("byte by byte: offsets %s, want [0 4 256 350 420 500]", got)
		}
	}
}
