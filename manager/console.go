package manager

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// Console writes MHA-style progress lines for people:
//
//	Mon Nov 23 18:40:00 2026 - [info] Checking replication health on host2.. ok.
//
// MHA's wording is kept where users grep for it.
type Console struct {
	mu  sync.Mutex
	w   io.Writer
	now func() time.Time
}

// NewConsole writes to w; a nil w discards.
func NewConsole(w io.Writer) *Console {
	if w == nil {
		w = io.Discard
	}
	return &Console{w: w, now: time.Now}
}

func (c *Console) line(level, format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprintf(c.w, "%s - [%s] %s\n", c.now().Format("Mon Jan _2 15:04:05 2006"), level, fmt.Sprintf(format, args...))
}

// Infof writes an [info] line.
func (c *Console) Infof(format string, args ...any) { c.line("info", format, args...) }

// Warnf writes a [warning] line.
func (c *Console) Warnf(format string, args ...any) { c.line("warning", format, args...) }

// Errorf writes an [error] line.
func (c *Console) Errorf(format string, args ...any) { c.line("error", format, args...) }

// Raw writes text as is (topology trees, banners).
func (c *Console) Raw(text string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	io.WriteString(c.w, text)
}
