package node

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// sshGlobalKnownHosts is read (never written) when it exists, as ssh(1) does.
const sshGlobalKnownHosts = "/etc/ssh/ssh_known_hosts"

// sshDefaultHostKeyAlgorithms is OpenSSH's preference order for plain host
// keys. x/crypto's own default puts ed25519 last, so a host whose ed25519 key
// (what ssh(1) records) is known would fail with "key mismatch".
var sshDefaultHostKeyAlgorithms = []string{
	ssh.KeyAlgoED25519,
	ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521,
	ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA,
}

// sshHostKeys verifies host keys against known_hosts files for one dial and
// remembers what happened, so that the dial can report a precise error.
type sshHostKeys struct {
	files     []string // known_hosts files that exist, in order
	writeFile string   // where accept-new records a key: the first user file
	acceptNew bool
	logger    *slog.Logger
	check     ssh.HostKeyCallback // nil when no file exists

	verified bool  // the server's host key was accepted
	err      error // classified verification failure
}

// newSSHHostKeys loads the known_hosts files. userFiles that do not exist are
// skipped; the first of them is still where new keys are recorded.
func newSSHHostKeys(userFiles []string, acceptNew bool, logger *slog.Logger) (*sshHostKeys, error) {
	h := &sshHostKeys{acceptNew: acceptNew, logger: logger}
	if len(userFiles) > 0 {
		h.writeFile = userFiles[0]
	}
	for _, f := range append(slices.Clone(userFiles), sshGlobalKnownHosts) {
		if _, err := os.Stat(f); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if !slices.Contains(h.files, f) {
			h.files = append(h.files, f)
		}
	}
	if len(h.files) > 0 {
		cb, err := knownhosts.New(h.files...)
		if err != nil {
			return nil, fmt.Errorf("read known_hosts: %w", err)
		}
		h.check = cb
	}
	return h, nil
}

// knownKeys returns the keys known_hosts holds for addr ("host:port"), with
// where they are written. It asks the knownhosts matcher itself, with a key
// that matches nothing, so plain, wildcard, negated, "[host]:port" and hashed
// (|1|salt|hmac-sha1) entries are matched exactly as verification will.
func (h *sshHostKeys) knownKeys(addr string) []knownhosts.KnownKey {
	if h.check == nil {
		return nil
	}
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil
	}
	probe, err := ssh.NewPublicKey(pub)
	if err != nil {
		return nil
	}
	remote := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 22}
	var ke *knownhosts.KeyError
	if errors.As(h.check(addr, remote, probe), &ke) {
		return ke.Want
	}
	return nil
}

// algorithms returns the HostKeyAlgorithms for addr: the algorithms of the
// key types known_hosts holds for it first, in file order, then the others.
// A server that still has a known key type therefore proves it; one that no
// longer has it shows another key, which is reported as a changed key.
func (h *sshHostKeys) algorithms(addr string) []string {
	var algos []string
	for _, k := range h.knownKeys(addr) {
		for _, a := range sshAlgorithmsForKeyType(k.Key.Type()) {
			if !slices.Contains(algos, a) {
				algos = append(algos, a)
			}
		}
	}
	for _, a := range sshDefaultHostKeyAlgorithms {
		if !slices.Contains(algos, a) {
			algos = append(algos, a)
		}
	}
	return algos
}

// sshAlgorithmsForKeyType maps a public key type to the signature algorithms
// a server may use with it.
func sshAlgorithmsForKeyType(t string) []string {
	if t == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	}
	if slices.Contains(sshDefaultHostKeyAlgorithms, t) {
		return []string{t}
	}
	return nil
}

// callback is the ssh.HostKeyCallback: known key -> ok; unknown key ->
// recorded when accept-new, else ErrHostKeyUnknown; any other key for a
// known host -> ErrHostKeyChanged, whatever the policy.
func (h *sshHostKeys) callback(addr string, remote net.Addr, key ssh.PublicKey) error {
	err := errors.New("no known_hosts file") // treated as unknown below
	if h.check != nil {
		err = h.check(addr, remote, key)
	}
	if err == nil {
		h.verified = true
		return nil
	}
	var ke *knownhosts.KeyError
	var re *knownhosts.RevokedError
	switch {
	case errors.As(err, &re):
		h.err = &sshError{kind: ErrHostKeyChanged, msg: fmt.Sprintf(
			"ssh %s: HOST KEY REVOKED: the server's %s key %s is marked @revoked in %s:%d",
			addr, key.Type(), ssh.FingerprintSHA256(key), re.Revoked.Filename, re.Revoked.Line)}
	case errors.As(err, &ke) && len(ke.Want) > 0:
		w := ke.Want[0]
		for _, k := range ke.Want {
			if k.Key.Type() == key.Type() {
				w = k
				break
			}
		}
		h.err = &sshError{kind: ErrHostKeyChanged, msg: fmt.Sprintf(
			"ssh %s: HOST KEY CHANGED: the server's %s key %s does not match %s:%d; possible man-in-the-middle",
			addr, key.Type(), ssh.FingerprintSHA256(key), w.Filename, w.Line)}
	case h.check != nil && ke == nil:
		h.err = fmt.Errorf("ssh %s: check host key: %w", addr, err)
	case h.acceptNew:
		h.err = h.record(addr, key)
		h.verified = h.err == nil
	default:
		where := h.writeFile
		if len(h.files) > 0 {
			where = strings.Join(h.files, ", ")
		}
		h.err = &sshError{kind: ErrHostKeyUnknown, msg: fmt.Sprintf(
			"ssh %s: host key is not in %s (use --accept-new-host-keys or ssh-keyscan)", addr, where)}
	}
	return h.err
}

// record appends the key of a host seen for the first time to writeFile.
func (h *sshHostKeys) record(addr string, key ssh.PublicKey) error {
	fail := func(why string) error {
		return &sshError{kind: ErrHostKeyUnknown, msg: fmt.Sprintf(
			"ssh %s: host key is unknown and cannot be recorded: %s", addr, why)}
	}
	if h.writeFile == "" {
		return fail("no known_hosts file configured")
	}
	if st, err := os.Stat(h.writeFile); err == nil && !st.Mode().IsRegular() {
		return fail(h.writeFile + " is not a regular file")
	}
	if err := os.MkdirAll(filepath.Dir(h.writeFile), 0o700); err != nil {
		return fail(err.Error())
	}
	line := knownhosts.Line([]string{knownhosts.Normalize(addr)}, key) + "\n"
	if b, err := os.ReadFile(h.writeFile); err == nil && len(b) > 0 && b[len(b)-1] != '\n' {
		line = "\n" + line
	}
	f, err := os.OpenFile(h.writeFile, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fail(err.Error())
	}
	_, werr := f.WriteString(line)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return fail(werr.Error())
	}
	h.logger.Warn("recorded new ssh host key", "host", addr, "type", key.Type(),
		"fingerprint", ssh.FingerprintSHA256(key), "file", h.writeFile)
	return nil
}
