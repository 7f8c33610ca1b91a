package sandbox

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/ini.v1"

	"github.com/gomha/gomha/sandbox/internal/netfilter"
)

func TestOptionsWithDefaults(t *testing.T) {
	cases := []struct {
		name    string
		why     string
		opts    Options
		wantErr bool
		check   func(t *testing.T, o Options)
	}{
		{name: "defaults", why: "the demo relies on 127.0.0.11.. and ROW",
			opts: Options{Dir: "rel", Hosts: 3},
			check: func(t *testing.T, o Options) {
				if !filepath.IsAbs(o.Dir) || o.Subnet != "127.0.0" || o.BaseOctet != 10 || o.BinlogFormat != "ROW" || o.Logger == nil {
					t.Errorf("defaults not applied: %+v", o)
				}
			}},
		{name: "lower-case format", why: "a CLI flag may come in lower case",
			opts:  Options{Dir: "/x", Hosts: 2, BinlogFormat: "mixed"},
			check: func(t *testing.T, o Options) { assertEq(t, o.BinlogFormat, "MIXED") }},
		{name: "one host", why: "replication needs a master and a replica", opts: Options{Dir: "/x", Hosts: 1}, wantErr: true},
		{name: "no dir", why: "Up must never scatter files in the cwd by accident", opts: Options{Hosts: 2}, wantErr: true},
		{name: "outside loopback", why: "tests may only use 127.0.0.0/8", opts: Options{Dir: "/x", Hosts: 2, Subnet: "10.0.0"}, wantErr: true},
		{name: "octet overflow", why: "host addresses must stay valid", opts: Options{Dir: "/x", Hosts: 3, BaseOctet: 252}, wantErr: true},
		{name: "bad format", why: "mariadbd would refuse to start much later", opts: Options{Dir: "/x", Hosts: 2, BinlogFormat: "JSON"}, wantErr: true},
		{name: "multi-line extra", why: "a newline could inject a section into my.cnf", opts: Options{Dir: "/x", Hosts: 2, ExtraMyCnf: []string{"a=1\n[client]"}}, wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o, err := tc.opts.withDefaults()
			if (err != nil) != tc.wantErr {
				t.Fatalf("%s: err=%v, wantErr=%v", tc.why, err, tc.wantErr)
			}
			if tc.check != nil {
				tc.check(t, o)
			}
		})
	}
}

func assertEq[T comparable](t *testing.T, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("got %v, want %v", got, want)
	}
}

func testCluster(t *testing.T, hosts int) *Cluster {
	t.Helper()
	o, err := Options{Dir: "/sb", Hosts: hosts, BaseOctet: 60}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	return &Cluster{Dir: o.Dir, Hosts: hostsFor(o), User: AdminUser, Password: AdminPass,
		ReplUser: ReplUser, ReplPassword: ReplPass, SSHKey: "/sb/ssh/id_ed25519", KnownHosts: "/sb/ssh/known_hosts"}
}

// TestAppConfIni checks that the MHA file parses the way manager/config will
// read it: '#' and spaces inside values survive, one [serverN] per host.
func TestAppConfIni(t *testing.T) {
	c := testCluster(t, 3)
	f, err := ini.LoadSources(ini.LoadOptions{IgnoreInlineComment: true}, []byte(appConf(c)))
	if err != nil {
		t.Fatal(err)
	}
	def := f.Section("server default")
	assertEq(t, def.Key("password").String(), AdminPass)
	assertEq(t, def.Key("repl_password").String(), ReplPass)
	assertEq(t, def.Key("ssh_options").String(), "-i /sb/ssh/id_ed25519 -o UserKnownHostsFile=/sb/ssh/known_hosts")
	n := 0
	for _, s := range f.Sections() {
		if strings.HasPrefix(s.Name(), "server") && s.Name() != "server default" {
			n++
		}
	}
	assertEq(t, n, 3)
	assertEq(t, f.Section("server2").Key("hostname").String(), "127.0.0.62")
	assertEq(t, f.Section("server2").Key("master_binlog_dir").String(), "/sb/host2/binlog")
}

func TestMyCnf(t *testing.T) {
	h := testCluster(t, 2).Hosts[1]
	cnf := myCnf(h, "MIXED", []string{"binlog_checksum=NONE"})
	f, err := ini.LoadSources(ini.LoadOptions{AllowBooleanKeys: true}, []byte(cnf))
	if err != nil {
		t.Fatal(err)
	}
	s := f.Section("mysqld")
	for k, want := range map[string]string{ // each is something the brief or MHA relies on
		"bind-address":     "127.0.0.62",
		"server_id":        "102",
		"log-bin":          "/sb/host2/binlog/mysql-bin",
		"relay-log":        "/sb/host2/data/relay-bin",
		"relay_log_purge":  "0",
		"binlog_format":    "MIXED",
		"gtid_strict_mode": "ON",
		"report_host":      "127.0.0.62",
		"binlog_checksum":  "NONE",
	} {
		assertEq(t, s.Key(k).String(), want)
	}
	if s.HasKey("read_only") {
		t.Error("read_only must stay runtime-only so a promoted replica can be made writable")
	}
}

func TestKnownHostsLine(t *testing.T) {
	cases := []struct {
		why, pub, want string
		port           int
		wantErr        bool
	}{
		{why: "port 22 uses the bare address, comment dropped", pub: "ssh-ed25519 AAAAkey gomha-sandbox-host1\n", port: 22, want: "127.0.0.11 ssh-ed25519 AAAAkey\n"},
		{why: "other ports need the [addr]:port form", pub: "ssh-ed25519 AAAAkey", port: 2222, want: "[127.0.0.11]:2222 ssh-ed25519 AAAAkey\n"},
		{why: "an empty .pub file is an error, not an empty line", pub: "", port: 22, wantErr: true},
	}
	for _, tc := range cases {
		got, err := knownHostsLine(Host{Name: "host1", Addr: "127.0.0.11", SSHPort: tc.port}, tc.pub)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("%s: got %q, %v", tc.why, got, err)
		}
	}
}

func TestParseNftRules(t *testing.T) {
	out := `table inet gomha_sandbox { # handle 7
	chain in_other { # handle 1
		type filter hook input priority filter - 10; policy accept;
		ip saddr 127.0.0.1 drop comment "gomha_sandbox 127.0.0.1" # handle 2
	}
	chain in_mine { # handle 3
		type filter hook input priority filter - 10; policy accept;
		ip saddr 127.0.0.11 drop comment "gomha_sandbox 127.0.0.11" # handle 4
		ip daddr 127.0.0.11 drop comment "gomha_sandbox 127.0.0.11" # handle 5
	}
}
`
	cases := []struct {
		why, chain string
		wantOK     bool
		want       map[string]string
	}{
		{why: "only our chain's rules count, another sandbox's are left alone", chain: "in_mine", wantOK: true,
			want: map[string]string{"127.0.0.11": "4,5", "127.0.0.1": ""}},
		{why: "127.0.0.1 must not match 127.0.0.11 by prefix", chain: "in_other", wantOK: true,
			want: map[string]string{"127.0.0.1": "2", "127.0.0.11": ""}},
		{why: "a missing chain is reported so Down skips deleting it", chain: "in_none", wantOK: false,
			want: map[string]string{"127.0.0.11": ""}},
	}
	for _, tc := range cases {
		rules, ok := netfilter.ParseRules(out, tc.chain, ruleTagPrefix)
		if ok != tc.wantOK {
			t.Errorf("%s: ok=%v", tc.why, ok)
		}
		for addr, want := range tc.want {
			if got := strings.Join(rules[addr], ","); got != want {
				t.Errorf("%s: %s: got handles %q, want %q", tc.why, addr, got, want)
			}
		}
	}
}

func TestHostLookup(t *testing.T) {
	c := testCluster(t, 3)
	for _, key := range []string{"host2", "127.0.0.62"} {
		h, err := c.Host(key)
		if err != nil || h.Name != "host2" {
			t.Errorf("Host(%q) = %v, %v; by name and by address must both work", key, h.Name, err)
		}
	}
	if _, err := c.Host("host9"); !errors.Is(err, ErrUnknownHost) {
		t.Errorf("Host(host9) err = %v, want ErrUnknownHost", err)
	}
}
