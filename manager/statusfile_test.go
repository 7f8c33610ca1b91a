package manager

import (
	"context"
	"errors"
	"fmt"
	"github.com/gomha/gomha/coord"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

func TestStatusFileFormat(t *testing.T) {
	dir := t.TempDir()
	sf := NewStatusFile(dir, "app1")
	if got, want := sf.Path(), filepath.Join(dir, "app1.master_status.health"); got != want {
		t.Fatalf("Path = %q, want %q", got, want)
	}
	if err := sf.Set(StatusPingOK, "host1"); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("%d\t0:PING_OK\tmaster:host1\n", os.Getpid())
	if got := readFile(t, sf.Path()); got != want {
		t.Errorf("content = %q, want %q", got, want)
	}

	// In PING_OK only the mtime moves: set it in the past, Set again.
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(sf.Path(), old, old); err != nil {
		t.Fatal(err)
	}
	if err := sf.Set(StatusPingOK, "host1"); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(sf.Path()); time.Since(fi.ModTime()) > time.Minute {
		t.Errorf("mtime not touched by a second PING_OK: %v", fi.ModTime())
	}

	if err := sf.Set(StatusPingFailing, "host1"); err != nil {
		t.Fatal(err)
	}
	want = fmt.Sprintf("%d\t20:PING_FAILING\tmaster:host1\n", os.Getpid())
	if got := readFile(t, sf.Path()); got != want {
		t.Errorf("after a state change content = %q, want %q", got, want)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("temp files left in the workdir: %v", ents)
	}
	if err := sf.Remove(); err != nil {
		t.Fatal(err)
	}
	if err := sf.Remove(); err != nil {
		t.Errorf("second Remove: %v, want nil", err)
	}
	if _, err := os.Stat(sf.Path()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("status file still there after Remove: %v", err)
	}
}

func TestReadStatus(t *testing.T) {
	deadPID := finishedPID(t)
	me := os.Getpid()
	cases := []struct {
		why     string
		content string // "" = no file
		age     time.Duration
		claim   bool // this process holds the manager's presence lock
		want    StatusCode
		wantErr bool
	}{
		{"no file: the manager is not running", "", 0, true, StatusNotRunning, false},
		{"fresh PING_OK of the manager", fmt.Sprintf("%d\t0:PING_OK\tmaster:host1", me), 0, true, StatusPingOK, false},
		{"PING_OK older than ping_limit: the process may hang", fmt.Sprintf("%d\t0:PING_OK\tmaster:host1", me), time.Minute, true, StatusTimestampOld, false},
		{"an old mtime matters only in PING_OK", fmt.Sprintf("%d\t20:PING_FAILING\tmaster:host1", me), time.Minute, true, StatusPingFailing, false},
		{"a dead pid is not running, whatever the file says", fmt.Sprintf("%d\t0:PING_OK\tmaster:host1", deadPID), 0, false, StatusNotRunning, false},
		{"a live pid without the manager lock is a recycled pid: not running", fmt.Sprintf("%d\t0:PING_OK\tmaster:host1", me), 0, false, StatusNotRunning, false},
		{"a pid other than the lock holder's is not the manager", fmt.Sprintf("%d\t0:PING_OK\tmaster:host1", deadPID), 0, true, StatusNotRunning, false},
		{"failover states are read back", fmt.Sprintf("%d\t50:FAILOVER_RUNNING\tmaster:host1", me), 0, true, StatusFailoverRunning, false},
		{"a code and a name that disagree are malformed", fmt.Sprintf("%d\t0:PING_FAILED\tmaster:host1", me), 0, true, 0, true},
		{"garbage is malformed", "hello", 0, true, 0, true},
	}
	for _, tc := range cases {
		dir := t.TempDir()
		if tc.claim {
			p, err := coord.ClaimManager(dir, "app1")
			if err != nil {
				t.Fatal(err)
			}
			defer p.Release()
		}
		if tc.content != "" {
			p := StatusFilePath(dir, "app1")
			if err := os.WriteFile(p, []byte(tc.content+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			mt := time.Now().Add(-tc.age)
			if err := os.Chtimes(p, mt, mt); err != nil {
				t.Fatal(err)
			}
		}
		got, err := ReadStatus(dir, "app1", 10*time.Second)
		if tc.wantErr {
			if !errors.Is(err, ErrBadStatusFile) {
				t.Errorf("%s: err = %v, want ErrBadStatusFile", tc.why, err)
			}
			continue
		}
		if err != nil || got.Code != tc.want {
			t.Errorf("%s: got %v (%v), want %v", tc.why, got.Code, err, tc.want)
		}
		if tc.content != "" && got.Master != "host1" {
			t.Errorf("%s: master = %q, want host1", tc.why, got.Master)
		}
	}
}

func TestStatusMessages(t *testing.T) {
	cases := []struct {
		info StatusInfo
		want string
	}{
		{StatusInfo{Code: StatusPingOK, PID: 1234, Master: "host1"}, "app1 (pid:1234) is running(0:PING_OK), master:host1"},
		{StatusInfo{Code: StatusNotRunning}, "app1 is stopped(2:NOT_RUNNING)."},
		{StatusInfo{Code: StatusPingFailing, PID: 1, Master: "host1"}, "app1 master maybe down(20:PING_FAILING). master:host1"},
		{StatusInfo{Code: StatusPingFailed, PID: 1, Master: "host1"}, "app1 master maybe down(21:PING_FAILED). master:host1"},
		{StatusInfo{Code: StatusInitializingMonitor}, "app1 monitoring program is now on initialization phase(10:INITIALIZING_MONITOR). Wait for a while and try checking again."},
		{StatusInfo{Code: StatusConfigError}, "app1 servers are not correctly configured(31:CONFIG_ERROR)."},
		{StatusInfo{Code: StatusTimestampOld, Master: "host1"}, "app1 is running, but master_ping.health is too old(32:TIMESTAMP_OLD). Maybe process hangs? master:host1"},
		{StatusInfo{Code: StatusFailoverRunning, Master: "host1"}, "app1 master is down and failover is running(50:FAILOVER_RUNNING). master:host1"},
		{StatusInfo{Code: StatusFailoverError, Master: "host1"}, "app1 master is down and failover was not successful(51:FAILOVER_ERROR). master:host1"},
		{StatusInfo{Code: 99}, "Unexpected error on app1."},
		{StatusInfo{Code: StatusPingOK, PID: 1234, Standby: true}, "app1 (pid:1234) is running(0:PING_OK) as a standby: another manager leads app1, this one takes over when it goes."},
	}
	for _, tc := range cases {
		if got := tc.info.Message("app1"); got != tc.want {
			t.Errorf("Message(%v)\n got %q\nwant %q", tc.info.Code, got, tc.want)
		}
	}
}

// finishedPID returns the pid of a process that has exited and been reaped.
func finishedPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestStatusSeesActors: a failover that runs, whoever runs it (here a
// manual one: no manager, no status file), is FAILOVER_RUNNING; one that
// was interrupted (its journal left) is FAILOVER_ERROR until resumed.
func TestStatusSeesActors(t *testing.T) {
	dir := t.TempDir()
	st, err := ReadStatus(dir, "app1", 0)
	if err != nil || st.Code != StatusNotRunning {
		t.Fatalf("nothing running: %+v, %v", st, err)
	}
	lock, err := coord.Acquire(context.Background(), coord.Options{Workdir: dir, App: "app1", Action: "failover", Detail: "dead master 10.0.0.1:3306"})
	if err != nil {
		t.Fatal(err)
	}
	st, err = ReadStatus(dir, "app1", 0)
	if err != nil || st.Code != StatusFailoverRunning || st.PID != os.Getpid() || st.Master != "10.0.0.1:3306" {
		t.Errorf("a manual failover holding the lock: %+v, %v; want FAILOVER_RUNNING by this pid", st, err)
	}
	j, err := coord.OpenJournal(dir, "app1")
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Append(coord.Entry{Step: "failover", Server: "10.0.0.1:3306"}); err != nil {
		t.Fatal(err)
	}
	j.Close()
	if err := lock.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	st, err = ReadStatus(dir, "app1", 0)
	if err != nil || st.Code != StatusFailoverError || st.Master != "10.0.0.1:3306" {
		t.Errorf("an interrupted failover: %+v, %v; want FAILOVER_ERROR", st, err)
	}
}

// TestStatusStandby: a manager waiting for the leadership holds the
// presence as a standby; check status says so while it does, and
// NOT_RUNNING once it let go.
func TestStatusStandby(t *testing.T) {
	dir := t.TempDir()
	p, err := coord.ClaimStandby(dir, "app1")
	if err != nil {
		t.Fatal(err)
	}
	st, err := ReadStatus(dir, "app1", 0)
	if err != nil || !st.Standby || st.Code != StatusPingOK || st.PID != os.Getpid() {
		t.Errorf("standing by: %+v, %v", st, err)
	}
	// A status file its process left from the time it led does not hide it.
	if err := NewStatusFile(dir, "app1").Set(StatusInitializingMonitor, "host1"); err != nil {
		t.Fatal(err)
	}
	if st, err := ReadStatus(dir, "app1", 0); err != nil || !st.Standby || st.Code != StatusPingOK {
		t.Errorf("standing by, with an old status file of its own: %+v, %v", st, err)
	}
	if _, err := coord.ClaimManager(dir, "app1"); !errors.Is(err, coord.ErrHeld) {
		t.Errorf("a second manager in the standby's workdir: err = %v, want ErrHeld", err)
	}
	if err := p.Release(); err != nil {
		t.Fatal(err)
	}
	if st, err = ReadStatus(dir, "app1", 0); err != nil || st.Standby || st.Code != StatusNotRunning { // the old file's pid holds nothing
		t.Errorf("after the standby let go: %+v, %v", st, err)
	}
}
