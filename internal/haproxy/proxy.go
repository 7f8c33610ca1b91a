package haproxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// Binary is Debian's HAProxy (package haproxy, 2.6 in bookworm).
const Binary = "/usr/sbin/haproxy"

const (
	startTimeout = 10 * time.Second // until every frontend accepts
	stopTimeout  = 5 * time.Second  // after SIGTERM, before SIGKILL
)

// Options configure Start.
type Options struct {
	// Dir holds haproxy.cfg and haproxy.log.
	Dir string
	// Config is the whole configuration (Global, then a rendered example).
	Config []byte
	// Env is added to HAProxy's environment ("GOMHA_HTTP_TOKEN=...").
	Env []string
	// Wait lists addresses (the frontends) that must accept a connection
	// before Start returns.
	Wait []string
}

// Proxy is one HAProxy process started by Start.
type Proxy struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // its exit, once done
	log  string
}

// Check runs haproxy -c on the configuration file path, with env added to
// the environment, and returns what HAProxy said (its warnings); the
// error says why the configuration is not valid.
func Check(ctx context.Context, path string, env []string) (string, error) {
	cmd := exec.CommandContext(ctx, Binary, "-c", "-f", path)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s -c -f %s: %w\n%s", Binary, path, err, out)
	}
	return string(out), nil
}

// Start writes the configuration to Dir/haproxy.cfg, checks it, starts
// HAProxy in the foreground (-db) and waits until every address of
// o.Wait accepts a connection.
func Start(ctx context.Context, o Options) (*Proxy, error) {
	cfg := filepath.Join(o.Dir, "haproxy.cfg")
	if err := os.WriteFile(cfg, o.Config, 0o600); err != nil {
		return nil, fmt.Errorf("write the HAProxy configuration: %w", err)
	}
	if _, err := Check(ctx, cfg, o.Env); err != nil {
		return nil, err
	}
	p := &Proxy{done: make(chan struct{}), log: filepath.Join(o.Dir, "haproxy.log")}
	logf, err := os.Create(p.log)
	if err != nil {
		return nil, fmt.Errorf("create the HAProxy log: %w", err)
	}
	defer logf.Close() // the child has its own descriptor
	p.cmd = exec.Command(Binary, "-db", "-f", cfg)
	p.cmd.Env = append(os.Environ(), o.Env...)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	// SIGKILLed if this process dies first (a test that panics or times
	// out leaves no HAProxy holding its addresses). Pdeathsig follows the
	// OS thread that forked: the goroutine keeps it locked for HAProxy's
	// whole life.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with HAProxy
		if err := p.cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("start %s: %w", Binary, err)
	}
	if err := p.waitListening(ctx, o.Wait); err != nil {
		_ = p.Stop()
		return nil, err
	}
	return p, nil
}

// waitListening waits until every address accepts a TCP connection, the
// process exits, startTimeout passes or ctx ends.
func (p *Proxy) waitListening(ctx context.Context, addrs []string) error {
	deadline := time.Now().Add(startTimeout)
	for _, a := range addrs {
		for {
			c, err := net.DialTimeout("tcp", a, 200*time.Millisecond)
			if err == nil {
				c.Close()
				break
			}
			select {
			case <-p.done:
				return fmt.Errorf("haproxy (pid %d) exited before listening on %s: %v\n%s", p.Pid(), a, p.err, p.Log())
			case <-ctx.Done():
				return fmt.Errorf("haproxy listening on %s: %w", a, ctx.Err())
			case <-time.After(20 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("haproxy (pid %d) not listening on %s after %v: %v\n%s", p.Pid(), a, startTimeout, err, p.Log())
			}
		}
	}
	return nil
}

// Pid is HAProxy's process id.
func (p *Proxy) Pid() int { return p.cmd.Process.Pid }

// Log is what HAProxy wrote so far (its state changes, with the checks'
// statuses).
func (p *Proxy) Log() string {
	data, err := os.ReadFile(p.log)
	if err != nil {
		return "(no HAProxy log: " + err.Error() + ")"
	}
	return string(data)
}

// LogLines returns the lines of the log that contain every one of subs.
func (p *Proxy) LogLines(subs ...string) []string {
	var out []string
	for _, l := range strings.Split(p.Log(), "\n") {
		ok := l != ""
		for _, s := range subs {
			ok = ok && strings.Contains(l, s)
		}
		if ok {
			out = append(out, l)
		}
	}
	return out
}

// Stop ends HAProxy: SIGTERM to its pid (it stops at once in -db mode),
// SIGKILL if it is still there stopTimeout later. Calling it again does
// nothing.
func (p *Proxy) Stop() error {
	select {
	case <-p.done:
		return nil
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stop haproxy (pid %d): %w", p.Pid(), err)
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(stopTimeout):
	}
	_ = p.cmd.Process.Kill()
	select {
	case <-p.done:
		return fmt.Errorf("haproxy (pid %d) ignored SIGTERM for %v: killed", p.Pid(), stopTimeout)
	case <-time.After(stopTimeout):
		return fmt.Errorf("haproxy (pid %d) still running after SIGKILL", p.Pid())
	}
}
