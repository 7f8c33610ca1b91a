// Package config reads MHA's configuration files (an application file such as
// app1.cnf and the optional global masterha_default.cnf) exactly as MHA 0.58
// reads them, validates them, and returns an immutable Config.
//
// Precedence, lowest to highest: built-in defaults, the global file's
// [server default], the application file's [server default], the output of
// init_conf_load_script, and finally the [serverN] block itself. Parameters
// MHA calls "local only" (hostname, ip, ssh_host, ssh_ip, node_label,
// candidate_master, no_master, ignore_fail, skip_init_ssh_check) are never
// inherited; written in a block of defaults they are ignored, with a warning.
//
// Boolean parameters are read the way MHA's code reads them (see
// boolReading): a value other than 0 or 1 gives a warning in
// Config.Warnings, and a value MHA stops on, or reads both ways, is refused.
package config

import (
	"net"
	"strconv"
	"strings"
)

// Server is one [serverN] block after layering and validation.
type Server struct {
	Name string // block name, e.g. "server1"

	Hostname string // as written; used in CHANGE MASTER
	IP       string // `ip`, else hostname resolved
	Port     int

	SSHHost              string // defaults to Hostname
	SSHIP                string // IP when SSHHost == Hostname, else SSHHost resolved (the ssh_ip parameter is ignored, as in MHA)
	SSHPort              int
	SSHUser              string
	SSHConnectionTimeout int    // seconds
	SSHOptions           string // extra ssh options, quotes removed as MHA does

	NodeLabel        string
	CandidateMaster  bool
	NoMaster         bool
	IgnoreFail       bool
	SkipInitSSHCheck bool
	SkipResetSlave   bool

	User            string
	Password        Secret
	ReplUser        string // "" = use Master_User from SHOW SLAVE STATUS
	ReplPassword    Secret
	ReplPasswordSet bool // false = CHANGE MASTER without MASTER_PASSWORD (MHA does so when repl_password is empty)

	DisableLogBin   bool
	MasterPIDFile   string
	HandleRawBinlog bool
	RemoteWorkdir   string
	MasterBinlogDir []string // comma list, whitespace removed

	CheckReplDelay  bool
	CheckReplFilter bool
	LatestPriority  bool
	MultiTierSlave  bool
	UseGTIDAutoPos  bool

	PingInterval int    // seconds
	PingType     string // CONNECT, SELECT or INSERT

	SecondaryCheckScript       string
	MasterIPFailoverScript     string
	MasterIPOnlineChangeScript string
	ShutdownScript             string
	ReportScript               string
	InitConfLoadScript         string

	ClientBindir   string
	ClientLibdir   string
	LogLevel       string
	ManagerWorkdir string
	ManagerLog     string // "" = standard error

	// gomha's own parameters
	RelayWaitTimeout  int    // seconds: relay_wait_timeout (default 3600)
	MasterHangTimeout int    // seconds: master_hang_timeout (0: two ping intervals)
	FenceOldMaster    string // fence_old_master: kill (default), read_only, none
	RejoinOldMaster   bool   // rejoin_old_master
	// HookPasswordArgs (hook_password_args, default 0): pass the MySQL
	// passwords to hook scripts on their command line, as MHA does
	// (--orig_master_password=...), for scripts that cannot be changed.
	HookPasswordArgs bool
}

// Addr returns "ip:port" (the IP when known, else the hostname), with IPv6
// addresses in brackets.
func (s Server) Addr() string {
	host := s.IP
	if host == "" {
		host = s.Hostname
	}
	return net.JoinHostPort(host, strconv.Itoa(s.Port))
}

// BinlogServer is one [binlogN] block: a host keeping a copy of the master's
// binary logs (used in GTID failover).
type BinlogServer struct {
	Name                 string
	Hostname             string
	IP                   string
	Port                 int
	SSHHost              string
	SSHIP                string
	SSHPort              int
	SSHUser              string
	SSHConnectionTimeout int
	SSHOptions           string
	MasterBinlogDir      []string
	RemoteWorkdir        string
	ClientBindir         string
	ClientLibdir         string
}

// Addr returns "ip:port" like Server.Addr.
func (b BinlogServer) Addr() string {
	return Server{IP: b.IP, Hostname: b.Hostname, Port: b.Port}.Addr()
}

// Config is a loaded, validated application configuration. Treat it as
// read-only.
type Config struct {
	File       string // application file as given to Load
	GlobalFile string // global file actually read; "" when none
	App        string // basename of File without extension, e.g. "app1"

	Servers []Server       // in MHA's order (see Load)
	Binlogs []BinlogServer // by block name

	// App-wide values, read from the first server as MHA does.
	ManagerWorkdir  string
	ManagerLog      string
	LogLevel        string
	CheckReplFilter bool
	PingType        string

	// Warnings are findings that do not stop Load, one line each in the
	// form "file: [section] key: what", in the order the files were read:
	// a boolean value other than 0 or 1 (saying how MHA 0.58 and gomha
	// read it), a parameter MHA reads only in [server...] blocks written in
	// a block of defaults (ignored). Commands print them; a nil slice
	// means there is nothing to say.
	Warnings []string
}

// Server finds the server whose hostname or IP is hostOrIP and whose port is port.
func (c *Config) Server(hostOrIP string, port int) (Server, bool) {
	for _, s := range c.Servers {
		if s.Port == port && (s.Hostname == hostOrIP || s.IP == hostOrIP) {
			return s, true
		}
	}
	return Server{}, false
}

// Redacted renders the effective configuration in MHA's file syntax, one
// block per server with every parameter, passwords shown as "xxx".
func (c *Config) Redacted() string {
	var b strings.Builder
	b.WriteString("# effective configuration of " + c.App + ", passwords hidden\n")
	b.WriteString("# file: " + c.File + "\n")
	if c.GlobalFile != "" {
		b.WriteString("# global file: " + c.GlobalFile + "\n")
	}
	for i := range c.Servers {
		s := &c.Servers[i]
		b.WriteString("\n[" + s.Name + "]\n")
		for _, p := range allParams() {
			b.WriteString(p.name + "=" + p.get(s) + "\n")
		}
	}
	for _, bl := range c.Binlogs {
		b.WriteString("\n[" + bl.Name + "]\n")
		for _, kv := range [][2]string{
			{"hostname", bl.Hostname}, {"ip", bl.IP}, {"port", strconv.Itoa(bl.Port)},
			{"ssh_host", bl.SSHHost}, {"ssh_ip", bl.SSHIP}, {"ssh_port", strconv.Itoa(bl.SSHPort)},
			{"ssh_user", bl.SSHUser}, {"ssh_connection_timeout", strconv.Itoa(bl.SSHConnectionTimeout)},
			{"ssh_options", bl.SSHOptions}, {"master_binlog_dir", strings.Join(bl.MasterBinlogDir, ",")},
			{"remote_workdir", bl.RemoteWorkdir}, {"client_bindir", bl.ClientBindir}, {"client_libdir", bl.ClientLibdir},
		} {
			b.WriteString(kv[0] + "=" + kv[1] + "\n")
		}
	}
	return b.String()
}

func binlogFromServer(s Server) BinlogServer {
	return BinlogServer{
		Name: s.Name, Hostname: s.Hostname, IP: s.IP, Port: s.Port,
		SSHHost: s.SSHHost, SSHIP: s.SSHIP, SSHPort: s.SSHPort, SSHUser: s.SSHUser,
		SSHConnectionTimeout: s.SSHConnectionTimeout, SSHOptions: s.SSHOptions,
		MasterBinlogDir: s.MasterBinlogDir, RemoteWorkdir: s.RemoteWorkdir,
		ClientBindir: s.ClientBindir, ClientLibdir: s.ClientLibdir,
	}
}
