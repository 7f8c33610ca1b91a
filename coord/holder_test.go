package coord

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestAgo(t *testing.T) {
	cases := []struct {
		why  string
		d    time.Duration
		want string
	}{
		{"a holder's clock ahead of ours must not read as a negative age", -5 * time.Second, "0 s"},
		{"under a second rounds, it does not read as nothing", 600 * time.Millisecond, "1 s"},
		{"seconds alone under a minute", 45 * time.Second, "45 s"},
		{"the brief's example", 2*time.Minute + 10*time.Second, "2 m 10 s"},
		{"hours drop the seconds", 3*time.Hour + 5*time.Minute + 59*time.Second, "3 h 5 m"},
		{"a lock forgotten for days says so", 50 * time.Hour, "2 d 2 h"},
	}
	for _, c := range cases {
		if got := Ago(c.d); got != c.want {
			t.Errorf("%s: Ago(%s) = %q, want %q", c.why, c.d, got, c.want)
		}
	}
}

func TestHeldErrorMessage(t *testing.T) {
	now := time.Date(2026, 5, 4, 15, 6, 15, 0, time.Local)
	since := now.Add(-(2*time.Minute + 10*time.Second))
	h := Holder{Host: "mgr1", PID: 4242, Action: "failover", Since: since}
	cases := []struct {
		why  string
		err  *HeldError
		want string
	}{
		{"the local lock names its holder as the brief shows; the file is no news",
			&HeldError{App: "app1", Holder: h, Path: "/w/app1.lock", Now: now},
			"app1: failover by pid 4242 on host mgr1 since 15:04:05 (2 m 10 s ago) holds the lock"},
		{"a server lock names the server, and the detail follows",
			&HeldError{App: "app1", Server: "127.0.0.11:3306", Holder: Holder{Host: "mgr2", PID: 7, Action: "switchover",
				Since: since, Detail: "new master\n127.0.0.12"}, Now: now},
			"app1: switchover by pid 7 on host mgr2 since 15:04:05 (2 m 10 s ago) holds the lock on 127.0.0.11:3306: new master 127.0.0.12"},
		{"a lock taken yesterday shows its date",
			&HeldError{App: "app1", Holder: Holder{Host: "mgr1", PID: 1, Action: "conf-host", Since: now.Add(-25 * time.Hour)}, Now: now},
			"app1: conf-host by pid 1 on host mgr1 since 2026-05-03 14:06:15 (1 d 1 h ago) holds the lock"},
		{"a server lock taken by a session that wrote no row names the session",
			&HeldError{App: "app1", Server: "127.0.0.11:3306", Session: "connection 42 of gomha from 127.0.0.5:53412", Now: now},
			"app1: connection 42 of gomha from 127.0.0.5:53412 (which left no description) holds the lock on 127.0.0.11:3306"},
		{"a local holder between flock and its description is still a holder, and the file is all there is to name",
			&HeldError{App: "app1", Path: "/w/app1.lock", Now: now},
			"app1: a process that has not described itself yet holds the lock /w/app1.lock"},
	}
	for _, c := range cases {
		got := c.err.Error()
		if got != c.want {
			t.Errorf("%s:\n got %q\nwant %q", c.why, got, c.want)
		}
		if strings.Contains(got, "\n") {
			t.Errorf("%s: message is not one line", c.why)
		}
		if !errors.Is(c.err, ErrHeld) {
			t.Errorf("%s: does not wrap ErrHeld", c.why)
		}
	}
}

func TestCheckApp(t *testing.T) {
	cases := []struct {
		why string
		app string
		ok  bool
	}{
		{"an ordinary configuration base name", "app1", true},
		{"dots are common in base names", "db.prod-1", true},
		{"empty names no file", "", false},
		{"a slash would put the lock file elsewhere", "../app1", false},
		{"dot-dot would name the parent", "..", false},
		{"a newline would break the one-line messages", "app\n1", false},
		{"52 bytes is the longest whose lock name fits 64", strings.Repeat("a", 52), true},
		{"53 bytes would make GET_LOCK's name too long", strings.Repeat("a", 53), false},
	}
	for _, c := range cases {
		if err := checkApp(c.app); (err == nil) != c.ok {
			t.Errorf("%s: checkApp(%q) = %v, want ok=%v", c.why, c.app, err, c.ok)
		}
	}
}
