package supervisor

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"

	"github.com/gomha/gomha/manager"
	"github.com/gomha/gomha/manager/config"
)

// lockedWriter serialises whole writes of many writers to one w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// prefixWriter writes every line to the shared writer with a prefix
// ("[app1] "), one write per whole line so that the lines of units never
// mix. A partial line waits for its end (or Flush).
type prefixWriter struct {
	w      io.Writer // a *lockedWriter shared by the units
	prefix []byte

	mu   sync.Mutex
	part []byte
}

func newPrefixWriter(w io.Writer, app string) *prefixWriter {
	return &prefixWriter{w: w, prefix: []byte("[" + app + "] ")}
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(b)
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			p.part = append(p.part, b...)
			break
		}
		line := make([]byte, 0, len(p.prefix)+len(p.part)+i+1)
		line = append(append(append(line, p.prefix...), p.part...), b[:i+1]...)
		p.part = p.part[:0]
		b = b[i+1:]
		if _, err := p.w.Write(line); err != nil {
			return n - len(b), err
		}
	}
	return n, nil
}

// Flush writes a partial line, ended with a newline.
func (p *prefixWriter) Flush() {
	p.mu.Lock()
	part := p.part
	p.part = nil
	p.mu.Unlock()
	if len(part) > 0 {
		_, _ = p.Write(append(part, '\n'))
	}
}

// outputs are one unit's console and logger, for one configuration.
type outputs struct {
	con    *manager.Console
	log    *slog.Logger
	own    bool // the cluster's manager_log: the supervisor's lines about it go there too
	closer func()
}

// openOutputs gives cfg's unit its console and logger: manager_log when
// set (console lines and logs appended there, as gomha manager does for
// one cluster), else the shared writers, console lines prefixed with
// "[app] " and logs with app=<name>.
func openOutputs(cfg *config.Config, out, errW io.Writer, debug bool) (outputs, error) {
	level := slog.LevelInfo
	if debug || cfg.LogLevel == "debug" {
		level = slog.LevelDebug
	}
	hopts := &slog.HandlerOptions{Level: level}
	if cfg.ManagerLog != "" {
		f, err := os.OpenFile(cfg.ManagerLog, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
		if err != nil {
			return outputs{}, fmt.Errorf("manager_log %s: %w", cfg.ManagerLog, err)
		}
		return outputs{con: manager.NewConsole(f), log: slog.New(slog.NewTextHandler(f, hopts)).With("app", cfg.App),
			own: true, closer: func() { _ = f.Close() }}, nil
	}
	pw := newPrefixWriter(out, cfg.App)
	return outputs{con: manager.NewConsole(pw), log: slog.New(slog.NewTextHandler(errW, hopts)).With("app", cfg.App),
		closer: pw.Flush}, nil
}
