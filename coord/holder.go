package coord

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Sentinel errors callers can test with errors.Is.
var (
	// ErrHeld means another actor holds the cluster's lock; the error is a
	// *HeldError naming it.
	ErrHeld = errors.New("lock held by another actor")
	// ErrNoServer means servers were given and none of them answered, so
	// nothing proves that no other actor is at work.
	ErrNoServer = errors.New("no server answered")
	// ErrLost means a lock taken on a server is no longer held by this
	// actor (its connection was closed or killed, the server restarted).
	ErrLost = errors.New("server lock lost")
	// ErrJournalExists means a failover journal is already there: a
	// previous run did not finish.
	ErrJournalExists = errors.New("failover journal exists")
)

// Holder describes the actor holding a cluster's lock. It is written as
// JSON into the local lock file and into the gomha.actors row of every
// server.
type Holder struct {
	Host   string    `json:"host"`             // host name of the actor's machine
	PID    int       `json:"pid"`              // process id on Host
	Action string    `json:"action"`           // "failover", "switchover", "conf-host", ...
	Since  time.Time `json:"since"`            // when the lock was taken
	Detail string    `json:"detail,omitempty"` // free-form, e.g. the master being replaced
}

// IsZero reports whether h describes nobody: a lock taken by a process
// that has not written its description yet.
func (h Holder) IsZero() bool {
	return h.Host == "" && h.PID == 0 && h.Action == "" && h.Since.IsZero() && h.Detail == ""
}

// Describe returns a one-line description such as
// "failover by pid 4242 on host mgr1 since 15:04:05 (2 m 10 s ago)", with
// now the time the age is counted to.
func (h Holder) Describe(now time.Time) string {
	var b strings.Builder
	b.WriteString(orDefault(oneLine(h.Action), "an unnamed action"))
	if h.PID != 0 {
		fmt.Fprintf(&b, " by pid %d", h.PID)
	}
	if h.Host != "" {
		fmt.Fprintf(&b, " on host %s", oneLine(h.Host))
	}
	if !h.Since.IsZero() {
		fmt.Fprintf(&b, " since %s (%s ago)", clock(h.Since, now), Ago(now.Sub(h.Since)))
	}
	return b.String()
}

// HeldError is the error Acquire returns when another actor holds the
// lock. It wraps ErrHeld; its message is one line naming the holder.
type HeldError struct {
	App string
	// Server is the server whose named lock is taken ("host:port"); empty
	// for the local lock file.
	Server string
	// Holder is the holder as it described itself; zero when it did not
	// (yet): then Session says what the server knows of it.
	Holder Holder
	// Session describes the holder's connection when no description
	// matches it, e.g. "connection 42 of gomha from 127.0.0.5:53412".
	Session string
	// Path is the local lock file, for the local lock.
	Path string
	Now  time.Time // when the lock was found held, to count the holder's age
}

// Error returns e.g. "app1: failover by pid 4242 on host mgr1 since
// 15:04:05 (2 m 10 s ago) holds the lock".
func (e *HeldError) Error() string {
	var who string
	switch {
	case !e.Holder.IsZero():
		who = e.Holder.Describe(e.Now)
	case e.Session != "":
		who = oneLine(e.Session) + " (which left no description)"
	case e.Server != "":
		who = "a session that has just released it"
	default:
		who = "a process that has not described itself yet"
	}
	msg := fmt.Sprintf("%s: %s holds the lock", e.App, who)
	switch {
	case e.Server != "":
		msg += " on " + e.Server
	case e.Holder.IsZero() && e.Path != "":
		msg += " " + e.Path // nothing else to go by
	}
	if d := oneLine(e.Holder.Detail); d != "" {
		msg += ": " + d
	}
	return msg
}

// Unwrap makes errors.Is(err, ErrHeld) true.
func (e *HeldError) Unwrap() error { return ErrHeld }

// clock formats t as a time of day, with its date when it is not now's.
func clock(t, now time.Time) string {
	t = t.In(now.Location())
	if y, m, d := t.Date(); y == now.Year() && m == now.Month() && d == now.Day() {
		return t.Format("15:04:05")
	}
	return t.Format("2006-01-02 15:04:05")
}

// Ago formats a duration the way the holder messages do: "45 s",
// "2 m 10 s", "3 h 5 m", "2 d 3 h". Negative durations (clocks of two
// machines apart) read as "0 s".
func Ago(d time.Duration) string {
	s := int64(d.Round(time.Second) / time.Second)
	switch {
	case s <= 0:
		return "0 s"
	case s < 60:
		return fmt.Sprintf("%d s", s)
	case s < 3600:
		return fmt.Sprintf("%d m %d s", s/60, s%60)
	case s < 86400:
		return fmt.Sprintf("%d h %d m", s/3600, s%3600/60)
	}
	return fmt.Sprintf("%d d %d h", s/86400, s%86400/3600)
}

// oneLine keeps a free-form string on one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// maxApp bounds an app name: the server lock name "gomha_actor_<app>"
// must fit MariaDB's and MySQL's 64 characters.
const maxApp = 64 - len(lockPrefix)

// lockPrefix starts the name of every server lock.
const lockPrefix = "gomha_actor_"

// checkPlace refuses an empty manager_workdir (the files would land in
// whatever the current directory is) and a bad app name.
func checkPlace(workdir, app string) error {
	if workdir == "" {
		return errors.New("manager_workdir is empty")
	}
	return checkApp(app)
}

// checkApp refuses an app name that cannot name a file in the workdir or
// a server lock.
func checkApp(app string) error {
	switch {
	case app == "":
		return errors.New("app name is empty")
	case len(app) > maxApp:
		return fmt.Errorf("app name %q is longer than %d bytes", app, maxApp)
	case app == "." || app == ".." || strings.ContainsAny(app, "/\\\x00") || oneLine(app) != app:
		return fmt.Errorf("app name %q cannot name a file", app)
	}
	return nil
}
