package sandbox

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Sentinel errors callers can test with errors.Is.
var (
	// ErrRunning means Dir already holds a sandbox with live processes.
	ErrRunning = errors.New("sandbox already running")
	// ErrUnknownHost means a name or address matches no host of the cluster.
	ErrUnknownHost = errors.New("unknown sandbox host")
	// ErrAddrInUse means a host address/port is taken by some other process.
	ErrAddrInUse = errors.New("address in use")
	// ErrNotSandbox means Dir is not empty and holds no sandbox.json.
	ErrNotSandbox = errors.New("directory is not empty and holds no sandbox")
)

// Fixed credentials of every sandbox. The admin password holds a space and a
// '#' on purpose: config parsers must keep it whole.
const (
	AdminUser    = "gomha"
	AdminPass    = "gomha #pw 1"
	ReplUser     = "repl"
	ReplPass     = "repl #pw 2"
	userHostMask = "127.%"

	mysqlPort = 3306
	sshPort   = 22
	stateFile = "sandbox.json"
	confFile  = "app1.cnf"
)

// Options describe the cluster Up deploys.
type Options struct {
	Dir          string   // everything lives under Dir (made absolute)
	Hosts        int      // number of hosts, >= 2; host1 is the master
	GTID         bool     // replicas use MASTER_USE_GTID=slave_pos; false: file/position
	Subnet       string   // first three octets, default "127.0.0"
	BaseOctet    int      // default 10: host i gets Subnet.(BaseOctet+i)
	BinlogFormat string   // ROW (default), MIXED or STATEMENT
	ExtraMyCnf   []string // extra [mysqld] lines, e.g. "binlog_checksum=NONE"
	// TemplateDir overrides where the initialised datadir template is cached
	// (default /var/tmp/gomha-sandbox-template-<version>-<hash>).
	TemplateDir string
	Logger      *slog.Logger
}

// withDefaults returns a validated copy of o with defaults filled in.
func (o Options) withDefaults() (Options, error) {
	if o.Dir == "" {
		return o, errors.New("sandbox options: Dir is required")
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return o, fmt.Errorf("sandbox options: absolute path of %q: %w", o.Dir, err)
	}
	o.Dir = dir
	if strings.ContainsAny(dir, ",\n") {
		// master_binlog_dir is a comma-separated list in MHA's format.
		return o, fmt.Errorf("sandbox options: Dir %q must not contain a comma", dir)
	}
	if o.Hosts < 2 {
		return o, fmt.Errorf("sandbox options: Hosts=%d, need at least 2", o.Hosts)
	}
	if o.Subnet == "" {
		o.Subnet = "127.0.0"
	}
	if o.BaseOctet == 0 {
		o.BaseOctet = 10
	}
	if o.BaseOctet < 0 || o.BaseOctet+o.Hosts > 254 {
		return o, fmt.Errorf("sandbox options: BaseOctet=%d with %d hosts leaves the subnet", o.BaseOctet, o.Hosts)
	}
	ip := net.ParseIP(o.Subnet + ".1").To4()
	if ip == nil || ip[0] != 127 {
		return o, fmt.Errorf("sandbox options: Subnet %q is not three octets inside 127.0.0.0/8", o.Subnet)
	}
	o.BinlogFormat = strings.ToUpper(o.BinlogFormat)
	switch o.BinlogFormat {
	case "":
		o.BinlogFormat = "ROW"
	case "ROW", "MIXED", "STATEMENT":
	default:
		return o, fmt.Errorf("sandbox options: BinlogFormat %q is not ROW, MIXED or STATEMENT", o.BinlogFormat)
	}
	for _, l := range o.ExtraMyCnf {
		if strings.ContainsAny(l, "\r\n") || strings.HasPrefix(strings.TrimSpace(l), "[") {
			return o, fmt.Errorf("sandbox options: ExtraMyCnf line %q must be one option line", l)
		}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}

// Host is one sandbox host: an address with a mariadbd and an sshd.
type Host struct {
	Name      string `json:"name"` // "host1"
	Addr      string `json:"addr"` // "127.0.0.11"
	Port      int    `json:"port"`
	SSHPort   int    `json:"ssh_port"`
	ServerID  uint32 `json:"server_id"`
	Dir       string `json:"dir"`        // Dir/hostN
	DataDir   string `json:"data_dir"`   // Dir/hostN/data
	BinlogDir string `json:"binlog_dir"` // Dir/hostN/binlog (MHA master_binlog_dir)
}

// Socket is the unix socket of the host's mariadbd (root@localhost, no password).
func (h Host) Socket() string { return filepath.Join(h.Dir, "mysqld.sock") }

// ErrorLog is the host's mariadbd error log.
func (h Host) ErrorLog() string { return filepath.Join(h.Dir, "error.log") }

func (h Host) myCnf() string      { return filepath.Join(h.Dir, "my.cnf") }
func (h Host) sshdConfig() string { return filepath.Join(h.Dir, "sshd_config") }
func (h Host) hostKey() string    { return filepath.Join(h.Dir, "ssh_host_ed25519_key") }
func (h Host) mysqlAddr() string  { return net.JoinHostPort(h.Addr, fmt.Sprint(h.Port)) }
func (h Host) sshAddr() string    { return net.JoinHostPort(h.Addr, fmt.Sprint(h.SSHPort)) }

// mysqldMarker and sshdMarker are substrings of the processes' command lines,
// checked before any signal so a reused pid is never hit.
func (h Host) mysqldMarker() string { return "--defaults-file=" + h.myCnf() }
func (h Host) sshdMarker() string   { return h.sshdConfig() }

// PIDs are the recorded process ids of one host (0: not running).
type PIDs struct {
	Mysqld int `json:"mysqld"`
	SSHD   int `json:"sshd"`
}

// Cluster is a deployed sandbox. Fields are fixed after Up; process ids are
// runtime state, guarded by mu and persisted in Dir/sandbox.json.
type Cluster struct {
	Dir          string
	Hosts        []Host
	GTID         bool
	BinlogFormat string
	User         string // admin user, all privileges, from 127.%
	Password     string
	ReplUser     string
	ReplPassword string
	ConfPath     string // Dir/app1.cnf (MHA format)
	SSHKey       string // client private key, Dir/ssh/id_ed25519
	KnownHosts   string // Dir/ssh/known_hosts
	// FirewallChain names this sandbox's chain in nft table inet gomha_sandbox
	// (or the comment tag of its iptables rules).
	FirewallChain string
	// Cgroup is the sandbox's cgroup v2 group, relative to the cgroup2 mount
	// (gomha_sandbox/<id>); host N's processes run in Cgroup/hostN and dial
	// from the host's address. "" when they all dial from 127.0.0.1 (see
	// ErrNoIdentity).
	Cgroup string
	// UpDuration is how long Up took.
	UpDuration time.Duration

	logger *slog.Logger
	saveMu sync.Mutex // serialises writes of sandbox.json
	idMu   sync.Mutex // serialises the making of cgroups and NAT rules
	mu     sync.Mutex // guards pids
	pids   map[string]PIDs
}

// Host finds a host by name ("host2") or by address ("127.0.0.12").
func (c *Cluster) Host(name string) (Host, error) {
	for _, h := range c.Hosts {
		if h.Name == name || h.Addr == name {
			return h, nil
		}
	}
	return Host{}, fmt.Errorf("host %q in sandbox %s: %w", name, c.Dir, ErrUnknownHost)
}

// Master is host1, the master Up configured.
func (c *Cluster) Master() Host { return c.Hosts[0] }

// PIDs returns the recorded process ids of a host.
func (c *Cluster) PIDs(host string) (PIDs, error) {
	h, err := c.Host(host)
	if err != nil {
		return PIDs{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pids[h.Name], nil
}

// SetLogger replaces the logger, e.g. after Open.
func (c *Cluster) SetLogger(l *slog.Logger) {
	if l != nil {
		c.logger = l
	}
}

// setPID records one pid and persists the state file.
func (c *Cluster) setPID(host string, mysqld, sshd *int) error {
	c.mu.Lock()
	p := c.pids[host]
	if mysqld != nil {
		p.Mysqld = *mysqld
	}
	if sshd != nil {
		p.SSHD = *sshd
	}
	c.pids[host] = p
	c.mu.Unlock()
	return c.save()
}

func intp(i int) *int { return &i }

// hostsFor builds the host list of validated options.
func hostsFor(o Options) []Host {
	hs := make([]Host, o.Hosts)
	for i := range hs {
		n := i + 1
		dir := filepath.Join(o.Dir, fmt.Sprintf("host%d", n))
		hs[i] = Host{
			Name:      fmt.Sprintf("host%d", n),
			Addr:      fmt.Sprintf("%s.%d", o.Subnet, o.BaseOctet+n),
			Port:      mysqlPort,
			SSHPort:   sshPort,
			ServerID:  uint32(100 + n),
			Dir:       dir,
			DataDir:   filepath.Join(dir, "data"),
			BinlogDir: filepath.Join(dir, "binlog"),
		}
	}
	return hs
}
