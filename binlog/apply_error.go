package binlog

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
)

// codeLockWaitTimeout is ER_LOCK_WAIT_TIMEOUT, for row locks (InnoDB) and
// metadata locks alike.
const codeLockWaitTimeout = 1205

// ApplyError is a failed or stopped application of one binlog file.
// errors.Is(err, ErrApply) holds for failures of the tools (and a file that
// cannot be read), errors.Is(err, ErrLockWait) for Code 1205, and
// errors.Is(err, context.DeadlineExceeded or context.Canceled) when the
// deadline or ctx stopped the apply.
type ApplyError struct {
	File   string // the binlog file
	Target string // host:port of the server
	// Tool is the base name of the program that failed ("mariadb",
	// "mariadb-binlog"); empty when Apply stopped them or the file could not
	// be read.
	Tool string
	// Code is the error number of the client's "ERROR 1205 (HY000) at line
	// 12: ..." line: a server error, or a client one (2006 server gone, 2013
	// lost connection); 0 if none.
	Code int
	// Message is the tool's output (the first 64 KiB), password blanked.
	Message string
	// Offset: the events of File before this byte offset were handed to the
	// client (the "# at" lines of mariadb-binlog); Size is File's size.
	Offset, Size int64
	// Err is the tool's exit status, the failure of a step (start, copy), or
	// the cause that stopped the apply (wrapping ctx's error).
	Err error
}

func (e *ApplyError) Error() string {
	where := fmt.Sprintf("apply %s to %s", e.File, e.Target)
	switch {
	case e.stopped():
		return fmt.Sprintf("%s: stopped at byte %d of %d: %v", where, e.Offset, e.Size, e.Err)
	case e.Tool == "":
		return fmt.Sprintf("%s: %v", where, e.Err)
	}
	return fmt.Sprintf("%s: %s: %s (at byte %d of %d): %v", where, e.Tool, e.Message, e.Offset, e.Size, e.Err)
}

func (e *ApplyError) Unwrap() error { return e.Err }

// Is makes ErrApply match failures (not stops) and ErrLockWait match Code 1205.
func (e *ApplyError) Is(target error) bool {
	switch target {
	case ErrApply:
		return !e.stopped()
	case ErrLockWait:
		return e.Code == codeLockWaitTimeout
	}
	return false
}

func (e *ApplyError) stopped() bool {
	return errors.Is(e.Err, context.Canceled) || errors.Is(e.Err, context.DeadlineExceeded)
}

// stopCause says why ctx is done: its cause (ApplyOptions.Timeout's
// message), wrapping ctx.Err() so that errors.Is sees it.
func stopCause(ctx context.Context) error {
	cause := context.Cause(ctx)
	if errors.Is(cause, ctx.Err()) {
		return cause
	}
	return fmt.Errorf("%w: %w", cause, ctx.Err())
}

// clientErrorLine is the client's report of a failed statement or
// connection: "ERROR 1205 (HY000) at line 12: ..." or "ERROR 1045 (28000): ...".
var clientErrorLine = regexp.MustCompile(`(?m)^ERROR (\d+) \(([0-9A-Z]{5})\)`)

// errorCode is the number of the first ERROR line in the client's output; 0
// if there is none.
func errorCode(out string) int {
	m := clientErrorLine.FindStringSubmatch(out)
	if m == nil {
		return 0
	}
	n, err := strconv.Atoi(m[1])
	if err != nil {
		return 0
	}
	return n
}
