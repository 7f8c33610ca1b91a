package config

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestSameAsMHA compares what Load reads with what MHA 0.58 itself read from
// the same files (golden files made by testdata/mha_dump.pl).
func TestSameAsMHA(t *testing.T) {
	cases := []struct {
		file, global, golden, why string
	}{
		{"app1.cnf", "masterha_default.cnf", "app1.mha.txt", "layering of global, app defaults and local-only parameters"},
		{"quoting.cnf", "", "quoting.mha.txt", "quotes, #, spaces, ' ; ' comments, backquotes and backslashes in values"},
		{"order_numeric.cnf", "", "order_numeric.mha.txt", "numeric server order"},
		{"order_names.cnf", "", "order_names.mha.txt", "server order by name when one name has no number"},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			opts := testOptions()
			if c.global != "" {
				opts.NoGlobal, opts.GlobalFile = false, filepath.Join("testdata", c.global)
			}
			cfg := mustLoad(t, filepath.Join("testdata", c.file), opts)
			want, err := os.ReadFile(filepath.Join("testdata", c.golden))
			if err != nil {
				t.Fatal(err)
			}
			if got := mhaDump(cfg); got != string(want) {
				t.Errorf("%s: differs from MHA (%s)\n--- got\n%s\n--- MHA\n%s", c.file, c.why, got, want)
			}
		})
	}
}

// TestLoadApp1 checks the Config-level values of the sample application.
func TestLoadApp1(t *testing.T) {
	opts := testOptions()
	opts.NoGlobal, opts.GlobalFile = false, filepath.Join("testdata", "masterha_default.cnf")
	cfg := mustLoad(t, filepath.Join("testdata", "app1.cnf"), opts)
	if cfg.App != "app1" || cfg.GlobalFile != opts.GlobalFile {
		t.Errorf("App=%q GlobalFile=%q", cfg.App, cfg.GlobalFile)
	}
	if cfg.ManagerWorkdir != "/var/log/masterha/app1" || cfg.ManagerLog != "/var/log/masterha/app1/manager.log" ||
		cfg.LogLevel != "debug" || !cfg.CheckReplFilter || cfg.PingType != "SELECT" {
		t.Errorf("app-wide values wrong: %+v", cfg)
	}
	wantWarnings := []string{filepath.Join("testdata", "app1.cnf") +
		": [server default] candidate_master: read only in [server...] and [binlog...] blocks: ignored here, by MHA 0.58 as by gomha"}
	if !slices.Equal(cfg.Warnings, wantWarnings) {
		t.Errorf("Warnings = %q, want %q", cfg.Warnings, wantWarnings)
	}
	var names []string
	for _, s := range cfg.Servers {
		names = append(names, s.Name)
	}
	if !slices.Equal(names, []string{"server1", "server2", "server3"}) {
		t.Errorf("servers %v", names)
	}
	s2 := cfg.Servers[1]
	if s2.Password.Reveal() != "app1 secret#1" || s2.ReplPassword.Reveal() != "r3pl pass" || !s2.ReplPasswordSet {
		t.Errorf("passwords not read from app [server default]")
	}
	wantBinlog := BinlogServer{Name: "binlog1", Hostname: "binlog_host1", IP: "127.0.0.20", Port: 3306,
		SSHHost: "binlog_host1", SSHIP: "127.0.0.20", SSHPort: 2222, SSHUser: "mhaadmin", SSHConnectionTimeout: 5,
		MasterBinlogDir: []string{"/var/lib/binlog_server"}, RemoteWorkdir: "/var/tmp"}
	if len(cfg.Binlogs) != 1 || !equalBinlog(cfg.Binlogs[0], wantBinlog) {
		t.Errorf("binlogs = %+v, want %+v", cfg.Binlogs, wantBinlog)
	}
	if s, ok := cfg.Server("host3", 3307); !ok || s.Name != "server3" {
		t.Errorf("Server(host3, 3307) = %v, %v", s.Name, ok)
	}
	if s, ok := cfg.Server("127.0.0.12", 3306); !ok || s.Name != "server2" {
		t.Errorf("Server by IP = %v, %v", s.Name, ok)
	}
	if _, ok := cfg.Server("host3", 3306); ok {
		t.Errorf("Server(host3, 3306) found a server on the wrong port")
	}
}

func equalBinlog(a, b BinlogServer) bool { return reflect.DeepEqual(a, b) }

// TestGlobalFileChoice covers how the global file is found.
func TestGlobalFileChoice(t *testing.T) {
	app := filepath.Join("testdata", "app1.cnf")
	globalDir := t.TempDir()
	cases := []struct {
		why        string
		global     string
		wantGlobal string
		wantErr    string
	}{
		{"a missing global file is skipped, as in MHA", filepath.Join(t.TempDir(), "none.cnf"), "", ""},
		{"a global file that exists must be a regular file (MHA would skip a directory, leaving out its defaults)",
			globalDir, "", globalDir + ": is a directory, not a regular file"},
		{"an existing global file is read", filepath.Join("testdata", "masterha_default.cnf"), filepath.Join("testdata", "masterha_default.cnf"), ""},
		{"a bad key in the global [server default] names the global file",
			filepath.Join("testdata", "broken", "bad_global.cnf"), "", "testdata/broken/bad_global.cnf: [server default] pasword: unknown parameter"},
	}
	for _, c := range cases {
		opts := testOptions()
		opts.NoGlobal, opts.GlobalFile = false, c.global
		cfg, err := Load(context.Background(), app, opts)
		if c.wantErr != "" {
			if err == nil || err.Error() != c.wantErr {
				t.Errorf("%s: err = %v, want %s", c.why, err, c.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "topsecretvalue") {
				t.Errorf("%s: error reveals the value", c.why)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.why, err)
			continue
		}
		if cfg.GlobalFile != c.wantGlobal {
			t.Errorf("%s: GlobalFile = %q, want %q", c.why, cfg.GlobalFile, c.wantGlobal)
		}
	}
}

// TestBrokenFiles: every bad input gives a one-line *Error naming the file,
// block and key, and never the value of an unknown or unparsable line.
func TestBrokenFiles(t *testing.T) {
	cases := []struct {
		file, section, key, msg string
	}{
		{"bad_port.cnf", "server2", "port", `"33o6" is not a number`},
		{"bad_port_range.cnf", "server1", "port", `"70000" is out of range (1-65535)`},
		{"no_hostname.cnf", "server3", "", "hostname is required"},
		{"unknown_key.cnf", "server1", "foo", "unknown parameter"},
		{"key_case.cnf", "server1", "Password", "unknown parameter"},
		{"bad_bool.cnf", "server1", "candidate_master", `"maybe" is not 0 or 1, and MHA 0.58 stops on it (a Perl error: not a number) where it compares it with 1; write 0 or 1`},
		{"dup_host.cnf", "", "", "[server1] and [server3] both use 127.0.0.11:3306"},
		{"no_servers.cnf", "", "", "no [server...] block is defined"},
		{"bad_ping_type.cnf", "server default", "ping_type", `"PONG" is not a ping type (use CONNECT, SELECT or INSERT)`},
		{"bad_ping_interval.cnf", "server default", "ping_interval", `"0" is not a positive integer`},
		{"bad_ssh_timeout.cnf", "server1", "ssh_connection_timeout", `"-1" is not a number`},
		{"bad_block.cnf", "mysql1", "", `invalid block name (use "server default", server<name> or binlog<name>)`},
		{"bare_server_block.cnf", "server", "", `invalid block name (use "server default", server<name> or binlog<name>)`},
		{"syntax_error.cnf", "", "", "line 3: syntax error: neither a [block] header nor key=value"},
		{"colon_delimiter.cnf", "", "", "line 3: syntax error: neither a [block] header nor key=value"},
		{"outside_block.cnf", "", "", "parameters outside any [block]"},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			file := filepath.Join("testdata", "broken", c.file)
			_, err := Load(context.Background(), file, testOptions())
			if err == nil {
				t.Fatal("no error")
			}
			ce := asConfigError(t, err)
			if ce.File != file || ce.Section != c.section || ce.Key != c.key || ce.Msg != c.msg {
				t.Errorf("got %+v, want section %q key %q msg %q", *ce, c.section, c.key, c.msg)
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") || strings.Contains(msg, "topsecretvalue") || !strings.HasPrefix(msg, file+": ") {
				t.Errorf("bad message %q", msg)
			}
		})
	}
}

// TestErrorFormat pins the exact one-line layout of errors.
func TestErrorFormat(t *testing.T) {
	cases := []struct {
		err  Error
		want string
	}{
		{Error{File: "app1.cnf", Section: "server2", Key: "port", Msg: `"33o6" is not a number`}, `app1.cnf: [server2] port: "33o6" is not a number`},
		{Error{File: "app1.cnf", Section: "server3", Msg: "hostname is required"}, `app1.cnf: [server3]: hostname is required`},
		{Error{File: "app1.cnf", Msg: "no [server...] block is defined"}, `app1.cnf: no [server...] block is defined`},
		{Error{File: "app1.cnf", Section: "server1", Key: "hostname", Msg: `cannot resolve "x"`, Err: errors.New("no such host")},
			`app1.cnf: [server1] hostname: cannot resolve "x": no such host`},
	}
	for _, c := range cases {
		if got := c.err.Error(); got != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
	}
}

// TestReadErrors: a missing application file is an I/O error naming the
// file; a directory is a configuration error (see TestSpecialFilesRefused).
func TestReadErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "app9.cnf")
	_, err := Load(context.Background(), missing, testOptions())
	if !errors.Is(err, fs.ErrNotExist) || !strings.HasPrefix(err.Error(), "read "+missing+": ") {
		t.Errorf("missing file: %v", err)
	}
	dir := t.TempDir()
	_, err = Load(context.Background(), dir, testOptions())
	if err == nil || err.Error() != dir+": is a directory, not a regular file" {
		t.Errorf("directory: %v", err)
	}
}

// TestResolve covers the address rules: ip wins, IP literals are not looked
// up, ssh_ip follows ssh_host, and resolver failures are errors on the key.
func TestResolve(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		why, block, wantIP, wantSSHIP, wantErrKey string
	}{
		{"hostname resolved when ip is unset", "hostname=h1", "127.0.0.1", "127.0.0.1", ""},
		{"ip wins over hostname", "hostname=h1\nip=127.0.0.9", "127.0.0.9", "127.0.0.9", ""},
		{"an IP literal is not looked up", "hostname=127.0.0.7", "127.0.0.7", "127.0.0.7", ""},
		{"an IPv6 literal is not looked up", "hostname=::1", "::1", "::1", ""},
		{"ssh_ip follows a different ssh_host", "hostname=h1\nssh_host=h2", "127.0.0.1", "127.0.0.2", ""},
		{"ssh_ip itself is ignored, as in MHA", "hostname=h1\nssh_ip=10.0.0.1", "127.0.0.1", "127.0.0.1", ""},
		{"unresolvable hostname", "hostname=nowhere", "", "", "hostname"},
		{"unresolvable ssh_host", "hostname=h1\nssh_host=nowhere", "", "", "ssh_host"},
	}
	for i, c := range cases {
		file := writeFile(t, dir, "r.cnf", "[server1]\n"+c.block+"\n")
		cfg, err := Load(context.Background(), file, testOptions())
		if c.wantErrKey != "" {
			if err == nil || asConfigError(t, err).Key != c.wantErrKey {
				t.Errorf("%d %s: err = %v", i, c.why, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%d %s: %v", i, c.why, err)
			continue
		}
		if s := cfg.Servers[0]; s.IP != c.wantIP || s.SSHIP != c.wantSSHIP {
			t.Errorf("%d %s: IP %q SSHIP %q", i, c.why, s.IP, s.SSHIP)
		}
	}
	if got := (Server{IP: "::1", Port: 3306}).Addr(); got != "[::1]:3306" {
		t.Errorf("IPv6 Addr = %q", got)
	}
	if got := (Server{Hostname: "db1", Port: 3307}).Addr(); got != "db1:3307" {
		t.Errorf("Addr without IP = %q", got)
	}
}

// TestIPMustBeAnAddress: ip ends up in commands run on the replicas' hosts,
// so anything but an IP address is a one-line error naming the key.
func TestIPMustBeAnAddress(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		why, value, wantIP, wantMsg string
	}{
		{"an IPv4 address", "10.0.0.5", "10.0.0.5", ""},
		{"an IPv6 address", "2001:db8::5", "2001:db8::5", ""},
		{"quotes are removed first, as MHA does", `"10.0.0.6"`, "10.0.0.6", ""},
		{"empty: hostname is resolved, as in MHA", "", "127.0.0.1", ""},
		{"a host name is not an address", "db1.example.com", "", `"db1.example.com" is not an IP address (a host name belongs in hostname)`},
		{"a shell command after an address", "10.0.0.5;reboot", "", `"10.0.0.5;reboot" is not an IP address (a host name belongs in hostname)`},
		{"an option smuggled in", "10.0.0.5 -oProxyCommand=x", "", `"10.0.0.5 -oProxyCommand=x" is not an IP address (a host name belongs in hostname)`},
		{"an octet out of range", "10.0.0.256", "", `"10.0.0.256" is not an IP address (a host name belongs in hostname)`},
		{"leading zeros are ambiguous (octal for some tools)", "10.0.0.05", "", `"10.0.0.05" is not an IP address (a host name belongs in hostname)`},
		{"an IPv6 zone is not part of an address", "fe80::1%eth0", "", `"fe80::1%eth0" is not an IP address (a host name belongs in hostname)`},
		{"blanks kept by quotes", `" 10.0.0.5"`, "", `" 10.0.0.5" is not an IP address (a host name belongs in hostname)`},
	}
	for _, c := range cases {
		file := writeFile(t, dir, "ip.cnf", "[server1]\nhostname=h1\nip="+c.value+"\n")
		cfg, err := Load(context.Background(), file, testOptions())
		if c.wantMsg == "" {
			if err != nil || cfg.Servers[0].IP != c.wantIP {
				t.Errorf("%s: ip=%s: err %v", c.why, c.value, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: ip=%s accepted", c.why, c.value)
			continue
		}
		ce := asConfigError(t, err)
		if ce.File != file || ce.Section != "server1" || ce.Key != "ip" || ce.Msg != c.wantMsg || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: got %q", c.why, err)
		}
	}
}

// TestDefaultResolverReal uses the real system resolver on localhost.
func TestDefaultResolverReal(t *testing.T) {
	file := writeFile(t, t.TempDir(), "app.cnf", "[server1]\nhostname=localhost\n")
	cfg, err := Load(context.Background(), file, Options{NoGlobal: true})
	if err != nil {
		t.Fatal(err)
	}
	if ip := cfg.Servers[0].IP; ip != "127.0.0.1" && ip != "::1" {
		t.Errorf("localhost resolved to %q", ip)
	}
	if cfg.Servers[0].SSHUser == "" {
		t.Errorf("default ssh_user (current OS user) is empty")
	}
}

// TestInitConfLoadScript runs real scripts: their name=value output overrides
// the [server default] values but not the [serverN] ones.
func TestInitConfLoadScript(t *testing.T) {
	dir := t.TempDir()
	script := func(body string) string {
		path := filepath.Join(dir, "s"+time.Now().Format("150405.000000000")+".sh")
		if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
			t.Fatal(err)
		}
		return path
	}
	good := script("echo 'password=from script #1'\necho\necho 'ping_interval=7'\necho 'repl_password=\"quoted=pw\"'\n")
	app := writeFile(t, dir, "app1.cnf", "[server default]\ninit_conf_load_script="+good+
		"\npassword=app\nping_interval=2\nuser=mha\n[server1]\nhostname=h1\n[server2]\nhostname=h2\npassword=own\n")
	cfg := mustLoad(t, app, testOptions())
	s1, s2 := cfg.Servers[0], cfg.Servers[1]
	if s1.Password.Reveal() != "from script #1" || s1.PingInterval != 7 || s1.User != "mha" ||
		s1.ReplPassword.Reveal() != "quoted=pw" {
		t.Errorf("script did not override the defaults: %q %d %q %q", s1.Password.Reveal(), s1.PingInterval, s1.User, s1.ReplPassword.Reveal())
	}
	if s2.Password.Reveal() != "own" {
		t.Errorf("script overrode a [server2] value: %q", s2.Password.Reveal())
	}

	bad := []struct{ why, body, section, key, notIn string }{
		{"a failing script is an error with its stderr", "echo vault sealed >&2\nexit 3\n", "server default", "init_conf_load_script", ""},
		{"a line without = is an error that does not echo the line", "echo topsecretvalue\n", scriptSection, "", "topsecretvalue"},
		{"an unknown name is an error that does not echo the value", "echo pasword=topsecretvalue\n", scriptSection, "pasword", "topsecretvalue"},
		{"a bad value is an error on the key", "echo ping_type=PONG\n", scriptSection, "ping_type", ""},
	}
	for _, c := range bad {
		app := writeFile(t, dir, "bad.cnf", "[server default]\ninit_conf_load_script="+script(c.body)+"\n[server1]\nhostname=h1\n")
		_, err := Load(context.Background(), app, testOptions())
		if err == nil {
			t.Errorf("%s: no error", c.why)
			continue
		}
		ce := asConfigError(t, err)
		if ce.Section != c.section || ce.Key != c.key || (c.notIn != "" && strings.Contains(err.Error(), c.notIn)) {
			t.Errorf("%s: %v", c.why, err)
		}
		if c.key == "init_conf_load_script" && !strings.Contains(err.Error(), "exit status 3: vault sealed") {
			t.Errorf("%s: %v", c.why, err)
		}
	}

	// A script that writes without end is stopped at the limit of a
	// configuration file, not when memory runs out.
	app = writeFile(t, dir, "yes.cnf", "[server default]\ninit_conf_load_script="+script("exec yes password=x\n")+"\n[server1]\nhostname=h1\n")
	_, err := loadWithin(t, 20*time.Second, app, testOptions())
	if err == nil || !strings.Contains(err.Error(), "init_conf_load_script: script failed: run init_conf_load_script: its output is larger than 16 MiB") {
		t.Errorf("endless script: %v", err)
	}

	// A hung script is stopped by the context deadline.
	app = writeFile(t, dir, "hang.cnf", "[server default]\ninit_conf_load_script="+script("exec sleep 30\n")+"\n[server1]\nhostname=h1\n")
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = Load(ctx, app, testOptions())
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 1500*time.Millisecond {
		t.Errorf("hung script: err %v after %s", err, time.Since(start))
	}
}
