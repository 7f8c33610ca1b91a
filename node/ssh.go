package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// SSHDefaultConnectTimeout bounds the TCP connect and the SSH handshake when
// neither ssh_connection_timeout nor ConnectTimeout is given (MHA's default).
const SSHDefaultConnectTimeout = 5 * time.Second

// Sentinel errors of DialSSH, Run and Stream, for errors.Is. The errors
// returned carry a message naming the host; these only classify them.
var (
	// ErrHostKeyUnknown: the host is not in known_hosts and new keys are
	// not accepted (or cannot be recorded).
	ErrHostKeyUnknown = errors.New("ssh host key unknown")
	// ErrHostKeyChanged: known_hosts holds another key for the host, or the
	// key is revoked. Never accepted, whatever the options say.
	ErrHostKeyChanged = errors.New("ssh host key changed")
	// ErrSSHAuth: the server refused every key offered, or there was none.
	ErrSSHAuth = errors.New("ssh authentication failed")
	// ErrSSHUnreachable: the TCP connect failed (refused: sshd down;
	// no route; unknown host name), or an established connection was lost.
	ErrSSHUnreachable = errors.New("ssh host unreachable")
	// ErrSSHTimeout: the connect, the handshake, a remote command or a
	// keepalive did not finish in time.
	ErrSSHTimeout = errors.New("ssh timeout")
	// ErrSSHForwardingRefused: sshd refuses TCP forwarding (DialTCP):
	// "administratively prohibited", e.g. AllowTcpForwarding no. Run a
	// command on the host instead.
	ErrSSHForwardingRefused = errors.New("ssh forwarding refused")
)

// sshError is an error with an exact message and a sentinel kind.
type sshError struct {
	kind  error
	msg   string
	cause error
}

func (e *sshError) Error() string { return e.msg }

func (e *sshError) Unwrap() []error {
	if e.cause == nil {
		return []error{e.kind}
	}
	return []error{e.kind, e.cause}
}

// SSHConfig says how to reach one host over SSH.
type SSHConfig struct {
	Host           string        // ssh_host (or hostname/ip)
	Port           int           // ssh_port; 0 = 22
	User           string        // ssh_user; "" = the current OS user
	ConnectTimeout time.Duration // ssh_connection_timeout; 0 = 5 s
	Options        SSHOptions    // parsed ssh_options; they override the fields above
	// AcceptNewHostKeys trusts a host on first use: an unknown host's key
	// is recorded in the first known_hosts file. A changed key is never
	// accepted.
	AcceptNewHostKeys bool
	UseAgent          bool   // also offer the keys of the agent at SSH_AUTH_SOCK
	LocalAddr         string // source address of the connection ("" = kernel's choice)
	Logger            *slog.Logger
}

// SSHSession is one SSH connection (*ssh.Client) to one host. It is safe for
// concurrent use: each Run or Stream opens its own channel.
type SSHSession struct {
	addr   string // host:port
	user   string
	client *ssh.Client
	logger *slog.Logger

	doneOnce sync.Once
	done     chan struct{} // closed when the connection has ended (see Done)
}

// sshSettings are the values a dial uses, after precedence is applied.
type sshSettings struct {
	addr, user  string
	timeout     time.Duration
	acceptNew   bool
	knownHosts  []string
	identities  []string
	explicitIDs bool
}

// resolveSSH applies the precedence: ssh_options, then the SSHConfig fields,
// then the -F file, then the defaults.
func resolveSSH(cfg SSHConfig, logger *slog.Logger) (sshSettings, error) {
	var s sshSettings
	var err error
	if s.addr, s.user, err = sshAddrUser(cfg); err != nil {
		return s, err
	}
	cmd, file := cfg.Options, cfg.Options.ForHost(cfg.Host)
	s.timeout = sshFirst(cmd.ConnectTimeout, cfg.ConnectTimeout, file.ConnectTimeout, SSHDefaultConnectTimeout)
	switch file.StrictHostKeyChecking {
	case "no":
		logger.Warn("ssh_options StrictHostKeyChecking=no is treated as accept-new: unknown host keys are recorded, changed ones refused", "host", s.addr)
		s.acceptNew = true
	case "accept-new":
		s.acceptNew = true
	}
	s.acceptNew = s.acceptNew || cfg.AcceptNewHostKeys
	if len(file.Ignored) > 0 {
		logger.Debug("ssh_options ignored by gomha", "host", s.addr, "options", file.Ignored)
	}
	home, herr := os.UserHomeDir()
	s.knownHosts = file.UserKnownHostsFiles
	if len(s.knownHosts) == 0 {
		if herr != nil {
			return s, fmt.Errorf("ssh %s: locate ~/.ssh/known_hosts: %w", s.addr, herr)
		}
		s.knownHosts = []string{filepath.Join(home, ".ssh", "known_hosts")}
	}
	s.identities, s.explicitIDs = file.IdentityFiles, len(file.IdentityFiles) > 0
	if !s.explicitIDs && herr == nil {
		for _, n := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
			s.identities = append(s.identities, filepath.Join(home, ".ssh", n))
		}
	}
	return s, nil
}

// sshAddrUser returns the "host:port" and the login user a dial uses, after
// the precedence of resolveSSH.
func sshAddrUser(cfg SSHConfig) (addr, login string, err error) {
	if cfg.Host == "" {
		return "", "", errors.New("ssh: no host")
	}
	cmd, file := cfg.Options, cfg.Options.ForHost(cfg.Host)
	port := sshFirst(cmd.Port, cfg.Port, file.Port, 22)
	addr = net.JoinHostPort(cfg.Host, strconv.Itoa(port))
	login = sshFirst(cmd.User, cfg.User, file.User, "")
	if login == "" {
		u, err := user.Current()
		if err != nil {
			return addr, "", fmt.Errorf("ssh %s: no ssh_user and no current user: %w", addr, err)
		}
		login = u.Username
	}
	return addr, login, nil
}

// sshFirst returns the first non-zero value.
func sshFirst[T comparable](vals ...T) T {
	var zero T
	for _, v := range vals {
		if v != zero {
			return v
		}
	}
	return zero
}

// DialSSH connects and authenticates to cfg.Host. The TCP connect and the
// whole handshake are bounded by the connect timeout and by ctx. The host key
// is always verified against known_hosts (see SSHConfig.AcceptNewHostKeys).
func DialSSH(ctx context.Context, cfg SSHConfig) (*SSHSession, error) {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	st, err := resolveSSH(cfg, logger)
	if err != nil {
		return nil, err
	}
	logger = logger.With("host", st.addr)
	hk, err := newSSHHostKeys(st.knownHosts, st.acceptNew, logger)
	if err != nil {
		return nil, fmt.Errorf("ssh %s: %w", st.addr, err)
	}
	deadline := time.Now().Add(st.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	signers, agentConn := sshSigners(ctx, st, cfg.UseAgent, deadline, logger)
	if agentConn != nil {
		defer agentConn.Close()
	}
	if len(signers) == 0 {
		return nil, &sshError{kind: ErrSSHAuth, msg: fmt.Sprintf(
			"ssh %s: no usable private key (tried %s) and no ssh-agent", st.addr, strings.Join(st.identities, ", "))}
	}
	dialer := net.Dialer{Deadline: deadline}
	if cfg.LocalAddr != "" {
		dialer.LocalAddr = &net.TCPAddr{IP: net.ParseIP(cfg.LocalAddr)}
	}
	conn, err := dialer.DialContext(ctx, "tcp", st.addr)
	if err != nil {
		return nil, sshDialError(ctx, st, err)
	}
	_ = conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	config := &ssh.ClientConfig{
		User:              st.user,
		Auth:              []ssh.AuthMethod{ssh.PublicKeys(signers...)},
		HostKeyCallback:   hk.callback,
		HostKeyAlgorithms: hk.algorithms(st.addr),
	}
	c, chans, reqs, err := ssh.NewClientConn(conn, st.addr, config)
	stopped := stop()
	if err != nil {
		conn.Close()
		return nil, sshHandshakeError(ctx, st, hk, err)
	}
	if !stopped { // ctx ended just as the handshake succeeded
		c.Close()
		return nil, sshHandshakeError(ctx, st, hk, ctx.Err())
	}
	_ = conn.SetDeadline(time.Time{})
	logger.Debug("ssh connected", "user", st.user)
	return &SSHSession{addr: st.addr, user: st.user, client: ssh.NewClient(c, chans, reqs), logger: logger}, nil
}

// sshSigners loads the private keys and, when asked and available, the agent's
// keys. Keys that cannot be used are skipped with a log line.
func sshSigners(ctx context.Context, st sshSettings, useAgent bool, deadline time.Time, logger *slog.Logger) ([]ssh.Signer, net.Conn) {
	var signers []ssh.Signer
	for _, f := range st.identities {
		pem, err := os.ReadFile(f)
		if errors.Is(err, fs.ErrNotExist) && !st.explicitIDs {
			continue
		}
		if err != nil {
			logger.Warn("ssh identity file unreadable, skipped", "file", f, "err", err)
			continue
		}
		signer, err := ssh.ParsePrivateKey(pem)
		var pm *ssh.PassphraseMissingError
		if errors.As(err, &pm) {
			logger.Debug("ssh identity file is encrypted, skipped (use the agent)", "file", f)
			continue
		}
		if err != nil {
			logger.Warn("ssh identity file not a usable private key, skipped", "file", f, "err", err)
			continue
		}
		signers = append(signers, signer)
	}
	sock := os.Getenv("SSH_AUTH_SOCK")
	if !useAgent || sock == "" {
		return signers, nil
	}
	d := net.Dialer{Deadline: deadline}
	conn, err := d.DialContext(ctx, "unix", sock)
	if err != nil {
		logger.Warn("ssh-agent unreachable, not used", "socket", sock, "err", err)
		return signers, nil
	}
	_ = conn.SetDeadline(deadline)
	agentSigners, err := agent.NewClient(conn).Signers()
	if err != nil {
		logger.Warn("ssh-agent keys unreadable, not used", "socket", sock, "err", err)
	}
	return append(signers, agentSigners...), conn
}

// sshDialError classifies a failed TCP connect.
func sshDialError(ctx context.Context, st sshSettings, err error) error {
	var ne net.Error
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		return fmt.Errorf("ssh %s: connect: %w", st.addr, ctx.Err())
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
		return &sshError{kind: ErrSSHTimeout, cause: err, msg: fmt.Sprintf(
			"ssh %s: connect timed out (limit %s): %v", st.addr, st.timeout, err)}
	}
	return &sshError{kind: ErrSSHUnreachable, cause: err, msg: fmt.Sprintf(
		"ssh %s: cannot connect: %v", st.addr, err)}
}

// sshHandshakeError classifies a failed handshake: host key, timeout,
// authentication, or anything else.
func sshHandshakeError(ctx context.Context, st sshSettings, hk *sshHostKeys, err error) error {
	var ne net.Error
	switch {
	case hk.err != nil:
		return hk.err
	case errors.Is(ctx.Err(), context.Canceled):
		return fmt.Errorf("ssh %s: handshake: %w", st.addr, ctx.Err())
	case errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) ||
		errors.As(err, &ne) && ne.Timeout():
		return &sshError{kind: ErrSSHTimeout, cause: err, msg: fmt.Sprintf(
			"ssh %s: no SSH handshake within %s", st.addr, st.timeout)}
	case strings.Contains(err.Error(), "unable to authenticate") || hk.verified && errors.Is(err, io.EOF):
		return &sshError{kind: ErrSSHAuth, cause: err, msg: fmt.Sprintf(
			"ssh %s: authentication as %q failed (keys: %s): %v", st.addr, st.user, strings.Join(st.identities, ", "), err)}
	}
	return fmt.Errorf("ssh %s: handshake: %w", st.addr, err)
}

// Addr returns the "host:port" this session is connected to.
func (s *SSHSession) Addr() string { return s.addr }

// User returns the remote login user.
func (s *SSHSession) User() string { return s.user }

// Close closes the connection; running commands end with it.
func (s *SSHSession) Close() error {
	if err := s.client.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("ssh %s: close: %w", s.addr, err)
	}
	return nil
}
