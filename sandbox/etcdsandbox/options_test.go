package etcdsandbox

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestOptionsWithDefaults(t *testing.T) {
	cases := []struct {
		name    string
		in      Options
		wantErr string // substring; "" means valid
		check   func(t *testing.T, o Options)
	}{
		{name: "defaults: 3 members on 127.0.2.1-3, ports 2379/2380, 100 ms/1 s", in: Options{Dir: "/tmp/e"},
			check: func(t *testing.T, o Options) {
				if !slices.Equal(o.Addrs, []string{"127.0.2.1", "127.0.2.2", "127.0.2.3"}) || o.ClientPort != 2379 || o.PeerPort != 2380 ||
					o.HeartbeatInterval != 100*time.Millisecond || o.ElectionTimeout != time.Second || o.Logger == nil || o.Binary == "" {
					t.Errorf("defaults: %+v", o)
				}
			}},
		{name: "relative dir made absolute", in: Options{Dir: "rel"},
			check: func(t *testing.T, o Options) {
				if !filepath.IsAbs(o.Dir) {
					t.Errorf("Dir %q", o.Dir)
				}
			}},
		{name: "members may be fewer or elsewhere in 127/8", in: Options{Dir: "/tmp/e", Addrs: []string{"127.0.2.7"}},
			check: func(t *testing.T, o Options) {
				if !slices.Equal(o.Addrs, []string{"127.0.2.7"}) {
					t.Errorf("Addrs %v", o.Addrs)
				}
			}},
		{name: "no dir", in: Options{}, wantErr: "Dir is required"},
		{name: "a comma in dir would split --initial-cluster", in: Options{Dir: "/tmp/a,b"}, wantErr: "must not contain"},
		{name: "a space in dir would break the pid marker", in: Options{Dir: "/tmp/a b"}, wantErr: "must not contain"},
		{name: "members stay on loopback", in: Options{Dir: "/tmp/e", Addrs: []string{"10.0.0.1"}}, wantErr: "not an IPv4 loopback"},
		{name: "IPv6 is not supported", in: Options{Dir: "/tmp/e", Addrs: []string{"::1"}}, wantErr: "not an IPv4 loopback"},
		{name: "two members on one address would collide", in: Options{Dir: "/tmp/e", Addrs: []string{"127.0.2.1", "127.0.2.1"}}, wantErr: "given twice"},
		{name: "client and peer on one port", in: Options{Dir: "/tmp/e", ClientPort: 2380}, wantErr: "two different ports"},
		{name: "port out of range", in: Options{Dir: "/tmp/e", PeerPort: 70000}, wantErr: "two different ports"},
		{name: "etcd refuses an election timeout under 5 heartbeats", in: Options{Dir: "/tmp/e", HeartbeatInterval: 300 * time.Millisecond, ElectionTimeout: time.Second}, wantErr: "at least 5 heartbeats"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o, err := tc.in.withDefaults()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, o)
		})
	}
}

func TestMemberArgs(t *testing.T) {
	o, err := Options{Dir: "/tmp/e", ClientPort: 12379, PeerPort: 12380}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	ms := o.members()
	m := ms[1]
	if m.Name != "etcd2" || m.ClientURL != "http://127.0.2.2:12379" || m.PeerURL != "http://127.0.2.2:12380" ||
		m.DataDir != "/tmp/e/etcd2/data" || m.LogPath != "/tmp/e/etcd2/etcd.log" {
		t.Fatalf("member 1: %+v", m)
	}
	args := strings.Join(m.args(ms, "tok", timing{HeartbeatMS: 100, ElectionMS: 1000}), " ")
	for _, want := range []string{
		"--name=etcd2",
		"--data-dir=/tmp/e/etcd2/data",
		"--listen-client-urls=http://127.0.2.2:12379",
		"--initial-cluster=etcd1=http://127.0.2.1:12380,etcd2=http://127.0.2.2:12380,etcd3=http://127.0.2.3:12380",
		"--initial-cluster-token=tok",
		"--heartbeat-interval=100",
		"--election-timeout=1000",
	} {
		if !strings.Contains(args, want) {
			t.Errorf("args lack %q: %s", want, args)
		}
	}
	if !strings.Contains(args, m.marker()) {
		t.Errorf("args lack the pid marker %q", m.marker())
	}
}

// With TLS a member serves clients on https with its own certificate and
// requires theirs; peers stay on http (the tests cut clients, not peers).
func TestMemberArgsTLS(t *testing.T) {
	o, err := Options{Dir: "/tmp/e", TLS: true}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	ms := o.members()
	m := ms[2]
	if m.ClientURL != "https://127.0.2.3:2379" || m.PeerURL != "http://127.0.2.3:2380" || hostPort(m.ClientURL) != "127.0.2.3:2379" ||
		m.CertFile != "/tmp/e/tls/etcd3.pem" || m.KeyFile != "/tmp/e/tls/etcd3-key.pem" || m.CAFile != "/tmp/e/tls/ca.pem" {
		t.Fatalf("member 2: %+v", m)
	}
	args := strings.Join(m.args(ms, "tok", timing{HeartbeatMS: 100, ElectionMS: 1000}), " ")
	for _, want := range []string{
		"--listen-client-urls=https://127.0.2.3:2379",
		"--advertise-client-urls=https://127.0.2.3:2379",
		"--cert-file=/tmp/e/tls/etcd3.pem", "--key-file=/tmp/e/tls/etcd3-key.pem",
		"--trusted-ca-file=/tmp/e/tls/ca.pem", "--client-cert-auth",
		"--listen-peer-urls=http://127.0.2.3:2380",
	} {
		if !strings.Contains(args, want) {
			t.Errorf("args lack %q: %s", want, args)
		}
	}
	plain, _ := Options{Dir: "/tmp/e"}.withDefaults()
	if args := strings.Join(plain.members()[0].args(ms, "tok", timing{}), " "); strings.Contains(args, "--cert-file") {
		t.Errorf("a plain member has TLS flags: %s", args)
	}
}

func TestLeaderOf(t *testing.T) {
	down := errors.New("connection refused")
	cases := []struct {
		name  string
		views []memberView
		want  int
	}{
		{"all agree", []memberView{{ID: 1, Leader: 2}, {ID: 2, Leader: 2}, {ID: 3, Leader: 2}}, 1},
		{"leader dead, survivors still name it: no leader", []memberView{{ID: 1, Leader: 2}, {Err: down}, {ID: 3, Leader: 2}}, -1},
		{"leader dead, new one elected by both survivors", []memberView{{ID: 1, Leader: 3}, {Err: down}, {ID: 3, Leader: 3}}, 2},
		{"one member alone names itself: no quorum", []memberView{{ID: 1, Leader: 1}, {Err: down}, {Err: down}}, -1},
		{"survivors disagree during an election", []memberView{{ID: 1, Leader: 0}, {Err: down}, {ID: 3, Leader: 3}}, -1},
		{"a lagging member still names the old leader", []memberView{{ID: 1, Leader: 1}, {ID: 2, Leader: 1}, {ID: 3, Leader: 2}}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := leaderOf(tc.views)
			if got != tc.want {
				t.Fatalf("leaderOf = %d, %v; want %d", got, err, tc.want)
			}
			if tc.want < 0 && !errors.Is(err, ErrNoLeader) {
				t.Fatalf("err = %v, want ErrNoLeader", err)
			}
		})
	}
}

func TestLogTail(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "etcd.log")
	lines := `{"level":"info","msg":"starting an etcd server"}
{"level":"fatal","msg":"discovery failed","error":"listen tcp 127.0.2.1:2380: bind: address already in use"}
{"level":"info","msg":"closed"}
`
	if err := os.WriteFile(p, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := logTail(p); !strings.Contains(got, "address already in use") || strings.Contains(got, "starting") {
		t.Errorf("logTail kept %q, want the fatal line only", got)
	}
	if err := os.WriteFile(p, []byte("a\nb\nc\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := logTail(p); got != "b | c" {
		t.Errorf("logTail without errors = %q, want the last two lines", got)
	}
	if got := logTail(filepath.Join(dir, "missing")); got != "" {
		t.Errorf("logTail of a missing file = %q", got)
	}
}
