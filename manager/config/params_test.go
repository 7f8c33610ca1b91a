package config

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// paramCase describes one of MHA's 42 parameters: its built-in default, an
// explicit raw value and what that value reads as, and whether it is local
// only. field reads the value from a Server independently of the param table.
type paramCase struct {
	name  string
	local bool
	field func(Server) any
	def   any
	raw   string
	want  any
}

// In these cases [server1] has hostname=h1 (127.0.0.1) and the OS user is "root".
var paramCases = []paramCase{
	{"ip", true, func(s Server) any { return s.IP }, "127.0.0.1", "127.0.0.5", "127.0.0.5"},
	{"port", false, func(s Server) any { return s.Port }, 3306, "3307", 3307},
	{"ssh_host", true, func(s Server) any { return s.SSHHost }, "h1", "h2", "h2"},
	{"ssh_ip", true, func(s Server) any { return s.SSHIP }, "127.0.0.1", "10.1.1.1", "127.0.0.1"}, // accepted, ignored
	{"ssh_port", false, func(s Server) any { return s.SSHPort }, 22, "2222", 2222},
	{"ssh_connection_timeout", false, func(s Server) any { return s.SSHConnectionTimeout }, 5, "9", 9},
	{"ssh_options", false, func(s Server) any { return s.SSHOptions }, "", `-i "/k" -o 'ConnectTimeout=3'`, "-i /k -o ConnectTimeout=3"},
	{"node_label", true, func(s Server) any { return s.NodeLabel }, "", "dc2 replica", "dc2 replica"},
	{"candidate_master", true, func(s Server) any { return s.CandidateMaster }, false, "1", true},
	{"no_master", true, func(s Server) any { return s.NoMaster }, false, "1", true},
	{"ignore_fail", true, func(s Server) any { return s.IgnoreFail }, false, "1", true},
	{"skip_init_ssh_check", true, func(s Server) any { return s.SkipInitSSHCheck }, false, "1", true},
	{"skip_reset_slave", false, func(s Server) any { return s.SkipResetSlave }, false, "1", true},
	{"user", false, func(s Server) any { return s.User }, "root", "mha", "mha"},
	{"password", false, func(s Server) any { return s.Password.Reveal() }, "", `pa ss#w"rd`, `pa ss#w"rd`},
	{"repl_user", false, func(s Server) any { return s.ReplUser }, "", "repl", "repl"},
	{"repl_password", false, func(s Server) any { return [2]any{s.ReplPassword.Reveal(), s.ReplPasswordSet} }, [2]any{"", false}, "'r p#'", [2]any{"r p#", true}},
	{"disable_log_bin", false, func(s Server) any { return s.DisableLogBin }, false, "1", true},
	{"master_pid_file", false, func(s Server) any { return s.MasterPIDFile }, "", "/run/mysqld/mysqld.pid", "/run/mysqld/mysqld.pid"},
	{"handle_raw_binlog", false, func(s Server) any { return s.HandleRawBinlog }, true, "0", false},
	{"ssh_user", false, func(s Server) any { return s.SSHUser }, "root", "mhaadmin", "mhaadmin"},
	{"remote_workdir", false, func(s Server) any { return s.RemoteWorkdir }, "/var/tmp", "/data/mha", "/data/mha"},
	{"master_binlog_dir", false, func(s Server) any { return s.MasterBinlogDir }, []string{"/var/lib/mysql", "/var/log/mysql"}, " /a , /b c,,/d", []string{"/a", "/bc", "/d"}},
	{"log_level", false, func(s Server) any { return s.LogLevel }, "info", "debug", "debug"},
	{"manager_workdir", false, func(s Server) any { return s.ManagerWorkdir }, "/var/tmp", "/var/log/masterha/app1", "/var/log/masterha/app1"},
	{"manager_log", false, func(s Server) any { return s.ManagerLog }, "", "/var/log/masterha/app1.log", "/var/log/masterha/app1.log"},
	{"check_repl_delay", false, func(s Server) any { return s.CheckReplDelay }, true, "0", false},
	{"check_repl_filter", false, func(s Server) any { return s.CheckReplFilter }, true, "0", false},
	{"latest_priority", false, func(s Server) any { return s.LatestPriority }, true, "0", false},
	{"multi_tier_slave", false, func(s Server) any { return s.MultiTierSlave }, false, "1", true},
	{"ping_interval", false, func(s Server) any { return s.PingInterval }, 3, "10", 10},
	{"ping_type", false, func(s Server) any { return s.PingType }, "SELECT", "insert", "INSERT"},
	{"secondary_check_script", false, func(s Server) any { return s.SecondaryCheckScript }, "", "masterha_secondary_check -s r1 -s r2", "masterha_secondary_check -s r1 -s r2"},
	{"master_ip_failover_script", false, func(s Server) any { return s.MasterIPFailoverScript }, "", `"/bin/failover --vip 10.0.0.10"`, "/bin/failover --vip 10.0.0.10"},
	{"master_ip_online_change_script", false, func(s Server) any { return s.MasterIPOnlineChangeScript }, "", "/bin/online_change", "/bin/online_change"},
	{"shutdown_script", false, func(s Server) any { return s.ShutdownScript }, "", "/bin/power_manager --host=x", "/bin/power_manager --host=x"},
	{"report_script", false, func(s Server) any { return s.ReportScript }, "", "/bin/send_report # kept", "/bin/send_report # kept"},
	{"init_conf_load_script", false, func(s Server) any { return s.InitConfLoadScript }, "", "", ""}, // run by TestInitConfLoadScript
	{"client_bindir", false, func(s Server) any { return s.ClientBindir }, "", "/usr/local/mysql/bin", "/usr/local/mysql/bin"},
	{"client_libdir", false, func(s Server) any { return s.ClientLibdir }, "", "/usr/local/mysql/lib", "/usr/local/mysql/lib"},
	{"use_gtid_auto_pos", false, func(s Server) any { return s.UseGTIDAutoPos }, true, "0", false},
}

// TestEveryParameter loads each parameter absent, in [server1], in the app
// [server default] and in the global [server default]: local-only ones must
// not be inherited, the others must be. hostname is covered by TestResolve
// and the broken-file tests (it is required).
func TestEveryParameter(t *testing.T) {
	covered := []string{"hostname"}
	for _, c := range paramCases {
		covered = append(covered, c.name)
	}
	if names := ParamNames(); len(names) != 42 || !sameSet(names, covered) {
		t.Fatalf("parameter table has %d names, cases cover %d: %v", len(names), len(covered), names)
	}
	dir := t.TempDir()
	for _, c := range paramCases {
		checkLayers(t, dir, c)
	}
}

// gomhaParamCases are gomha's own parameters, beyond MHA's 42.
var gomhaParamCases = []paramCase{
	{"relay_wait_timeout", false, func(s Server) any { return s.RelayWaitTimeout }, 3600, "120", 120},
	{"master_hang_timeout", false, func(s Server) any { return s.MasterHangTimeout }, 0, "6", 6},
	{"fence_old_master", false, func(s Server) any { return s.FenceOldMaster }, "kill", "READ_ONLY", "read_only"},
	{"rejoin_old_master", false, func(s Server) any { return s.RejoinOldMaster }, false, "1", true},
	{"hook_password_args", false, func(s Server) any { return s.HookPasswordArgs }, false, "1", true},
}

// TestGomhaParameters: gomha's parameters are read and inherited like
// MHA's, and a bad value is refused naming it.
func TestGomhaParameters(t *testing.T) {
	dir := t.TempDir()
	for _, c := range gomhaParamCases {
		checkLayers(t, dir, c)
	}
	cases := []struct {
		why, line, wantMsg string // wantMsg "" = accepted
	}{
		{"a positive number of seconds", "relay_wait_timeout=120", ""},
		{"no wait at all is not a bound", "relay_wait_timeout=0", `"0" is not a positive integer`},
		{"units are not MHA's syntax for numbers", "relay_wait_timeout=1h", `"1h" is not a number`},
		{"nor are signs", "relay_wait_timeout=-5", `"-5" is not a number`},
		{"0 is master_hang_timeout's default (two ping intervals), so it may be written", "master_hang_timeout=0", ""},
		{"a sign is refused there too", "master_hang_timeout=+6", `"+6" is not a number`},
		{"0 and 1 only for gomha's booleans: no MHA reading to follow", "rejoin_old_master=yes",
			`"yes" is not 0 or 1 (gomha's own parameter takes no other value)`},
		{"'no' would be true by MHA's rule: refused rather than read as on", "rejoin_old_master=no",
			`"no" is not 0 or 1 (gomha's own parameter takes no other value)`},
		{"empty is not 0", "rejoin_old_master=", `"" is not 0 or 1 (gomha's own parameter takes no other value)`},
		{"hook_password_args=true would put passwords in ps by mistake", "hook_password_args=true",
			`"true" is not 0 or 1 (gomha's own parameter takes no other value)`},
		{"hook_password_args=0 is the default written out", "hook_password_args=0", ""},
		{"fencing modes are words", "fence_old_master=shoot", `"shoot" is not a fencing mode (use kill, read_only or none)`},
	}
	for _, c := range cases {
		app := writeFile(t, dir, "app1.cnf", "[server default]\n"+c.line+"\n[server1]\nhostname=h1\n")
		cfg, err := Load(context.Background(), app, testOptions())
		if c.wantMsg == "" {
			if err != nil || cfg.Warnings != nil {
				t.Errorf("%s: %s: err %v, warnings %q", c.why, c.line, err, cfg.Warnings)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: %s accepted", c.why, c.line)
			continue
		}
		ce := asConfigError(t, err)
		if key, _, _ := strings.Cut(c.line, "="); ce.Section != "server default" || ce.Key != key || ce.Msg != c.wantMsg {
			t.Errorf("%s: %s: got %q", c.why, c.line, err)
		}
	}
}

// checkLayers loads c absent, in [server1], in the app [server default]
// and in the global [server default].
func checkLayers(t *testing.T, dir string, c paramCase) {
	t.Helper()
	line := c.name + "=" + c.raw
	inherited := c.want
	if c.local {
		inherited = c.def
	}
	layers := []struct {
		where, global, app, server string
		want                       any
	}{
		{"absent", "", "", "", c.def},
		{"in [server1]", "", "", line, c.want},
		{"in app [server default]", "", line, "", inherited},
		{"in global [server default]", line, "", "", inherited},
		{"global overridden by app", line, c.name + "=" + c.raw, "", inherited},
	}
	for _, l := range layers {
		global := writeFile(t, dir, "global.cnf", "[server default]\n"+l.global+"\n")
		app := writeFile(t, dir, "app1.cnf", "[server default]\n"+l.app+"\n[server1]\nhostname=h1\n"+l.server+"\n")
		opts := testOptions()
		opts.NoGlobal, opts.GlobalFile = false, global
		cfg := mustLoad(t, app, opts)
		if got := c.field(cfg.Servers[0]); !reflect.DeepEqual(got, l.want) {
			t.Errorf("%s %s: got %#v, want %#v", c.name, l.where, got, l.want)
		}
	}
}

// TestPrecedence: app [server default] beats global, [serverN] beats both.
func TestPrecedence(t *testing.T) {
	dir := t.TempDir()
	global := writeFile(t, dir, "g.cnf", "[server default]\nport=3301\nuser=g\nssh_port=2201\n")
	app := writeFile(t, dir, "a.cnf", "[server default]\nport=3302\nuser=a\n[server1]\nhostname=h1\nport=3303\n")
	opts := testOptions()
	opts.NoGlobal, opts.GlobalFile = false, global
	s := mustLoad(t, app, opts).Servers[0]
	if s.Port != 3303 || s.User != "a" || s.SSHPort != 2201 {
		t.Errorf("port %d user %q ssh_port %d, want 3303 a 2201", s.Port, s.User, s.SSHPort)
	}
}

// TestEmptyValues follows MHA: an empty value inherited from [server default]
// falls back to the built-in default for user, ssh_user, the directories and
// log_level, while one written in [serverN] is kept; empty booleans are false.
func TestEmptyValues(t *testing.T) {
	dir := t.TempDir()
	app := writeFile(t, dir, "a.cnf", "[server default]\nuser=\nssh_user=\nmanager_workdir=\ncheck_repl_delay=\n"+
		"[server1]\nhostname=h1\n[server2]\nhostname=h2\nuser=\nrepl_password=\n")
	cfg := mustLoad(t, app, testOptions())
	s1, s2 := cfg.Servers[0], cfg.Servers[1]
	if s1.User != "root" || s1.SSHUser != "root" || s1.ManagerWorkdir != "/var/tmp" || s1.CheckReplDelay {
		t.Errorf("server1: %+v", s1)
	}
	if s2.User != "" || s2.ReplPasswordSet {
		t.Errorf("server2: user %q ReplPasswordSet %v", s2.User, s2.ReplPasswordSet)
	}
}

// TestServerOrder: numeric order when every name has a number, else by name.
func TestServerOrder(t *testing.T) {
	cases := []struct {
		file string
		want []string
	}{
		{"order_numeric.cnf", []string{"server1", "server1a", "server2", "server_db3", "server0004", "server10"}},
		{"order_names.cnf", []string{"server10", "server3", "server_a", "server_b"}},
		{"app1.cnf", []string{"server1", "server2", "server3"}},
	}
	for _, c := range cases {
		cfg := mustLoad(t, filepath.Join("testdata", c.file), testOptions())
		var got []string
		for _, s := range cfg.Servers {
			got = append(got, s.Name)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: order %v, want %v", c.file, got, c.want)
		}
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func ExampleLoad() {
	cfg, err := Load(context.Background(), filepath.Join("testdata", "order_names.cnf"), Options{NoGlobal: true, CurrentUser: func() string { return "mha" }})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range cfg.Servers {
		fmt.Println(s.Name, s.Addr())
	}
	// Output:
	// server10 127.0.0.10:3306
	// server3 127.0.0.3:3306
	// server_a 127.0.0.11:3306
	// server_b 127.0.0.12:3306
}
