package node

import "testing"

func TestSSHConfigEndpoint(t *testing.T) {
	opts := func(s string) SSHOptions {
		o, err := ParseSSHOptions(s)
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	cases := []struct {
		why  string
		cfg  SSHConfig
		want string
	}{
		{why: "port 22 when none is given", cfg: SSHConfig{Host: "db1", User: "root"}, want: "root@db1:22"},
		{why: "ssh_options override ssh_port and ssh_user, as for a dial",
			cfg: SSHConfig{Host: "db1", Port: 2200, User: "root", Options: opts("-p 2222 -l mha")}, want: "mha@db1:2222"},
		{why: "an IPv6 host is bracketed like the address DialSSH connects to",
			cfg: SSHConfig{Host: "::1", Port: 2222, User: "u"}, want: "u@[::1]:2222"},
		{why: "another source address is another route: connections are not shared across it",
			cfg: SSHConfig{Host: "db1", User: "u", LocalAddr: "127.0.0.9"}, want: "u@db1:22 from 127.0.0.9"},
	}
	for _, c := range cases {
		got, err := c.cfg.Endpoint()
		if err != nil || got != c.want {
			t.Errorf("%s: Endpoint() = %q, %v; want %q", c.why, got, err, c.want)
		}
	}
	if _, err := (SSHConfig{}).Endpoint(); err == nil {
		t.Error("no host: want an error")
	}
}
