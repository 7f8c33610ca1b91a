package node

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// sshTestHost and sshTestPort are where the Real tests run their own sshd.
const (
	sshTestHost = "127.0.0.201"
	sshTestPort = 2222
)

// sshTestDial dials with a 10 s test deadline and closes the session at the end.
func sshTestDial(t *testing.T, cfg SSHConfig) *SSHSession {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := DialSSH(ctx, cfg)
	if err != nil {
		t.Fatalf("DialSSH: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestSSHReal(t *testing.T) {
	srv := startSSHTestServer(t, sshTestHost, sshTestPort)

	t.Run("x/crypto defaults fail when only the ed25519 key is known (the pitfall this package avoids)", func(t *testing.T) {
		cb, err := knownhosts.New(srv.knownHosts(t, ssh.KeyAlgoED25519))
		if err != nil {
			t.Fatal(err)
		}
		_, err = ssh.Dial("tcp", srv.addr(), &ssh.ClientConfig{User: "root", HostKeyCallback: cb, Timeout: 5 * time.Second})
		if err == nil || !strings.Contains(err.Error(), "key mismatch") {
			t.Fatalf("plain ssh.Dial error = %v; the pitfall is gone, revisit sshDefaultHostKeyAlgorithms", err)
		}
	})

	for _, known := range [][]string{{ssh.KeyAlgoED25519}, {ssh.KeyAlgoRSA}, {ssh.KeyAlgoRSA, ssh.KeyAlgoED25519}} {
		t.Run("dial and run with known_hosts holding "+strings.Join(known, "+"), func(t *testing.T) {
			s := sshTestDial(t, srv.config(t, srv.knownHosts(t, known...), ""))
			out, errOut, err := s.Run(context.Background(), "echo hello; echo warn >&2")
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != "hello\n" || string(errOut) != "warn\n" {
				t.Fatalf("stdout %q stderr %q", out, errOut)
			}
		})
	}

	t.Run("hashed known_hosts entry verifies", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "known_hosts")
		line := knownhosts.HashHostname(knownhosts.Normalize(srv.addr())) + " " +
			string(ssh.MarshalAuthorizedKey(srv.hostKeys[ssh.KeyAlgoED25519]))
		if err := os.WriteFile(path, []byte(line), 0o600); err != nil {
			t.Fatal(err)
		}
		sshTestDial(t, srv.config(t, path, ""))
	})

	s := sshTestDial(t, srv.config(t, srv.knownHosts(t, ssh.KeyAlgoED25519), ""))

	t.Run("non-zero exit gives SSHExitError with status and stderr", func(t *testing.T) {
		_, _, err := s.Run(context.Background(), "echo oops >&2; exit 3")
		var ee *SSHExitError
		if !errors.As(err, &ee) || ee.Status != 3 || string(ee.Stderr) != "oops\n" {
			t.Fatalf("err = %#v", err)
		}
		if !strings.Contains(err.Error(), srv.addr()) || !strings.Contains(err.Error(), "exit status 3: oops") {
			t.Fatalf("message %q must name the host, status and stderr", err)
		}
	})

	t.Run("ShellQuote survives the remote shell", func(t *testing.T) {
		arg := `it's a "test" $HOME; ` + "`x`"
		out, _, err := s.Run(context.Background(), "printf %s "+ShellQuote(arg))
		if err != nil || string(out) != arg {
			t.Fatalf("got %q, %v; want %q", out, err, arg)
		}
	})

	t.Run("Stream returns a file byte for byte, and from an offset", func(t *testing.T) {
		data := make([]byte, 3<<20)
		if _, err := rand.Read(data); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "binlog.000001")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			cmd  string
			want []byte
		}{
			{"cat " + ShellQuote(path), data},
			{"tail -c +1001 " + ShellQuote(path), data[1000:]},
		} {
			r, err := s.Stream(context.Background(), c.cmd)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(r)
			if err != nil {
				t.Fatalf("%s: %v", c.cmd, err)
			}
			if err := r.Close(); err != nil {
				t.Fatalf("Close after a clean end: %v", err)
			}
			if !bytes.Equal(got, c.want) {
				t.Fatalf("%s: got %d bytes, want %d (equal content)", c.cmd, len(got), len(c.want))
			}
		}
	})

	t.Run("Stream of a failing command fails Read, not a silent EOF", func(t *testing.T) {
		r, err := s.Stream(context.Background(), "echo partial; echo 'no such file' >&2; exit 2")
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		var ee *SSHExitError
		if !errors.As(err, &ee) || ee.Status != 2 || !strings.Contains(string(ee.Stderr), "no such file") {
			t.Fatalf("ReadAll = %q, %v", got, err)
		}
		if cerr := r.Close(); !errors.As(cerr, &ee) {
			t.Fatalf("Close = %v, want the exit error again", cerr)
		}
	})

	t.Run("Stream closed early kills the command", func(t *testing.T) {
		r, err := s.Stream(context.Background(), "cat /dev/zero")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(r, make([]byte, 1<<20)); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := r.Close(); err != nil {
			t.Fatalf("early Close: %v", err)
		}
		if d := time.Since(start); d > sshKillGrace {
			t.Fatalf("Close took %s", d)
		}
	})

	t.Run("ctx deadline kills a remote sleep", func(t *testing.T) {
		const marker = "sleep\x0037.123"
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, _, err := s.Run(ctx, "sleep 37.123")
		if !errors.Is(err, ErrSSHTimeout) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want ErrSSHTimeout", err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("Run returned after %s", d)
		}
		for deadline := time.Now().Add(3 * time.Second); sshTestProcessRunning(t, marker); {
			if time.Now().After(deadline) {
				t.Fatal("remote sleep 37.123 still runs after the deadline")
			}
			time.Sleep(50 * time.Millisecond)
		}
		// the connection is still usable
		if out, _, err := s.Run(context.Background(), "echo ok"); err != nil || string(out) != "ok\n" {
			t.Fatalf("Run after a kill: %q %v", out, err)
		}
	})

	t.Run("ctx deadline ends a Stream with an error", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		r, err := s.Stream(ctx, "echo start; sleep 38.5; echo end")
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		if !errors.Is(err, ErrSSHTimeout) {
			t.Fatalf("ReadAll = %q, %v; want ErrSSHTimeout", got, err)
		}
		r.Close()
	})

	t.Run("unknown host key", func(t *testing.T) {
		kh := srv.knownHosts(t)
		_, err := DialSSH(context.Background(), srv.config(t, kh, ""))
		if !errors.Is(err, ErrHostKeyUnknown) {
			t.Fatalf("err = %v, want ErrHostKeyUnknown", err)
		}
		want := "ssh " + srv.addr() + ": host key is not in " + kh + " (use --accept-new-host-keys or ssh-keyscan)"
		if err.Error() != want {
			t.Fatalf("message\n%q\nwant\n%q", err, want)
		}
	})

	for _, c := range []struct {
		why       string
		acceptNew bool
		opts      string
	}{
		{"AcceptNewHostKeys", true, ""},
		{"StrictHostKeyChecking=accept-new", false, "-o StrictHostKeyChecking=accept-new"},
		{"StrictHostKeyChecking=no is accept-new", false, "-o StrictHostKeyChecking=no"},
	} {
		t.Run(c.why+" records the key and the next dial verifies it", func(t *testing.T) {
			kh := filepath.Join(t.TempDir(), "ssh", "known_hosts")
			cfg := srv.config(t, kh, c.opts)
			cfg.AcceptNewHostKeys = c.acceptNew
			sshTestDial(t, cfg).Close()
			b, err := os.ReadFile(kh)
			if err != nil {
				t.Fatal(err)
			}
			if want := "[" + sshTestHost + "]:" + strconv.Itoa(sshTestPort) + " ssh-ed25519 "; !strings.HasPrefix(string(b), want) {
				t.Fatalf("known_hosts = %q, want a line starting %q", b, want)
			}
			s := sshTestDial(t, srv.config(t, kh, "")) // strict now
			if _, _, err := s.Run(context.Background(), "true"); err != nil {
				t.Fatal(err)
			}
		})
	}

	t.Run("changed host key is refused, also with accept-new", func(t *testing.T) {
		kh := filepath.Join(t.TempDir(), "known_hosts")
		line := knownhosts.Line([]string{srv.addr()}, sshTestPublicKey(t, ssh.KeyAlgoED25519))
		if err := os.WriteFile(kh, []byte(line+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg := srv.config(t, kh, "-o StrictHostKeyChecking=no")
		cfg.AcceptNewHostKeys = true
		_, err := DialSSH(context.Background(), cfg)
		if !errors.Is(err, ErrHostKeyChanged) {
			t.Fatalf("err = %v, want ErrHostKeyChanged", err)
		}
		if !strings.Contains(err.Error(), "ssh "+srv.addr()+": HOST KEY CHANGED") || !strings.Contains(err.Error(), kh+":1;") {
			t.Fatalf("message %q must name host and file:line", err)
		}
		if b, _ := os.ReadFile(kh); string(b) != line+"\n" {
			t.Fatalf("known_hosts was modified: %q", b)
		}
	})

	t.Run("wrong client key", func(t *testing.T) {
		other := filepath.Join(t.TempDir(), "other_ed25519")
		sshTestKeygen(t, other, "ed25519", "")
		cfg := srv.config(t, srv.knownHosts(t, ssh.KeyAlgoED25519), "")
		cfg.Options.IdentityFiles = []string{other}
		_, err := DialSSH(context.Background(), cfg)
		if !errors.Is(err, ErrSSHAuth) || !strings.Contains(err.Error(), srv.addr()) {
			t.Fatalf("err = %v, want ErrSSHAuth naming the host", err)
		}
	})

	t.Run("encrypted key without agent is skipped", func(t *testing.T) {
		enc := filepath.Join(t.TempDir(), "enc_ed25519")
		sshTestKeygen(t, enc, "ed25519", "secret passphrase")
		cfg := srv.config(t, srv.knownHosts(t, ssh.KeyAlgoED25519), "")
		cfg.Options.IdentityFiles = []string{enc}
		_, err := DialSSH(context.Background(), cfg)
		if !errors.Is(err, ErrSSHAuth) || !strings.Contains(err.Error(), "no usable private key") {
			t.Fatalf("err = %v, want ErrSSHAuth: no usable private key", err)
		}
	})

	t.Run("defaults come from HOME: ~/.ssh/id_ed25519 and ~/.ssh/known_hosts", func(t *testing.T) {
		home := t.TempDir()
		t.Setenv("HOME", home)
		t.Setenv("SSH_AUTH_SOCK", "")
		if err := os.Mkdir(filepath.Join(home, ".ssh"), 0o700); err != nil {
			t.Fatal(err)
		}
		key, err := os.ReadFile(srv.clientKey)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(home, ".ssh", "id_ed25519"), key, 0o600); err != nil {
			t.Fatal(err)
		}
		kh := srv.knownHosts(t, ssh.KeyAlgoRSA)
		if err := os.Rename(kh, filepath.Join(home, ".ssh", "known_hosts")); err != nil {
			t.Fatal(err)
		}
		s := sshTestDial(t, SSHConfig{Host: sshTestHost, Port: sshTestPort})
		if out, _, err := s.Run(context.Background(), "echo $HOME"); err != nil || len(out) == 0 {
			t.Fatalf("Run: %q %v", out, err)
		}
	})

	t.Run("agent keys are offered after the identity files", func(t *testing.T) {
		dir, err := os.MkdirTemp("", "gomha-agent") // short: unix socket paths are limited
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		sock := filepath.Join(dir, "agent.sock")
		agentCmd := exec.Command(sshTestNeed(t, "ssh-agent"), "-D", "-a", sock)
		if err := agentCmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = agentCmd.Process.Kill(); _ = agentCmd.Wait() })
		for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if _, err := os.Stat(sock); err == nil {
				break
			} else if time.Now().After(deadline) {
				t.Fatalf("ssh-agent socket: %v", err)
			}
		}
		add := exec.Command(sshTestNeed(t, "ssh-add"), srv.clientKey)
		add.Env = append(os.Environ(), "SSH_AUTH_SOCK="+sock)
		if out, err := add.CombinedOutput(); err != nil {
			t.Fatalf("ssh-add: %v\n%s", err, out)
		}
		t.Setenv("SSH_AUTH_SOCK", sock)
		cfg := srv.config(t, srv.knownHosts(t, ssh.KeyAlgoED25519), "")
		cfg.Options.IdentityFiles = []string{sshTestPrivateKey(t)} // not authorised: the agent's key must be tried too
		cfg.UseAgent = true
		sshTestDial(t, cfg)
		cfg.UseAgent = false
		if _, err := DialSSH(context.Background(), cfg); !errors.Is(err, ErrSSHAuth) {
			t.Fatalf("without UseAgent: err = %v, want ErrSSHAuth", err)
		}
	})

	t.Run("ssh_options -p overrides ssh_port", func(t *testing.T) {
		cfg := srv.config(t, srv.knownHosts(t, ssh.KeyAlgoED25519), "-p "+strconv.Itoa(sshTestPort))
		cfg.Port = 22
		s := sshTestDial(t, cfg)
		if s.Addr() != srv.addr() {
			t.Fatalf("Addr = %s", s.Addr())
		}
	})
}

func TestSSHRealUnreachable(t *testing.T) {
	t.Run("nothing listening: connection refused", func(t *testing.T) {
		cfg := SSHConfig{Host: sshTestHost, Port: sshTestPort + 1, ConnectTimeout: 2 * time.Second,
			Options: SSHOptions{IdentityFiles: []string{sshTestPrivateKey(t)}, UserKnownHostsFiles: []string{filepath.Join(t.TempDir(), "kh")}}}
		start := time.Now()
		_, err := DialSSH(context.Background(), cfg)
		if !errors.Is(err, ErrSSHUnreachable) || !strings.Contains(err.Error(), "127.0.0.201:2223") {
			t.Fatalf("err = %v, want ErrSSHUnreachable naming the host", err)
		}
		if time.Since(start) > time.Second {
			t.Fatalf("a refused connect must fail fast, took %s", time.Since(start))
		}
	})

	// A listener that accepts and never speaks: TCP connects, the handshake hangs.
	ln, err := net.Listen("tcp", sshTestHost+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	host, portStr, _ := net.SplitHostPort(ln.Addr().String())
	port, _ := strconv.Atoi(portStr)
	for _, c := range []struct {
		why        string
		timeout    time.Duration
		ctxTimeout time.Duration
	}{
		{"the handshake is bounded by ConnectTimeout", 300 * time.Millisecond, 10 * time.Second},
		{"the handshake is bounded by ctx", 10 * time.Second, 300 * time.Millisecond},
	} {
		t.Run(c.why, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), c.ctxTimeout)
			defer cancel()
			cfg := SSHConfig{Host: host, Port: port, ConnectTimeout: c.timeout,
				Options: SSHOptions{IdentityFiles: []string{sshTestPrivateKey(t)}, UserKnownHostsFiles: []string{filepath.Join(t.TempDir(), "kh")}}}
			start := time.Now()
			_, err := DialSSH(ctx, cfg)
			if !errors.Is(err, ErrSSHTimeout) {
				t.Fatalf("err = %v, want ErrSSHTimeout", err)
			}
			if d := time.Since(start); d < 250*time.Millisecond || d > 2*time.Second {
				t.Fatalf("DialSSH returned after %s, want about 300ms", d)
			}
		})
	}
}

// sshTestPrivateKey writes a fresh unencrypted ed25519 private key file.
func sshTestPrivateKey(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "id_ed25519")
	sshTestKeygen(t, path, "ed25519", "")
	return path
}
