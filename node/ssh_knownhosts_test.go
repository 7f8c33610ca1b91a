package node

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// sshTestPublicKey makes a fresh public key of the given type.
func sshTestPublicKey(t *testing.T, typ string) ssh.PublicKey {
	t.Helper()
	var pub any
	switch typ {
	case ssh.KeyAlgoED25519:
		p, _, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		pub = p
	case ssh.KeyAlgoECDSA256:
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		pub = &k.PublicKey
	case ssh.KeyAlgoRSA:
		k, err := rsa.GenerateKey(rand.Reader, 1024)
		if err != nil {
			t.Fatal(err)
		}
		pub = &k.PublicKey
	default:
		t.Fatalf("no test key of type %s", typ)
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// sshTestKnownHosts writes a known_hosts file with the given lines.
func sshTestKnownHosts(t *testing.T, lines ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestSSHHostKeyAlgorithms(t *testing.T) {
	ed := sshTestPublicKey(t, ssh.KeyAlgoED25519)
	ec := sshTestPublicKey(t, ssh.KeyAlgoECDSA256)
	rs := sshTestPublicKey(t, ssh.KeyAlgoRSA)
	path := sshTestKnownHosts(t,
		"# comment line",
		knownhosts.Line([]string{"db1"}, ed),
		knownhosts.Line([]string{"[db1]:2222"}, rs),
		knownhosts.HashHostname("db2")+" "+strings.TrimSpace(string(ssh.MarshalAuthorizedKey(ec))),
		knownhosts.HashHostname("[db2]:2222")+" "+strings.TrimSpace(string(ssh.MarshalAuthorizedKey(rs))),
		"*.example.com,!bad.example.com "+strings.TrimSpace(string(ssh.MarshalAuthorizedKey(rs))),
		knownhosts.Line([]string{"db5"}, rs),
		knownhosts.Line([]string{"db5"}, ed),
	)
	hk, err := newSSHHostKeys([]string{path}, false, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	rsaAlgos := []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	cases := []struct {
		why, addr string
		wantFirst []string
	}{
		{"only ed25519 known: offering ECDSA/RSA first would fail with key mismatch", "db1:22",
			[]string{ssh.KeyAlgoED25519}},
		{"[host]:port entries apply to that port only", "db1:2222", rsaAlgos},
		{"hashed host names are matched (HMAC-SHA1 with the entry's salt)", "db2:22",
			[]string{ssh.KeyAlgoECDSA256}},
		{"hashed [host]:port entries too", "db2:2222", rsaAlgos},
		{"wildcard patterns match", "x.example.com:22", rsaAlgos},
		{"a negated pattern does not match", "bad.example.com:22", sshDefaultHostKeyAlgorithms},
		{"two known types keep the file order", "db5:22", append(slices.Clone(rsaAlgos), ssh.KeyAlgoED25519)},
		{"unknown host: OpenSSH's order, ed25519 first", "db9:22", sshDefaultHostKeyAlgorithms},
	}
	for _, c := range cases {
		t.Run(c.why, func(t *testing.T) {
			got := hk.algorithms(c.addr)
			if !slices.Equal(got[:len(c.wantFirst)], c.wantFirst) {
				t.Fatalf("algorithms(%s) = %v, want it to start with %v", c.addr, got, c.wantFirst)
			}
			// every default algorithm stays offered, so a server that lost the
			// known key type shows another key: a changed key, not "no common algorithm".
			for _, a := range sshDefaultHostKeyAlgorithms {
				if !slices.Contains(got, a) {
					t.Fatalf("algorithms(%s) = %v lacks %s", c.addr, got, a)
				}
			}
		})
	}
}

func TestSSHHostKeyCallback(t *testing.T) {
	known := sshTestPublicKey(t, ssh.KeyAlgoED25519)
	other := sshTestPublicKey(t, ssh.KeyAlgoED25519)
	otherType := sshTestPublicKey(t, ssh.KeyAlgoECDSA256)
	revoked := sshTestPublicKey(t, ssh.KeyAlgoED25519)
	remote := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 12), Port: 22}
	lines := []string{
		"@revoked * " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(revoked))),
		knownhosts.Line([]string{"127.0.0.12"}, known),
	}
	cases := []struct {
		why       string
		addr      string
		key       ssh.PublicKey
		acceptNew bool
		writeTo   string // "" = the known_hosts file itself
		wantErr   error
		wantMsg   string
		recorded  bool // the key is in the file afterwards (known before, or recorded)
	}{
		{why: "the known key is accepted", addr: "127.0.0.12:22", key: known, recorded: true},
		{why: "unknown host without accept-new names the file and the fix", addr: "127.0.0.13:22", key: other,
			wantErr: ErrHostKeyUnknown, wantMsg: "ssh 127.0.0.13:22: host key is not in "},
		{why: "a different key of the same type is a changed key, with file:line", addr: "127.0.0.12:22", key: other,
			wantErr: ErrHostKeyChanged, wantMsg: "ssh 127.0.0.12:22: HOST KEY CHANGED: the server's ssh-ed25519 key"},
		{why: "accept-new never accepts a changed key", addr: "127.0.0.12:22", key: other, acceptNew: true,
			wantErr: ErrHostKeyChanged, wantMsg: "known_hosts:2; possible man-in-the-middle"},
		{why: "a key of another type for a known host is a change too", addr: "127.0.0.12:22", key: otherType,
			acceptNew: true, wantErr: ErrHostKeyChanged},
		{why: "a revoked key is refused as changed", addr: "127.0.0.14:22", key: revoked, acceptNew: true,
			wantErr: ErrHostKeyChanged, wantMsg: "REVOKED"},
		{why: "accept-new records an unknown host with its port", addr: "127.0.0.15:2222", key: other,
			acceptNew: true, recorded: true},
		{why: "accept-new cannot record into /dev/null: no silent trust-everything", addr: "127.0.0.16:22",
			key: other, acceptNew: true, writeTo: os.DevNull, wantErr: ErrHostKeyUnknown, wantMsg: "not a regular file"},
	}
	for _, c := range cases {
		t.Run(c.why, func(t *testing.T) {
			path := sshTestKnownHosts(t, lines...)
			files := []string{path}
			if c.writeTo != "" {
				files = []string{c.writeTo, path}
			}
			hk, err := newSSHHostKeys(files, c.acceptNew, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			err = hk.callback(c.addr, remote, c.key)
			if c.wantErr == nil && err != nil {
				t.Fatalf("callback: %v", err)
			}
			if c.wantErr != nil && !errors.Is(err, c.wantErr) {
				t.Fatalf("callback error = %v, want %v", err, c.wantErr)
			}
			if c.wantMsg != "" && !strings.Contains(err.Error(), c.wantMsg) {
				t.Fatalf("callback error %q lacks %q", err, c.wantMsg)
			}
			if hk.verified != (c.wantErr == nil) {
				t.Fatalf("verified = %v with error %v", hk.verified, err)
			}
			// Verify the file again from scratch: recorded keys must verify, nothing else was added.
			again, err := newSSHHostKeys([]string{path}, false, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			if err := again.callback(c.addr, remote, c.key); (err == nil) != c.recorded {
				t.Fatalf("second verification: %v", err)
			}
			if c.recorded && c.acceptNew {
				b, _ := os.ReadFile(path)
				if !strings.Contains(string(b), "\n[127.0.0.15]:2222 ssh-ed25519 ") {
					t.Fatalf("known_hosts lacks the normalised host:\n%s", b)
				}
			}
		})
	}
}

func TestSSHHostKeyRecordCreatesFile(t *testing.T) {
	// A fresh machine has no ~/.ssh: accept-new creates it like ssh(1).
	path := filepath.Join(t.TempDir(), "new", ".ssh", "known_hosts")
	hk, err := newSSHHostKeys([]string{path}, true, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	key := sshTestPublicKey(t, ssh.KeyAlgoED25519)
	if err := hk.callback("db1:22", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 22}, key); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("known_hosts mode %v, want 0600", st.Mode().Perm())
	}
	b, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(b), "db1 ssh-ed25519 ") {
		t.Fatalf("known_hosts = %q", b)
	}
}
