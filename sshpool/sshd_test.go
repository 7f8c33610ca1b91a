package sshpool

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/gomha/gomha/internal/testkit"
	"github.com/gomha/gomha/node"
)

// The tests of this package run their own sshd on 127.0.0.190-199 (other
// packages' tests use other addresses), port testPort.
const testPort = 2222

// testSSHD is an sshd started by a test: `sshd -D -e -f cfg` on a loopback
// address, with its own host key and one authorised client key. It can be
// killed (with its session processes), frozen and started again on the same
// address with the same keys.
type testSSHD struct {
	t          *testing.T
	host       string
	dir        string
	clientKey  string
	knownHosts string
	extra      string // more sshd_config lines

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}   // closed when cmd has exited
	log  *testkit.Buffer // this start's log
}

// need returns the path of a binary; missing, the test fails in CI and is
// skipped elsewhere (CI must never pass by skipping).
func need(t *testing.T, name string) string {
	t.Helper()
	for _, p := range []string{name, "/usr/sbin/" + name} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is required in CI", name)
	}
	t.Skipf("%s not installed", name)
	return ""
}

// startSSHD generates keys, writes the configuration and starts sshd on
// host:testPort; the test's cleanup kills it and its sessions.
func startSSHD(t *testing.T, host string, extra ...string) *testSSHD {
	t.Helper()
	dir := t.TempDir()
	s := &testSSHD{t: t, host: host, dir: dir, clientKey: filepath.Join(dir, "client"),
		knownHosts: filepath.Join(dir, "known_hosts"), extra: strings.Join(extra, "\n")}
	hostPub := keygen(t, filepath.Join(dir, "host_ed25519"))
	clientPub := keygen(t, s.clientKey)
	write(t, filepath.Join(dir, "authorized_keys"), string(ssh.MarshalAuthorizedKey(clientPub)))
	write(t, s.knownHosts, knownhosts.Line([]string{s.addr()}, hostPub)+"\n")
	write(t, filepath.Join(dir, "sshd_config"), fmt.Sprintf(`ListenAddress %s
HostKey %s
PidFile none
AuthorizedKeysFile %s
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
UseDNS no
LogLevel VERBOSE
MaxSessions 100
Subsystem sftp /usr/lib/openssh/sftp-server
%s
`, s.addr(), filepath.Join(dir, "host_ed25519"), filepath.Join(dir, "authorized_keys"), s.extra))
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil { // privilege separation directory
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.kill()
		if t.Failed() {
			t.Logf("sshd %s log:\n%s", s.addr(), s.logText())
		}
	})
	s.start()
	return s
}

func (s *testSSHD) addr() string { return net.JoinHostPort(s.host, strconv.Itoa(testPort)) }

// start runs sshd and waits until it accepts connections.
func (s *testSSHD) start() {
	s.t.Helper()
	cmd := exec.Command(need(s.t, "sshd"), "-D", "-e", "-f", filepath.Join(s.dir, "sshd_config"))
	log := &testkit.Buffer{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start sshd: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	s.mu.Lock()
	s.cmd, s.done, s.log = cmd, done, log
	s.mu.Unlock()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		select {
		case <-done:
			s.t.Fatalf("sshd exited:\n%s", log)
		default:
		}
		if c, err := net.DialTimeout("tcp", s.addr(), 100*time.Millisecond); err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("sshd not listening on %s:\n%s", s.addr(), log)
		}
	}
}

// kill SIGKILLs sshd and every process under it (its sessions), by pid,
// and waits for sshd to be reaped. It does nothing when sshd is not running.
func (s *testSSHD) kill() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	kids := descendants(cmd.Process.Pid)
	_ = cmd.Process.Kill()
	for _, k := range kids {
		_ = syscall.Kill(k, syscall.SIGKILL)
	}
	<-done
}

// signalAll sends sig to sshd and to every process under it, the listener
// first (so that it starts no new session in between).
func (s *testSSHD) signalAll(sig syscall.Signal) {
	s.mu.Lock()
	cmd := s.cmd
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	for _, k := range descendants(cmd.Process.Pid) {
		_ = syscall.Kill(k, sig)
	}
}

// accepted counts the connections this start of sshd authenticated.
func (s *testSSHD) accepted() int {
	return strings.Count(s.logText(), "Accepted publickey for ")
}

func (s *testSSHD) logText() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

// config returns the node.SSHConfig that reaches this sshd.
func (s *testSSHD) config(t *testing.T) node.SSHConfig {
	t.Helper()
	opts, err := node.ParseSSHOptions("-i " + node.ShellQuote(s.clientKey) +
		" -o UserKnownHostsFile=" + node.ShellQuote(s.knownHosts))
	if err != nil {
		t.Fatal(err)
	}
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	return node.SSHConfig{Host: s.host, Port: testPort, User: u.Username, ConnectTimeout: 2 * time.Second, Options: opts}
}

// descendants returns every process under pid, from /proc.
func descendants(pid int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) < 2 {
			continue
		}
		pp, _ := strconv.Atoi(f[1])
		children[pp] = append(children[pp], p)
	}
	var out []int
	for queue := []int{pid}; len(queue) > 0; queue = queue[1:] {
		for _, c := range children[queue[0]] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

// keygen makes an ed25519 key pair without passphrase at path and returns
// the public key.
func keygen(t *testing.T, path string) ssh.PublicKey {
	t.Helper()
	out, err := exec.Command(need(t, "ssh-keygen"), "-q", "-t", "ed25519", "-N", "", "-C", "gomha-sshpool-test", "-f", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
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

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
