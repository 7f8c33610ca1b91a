package manager

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gomha/gomha/internal/testkit"
	"github.com/gomha/gomha/sandbox"
)

// testLockHeld: two managers must not watch one master; a clean stop
// removes the status file.
func (e *monitorEnv) testLockHeld(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	opts := e.options(t, &testkit.Buffer{})
	res := e.start(ctx, t, opts)
	second := e.options(t, &testkit.Buffer{})
	sctx, scancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer scancel()
	if _, err := NewMonitor(second).Run(sctx); !errors.Is(err, ErrLockHeld) {
		t.Errorf("second monitor on the same master: err=%v, want ErrLockHeld", err)
	}
	cancel()
	if r := <-res; !errors.Is(r.err, context.Canceled) {
		t.Errorf("first monitor after cancel: err=%v, want context.Canceled", r.err)
	}
	if _, err := os.Stat(opts.Status.Path()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("status file kept after a clean stop: %v", err)
	}
}

// testPingTypes: CONNECT and INSERT pings keep the master PING_OK; INSERT
// writes MHA's infra.chk_masterha row.
func (e *monitorEnv) testPingTypes(t *testing.T) {
	for _, pt := range []string{PingConnect, PingInsert} {
		ctx, cancel := context.WithCancel(t.Context())
		opts := e.options(t, &testkit.Buffer{})
		opts.Master.PingType = pt
		res := e.start(ctx, t, opts)
		time.Sleep(1500 * time.Millisecond) // a few more pings
		if !waitStatus(ctx, opts.Status, StatusPingOK, time.Second) {
			t.Errorf("%s: status not PING_OK", pt)
		}
		cancel()
		if r := <-res; !errors.Is(r.err, context.Canceled) {
			t.Errorf("%s: Run: %v, want context.Canceled", pt, r.err)
		}
	}
	db, err := e.c.DB(t.Context(), "host1")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var val int64
	if err := db.QueryRowContext(t.Context(), "SELECT val FROM infra.chk_masterha WHERE `key` = 1").Scan(&val); err != nil {
		t.Fatalf("INSERT ping row: %v", err)
	}
	if age := time.Now().Unix() - val; age < 0 || age > 60 {
		t.Errorf("INSERT ping row holds %d, %ds from now", val, age)
	}
}

// testMysqldKilled: mysqld crashes, its host stays up.
func (e *monitorEnv) testMysqldKilled(t *testing.T) {
	defer e.restore(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	opts := e.options(t, &testkit.Buffer{})
	res := e.start(ctx, t, opts)
	killed := time.Now()
	if err := e.c.KillMysqld(ctx, "host1"); err != nil {
		t.Fatal(err)
	}
	v := waitVerdict(t, res, 30*time.Second)
	t.Logf("mysqld killed: detection %v after the first failure, %v after the kill; reason: %s",
		v.DetectionTime().Round(time.Millisecond), v.Confirmed.Sub(killed).Round(time.Millisecond), v.Reason)
	for _, ev := range v.Evidence {
		t.Logf("  evidence: %s", ev)
	}
	if !v.Dead || !strings.Contains(v.Reason, "refused") || !strings.Contains(v.Reason, "2/2 replicas") {
		t.Errorf("verdict = %+v, want dead, refused, 2/2 replicas agreeing", v)
	}
	// With a refused connection and every replica agreeing, the monitor
	// does not wait for the SSH login; when it did get an answer, the host
	// must be reachable.
	if v.SSHChecked && !v.SSHReachable {
		t.Errorf("SSHReachable = false, want true: only mysqld died")
	}
	if v.Master.Host != "127.0.0.101" || v.FirstFailure.IsZero() || v.Confirmed.Before(v.FirstFailure) {
		t.Errorf("verdict master/times wrong: %+v", v)
	}
	if len(v.Evidence) != 5 {
		t.Errorf("evidence has %d lines, want 5 (manager, 2 replicas, secondary, ssh)", len(v.Evidence))
	}
	if !waitStatus(ctx, opts.Status, StatusPingFailed, time.Second) {
		t.Errorf("status file does not say 21:PING_FAILED")
	}
}

// testHostKilled: mysqld and sshd both gone.
func (e *monitorEnv) testHostKilled(t *testing.T) {
	defer e.restore(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	res := e.start(ctx, t, e.options(t, &testkit.Buffer{}))
	// KillHost stops mysqld before sshd; the monitor, alerted in
	// milliseconds, could still reach the dying sshd. Kill sshd first (a
	// process this test started, by its recorded pid) so the scenario is a
	// host already gone.
	master := e.c.Master()
	pids, err := e.c.PIDs("host1")
	if err != nil || pids.SSHD == 0 {
		t.Fatalf("sshd pid of host1: %+v, %v", pids, err)
	}
	if err := syscall.Kill(pids.SSHD, syscall.SIGKILL); err != nil {
		t.Fatalf("kill sshd: %v", err)
	}
	sshAddr := net.JoinHostPort(master.Addr, strconv.Itoa(master.SSHPort))
	if !pollUntil(ctx, 5*time.Second, func() bool {
		c, err := net.DialTimeout("tcp", sshAddr, time.Second)
		if err == nil {
			c.Close()
		}
		return err != nil
	}) {
		t.Fatalf("sshd still answers after SIGKILL")
	}
	killed := time.Now()
	if err := e.c.KillHost(ctx, "host1"); err != nil {
		t.Fatal(err)
	}
	v := waitVerdict(t, res, 30*time.Second)
	t.Logf("host killed: detection %v after the first failure, %v after the kill; reason: %s",
		v.DetectionTime().Round(time.Millisecond), v.Confirmed.Sub(killed).Round(time.Millisecond), v.Reason)
	for _, ev := range v.Evidence {
		t.Logf("  evidence: %s", ev)
	}
	if !v.Dead || v.SSHReachable {
		t.Errorf("verdict = %+v, want dead with SSHReachable=false", v)
	}
}

// testSecondaryCheck: exit 3 vetoes the failover for as long as it says so;
// exit 0 lets it happen. The script gets MHA's arguments, and the password
// only in its environment.
func (e *monitorEnv) testSecondaryCheck(t *testing.T) {
	defer e.restore(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	code, argsFile, envFile := filepath.Join(dir, "code"), filepath.Join(dir, "args"), filepath.Join(dir, "env")
	script := filepath.Join(dir, "secondary_check")
	body := fmt.Sprintf("#!/bin/sh\nprintf '%%s\\n' \"$0\" \"$@\" > %s\nprintf '%%s' \"$MHA_MASTER_PASSWORD\" > %s\nexit $(cat %s)\n", argsFile, envFile, code)
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(code, []byte("3"), 0o644); err != nil {
		t.Fatal(err)
	}
	logs := &testkit.Buffer{}
	opts := e.options(t, logs)
	opts.Master.SecondaryCheckScript = script
	res := e.start(ctx, t, opts)
	if err := e.c.KillMysqld(ctx, "host1"); err != nil {
		t.Fatal(err)
	}
	if !pollUntil(ctx, 10*time.Second, func() bool { return strings.Contains(logs.String(), "secondary check exit 3") }) {
		t.Fatalf("the monitor never logged the secondary check's veto")
	}
	select {
	case r := <-res:
		t.Fatalf("verdict while the secondary check says 3: %+v, %v", r.v, r.err)
	case <-time.After(2 * time.Second):
	}
	if err := os.WriteFile(code, []byte("0"), 0o644); err != nil {
		t.Fatal(err)
	}
	v := waitVerdict(t, res, 20*time.Second)
	if !v.Dead || !strings.Contains(v.Reason, "secondary check agrees") {
		t.Errorf("verdict = %+v, want dead with the secondary check agreeing", v)
	}
	args, env := readFile(t, argsFile), readFile(t, envFile)
	m := opts.Master
	for _, want := range []string{"--user=root", "--master_host=127.0.0.101", "--master_ip=127.0.0.101", "--master_port=3306",
		"--master_user=" + sandbox.AdminUser, "--ping_type=SELECT", "--options=" + m.SSHOptions} {
		if !strings.Contains(args, want+"\n") {
			t.Errorf("secondary check arguments lack %q:\n%s", want, args)
		}
	}
	if strings.Contains(args, sandbox.AdminPass) || strings.Contains(args, "password") {
		t.Errorf("the password is on the secondary check's command line:\n%s", args)
	}
	if env != sandbox.AdminPass {
		t.Errorf("MHA_MASTER_PASSWORD = %q, want the admin password", env)
	}
	if strings.Contains(logs.String(), sandbox.AdminPass) {
		t.Errorf("the password appears in the log")
	}
}

// testIsolatedFromManager: the manager (dialing from 127.0.0.2) is cut off
// from the master while the replicas still see it: no failover.
func (e *monitorEnv) testIsolatedFromManager(t *testing.T) {
	defer e.restore(t)
	ctx, cancel := context.WithTimeout(t.Context(), 12*time.Second)
	defer cancel()
	logs := &testkit.Buffer{}
	opts := e.options(t, logs)
	opts.LocalAddr = "127.0.0.2"
	res := e.start(ctx, t, opts)
	if err := e.c.IsolateFrom(ctx, "host1", "127.0.0.2"); err != nil {
		t.Fatal(err)
	}
	sawFailing := waitStatus(ctx, opts.Status, StatusPingFailing, 5*time.Second)
	r := <-res
	if !errors.Is(r.err, context.DeadlineExceeded) {
		t.Errorf("Run = %+v, %v; want no verdict until the context ends", r.v, r.err)
	}
	if !sawFailing {
		t.Errorf("status file never said 20:PING_FAILING")
	}
	if !strings.Contains(logs.String(), "unreachable from the manager but replicas still see it") {
		t.Errorf("the log does not say the master is unreachable from the manager only:\n%s", logs.String())
	}
}

// testIsolatedFromEveryone: the master is cut off the network; the replicas'
// IO threads still say Yes, but their port probe fails.
func (e *monitorEnv) testIsolatedFromEveryone(t *testing.T) {
	defer e.restore(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	res := e.start(ctx, t, e.options(t, &testkit.Buffer{}))
	cut := time.Now()
	if err := e.c.Isolate(ctx, "host1"); err != nil {
		t.Fatal(err)
	}
	v := waitVerdict(t, res, 30*time.Second)
	t.Logf("master isolated: detection %v after the first failure, %v after the cut; reason: %s",
		v.DetectionTime().Round(time.Millisecond), v.Confirmed.Sub(cut).Round(time.Millisecond), v.Reason)
	for _, ev := range v.Evidence {
		t.Logf("  evidence: %s", ev)
	}
	if !v.Dead || v.SSHReachable || !strings.Contains(v.Reason, "timed out") {
		t.Errorf("verdict = %+v, want dead (timed out), SSHReachable=false", v)
	}
}
