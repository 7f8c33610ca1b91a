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
	// Logger gets one line per file applied; nil: discard.
	Logger *slog.Logger
}

// ErrApply: the client or mariadb-binlog failed while applying a file.
var ErrApply = errors.New("apply binlog failed")

// Apply turns each binlog file into SQL with the local mariadb-binlog and
// pipes it into the local mariadb client (--binary-mode) connected to t,
// one file after the other, stopping at the first failure. The connection
// settings, password included, go into a 0600 option file given with
// --defaults-extra-file and removed afterwards: no password on a command line.
// The error names the target, the file and the client's message.
func Apply(ctx context.Context, t Target, files []string, opts ApplyOptions) error {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	binlogBin, err := findTool(opts.BinDir, "mariadb-binlog", "mysqlbinlog")
	if err != nil {
		return fmt.Errorf("apply binlogs to %s: %w", t, err)
	}
	clientBin, err := findTool(opts.BinDir, "mariadb", "mysql")
	if err != nil {
		return fmt.Errorf("apply binlogs to %s: %w", t, err)
	}
	cnf, err := writeClientOptions(t, opts)
	if err != nil {
		return fmt.Errorf("apply binlogs to %s: %w", t, err)
	}
	defer func() { _ = os.Remove(cnf) }()
	for _, f := range files {
		start := time.Now()
		if err := applyFile(ctx, binlogBin, clientBin, cnf, t, f, opts); err != nil {
			return err
		}
		log.Info("applied binlog", "target", t.String(), "file", f, "duration", time.Since(start))
	}
	return nil
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
	fmt.Fprintf(&b, "protocol=TCP\nconnect-timeout=%d\n", int(timeout.Seconds()+0.5))
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

// applyFile runs mariadb-binlog FILE | mariadb for one file.
func applyFile(ctx context.Context, binlogBin, clientBin, cnf string, t Target, file string, opts ApplyOptions) error {
	args := []string{"--no-defaults"}
	if opts.DisableLogBin {
		args = append(args, "--disable-log-bin")
	}
	dump := exec.CommandContext(ctx, binlogBin, append(args, file)...)
	client := exec.CommandContext(ctx, clientBin, "--defaults-extra-file="+cnf,
		"--binary-mode", "--batch", "--max-allowed-packet=1G")
	var dumpErr, clientOut limitedBuffer
	dump.Stderr = &dumpErr
	client.Stdout, client.Stderr = &clientOut, &clientOut
	pipe, err := dump.StdoutPipe()
	if err != nil {
		return fmt.Errorf("apply %s to %s: %w", file, t, err)
	}
	client.Stdin = pipe
	if err := dump.Start(); err != nil {
		return fmt.Errorf("apply %s to %s: start %s: %w", file, t, binlogBin, err)
	}
	if err := client.Start(); err != nil {
		_ = dump.Process.Kill()
		_ = dump.Wait()
		return fmt.Errorf("apply %s to %s: start %s: %w", file, t, clientBin, err)
	}
	clientErr := client.Wait()
	if clientErr != nil {
		// The reader is gone: make sure mariadb-binlog does not block.
		_ = dump.Process.Kill()
	}
	dumpWaitErr := dump.Wait()
	switch {
	case clientErr != nil:
		return fmt.Errorf("apply %s to %s: %s: %s: %w", file, t, filepath.Base(clientBin),
			scrub(clientOut.String(), t.Password), errors.Join(ErrApply, clientErr))
	case dumpWaitErr != nil:
		return fmt.Errorf("apply %s to %s: %s: %s: %w", file, t, filepath.Base(binlogBin),
			scrub(dumpErr.String(), t.Password), errors.Join(ErrApply, dumpWaitErr))
	}
	return nil
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
