package etcdsandbox

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Defaults of Options.
const (
	DefaultClientPort        = 2379
	DefaultPeerPort          = 2380
	DefaultHeartbeatInterval = 100 * time.Millisecond
	DefaultElectionTimeout   = 1000 * time.Millisecond
	defaultBinary            = "/usr/bin/etcd"
	stateFile                = "etcd.json"
)

// DefaultAddrs are the members' addresses when Options.Addrs is empty. The
// 127.0.2.0/24 block is this harness's: MySQL sandboxes use 127.0.0.x and
// other test suites other blocks.
var DefaultAddrs = []string{"127.0.2.1", "127.0.2.2", "127.0.2.3"}

// Options describe the cluster Up starts.
type Options struct {
	Dir        string   // data dirs, logs and etcd.json live under Dir (made absolute)
	Addrs      []string // one loopback IPv4 address per member; default DefaultAddrs
	ClientPort int      // on every member's address; default 2379
	PeerPort   int      // default 2380
	// HeartbeatInterval and ElectionTimeout are etcd's raft timings, short
	// for tests: a leader is lost and replaced within about two election
	// timeouts. Defaults 100 ms and 1 s, which hold on a loaded 2-core machine.
	HeartbeatInterval time.Duration
	ElectionTimeout   time.Duration
	Binary            string // etcd executable; default /usr/bin/etcd, else etcd in PATH
	Logger            *slog.Logger
	// TLS serves clients over https only, with certificates Up makes in
	// Dir/tls (see Cluster.TLSFiles), and requires a client certificate
	// signed by the same CA (--client-cert-auth). Peers stay on http.
	TLS bool

	// tied members die with the process that started them (UpT sets it).
	tied bool
}

// withDefaults returns a validated copy of o with defaults filled in.
func (o Options) withDefaults() (Options, error) {
	if o.Dir == "" {
		return o, errors.New("etcd sandbox options: Dir is required")
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return o, fmt.Errorf("etcd sandbox options: absolute path of %q: %w", o.Dir, err)
	}
	o.Dir = dir
	if strings.ContainsAny(dir, ",= \n") {
		// The data dir is part of a command-line marker and of etcd flags.
		return o, fmt.Errorf("etcd sandbox options: Dir %q must not contain a comma, '=', space or newline", dir)
	}
	if len(o.Addrs) == 0 {
		o.Addrs = DefaultAddrs
	}
	seen := map[string]bool{}
	addrs := make([]string, 0, len(o.Addrs))
	for _, a := range o.Addrs {
		ip := net.ParseIP(a).To4()
		if ip == nil || ip[0] != 127 {
			return o, fmt.Errorf("etcd sandbox options: member address %q is not an IPv4 loopback address", a)
		}
		if seen[ip.String()] {
			return o, fmt.Errorf("etcd sandbox options: member address %s given twice", ip)
		}
		seen[ip.String()] = true
		addrs = append(addrs, ip.String())
	}
	o.Addrs = addrs
	if o.ClientPort == 0 {
		o.ClientPort = DefaultClientPort
	}
	if o.PeerPort == 0 {
		o.PeerPort = DefaultPeerPort
	}
	if o.ClientPort < 1 || o.ClientPort > 65535 || o.PeerPort < 1 || o.PeerPort > 65535 || o.ClientPort == o.PeerPort {
		return o, fmt.Errorf("etcd sandbox options: ports client=%d peer=%d: need two different ports in 1..65535", o.ClientPort, o.PeerPort)
	}
	if o.HeartbeatInterval == 0 {
		o.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if o.ElectionTimeout == 0 {
		o.ElectionTimeout = DefaultElectionTimeout
	}
	if o.HeartbeatInterval < time.Millisecond || o.ElectionTimeout < 5*o.HeartbeatInterval {
		return o, fmt.Errorf("etcd sandbox options: heartbeat %v, election timeout %v: etcd needs an election timeout of at least 5 heartbeats", o.HeartbeatInterval, o.ElectionTimeout)
	}
	if o.Binary == "" {
		o.Binary = defaultBinary
		if p, err := exec.LookPath(defaultBinary); err != nil || p == "" {
			if p, err := exec.LookPath("etcd"); err == nil {
				o.Binary = p
			}
		}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}

// members builds the member list: member i is "etcd<i+1>" on Addrs[i].
func (o Options) members() []Member {
	ms := make([]Member, len(o.Addrs))
	scheme := "http://"
	if o.TLS {
		scheme = "https://"
	}
	for i, a := range o.Addrs {
		name := fmt.Sprintf("etcd%d", i+1)
		d := filepath.Join(o.Dir, name)
		ms[i] = Member{
			Name:      name,
			Addr:      a,
			ClientURL: scheme + net.JoinHostPort(a, fmt.Sprint(o.ClientPort)),
			PeerURL:   "http://" + net.JoinHostPort(a, fmt.Sprint(o.PeerPort)),
			Dir:       d,
			DataDir:   filepath.Join(d, "data"),
			LogPath:   filepath.Join(d, "etcd.log"),
		}
		if o.TLS {
			memberTLS(o.Dir, &ms[i])
		}
	}
	return ms
}

// Member is one etcd process of the cluster.
type Member struct {
	Name      string `json:"name"`       // "etcd1"
	Addr      string `json:"addr"`       // "127.0.2.1"
	ClientURL string `json:"client_url"` // "http://127.0.2.1:2379", https with TLS
	PeerURL   string `json:"peer_url"`   // "http://127.0.2.1:2380"
	Dir       string `json:"dir"`        // Dir/etcd1
	DataDir   string `json:"data_dir"`   // Dir/etcd1/data, kept by Down, Stop and Kill
	LogPath   string `json:"log_path"`   // Dir/etcd1/etcd.log: etcd's own log, appended to
	// With TLS: the CA that clients' certificates must be signed by, and
	// the member's server certificate and key (Dir/tls/etcd1.pem).
	CAFile   string `json:"ca_file,omitempty"`
	CertFile string `json:"cert_file,omitempty"`
	KeyFile  string `json:"key_file,omitempty"`
}

// hostPort is the host:port of a member URL.
func hostPort(u string) string {
	if _, hp, ok := strings.Cut(u, "://"); ok {
		return hp
	}
	return u
}

// marker is a substring of the member's command line, checked before any
// signal so that a reused pid is never hit.
func (m Member) marker() string { return "--data-dir=" + m.DataDir }

// args are the etcd flags of member m in a cluster of members ms. The
// initial-cluster flags only matter the first time: a member restarted on
// its data dir rejoins with the membership it has stored.
func (m Member) args(ms []Member, token string, o timing) []string {
	initial := make([]string, len(ms))
	for i, p := range ms {
		initial[i] = p.Name + "=" + p.PeerURL
	}
	args := []string{
		"--name=" + m.Name,
		m.marker(),
		"--listen-client-urls=" + m.ClientURL,
		"--advertise-client-urls=" + m.ClientURL,
		"--listen-peer-urls=" + m.PeerURL,
		"--initial-advertise-peer-urls=" + m.PeerURL,
		"--initial-cluster=" + strings.Join(initial, ","),
		"--initial-cluster-state=new",
		"--initial-cluster-token=" + token,
		fmt.Sprintf("--heartbeat-interval=%d", o.HeartbeatMS),
		fmt.Sprintf("--election-timeout=%d", o.ElectionMS),
		// etcd 3.5's default: a member that was cut off or restarted does
		// not depose a healthy leader by campaigning with a higher term.
		"--pre-vote=true",
		"--logger=zap",
		"--log-outputs=stderr",
	}
	if m.CertFile != "" {
		args = append(args, "--cert-file="+m.CertFile, "--key-file="+m.KeyFile,
			"--trusted-ca-file="+m.CAFile, "--client-cert-auth")
	}
	return args
}

// timing is the raft timing recorded in etcd.json, in etcd's units.
type timing struct {
	HeartbeatMS int64 `json:"heartbeat_ms"`
	ElectionMS  int64 `json:"election_ms"`
}
