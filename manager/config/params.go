package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/gomha/gomha/node"
)

// param is one of MHA's 42 parameters: how to store a raw value into a
// Server, how to print it back, and how it is inherited.
type param struct {
	name string
	// local parameters are read from the [serverN] block only, never
	// inherited from [server default] (MHA's "local only").
	local bool
	// emptyIsDefault: an empty value inherited from [server default] gives
	// the built-in default (MHA's "unless ($value)"), while an empty value in
	// the [serverN] block itself is kept.
	emptyIsDefault bool
	set            func(s *Server, v string) error
	get            func(s *Server) string
	// check, when set, is run once on each value where it is written (set
	// runs for every server that inherits it): it refuses a value set does
	// not, or returns a note for Config.Warnings.
	check func(v string) (note string, err error)
}

const (
	local   = true
	inherit = false
)

// params is MHA 0.58's @PARAM_ARRAY, in its order. It is never modified.
var params = []param{
	strParam("hostname", local, func(s *Server) *string { return &s.Hostname }),
	{name: "ip", local: true, set: setIP, get: func(s *Server) string { return s.IP }},
	intParam("port", inherit, 1, 65535, func(s *Server) *int { return &s.Port }),
	strParam("ssh_host", local, func(s *Server) *string { return &s.SSHHost }),
	// ssh_ip is accepted but ignored, as in MHA: it is always resolved from ssh_host.
	{name: "ssh_ip", local: true, set: func(*Server, string) error { return nil }, get: func(s *Server) string { return s.SSHIP }},
	intParam("ssh_port", inherit, 1, 65535, func(s *Server) *int { return &s.SSHPort }),
	intParam("ssh_connection_timeout", inherit, 1, math.MaxInt32, func(s *Server) *int { return &s.SSHConnectionTimeout }),
	{name: "ssh_options", set: func(s *Server, v string) error {
		s.SSHOptions = mhaSSHOptions(v)
		return nil
	}, get: func(s *Server) string { return s.SSHOptions }, check: checkSSHOptions},
	strParam("node_label", local, func(s *Server) *string { return &s.NodeLabel }),
	boolParam("candidate_master", local, perlNumber, func(s *Server) *bool { return &s.CandidateMaster }),
	boolParam("no_master", local, perlNumber, func(s *Server) *bool { return &s.NoMaster }),
	boolParam("ignore_fail", local, perlTruth, func(s *Server) *bool { return &s.IgnoreFail }),
	boolParam("skip_init_ssh_check", local, perlTruth, func(s *Server) *bool { return &s.SkipInitSSHCheck }),
	boolParam("skip_reset_slave", inherit, perlTruth, func(s *Server) *bool { return &s.SkipResetSlave }),
	emptyDefault(strParam("user", inherit, func(s *Server) *string { return &s.User })),
	{name: "password", set: func(s *Server, v string) error { s.Password = Secret(v); return nil },
		get: func(s *Server) string { return s.Password.String() }},
	strParam("repl_user", inherit, func(s *Server) *string { return &s.ReplUser }),
	{name: "repl_password", set: func(s *Server, v string) error {
		// MHA sends MASTER_PASSWORD only when repl_password is true in Perl's sense.
		s.ReplPassword, s.ReplPasswordSet = Secret(v), v != ""
		return nil
	}, get: func(s *Server) string { return s.ReplPassword.String() }},
	boolParam("disable_log_bin", inherit, nodeInteger, func(s *Server) *bool { return &s.DisableLogBin }),
	strParam("master_pid_file", inherit, func(s *Server) *string { return &s.MasterPIDFile }),
	boolParam("handle_raw_binlog", inherit, nodeInteger, func(s *Server) *bool { return &s.HandleRawBinlog }),
	emptyDefault(strParam("ssh_user", inherit, func(s *Server) *string { return &s.SSHUser })),
	emptyDefault(strParam("remote_workdir", inherit, func(s *Server) *string { return &s.RemoteWorkdir })),
	emptyDefault(param{name: "master_binlog_dir", set: func(s *Server, v string) error {
		s.MasterBinlogDir = splitDirs(v)
		return nil
	}, get: func(s *Server) string { return strings.Join(s.MasterBinlogDir, ",") }}),
	emptyDefault(strParam("log_level", inherit, func(s *Server) *string { return &s.LogLevel })),
	emptyDefault(strParam("manager_workdir", inherit, func(s *Server) *string { return &s.ManagerWorkdir })),
	strParam("manager_log", inherit, func(s *Server) *string { return &s.ManagerLog }),
	boolParam("check_repl_delay", inherit, perlTruth, func(s *Server) *bool { return &s.CheckReplDelay }),
	boolParam("check_repl_filter", inherit, perlTruth, func(s *Server) *bool { return &s.CheckReplFilter }),
	boolParam("latest_priority", inherit, perlTruth, func(s *Server) *bool { return &s.LatestPriority }),
	boolParam("multi_tier_slave", inherit, perlTruth, func(s *Server) *bool { return &s.MultiTierSlave }),
	intParam("ping_interval", inherit, 1, math.MaxInt32, func(s *Server) *int { return &s.PingInterval }),
	{name: "ping_type", set: setPingType, get: func(s *Server) string { return s.PingType }},
	strParam("secondary_check_script", inherit, func(s *Server) *string { return &s.SecondaryCheckScript }),
	strParam("master_ip_failover_script", inherit, func(s *Server) *string { return &s.MasterIPFailoverScript }),
	strParam("master_ip_online_change_script", inherit, func(s *Server) *string { return &s.MasterIPOnlineChangeScript }),
	strParam("shutdown_script", inherit, func(s *Server) *string { return &s.ShutdownScript }),
	strParam("report_script", inherit, func(s *Server) *string { return &s.ReportScript }),
	strParam("init_conf_load_script", inherit, func(s *Server) *string { return &s.InitConfLoadScript }),
	strParam("client_bindir", inherit, func(s *Server) *string { return &s.ClientBindir }),
	strParam("client_libdir", inherit, func(s *Server) *string { return &s.ClientLibdir }),
	boolParam("use_gtid_auto_pos", inherit, perlTruth, func(s *Server) *bool { return &s.UseGTIDAutoPos }),
}

// gomhaParams are gomha's own parameters, beyond MHA's: MHA's reader
// would refuse them, so a configuration that uses them is gomha's only.
// They follow MHA's rules for numbers (decimal digits, no sign); their
// booleans take 0 and 1 only, as no MHA reading binds them.
var gomhaParams = []param{
	// relay_wait_timeout bounds, in seconds, the wait for every replica to
	// apply what it received before the failover compares them, and each
	// apply of missing events (MHA waits without a bound).
	intParam("relay_wait_timeout", inherit, 1, math.MaxInt32, func(s *Server) *int { return &s.RelayWaitTimeout }),
	// master_hang_timeout is how long, in seconds, a master that accepts
	// connections but does not answer (hung, frozen, unreachable) is
	// tolerated before it may count as dead (0, the default: two ping
	// intervals; 0 may be written too).
	intParam("master_hang_timeout", inherit, 0, math.MaxInt32, func(s *Server) *int { return &s.MasterHangTimeout }),
	// fence_old_master: how a dead master whose host still answers SSH is
	// fenced: kill (its mysqld, over SSH), read_only, or none.
	{name: "fence_old_master", set: func(s *Server, v string) error {
		switch l := strings.ToLower(v); l {
		case "kill", "read_only", "none":
			s.FenceOldMaster = l
			return nil
		}
		return fmt.Errorf("%q is not a fencing mode (use kill, read_only or none)", v)
	}, get: func(s *Server) string { return s.FenceOldMaster }},
	// rejoin_old_master: an old master that comes back after a failover
	// becomes a replica of the new one when it holds nothing the new one
	// lacks; otherwise it is only kept read-only.
	boolParam("rejoin_old_master", inherit, gomhaBool, func(s *Server) *bool { return &s.RejoinOldMaster }),
	// hook_password_args: hook scripts get the MySQL passwords on their
	// command line (--orig_master_password=..., --new_master_password=...),
	// as MHA passes them, for scripts that cannot be changed. Off by
	// default: any local user can read a command line.
	boolParam("hook_password_args", inherit, gomhaBool, func(s *Server) *bool { return &s.HookPasswordArgs }),
}

// allParams is MHA's parameters, then gomha's.
func allParams() []param { return append(slices.Clip(params), gomhaParams...) }

// lookupParam finds a parameter by its exact (case-sensitive) name.
func lookupParam(name string) (param, bool) {
	for _, list := range [][]param{params, gomhaParams} {
		for _, p := range list {
			if p.name == name {
				return p, true
			}
		}
	}
	return param{}, false
}

// ParamNames returns MHA's parameter names in MHA's order.
func ParamNames() []string {
	names := make([]string, len(params))
	for i, p := range params {
		names[i] = p.name
	}
	return names
}

// defaultServer returns a Server holding MHA's built-in defaults.
func defaultServer(sshUser string) Server {
	return Server{
		Port: 3306, SSHPort: 22, SSHConnectionTimeout: 5, SSHUser: sshUser,
		User: "root", HandleRawBinlog: true, RemoteWorkdir: "/var/tmp",
		MasterBinlogDir: []string{"/var/lib/mysql", "/var/log/mysql"},
		LogLevel:        "info", ManagerWorkdir: "/var/tmp",
		CheckReplDelay: true, CheckReplFilter: true, LatestPriority: true,
		PingInterval: 3, PingType: "SELECT", UseGTIDAutoPos: true,
		RelayWaitTimeout: 3600, FenceOldMaster: "kill",
	}
}

func emptyDefault(p param) param { p.emptyIsDefault = true; return p }

func strParam(name string, isLocal bool, field func(*Server) *string) param {
	return param{name: name, local: isLocal,
		set: func(s *Server, v string) error { *field(s) = v; return nil },
		get: func(s *Server) string { return *field(s) }}
}

func boolParam(name string, isLocal bool, r boolReading, field func(*Server) *bool) param {
	return param{name: name, local: isLocal,
		set: func(s *Server, v string) error {
			b, _, err := readBool(r, v)
			if err != nil {
				return err
			}
			*field(s) = b
			return nil
		},
		get: func(s *Server) string {
			if *field(s) {
				return "1"
			}
			return "0"
		},
		check: func(v string) (string, error) {
			_, note, err := readBool(r, v)
			return note, err
		}}
}

func intParam(name string, isLocal bool, lo, hi int, field func(*Server) *int) param {
	return param{name: name, local: isLocal,
		set: func(s *Server, v string) error {
			n, err := parseInt(v, lo, hi)
			if err != nil {
				return err
			}
			*field(s) = n
			return nil
		},
		get: func(s *Server) string { return strconv.Itoa(*field(s)) }}
}

// parseInt accepts decimal digits only (MHA rejects signs and blanks).
func parseInt(v string, lo, hi int) (int, error) {
	if v == "" || strings.Trim(v, "0123456789") != "" {
		return 0, fmt.Errorf("%q is not a number", v)
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		if lo == 1 && hi == math.MaxInt32 {
			return 0, fmt.Errorf("%q is not a positive integer", v)
		}
		return 0, fmt.Errorf("%q is out of range (%d-%d)", v, lo, hi)
	}
	return n, nil
}

// mhaSSHOptions removes every quote from ssh_options, as MHA does before
// its shell splits the options.
func mhaSSHOptions(v string) string { return strings.NewReplacer(`'`, "", `"`, "").Replace(v) }

// checkSSHOptions parses ssh_options as the SSH commands will (node's
// parser), so that an option gomha refuses (ProxyCommand, ProxyJump, a
// forwarding, a $ expansion...) or a bad -F file stops Load, naming the
// place where it is written, rather than a later SSH command. It reads the
// -F file; it dials nothing.
func checkSSHOptions(v string) (string, error) {
	_, err := node.ParseSSHOptions(mhaSSHOptions(v))
	if oe := (*node.SSHOptionsError)(nil); errors.As(err, &oe) {
		return "", oe.Err // the key is named by the caller
	}
	return "", err
}

// setIP accepts an IPv4 or IPv6 address only: the value ends up in commands
// run on the replicas' hosts, so a name or anything else is refused (MHA
// would use it as written). An IPv6 zone (%eth0) is refused too.
func setIP(s *Server, v string) error {
	if v != "" && net.ParseIP(v) == nil { // empty: resolve hostname, as in MHA
		return fmt.Errorf("%q is not an IP address (a host name belongs in hostname)", v)
	}
	s.IP = v
	return nil
}

func setPingType(s *Server, v string) error {
	switch u := strings.ToUpper(v); u {
	case "CONNECT", "SELECT", "INSERT":
		s.PingType = u
		return nil
	}
	return fmt.Errorf("%q is not a ping type (use CONNECT, SELECT or INSERT)", v)
}

// splitDirs removes all whitespace (as MHA does) and splits on commas,
// dropping empty entries.
func splitDirs(v string) []string {
	v = strings.Join(strings.Fields(v), "")
	var dirs []string
	for d := range strings.SplitSeq(v, ",") {
		if d != "" {
			dirs = append(dirs, d)
		}
	}
	return dirs
}
