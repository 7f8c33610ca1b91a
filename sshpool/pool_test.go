package sshpool

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/gomha/gomha/node"
)

// TestMain fails the package when any test leaves a goroutine behind.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// shellUser is what package failover declares of a remote shell; a Shell
// must satisfy it (failover is not imported here: the arrow goes the other
// way, through manager).
type shellUser interface {
	Run(ctx context.Context, cmd string) (stdout, stderr []byte, err error)
	Stream(ctx context.Context, cmd string) (io.ReadCloser, error)
	Close() error
}

var _ shellUser = (*Shell)(nil)

// testLogger logs through t.Logf.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// newPool returns a pool with fast keepalives, closed when the test ends.
func newPool(t *testing.T, opts Options) *Pool {
	t.Helper()
	opts.Logger = testLogger(t)
	if opts.KeepaliveEvery == 0 {
		opts.KeepaliveEvery = 200 * time.Millisecond
	}
	if opts.KeepaliveTimeout == 0 {
		opts.KeepaliveTimeout = 500 * time.Millisecond
	}
	if opts.RedialMax == 0 {
		opts.RedialMax = 500 * time.Millisecond
	}
	p := New(opts)
	t.Cleanup(p.Close)
	return p
}

// ctxFor returns a context ending after d, cancelled when the test ends.
func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// waitFor polls cond every 10 ms until it holds or d has passed, and
// returns how long it took.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

func isLive(p *Pool, name string) func() bool {
	return func() bool { live, _, _ := p.State(name); return live }
}

func isDown(p *Pool, name string) func() bool {
	return func() bool { live, _, err := p.State(name); return !live && err != nil }
}

func TestPoolSharesOneConnection(t *testing.T) {
	srv := startSSHD(t, "127.0.0.190")
	p := newPool(t, Options{})
	cfg := srv.config(t)
	for _, n := range []string{"127.0.0.190:3306", "127.0.0.190:3307"} { // two servers on one host
		if err := p.Add(n, cfg); err != nil {
			t.Fatal(err)
		}
	}
	ctx := ctxFor(t, 10*time.Second)
	var leases []*Shell
	for _, n := range []string{"127.0.0.190:3306", "127.0.0.190:3306", "127.0.0.190:3307"} {
		sh, err := p.Shell(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		leases = append(leases, sh)
	}
	var wg sync.WaitGroup
	for i, sh := range leases {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, _, err := sh.Run(ctx, "echo $((40 + 2))")
			if err != nil || string(out) != "42\n" {
				t.Errorf("lease %d: Run = %q, %v", i, out, err)
			}
		}()
	}
	wg.Wait()
	if leases[0].sess != leases[1].sess || leases[0].sess != leases[2].sess {
		t.Fatal("the leases do not share one SSH connection")
	}
	if n := srv.accepted(); n != 1 {
		t.Fatalf("sshd accepted %d connections; want 1 for two names and three leases", n)
	}
	if err := leases[0].Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := leases[0].Run(ctx, "true"); err == nil {
		t.Fatal("Run on a closed lease: want an error")
	}
	if _, _, err := leases[1].Run(ctx, "true"); err != nil {
		t.Fatalf("closing one lease closed the pooled connection: %v", err)
	}
	if _, err := p.Shell(ctx, "127.0.0.190:9999"); !errors.Is(err, ErrUnknownHost) {
		t.Fatalf("Shell of an unknown name = %v; want ErrUnknownHost", err)
	}
}

func TestPoolRedialsAfterSSHDKilled(t *testing.T) {
	srv := startSSHD(t, "127.0.0.191")
	p := newPool(t, Options{})
	const name = "127.0.0.191:3306"
	if err := p.Add(name, srv.config(t)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "first connection", isLive(p, name))
	old, err := p.Shell(ctxFor(t, time.Second), name)
	if err != nil {
		t.Fatal(err)
	}

	srv.kill() // the host's sshd and its sessions, by pid
	took := waitFor(t, 2*time.Second, "the pool notices the lost connection", isDown(p, name))
	t.Logf("connection loss noticed after %s", took.Round(time.Millisecond))
	start := time.Now()
	_, err = p.Shell(ctxFor(t, 5*time.Second), name)
	if !errors.Is(err, ErrNotConnected) || !errors.Is(err, node.ErrSSHUnreachable) {
		t.Fatalf("Shell with sshd down = %v; want ErrNotConnected and node.ErrSSHUnreachable", err)
	}
	if d := time.Since(start); d > 50*time.Millisecond {
		t.Fatalf("Shell with sshd down took %s; it must return the last error at once", d)
	}
	if !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "127.0.0.191:2222") {
		t.Fatalf("error %q must name the host", err)
	}
	if err := p.Check(ctxFor(t, time.Second), name); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("Check with sshd down = %v; want ErrNotConnected (Check never dials)", err)
	}

	if _, _, err := old.Run(ctxFor(t, time.Second), "true"); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("Run on a lease of the lost connection = %v; want ErrNotConnected (take a new lease)", err)
	}

	srv.start()
	took = waitFor(t, 5*time.Second, "the pool re-dials when sshd is back", isLive(p, name))
	t.Logf("re-dialled %s after sshd came back (RedialMax %s)", took.Round(time.Millisecond), p.opts.RedialMax)
	sh, err := p.Shell(ctxFor(t, 5*time.Second), name)
	if err != nil {
		t.Fatal(err)
	}
	if out, _, err := sh.Run(ctxFor(t, 5*time.Second), "echo back"); err != nil || string(out) != "back\n" {
		t.Fatalf("Run after re-dial = %q, %v", out, err)
	}
	if err := p.Check(ctxFor(t, time.Second), name); err != nil {
		t.Fatalf("Check after re-dial: %v", err)
	}
}

func TestPoolKeepaliveNoticesSilentHost(t *testing.T) {
	srv := startSSHD(t, "127.0.0.192")
	p := newPool(t, Options{KeepaliveEvery: 200 * time.Millisecond, KeepaliveTimeout: 500 * time.Millisecond})
	const name = "127.0.0.192:3306"
	cfg := srv.config(t)
	cfg.ConnectTimeout = time.Second
	if err := p.Add(name, cfg); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "first connection", isLive(p, name))
	_, okBefore, _ := p.State(name)

	srv.signalAll(syscall.SIGSTOP) // the host goes silent: TCP is up, nothing answers
	t.Cleanup(func() { srv.signalAll(syscall.SIGCONT) })
	start := time.Now()
	if err := p.Check(ctxFor(t, 5*time.Second), name); !errors.Is(err, node.ErrSSHTimeout) {
		t.Fatalf("Check on a silent host = %v; want node.ErrSSHTimeout", err)
	}
	if d := time.Since(start); d > 700*time.Millisecond {
		t.Fatalf("Check took %s; KeepaliveTimeout is 500ms", d)
	}
	took := waitFor(t, 3*time.Second, "keepalives notice the silent host", isDown(p, name))
	_, okAfter, lastErr := p.State(name)
	t.Logf("silent host noticed after %s (every %s, timeout %s): %v", took.Round(time.Millisecond),
		p.opts.KeepaliveEvery, p.opts.KeepaliveTimeout, lastErr)
	if !errors.Is(lastErr, node.ErrSSHTimeout) || okAfter.Before(okBefore) {
		t.Fatalf("State after silence: lastErr %v (want node.ErrSSHTimeout), lastOK %v (was %v)", lastErr, okAfter, okBefore)
	}
	sctx := ctxFor(t, 5*time.Second)
	start = time.Now()
	if _, err := p.Shell(sctx, name); !errors.Is(err, ErrNotConnected) || time.Since(start) > 50*time.Millisecond {
		t.Fatalf("Shell on a silent host = %v after %s; want ErrNotConnected at once", err, time.Since(start))
	}

	srv.signalAll(syscall.SIGCONT)
	took = waitFor(t, 5*time.Second, "the pool re-dials when the host answers again", isLive(p, name))
	t.Logf("re-dialled %s after the host woke up", took.Round(time.Millisecond))
}

func TestPoolFiles(t *testing.T) {
	srv := startSSHD(t, "127.0.0.193")
	p := newPool(t, Options{EagerSFTP: true})
	const name = "127.0.0.193:3306"
	if err := p.Add(name, srv.config(t)); err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 1<<20+123)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "mysql-bin.000007")
	write(t, path, string(data))

	ctx := ctxFor(t, 10*time.Second)
	fs, err := p.Files(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	f, err := fs.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	all, err := io.ReadAll(f)
	if err != nil || !bytes.Equal(all, data) {
		t.Fatalf("whole file: %d bytes, %v; want %d equal bytes", len(all), err, len(data))
	}
	part := make([]byte, 4096)
	if n, err := f.ReadAt(part, 777_777); err != nil || n != len(part) || !bytes.Equal(part, data[777_777:777_777+4096]) {
		t.Fatalf("ReadAt: %d, %v (equal %v)", n, err, bytes.Equal(part, data[777_777:777_777+4096]))
	}
	tail := make([]byte, 500)
	if n, err := f.ReadAt(tail, int64(len(data)-100)); n != 100 || !errors.Is(err, io.EOF) {
		t.Fatalf("ReadAt across the end: %d, %v; want 100, io.EOF", n, err)
	}
	fs2, err := p.Files(ctx, name)
	if err != nil || fs2 != fs {
		t.Fatalf("second Files = %p, %v; want the same client %p", fs2, err, fs)
	}
	if _, err := fs.Stat(path + ".missing"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Stat of a missing file = %v; want os.ErrNotExist", err)
	}

	srv.kill()
	waitFor(t, 2*time.Second, "the pool notices the lost connection", isDown(p, name))
	if _, err := f.ReadAt(part, 0); err == nil {
		t.Fatal("ReadAt on a dropped connection: want an error")
	}
	srv.start()
	waitFor(t, 5*time.Second, "re-dial", isLive(p, name))
	fs3, err := p.Files(ctx, name)
	if err != nil || fs3 == fs {
		t.Fatalf("Files after re-dial = %p, %v; want a new client", fs3, err)
	}
	if fi, err := fs3.Stat(path); err != nil || fi.Size() != int64(len(data)) {
		t.Fatalf("Stat after re-dial: %v, %v", fi, err)
	}
}

func TestPoolDialTCP(t *testing.T) {
	srv := startSSHD(t, "127.0.0.194")
	noFwd := startSSHD(t, "127.0.0.195", "AllowTcpForwarding no")
	p := newPool(t, Options{})
	if err := p.Add("h", srv.config(t)); err != nil {
		t.Fatal(err)
	}
	if err := p.Add("nofwd", noFwd.config(t)); err != nil {
		t.Fatal(err)
	}
	greeter := listenGreeting(t, "127.0.0.194", "greeting from 127.0.0.194\n") // stands for a mysqld: it speaks first
	ctx := ctxFor(t, 10*time.Second)
	if got, err := readGreeting(ctx, p, "h", greeter); err != nil || got != "greeting from 127.0.0.194\n" {
		t.Fatalf("greeting through the host = %q, %v", got, err)
	}

	t.Run("a read deadline interrupts a silent peer", func(t *testing.T) {
		silent, err := net.Listen("tcp", "127.0.0.194:0")
		if err != nil {
			t.Fatal(err)
		}
		defer silent.Close()
		c, err := p.DialTCP(ctx, "h", silent.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		var ne net.Error
		if _, err := c.Read(make([]byte, 1)); !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("Read past the deadline = %v; want a timeout", err)
		}
	})
	t.Run("nothing listening: sshd's connect fails, named", func(t *testing.T) {
		_, err := p.DialTCP(ctx, "h", "127.0.0.194:1")
		if err == nil || !strings.Contains(err.Error(), "127.0.0.194:1") || errors.Is(err, node.ErrSSHForwardingRefused) {
			t.Fatalf("DialTCP to a closed port = %v", err)
		}
	})
	t.Run("forwarding refused by sshd is a sentinel", func(t *testing.T) {
		_, err := p.DialTCP(ctx, "nofwd", greeter)
		if !errors.Is(err, node.ErrSSHForwardingRefused) || !strings.Contains(err.Error(), "127.0.0.195:2222") {
			t.Fatalf("DialTCP with AllowTcpForwarding no = %v; want node.ErrSSHForwardingRefused naming the host", err)
		}
	})
}

func TestPoolShellReturnsWithinCtxOnMuteHost(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.196:2222") // accepts, never speaks
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var held []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	}()
	p := New(Options{Logger: testLogger(t)})
	dir := t.TempDir()
	keygen(t, filepath.Join(dir, "client"))
	write(t, filepath.Join(dir, "known_hosts"), "")
	opts, err := node.ParseSSHOptions("-i " + filepath.Join(dir, "client") + " -o UserKnownHostsFile=" + filepath.Join(dir, "known_hosts"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := node.SSHConfig{Host: "127.0.0.196", Port: 2222, User: "root", ConnectTimeout: 10 * time.Second, Options: opts}
	if err := p.Add("mute", cfg); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = p.Shell(ctx, "mute")
	took := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, node.ErrSSHTimeout) || took > 400*time.Millisecond {
		t.Fatalf("Shell on a mute host = %v after %s; want a timeout within the 300ms ctx", err, took)
	}
	t.Logf("Shell on a mute host returned after %s: %v", took.Round(time.Millisecond), err)
	start = time.Now()
	p.Close() // the dial is stuck in the handshake: Close must cut it
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Close took %s with a dial stuck in the handshake", d)
	}
	if _, err := p.Shell(context.Background(), "mute"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Shell after Close = %v; want ErrClosed", err)
	}
}

func TestPoolCloseLeavesNoGoroutine(t *testing.T) {
	srv := startSSHD(t, "127.0.0.197")
	ln, err := net.Listen("tcp", "127.0.0.197:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			accepted <- c
		}
	}()
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())

	p := New(Options{Logger: testLogger(t), EagerSFTP: true, KeepaliveEvery: 100 * time.Millisecond})
	if err := p.Add("a", srv.config(t)); err != nil {
		t.Fatal(err)
	}
	ctx := ctxFor(t, 10*time.Second)
	sh, err := p.Shell(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	r, err := sh.Stream(ctx, "echo started; sleep 30") // left running
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Read(make([]byte, 8)); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Files(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	c, err := p.DialTCP(ctx, "a", ln.Addr().String()) // left open
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // a few keepalives
	start := time.Now()
	p.Close()
	t.Logf("Close took %s", time.Since(start).Round(time.Millisecond))
	_ = c.Close()
	_ = r.Close()
	(<-accepted).Close()
}

// listenGreeting listens on host (any port), writes msg to every connection
// and closes it; it returns the address. The listener closes with the test.
func listenGreeting(t *testing.T, host, msg string) string {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte(msg))
			_ = c.Close()
		}
	}()
	return ln.Addr().String()
}

// readGreeting opens a direct-tcpip channel through name to addr and reads
// until the peer closes, under a read deadline.
func readGreeting(ctx context.Context, p *Pool, name, addr string) (string, error) {
	c, err := p.DialTCP(ctx, name, addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return "", err
	}
	b, err := io.ReadAll(c)
	return string(b), err
}
