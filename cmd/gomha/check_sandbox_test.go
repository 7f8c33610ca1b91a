package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gomha/gomha/sandbox"
	"github.com/gomha/gomha/sandbox/sandboxtest"
)

// gomha runs the CLI in-process, under an MHA name when args[0] is one.
func gomha(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	argv := args
	if !strings.HasPrefix(args[0], "masterha_") {
		argv = append([]string{"gomha"}, args...)
	}
	code := run(ctx, argv, &out, &out)
	return code, out.String()
}

// gomhaStdout runs the command and returns its standard output alone (a
// JSON document with -o json), with the whole output for failure messages.
func gomhaStdout(t *testing.T, args ...string) (code int, stdout, all string) {
	t.Helper()
	var out, both bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	code = run(ctx, append([]string{"gomha"}, args...), io.MultiWriter(&out, &both), &both)
	return code, out.String(), both.String()
}

// upCluster starts a 3-host sandbox on 127.0.0.81-83 for this package.
func upCluster(t *testing.T, gtid bool) *sandbox.Cluster {
	t.Helper()
	return sandboxtest.Up(t, sandbox.Options{Hosts: 3, GTID: gtid, BaseOctet: 80})
}

// handConfig writes an MHA configuration by hand, in a style the sandbox does
// not use (global file, named blocks, quoted password), to show the commands
// need nothing but a configuration.
func handConfig(t *testing.T, c *sandbox.Cluster, password, knownHosts string) (app, global string) {
	t.Helper()
	dir := t.TempDir()
	global = filepath.Join(dir, "masterha_default.cnf")
	g := fmt.Sprintf("[server default]\nuser=%s\npassword=\"%s\"\nssh_user=root\nrepl_user=%s\nrepl_password=%s\n",
		c.User, password, c.ReplUser, c.ReplPassword)
	app = filepath.Join(dir, "db.cnf")
	var b strings.Builder
	fmt.Fprintf(&b, "# written by hand\n[server default]\nmanager_workdir=%s\nping_interval=1\n", dir)
	fmt.Fprintf(&b, "ssh_options=-i %s -o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes -o LogLevel=ERROR\n", c.SSHKey, knownHosts)
	for i, h := range c.Hosts {
		fmt.Fprintf(&b, "\n[server_db%d]\nhostname=%s\nport=%d\nmaster_binlog_dir=%s\n", i+1, h.Addr, h.Port, h.BinlogDir)
	}
	for f, s := range map[string]string{global: g, app: b.String()} {
		if err := os.WriteFile(f, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return app, global
}

func exec1(t *testing.T, c *sandbox.Cluster, host string, stmts ...string) {
	t.Helper()
	sandboxtest.Exec(t, c, host, stmts...)
}

func changeMaster(c *sandbox.Cluster, to sandbox.Host) string {
	return fmt.Sprintf("CHANGE MASTER TO MASTER_HOST='%s', MASTER_PORT=%d, MASTER_USER='%s', MASTER_PASSWORD='%s', MASTER_USE_GTID=slave_pos",
		to.Addr, to.Port, c.ReplUser, c.ReplPassword)
}

func TestCheckReplSandbox(t *testing.T) {
	c := upCluster(t, true)
	app, global := handConfig(t, c, c.Password, c.KnownHosts)
	h1, h2, h3 := c.Hosts[0], c.Hosts[1], c.Hosts[2]

	healthy := func(t *testing.T) {
		t.Helper()
		code, out := gomha(t, "masterha_check_repl", "--conf="+app, "--global_conf="+global)
		if code != 0 || !strings.HasSuffix(strings.TrimSpace(out), "MySQL Replication Health is OK.") {
			t.Fatalf("healthy cluster: exit %d\n%s", code, out)
		}
		if !strings.Contains(out, h1.Addr+"("+h1.Addr+":3306) (current master)\n +--"+h2.Addr) {
			t.Fatalf("topology tree missing:\n%s", out)
		}
		if strings.Contains(out, "heartbeat_too_long") {
			t.Fatalf("the sandbox's heartbeat period (half the ping_interval) is warned about:\n%s", out)
		}
	}
	t.Run("healthy", healthy)
	// As MHA: a SQL thread stopped by hand (no error) is a warning, not a
	// reason to refuse monitoring.
	t.Run("sql thread stopped without error", func(t *testing.T) {
		exec1(t, c, h2.Addr, "STOP SLAVE SQL_THREAD")
		code, out := gomha(t, "masterha_check_repl", "--conf="+app, "--global_conf="+global)
		exec1(t, c, h2.Addr, "START SLAVE SQL_THREAD")
		if code != 0 || !strings.Contains(out, "[warning]") || !strings.Contains(out, "SQL thread stopped without an error") {
			t.Fatalf("exit %d, want 0 with a warning naming the stopped SQL thread:\n%s", code, out)
		}
	})

	// A replica with MariaDB's default heartbeat period (30 s, here set by
	// hand) notices a silent master 30 times later than the ping_interval
	// (1 s): a warning naming it and the fix, the check still passes.
	t.Run("heartbeat period longer than ping_interval", func(t *testing.T) {
		exec1(t, c, h3.Addr, "STOP SLAVE", "CHANGE MASTER TO MASTER_HEARTBEAT_PERIOD=30", "START SLAVE")
		sandboxtest.WaitReplicating(t, c, h3.Addr)
		code, out := gomha(t, "masterha_check_repl", "--conf="+app, "--global_conf="+global)
		exec1(t, c, h3.Addr, "STOP SLAVE", "CHANGE MASTER TO MASTER_HEARTBEAT_PERIOD=0.5", "START SLAVE")
		sandboxtest.WaitReplicating(t, c, h3.Addr)
		want := h3.Addr + ":3306: heartbeat period 30s (MASTER_HEARTBEAT_PERIOD) is longer than the master's ping_interval 1s"
		if code != 0 || !strings.Contains(out, "[warning] "+want) || !strings.Contains(out, "MASTER_HEARTBEAT_PERIOD=0.5;") ||
			strings.Count(out, "[heartbeat_too_long]") != 1 {
			t.Fatalf("exit %d, want 0 with one warning %q and the fix:\n%s", code, want, out)
		}
	})

	cases := []struct {
		name, host, want string
		break_, mend     []string
		conf             func() (string, string)
	}{
		{name: "io thread stopped", host: h2.Addr, want: "io_thread_not_running",
			break_: []string{"STOP SLAVE IO_THREAD"}, mend: []string{"START SLAVE IO_THREAD"}},
		{name: "replica from elsewhere", host: h3.Addr, want: "replicates from " + h2.Addr + ":3306, not from the master " + h1.Addr,
			break_: []string{"STOP SLAVE", changeMaster(c, h2), "START SLAVE"},
			mend:   []string{"STOP SLAVE", changeMaster(c, h1), "START SLAVE"}},
		{name: "duplicate server id", host: h3.Addr, want: fmt.Sprintf("server_id %d is used by %s:3306, %s:3306", h2.ServerID, h2.Addr, h3.Addr),
			break_: []string{fmt.Sprintf("SET GLOBAL server_id=%d", h2.ServerID)},
			mend:   []string{fmt.Sprintf("SET GLOBAL server_id=%d", h3.ServerID)}},
		{name: "different filters", host: h3.Addr, want: "replication filters differ",
			break_: []string{"STOP SLAVE", "SET GLOBAL replicate_ignore_db='scratch'", "START SLAVE"},
			mend:   []string{"STOP SLAVE", "SET GLOBAL replicate_ignore_db=''", "START SLAVE"}},
		{name: "two writable servers", host: h3.Addr, want: "more than one writable master",
			break_: []string{"STOP SLAVE", "RESET SLAVE ALL", "SET GLOBAL read_only=OFF"},
			mend:   []string{changeMaster(c, h1), "START SLAVE", "SET GLOBAL read_only=ON"}},
		{name: "wrong password", want: "access denied",
			conf: func() (string, string) { return handConfig(t, c, "not the password", c.KnownHosts) }},
		{name: "failover hook status fails", want: "master_ip_failover_script status exited 1", host: h1.Addr,
			conf: func() (string, string) {
				a, g := handConfig(t, c, c.Password, c.KnownHosts)
				data, err := os.ReadFile(a)
				if err != nil {
					t.Fatal(err)
				}
				data = []byte(strings.Replace(string(data), "[server default]\n", "[server default]\nmaster_ip_failover_script=/bin/false\n", 1))
				if err := os.WriteFile(a, data, 0o600); err != nil {
					t.Fatal(err)
				}
				return a, g
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if len(tc.break_) > 0 {
				exec1(t, c, tc.host, tc.break_...)
			}
			a, g := app, global
			if tc.conf != nil {
				a, g = tc.conf()
			}
			code, out := gomha(t, "check", "repl", "--conf", a, "--global-conf", g)
			if len(tc.mend) > 0 {
				exec1(t, c, tc.host, tc.mend...)
			}
			if code != exitUnhealthy {
				t.Fatalf("exit %d, want %d\n%s", code, exitUnhealthy, out)
			}
			if !strings.Contains(out, "MySQL Replication Health is NOT OK!") || !strings.Contains(out, tc.want) {
				t.Fatalf("output does not name %q:\n%s", tc.want, out)
			}
			if tc.host != "" && !strings.Contains(out, tc.host) {
				t.Fatalf("output does not name host %s:\n%s", tc.host, out)
			}
			waitHealthy(t, app, global)
		})
	}
}

// waitHealthy waits (bounded) until the mended cluster checks OK again, so
// that one case's damage cannot leak into the next.
func waitHealthy(t *testing.T, app, global string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, out := gomha(t, "check", "repl", "--conf", app, "--global-conf", global)
		if code == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster did not recover:\n%s", out)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func TestCheckSSHSandbox(t *testing.T) {
	c := upCluster(t, false)
	app, global := handConfig(t, c, c.Password, c.KnownHosts)
	code, out := gomha(t, "masterha_check_ssh", "--conf="+app, "--global_conf="+global)
	if code != 0 || !strings.Contains(out, "All SSH connection tests passed successfully.") {
		t.Fatalf("healthy: exit %d\n%s", code, out)
	}

	t.Run("host key changed", func(t *testing.T) {
		kh := changedKnownHosts(t, c.KnownHosts, c.Hosts[2].Addr)
		a, g := handConfig(t, c, c.Password, kh)
		code, out := gomha(t, "check", "ssh", "--conf", a, "--global-conf", g)
		if code != exitUnhealthy || !strings.Contains(out, "server_db3") || !strings.Contains(strings.ToLower(out), "host key changed") {
			t.Fatalf("exit %d, want %d naming server_db3 and the changed key:\n%s", code, exitUnhealthy, out)
		}
		if strings.Count(out, "[error]   SSH connection to") != 1 {
			t.Fatalf("only server_db3 should fail:\n%s", out)
		}
	})

	t.Run("unknown host keys recorded only with --accept_new_host_keys", func(t *testing.T) {
		kh := filepath.Join(t.TempDir(), "known_hosts")
		if err := os.WriteFile(kh, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		a, g := handConfig(t, c, c.Password, kh)
		if code, out := gomha(t, "masterha_check_ssh", "--conf="+a, "--global_conf="+g); code != mhaFailure {
			t.Fatalf("hosts missing from known_hosts: exit %d, want %d\n%s", code, mhaFailure, out)
		}
		if code, out := gomha(t, "masterha_check_ssh", "--conf="+a, "--global_conf="+g, "--accept_new_host_keys"); code != 0 {
			t.Fatalf("--accept_new_host_keys: exit %d\n%s", code, out)
		}
		data, err := os.ReadFile(kh)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range c.Hosts {
			if !strings.Contains(string(data), h.Addr) {
				t.Errorf("known_hosts lacks %s:\n%s", h.Addr, data)
			}
		}
		if code, out := gomha(t, "check", "ssh", "--conf", a, "--global-conf", g); code != 0 {
			t.Fatalf("recorded keys are trusted next time: exit %d\n%s", code, out)
		}
	})

	t.Run("sshd down", func(t *testing.T) {
		pids, err := c.PIDs("host2")
		if err != nil || pids.SSHD == 0 {
			t.Fatalf("sshd pid of host2: %v %+v", err, pids)
		}
		if err := syscall.Kill(pids.SSHD, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		code, out := gomha(t, "masterha_check_ssh", "--conf="+app, "--global_conf="+global)
		if code != mhaFailure || !strings.Contains(out, "server_db2") || !strings.Contains(out, "SSH Configuration Check Failed!") {
			t.Fatalf("exit %d, want %d naming server_db2:\n%s", code, mhaFailure, out)
		}
		if strings.Count(out, "[error]   SSH connection to") != 1 {
			t.Fatalf("only server_db2 should fail:\n%s", out)
		}
	})
}

// changedKnownHosts returns a copy of known_hosts where addr's key is replaced
// by a freshly generated one.
func changedKnownHosts(t *testing.T, orig, addr string) string {
	t.Helper()
	dir := t.TempDir()
	key := filepath.Join(dir, "other")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v %s", err, out)
	}
	pub, err := os.ReadFile(key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(orig)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if strings.HasPrefix(l, addr+" ") {
			f := strings.Fields(string(pub))
			l = addr + " " + f[0] + " " + f[1]
		}
		lines = append(lines, l)
	}
	kh := filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(kh, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return kh
}
