package statuspage

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/html"
)

// chromium is Debian's chromium run headless, one process group per
// page load, killed whole when the load ends or overruns.
type chromium struct {
	t    *testing.T
	path string
}

// Chromium's run for one page load; its JS timers run on a virtual clock
// that only advances while no request is pending.
const (
	chromiumTimeout = 90 * time.Second
	windowSize      = "1400,1000"
)

// needChromium finds chromium: a test without it is skipped, or fails
// under CI (CI must never pass by skipping).
func needChromium(t *testing.T) *chromium {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a headless chromium")
	}
	p, err := exec.LookPath("chromium")
	if err != nil {
		if ci := os.Getenv("CI"); ci != "" && ci != "false" {
			t.Fatalf("chromium is required under CI (scripts/setup-debian.sh installs it): %v", err)
		}
		t.Skipf("chromium not installed (scripts/setup-debian.sh installs it): %v", err)
	}
	return &chromium{t: t, path: p}
}

// run loads url with mode (--dump-dom, or --screenshot=FILE) and extra
// flags, letting the page's scripts run for budget of virtual time, and
// returns stdout.
func (c *chromium) run(url, mode string, budget time.Duration, extra ...string) ([]byte, error) {
	args := []string{"--headless", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
		"--disable-extensions", "--disable-background-networking", "--disable-sync", "--hide-scrollbars",
		"--user-data-dir=" + c.t.TempDir(), "--window-size=" + windowSize,
		fmt.Sprintf("--virtual-time-budget=%d", budget.Milliseconds())}
	args = append(append(args, extra...), mode, url)
	if os.Geteuid() == 0 {
		args = append([]string{"--no-sandbox"}, args...) // chromium refuses root otherwise
	}
	cmd := exec.Command(c.path, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start chromium: %w", err)
	}
	pgid := cmd.Process.Pid
	// Whatever happens, no chromium of this load outlives it: its
	// renderer, GPU and zygote processes share its process group.
	defer func() { _ = syscall.Kill(-pgid, syscall.SIGKILL) }()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return out.Bytes(), fmt.Errorf("chromium %s %s: %w\n%s", mode, url, err, tail(errOut.String(), 20))
		}
		return out.Bytes(), nil
	case <-time.After(chromiumTimeout):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-done
		return nil, fmt.Errorf("chromium %s %s: no result within %s", mode, url, chromiumTimeout)
	}
}

// dom loads url and returns the document as the page's scripts left it.
func (c *chromium) dom(url string, budget time.Duration) *html.Node {
	c.t.Helper()
	out, err := c.run(url, "--dump-dom", budget)
	if err != nil {
		c.t.Fatal(err)
	}
	doc, err := html.Parse(bytes.NewReader(out))
	if err != nil {
		c.t.Fatalf("the DOM chromium dumped: %v", err)
	}
	return doc
}

// Chromium's flag for a page that prefers a dark color scheme.
const darkScheme = "--blink-settings=preferredColorScheme=0"

// screenshot saves a PNG of url in the artifacts directory and logs where.
func (c *chromium) screenshot(url, name string, budget time.Duration, extra ...string) {
	c.t.Helper()
	path := filepath.Join(artifacts(c.t), name)
	if _, err := c.run(url, "--screenshot="+path, budget, extra...); err != nil {
		c.t.Errorf("screenshot: %v", err)
		return
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
		c.t.Errorf("screenshot %s: not written (%v)", path, err)
		return
	}
	c.t.Logf("screenshot: %s", path)
}

// artifacts is where the tests leave what a person looks at afterwards
// (screenshots, dumped DOMs): $GOMHA_ARTIFACTS/statuspage, or
// testdata/artifacts in this package (ignored by git).
func artifacts(t *testing.T) string {
	t.Helper()
	dir := filepath.Join("testdata", "artifacts")
	if d := os.Getenv("GOMHA_ARTIFACTS"); d != "" {
		dir = filepath.Join(d, "statuspage")
	}
	abs, err := filepath.Abs(dir)
	if err == nil {
		err = os.MkdirAll(abs, 0o755)
	}
	if err != nil {
		t.Fatalf("artifacts directory %s: %v", dir, err)
	}
	return abs
}

// keepDOM writes a dumped DOM next to the screenshots, for a failed test.
func keepDOM(t *testing.T, doc *html.Node, name string) {
	t.Helper()
	var b bytes.Buffer
	if err := html.Render(&b, doc); err != nil {
		t.Errorf("render DOM: %v", err)
		return
	}
	path := filepath.Join(artifacts(t), name)
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Errorf("keep DOM: %v", err)
		return
	}
	t.Logf("DOM: %s", path)
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// find returns the elements under n that match.
func find(n *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	for c := range n.Descendants() {
		if c.Type == html.ElementNode && match(c) {
			out = append(out, c)
		}
	}
	return out
}

// withAttr matches elements that have attribute key (with value val
// unless val is "*").
func withAttr(key, val string) func(*html.Node) bool {
	return func(n *html.Node) bool {
		v, ok := attr(n, key)
		return ok && (val == "*" || v == val)
	}
}

func tag(name string) func(*html.Node) bool {
	return func(n *html.Node) bool { return n.Data == name }
}

func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

// text is the text under n, its pieces joined by single spaces.
func text(n *html.Node) string {
	var parts []string
	for c := range n.Descendants() {
		if c.Type == html.TextNode {
			if s := strings.TrimSpace(c.Data); s != "" {
				parts = append(parts, s)
			}
		}
	}
	return strings.Join(parts, " ")
}

// cells are the texts of a row's cells (th and td).
func cells(row *html.Node) []string {
	var out []string
	for c := row.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.ElementNode && (c.Data == "td" || c.Data == "th") {
			out = append(out, text(c))
		}
	}
	return out
}
