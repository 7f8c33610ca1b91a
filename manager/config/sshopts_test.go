package config

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSSHOptionsChecked: Load parses ssh_options (after MHA's quote removal)
// with node's parser, and so do the -F file; what the SSH commands would
// refuse is a one-line *Error naming file, block and ssh_options, so every
// command that loads the configuration refuses it before it connects.
func TestSSHOptionsChecked(t *testing.T) {
	dir := t.TempDir()
	sshCfg := writeFile(t, dir, "ssh_config", "Host *\n  Port 2222\n  IdentityFile /keys/mha\n")
	proxyCfg := writeFile(t, dir, "ssh_proxy", "Host db*\n  ProxyCommand nc %h %p\n")
	fifo := filepath.Join(dir, "ssh.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		why, value, wantMsg string // wantMsg "" = accepted
	}{
		{"MHA's documented use: a key and host key checking", "-i /root/.ssh/mha -o StrictHostKeyChecking=no", ""},
		{"quotes are removed first, as MHA does", `"-i /k -o 'UserKnownHostsFile=/dev/null'"`, ""},
		{"a -F file of honoured keywords", "-F " + sshCfg, ""},
		{"an escaped $ is literal for MHA's shell too", `-o ControlPath=/tmp/cm-\$x`, ""},
		{"ProxyCommand runs a local command", `-o ProxyCommand="nc %h %p"`, "-o ProxyCommand is not supported by gomha"},
		{"ProxyJump routes through another host", "-o ProxyJump=bastion", "-o ProxyJump is not supported by gomha"},
		{"-J is ProxyJump", "-J bastion", "-J is not supported by gomha"},
		{"a local forwarding", "-L 3307:db:3306", "-L is not supported by gomha"},
		{"a remote forwarding", "-o RemoteForward=9000:localhost:22", "-o RemoteForward is not supported by gomha"},
		{"agent forwarding exposes the manager's keys", "-A", "-A is not supported by gomha"},
		{"MHA's shell would expand $HOME; quotes cannot help, MHA removes them", `-i '$HOME/k'`,
			`shell syntax '$' is not supported; escape it with a backslash`},
		{"command substitution", "-i `id`", "shell syntax '`' is not supported; escape it with a backslash"},
		{"another command after a ;", "-p 22; reboot", `shell syntax ';' is not supported; escape it with a backslash`},
		{"a host name is not an option", "-p 22 db1", `unexpected argument "db1" (only options are allowed)`},
		{"ProxyCommand in the -F file, in any block", "-F " + proxyCfg, "-F " + proxyCfg + ":2: ProxyCommand is not supported by gomha"},
		{"a missing -F file", "-F " + filepath.Join(dir, "none"), "-F " + filepath.Join(dir, "none") + ": stat " + filepath.Join(dir, "none") + ": no such file or directory"},
		{"a -F FIFO is refused before it is opened (it would block)", "-F " + fifo, "-F " + fifo + ": is a named pipe (FIFO), not a regular file"},
		{"a -F link to /dev/zero is refused before it is read", "-F /dev/zero", "-F /dev/zero: is a character device, not a regular file"},
	}
	for _, c := range cases {
		file := writeFile(t, dir, "app1.cnf", "[server1]\nhostname=h1\nssh_options="+c.value+"\n")
		_, err := loadWithin(t, 5*time.Second, file, testOptions())
		if c.wantMsg == "" {
			if err != nil {
				t.Errorf("%s: %v", c.why, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: ssh_options=%s accepted", c.why, c.value)
			continue
		}
		ce := asConfigError(t, err)
		if ce.File != file || ce.Section != "server1" || ce.Key != "ssh_options" || ce.Msg != c.wantMsg || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: got %q, want %s", c.why, err, c.wantMsg)
		}
	}
}

// TestSSHOptionsCheckedWhereWritten: the error names the file and block
// where ssh_options is written, whichever layer it comes from.
func TestSSHOptionsCheckedWhereWritten(t *testing.T) {
	dir := t.TempDir()
	bad := "ssh_options=-o ProxyJump=bastion\n"
	script := filepath.Join(dir, "conf.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho '"+strings.TrimSpace(bad)+"'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		why, global, app, wantFile, wantSection string
	}{
		{"in the application [server default]", "", "[server default]\n" + bad + "[server1]\nhostname=h1\n", "app", "server default"},
		{"in a [binlog] block", "", "[server1]\nhostname=h1\n[binlog1]\nhostname=h2\n" + bad, "app", "binlog1"},
		{"in the global file", "[server default]\n" + bad, "[server1]\nhostname=h1\n", "global", "server default"},
		{"in init_conf_load_script's output", "", "[server default]\ninit_conf_load_script=" + script + "\n[server1]\nhostname=h1\n", "app", scriptSection},
	}
	for _, c := range cases {
		global := writeFile(t, dir, "global.cnf", c.global)
		app := writeFile(t, dir, "app1.cnf", c.app)
		opts := testOptions()
		opts.NoGlobal, opts.GlobalFile = false, global
		_, err := loadWithin(t, 5*time.Second, app, opts)
		if err == nil {
			t.Errorf("%s: accepted", c.why)
			continue
		}
		ce := asConfigError(t, err)
		wantFile := map[string]string{"app": app, "global": global}[c.wantFile]
		if ce.File != wantFile || ce.Section != c.wantSection || ce.Key != "ssh_options" || ce.Msg != "-o ProxyJump is not supported by gomha" {
			t.Errorf("%s: got %q", c.why, err)
		}
	}
}
