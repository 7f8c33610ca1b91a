package node

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// sshTestServer is a throwaway sshd started by a test on a loopback address,
// with its own ed25519 and RSA host keys and one authorised client key.
type sshTestServer struct {
	host      string
	port      int
	dir       string
	hostKeys  map[string]ssh.PublicKey // by key type: ssh-ed25519, ssh-rsa
	clientKey string                   // private key file the server accepts
	log       *sshSyncBuffer
}

// sshSyncBuffer collects sshd's log lines written from another goroutine.
type sshSyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *sshSyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *sshSyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// sshTestNeed returns the path of a binary the test needs; when it is missing
// the test fails in CI and is skipped elsewhere.
func sshTestNeed(t *testing.T, path string) string {
	t.Helper()
	p, err := exec.LookPath(path)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required in CI: %v", path, err)
		}
		t.Skipf("%s not installed: %v", path, err)
	}
	return p
}

// sshTestKeygen runs ssh-keygen to make a key pair at path (no passphrase
// unless one is given) and returns the public key.
func sshTestKeygen(t *testing.T, path, typ, passphrase string) ssh.PublicKey {
	t.Helper()
	args := []string{"-q", "-t", typ, "-N", passphrase, "-C", "gomha-test", "-f", path}
	if typ == "rsa" {
		args = append(args, "-b", "2048")
	}
	if out, err := exec.Command(sshTestNeed(t, "ssh-keygen"), args...).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen %v: %v\n%s", args, err, out)
	}
	b, err := os.ReadFile(path + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey(b)
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// startSSHTestServer starts `sshd -D -e -f cfg` on host:port as a child
// process and kills it by pid when the test ends.
func startSSHTestServer(t *testing.T, host string, port int) *sshTestServer {
	t.Helper()
	sshd := sshTestNeed(t, "/usr/sbin/sshd")
	dir := t.TempDir()
	srv := &sshTestServer{host: host, port: port, dir: dir, hostKeys: map[string]ssh.PublicKey{},
		clientKey: filepath.Join(dir, "client_ed25519"), log: &sshSyncBuffer{}}
	srv.hostKeys[ssh.KeyAlgoED25519] = sshTestKeygen(t, filepath.Join(dir, "host_ed25519"), "ed25519", "")
	srv.hostKeys[ssh.KeyAlgoRSA] = sshTestKeygen(t, filepath.Join(dir, "host_rsa"), "rsa", "")
	client := sshTestKeygen(t, srv.clientKey, "ed25519", "")
	authorized := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(authorized, ssh.MarshalAuthorizedKey(client), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "sshd_config")
	conf := fmt.Sprintf(`ListenAddress %s
HostKey %s
HostKey %s
PidFile %s
AuthorizedKeysFile %s
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
LogLevel VERBOSE
`, net.JoinHostPort(host, strconv.Itoa(port)), filepath.Join(dir, "host_ed25519"), filepath.Join(dir, "host_rsa"),
		filepath.Join(dir, "sshd.pid"), authorized)
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil { // sshd's privilege separation directory
		t.Fatal(err)
	}
	cmd := exec.Command(sshd, "-D", "-e", "-f", cfg)
	cmd.Stdout, cmd.Stderr = srv.log, srv.log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start sshd: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill() // by pid: the child we started
		<-exited
		if t.Failed() {
			t.Logf("sshd log:\n%s", srv.log)
		}
	})
	for deadline := time.Now().Add(5 * time.Second); ; {
		select {
		case <-exited:
			t.Fatalf("sshd exited:\n%s", srv.log)
		default:
		}
		c, err := net.DialTimeout("tcp", srv.addr(), 100*time.Millisecond)
		if err == nil {
			c.Close()
			return srv
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshd not listening on %s: %v\n%s", srv.addr(), err, srv.log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (srv *sshTestServer) addr() string { return net.JoinHostPort(srv.host, strconv.Itoa(srv.port)) }

// knownHosts writes a known_hosts file holding the server's keys of the
// given types (none: an empty file) and returns its path.
func (srv *sshTestServer) knownHosts(t *testing.T, types ...string) string {
	t.Helper()
	var b strings.Builder
	for _, typ := range types {
		b.WriteString(knownhosts.Line([]string{srv.addr()}, srv.hostKeys[typ]) + "\n")
	}
	path := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// config returns an SSHConfig for the server using the client key and the
// given known_hosts file, plus extra ssh_options.
func (srv *sshTestServer) config(t *testing.T, knownHosts, extra string) SSHConfig {
	t.Helper()
	opts, err := ParseSSHOptions("-i " + ShellQuote(srv.clientKey) + " -o UserKnownHostsFile=" +
		ShellQuote(knownHosts) + " " + extra)
	if err != nil {
		t.Fatal(err)
	}
	return SSHConfig{Host: srv.host, Port: srv.port, ConnectTimeout: 5 * time.Second, Options: opts}
}

// sshTestProcessRunning reports whether a process whose NUL-separated
// command line contains marker exists.
func sshTestProcessRunning(t *testing.T, marker string) bool {
	t.Helper()
	files, err := filepath.Glob("/proc/[0-9]*/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil && bytes.Contains(b, []byte(marker)) {
			return true
		}
	}
	return false
}
