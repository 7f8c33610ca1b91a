package binlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Target is the server that Apply writes to.
type Target struct {
	Host     string
	Port     int
	User     string
	Password string
}

func (t Target) String() string { return net.JoinHostPort(t.Host, strconv.Itoa(t.Port)) }

// ApplyOptions tune Apply.
type ApplyOptions struct {
	// DisableLogBin passes --disable-log-bin to mariadb-binlog: the target
	// does not write the applied events to its own binlog. Only when asked.
	DisableLogBin bool
	// BinDir holds mariadb-binlog (or mysqlbinlog) and mariadb (or mysql);
	// empty: search PATH.
	BinDir string
	// TempDir for the client's option file; empty: os.TempDir().
	TempDir string
	// ConnectTimeout of the client; default 10s.
	ConnectTimeout time.Duration
	// Timeout bounds the whole Apply call, all files included; 0: only ctx
	// bounds it. When it expires (or ctx is done) both tools are killed and
	// Apply returns an *ApplyError saying so. The server ends the session
	// once it notices the client gone; a long statement may run on until
	// then: KILL the OnSession id to be sure.
	Timeout time.Duration
	// LockWaitTimeout is set as the client session's lock_wait_timeout and
	// innodb_lock_wait_timeout before any event, so that a lock held by
	// another session fails the apply with ErrLockWait instead of making it
	// wait for the server's default (one day). Default 10s; rounded up to
	// whole seconds.
	LockWaitTimeout time.Duration
	// OnSession, if set, gets the connection id of the client session that
	// applies each file, once per file, as soon as it is known and before
	// the file's events are sent: the caller can watch that session (and
	// kill sessions that block it). It runs on a goroutine of its own and
	// Apply waits for it to return (or for ctx) before sending the events,
	// so it should start its watch and return.
	OnSession func(connID uint64)
	// Progress, if set, is called at most every 2 seconds while a file
	// streams, and once when a file whose tools started ends (applied or
	// not). done is the file offset up to which events were handed to the
	// client (it may still be executing them), total the file's size; done
	// == total once a file is applied. Calls never overlap.
	Progress func(file string, done, total int64)
	// Logger gets one line per file applied; nil: discard.
	Logger *slog.Logger
}

// ErrApply: the client or mariadb-binlog failed while applying a file
// (as opposed to Apply being stopped by ctx or ApplyOptions.Timeout).
var ErrApply = errors.New("apply binlog failed")

// ErrLockWait: the client failed with error 1205 (lock wait timeout, metadata
// locks included) after ApplyOptions.LockWaitTimeout. The caller can kill the
// sessions that block the target and apply again.
var ErrLockWait = errors.New("lock wait timeout while applying binlog")

// Apply turns each binlog file into SQL with the local mariadb-binlog and
// streams it into the local mariadb client (--binary-mode, --batch,
// --skip-reconnect) connected to t, one file after the other, stopping at
// the first failure. Before a file's events, the client session sets its
// lock wait timeouts and reports its connection id (ApplyOptions.OnSession).
// The connection settings, password included, go into a 0600 option file
// given with --defaults-file (so no my.cnf of the manager's host, such as a
// ~/.my.cnf with another user or an init-command, changes the session) and
// removed as soon as the client has connected (or failed to): no password
// on a command line, nor left on disk should the manager die while a file
// is applied.
//
// Both tools of a file run in a process group of their own that is killed
// as a whole when ctx is done or ApplyOptions.Timeout expires; on Linux
// they are also killed if the calling process dies. A failure or a stop
// while applying a file is an *ApplyError naming the target, the file, how
// far it got and the tool's message, never the password.
func Apply(ctx context.Context, t Target, files []string, opts ApplyOptions) error {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, opts.Timeout, fmt.Errorf("apply timeout %s expired", opts.Timeout))
		defer cancel()
	}
	tools, err := findTools(opts)
	if err != nil {
		return fmt.Errorf("apply binlogs to %s: %w", t, err)
	}
	for _, f := range files {
		start := time.Now()
		if err := applyFile(ctx, tools, t, f, opts); err != nil {
			return err
		}
		log.Info("applied binlog", "target", t.String(), "file", f, "duration", time.Since(start))
	}
	return nil
}

// applyTools are the local programs.
type applyTools struct{ binlog, client string }

func findTools(opts ApplyOptions) (applyTools, error) {
	binlogBin, err := findTool(opts.BinDir, "mariadb-binlog", "mysqlbinlog")
	if err != nil {
		return applyTools{}, err
	}
	clientBin, err := findTool(opts.BinDir, "mariadb", "mysql")
	if err != nil {
		return applyTools{}, err
	}
	return applyTools{binlog: binlogBin, client: clientBin}, nil
}

func findTool(dir string, names ...string) (string, error) {
	for _, n := range names {
		if dir != "" {
			p := filepath.Join(dir, n)
			if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
				return p, nil
			}
			continue
		}
		if p, err := exec.LookPath(n); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("none of %s found (bindir %q)", strings.Join(names, ", "), dir)
}

// writeClientOptions writes the [client] option file (mode 0600).
func writeClientOptions(t Target, opts ApplyOptions) (string, error) {
	timeout := opts.ConnectTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	f, err := os.CreateTemp(opts.TempDir, "gomha-client-*.cnf")
	if err != nil {
		return "", fmt.Errorf("create client option file: %w", err)
	}
	var b strings.Builder
	b.WriteString("[client]\n")
	fmt.Fprintf(&b, "host=%s\nport=%d\nuser=%s\npassword=%s\n", quoteOption(t.Host), t.Port, quoteOption(t.User), quoteOption(t.Password))
	fmt.Fprintf(&b, "protocol=TCP\nconnect-timeout=%d\n", max(1, int(timeout.Seconds()+0.5)))
	_, werr := f.WriteString(b.String())
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		_ = os.Remove(f.Name())
		return "", fmt.Errorf("write client option file: %w", err)
	}
	return f.Name(), nil
}

// quoteOption quotes a value for a MariaDB/MySQL option file.
func quoteOption(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`, "\t", `\t`)
	return `"` + r.Replace(s) + `"`
}

// scrub trims a tool's message and blanks the password should it appear.
func scrub(msg, password string) string {
	msg = strings.TrimSpace(msg)
	if password != "" {
		msg = strings.ReplaceAll(msg, password, "xxx")
	}
	if msg == "" {
		msg = "no message"
	}
	return msg
}

// limitedBuffer keeps the first 64 KiB written to it.
type limitedBuffer struct{ bytes.Buffer }

func (b *limitedBuffer) Write(p []byte) (int, error) {
	const limit = 64 << 10
	if room := limit - b.Len(); room > 0 {
		b.Buffer.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}
