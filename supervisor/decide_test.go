package supervisor

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/gomha/gomha/manager/config"
)

// cfgOf is a configuration of app watching servers ("127.0.1.11:3306").
func cfgOf(app string, servers ...string) *config.Config {
	c := &config.Config{App: app}
	for _, s := range servers {
		host, port, _ := strings.Cut(s, ":")
		var p int
		fmt.Sscan(port, &p)
		c.Servers = append(c.Servers, config.Server{Hostname: host, IP: host, Port: p})
	}
	return c
}

func TestDecide(t *testing.T) {
	a := cfgOf("a", "127.0.1.11:3306", "127.0.1.12:3306")
	b := cfgOf("b", "127.0.1.21:3306", "127.0.1.22:3306")
	running := func(id int, file string, cfg *config.Config, hash string) current {
		return current{ID: id, File: file, App: cfg.App, Servers: serverKeys(cfg), Hash: hash}
	}
	broken := errors.New("/d/a.cnf: [server1] port: \"33o6\" is not a number")
	tests := []struct {
		why   string
		cur   []current
		files []found
		want  string // "file:action[:id][:after ids]" joined by spaces
		err   string // in the rejected change's error
	}{
		{why: "the first reload starts every file",
			files: []found{{File: "/d/a.cnf", Cfg: a, Hash: "1"}, {File: "/d/b.cnf", Cfg: b, Hash: "1"}},
			want:  "/d/a.cnf:start /d/b.cnf:start"},
		{why: "an unchanged file is not touched, a new one starts",
			cur:   []current{running(1, "/d/a.cnf", a, "1")},
			files: []found{{File: "/d/a.cnf", Cfg: a, Hash: "1"}, {File: "/d/b.cnf", Cfg: b, Hash: "1"}},
			want:  "/d/a.cnf:keep:1 /d/b.cnf:start"},
		{why: "a changed file restarts only its unit",
			cur:   []current{running(1, "/d/a.cnf", a, "1"), running(2, "/d/b.cnf", b, "1")},
			files: []found{{File: "/d/a.cnf", Cfg: a, Hash: "2"}, {File: "/d/b.cnf", Cfg: b, Hash: "1"}},
			want:  "/d/a.cnf:restart:1 /d/b.cnf:keep:2"},
		{why: "a file no longer listed stops its unit",
			cur:   []current{running(1, "/d/a.cnf", a, "1"), running(2, "/d/b.cnf", b, "1")},
			files: []found{{File: "/d/a.cnf", Cfg: a, Hash: "1"}},
			want:  "/d/b.cnf:stop:2 /d/a.cnf:keep:1"},
		{why: "a broken file that runs keeps its previous configuration",
			cur:   []current{running(1, "/d/a.cnf", a, "1")},
			files: []found{{File: "/d/a.cnf", Err: broken}},
			want:  "/d/a.cnf:reject:1", err: "33o6"},
		{why: "a broken new file is not started and stops nothing",
			cur:   []current{running(1, "/d/a.cnf", a, "1")},
			files: []found{{File: "/d/a.cnf", Cfg: a, Hash: "1"}, {File: "/d/b.cnf", Err: errors.New("/d/b.cnf: line 1: syntax error")}},
			want:  "/d/a.cnf:keep:1 /d/b.cnf:reject", err: "syntax error"},
		{why: "a second file naming the same application is refused, the first listed wins",
			files: []found{{File: "/d/a.cnf", Cfg: a, Hash: "1"}, {File: "/e/a.cnf", Cfg: cfgOf("a", "127.0.1.31:3306"), Hash: "1"}},
			want:  "/d/a.cnf:start /e/a.cnf:reject", err: "app a is already watched from /d/a.cnf"},
		{why: "a second file naming a server already watched is refused: two apps would fail the same master over",
			files: []found{{File: "/d/a.cnf", Cfg: a, Hash: "1"}, {File: "/d/c.cnf", Cfg: cfgOf("c", "127.0.1.12:3306"), Hash: "1"}},
			want:  "/d/a.cnf:start /d/c.cnf:reject", err: "server 127.0.1.12:3306 is already watched from /d/a.cnf (app a)"},
		{why: "the file already running keeps its servers even when a new file comes first in the list",
			cur:   []current{running(1, "/d/z.cnf", cfgOf("z", "127.0.1.11:3306"), "1")},
			files: []found{{File: "/d/a.cnf", Cfg: a, Hash: "1"}, {File: "/d/z.cnf", Cfg: cfgOf("z", "127.0.1.11:3306"), Hash: "1"}},
			want:  "/d/z.cnf:keep:1 /d/a.cnf:reject", err: "127.0.1.11:3306"},
		{why: "a change that takes another running unit's server is refused; the unit keeps its previous configuration",
			cur:   []current{running(1, "/d/a.cnf", a, "1"), running(2, "/d/b.cnf", b, "1")},
			files: []found{{File: "/d/a.cnf", Cfg: cfgOf("a", "127.0.1.11:3306", "127.0.1.21:3306"), Hash: "2"}, {File: "/d/b.cnf", Cfg: b, Hash: "1"}},
			want:  "/d/a.cnf:reject:1 /d/b.cnf:keep:2", err: "127.0.1.21:3306"},
		{why: "a renamed file (new app, same servers) starts once the old unit has stopped",
			cur:   []current{running(1, "/d/a.cnf", a, "1")},
			files: []found{{File: "/d/a2.cnf", Cfg: cfgOf("a2", "127.0.1.11:3306", "127.0.1.12:3306"), Hash: "1"}},
			want:  "/d/a.cnf:stop:1 /d/a2.cnf:start:after1"},
		{why: "a file listed again while its old unit still stops starts after it",
			cur:   []current{{ID: 1, File: "/d/a.cnf", App: "a", Servers: serverKeys(a), Hash: "1", Stopping: true}},
			files: []found{{File: "/d/a.cnf", Cfg: a, Hash: "1"}},
			want:  "/d/a.cnf:start:after1"},
		{why: "an idle unit (stopped by request, or waiting for an operator) is started again by a reload",
			cur:   []current{{ID: 1, File: "/d/a.cnf", App: "a", Servers: serverKeys(a), Hash: "1", Idle: true}},
			files: []found{{File: "/d/a.cnf", Cfg: a, Hash: "1"}},
			want:  "/d/a.cnf:wake:1"},
		{why: "an empty list stops everything (the caller never passes one by mistake: an unreadable directory is not a reload)",
			cur:  []current{running(1, "/d/a.cnf", a, "1")},
			want: "/d/a.cnf:stop:1"},
	}
	for _, tc := range tests {
		t.Run(tc.why, func(t *testing.T) {
			var got []string
			var errs []string
			for _, c := range decide(tc.cur, tc.files) {
				s := c.File + ":" + c.Act.String()
				if c.ID != 0 {
					s += fmt.Sprintf(":%d", c.ID)
				}
				for _, id := range c.After {
					s += fmt.Sprintf(":after%d", id)
				}
				got = append(got, s)
				if c.Err != nil {
					errs = append(errs, c.Err.Error())
				}
			}
			if g := strings.Join(got, " "); g != tc.want {
				t.Errorf("got  %s\nwant %s", g, tc.want)
			}
			if tc.err != "" && (len(errs) != 1 || !strings.Contains(errs[0], tc.err)) {
				t.Errorf("errors %q, want one with %q", errs, tc.err)
			}
			if tc.err == "" && len(errs) > 0 {
				t.Errorf("unexpected errors %q", errs)
			}
		})
	}
}
