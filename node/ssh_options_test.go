package node

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"
)

// mhaBuiltinSSHOptions is what MHA itself puts in front of ssh_options
// (SSH_OPT_ALIVE); gomha must accept the string as a whole.
const mhaBuiltinSSHOptions = "-o ServerAliveInterval=60 -o ServerAliveCountMax=20 -o StrictHostKeyChecking=no " +
	"-o ConnectionAttempts=5 -o PasswordAuthentication=no -o BatchMode=yes"

func TestParseSSHOptions(t *testing.T) {
	home, err := os.UserHomeDir()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		why     string
		in      string
		want    SSHOptions
		wantErr string
	}{
		{why: "empty ssh_options is the common case", in: "", want: SSHOptions{}},
		{why: "-i is the documented MHA example", in: "-i /keys/mha",
			want: SSHOptions{IdentityFiles: []string{"/keys/mha"}}},
		{why: "~ in a key path is expanded as ssh(1) does", in: "-i ~/.ssh/mha_key",
			want: SSHOptions{IdentityFiles: []string{filepath.Join(home, ".ssh/mha_key")}}},
		{why: "-p and -l with separate arguments", in: "-p 2222 -l mha",
			want: SSHOptions{Port: 2222, User: "mha"}},
		{why: "getopt allows the argument glued to the flag", in: "-p2222 -lmha -i/k",
			want: SSHOptions{Port: 2222, User: "mha", IdentityFiles: []string{"/k"}}},
		{why: "-o Key=Value for every honoured keyword",
			in: "-o Port=2200 -o User=u -o IdentityFile=/k -o UserKnownHostsFile=/kh -o StrictHostKeyChecking=accept-new -o ConnectTimeout=7",
			want: SSHOptions{Port: 2200, User: "u", IdentityFiles: []string{"/k"}, UserKnownHostsFiles: []string{"/kh"},
				StrictHostKeyChecking: "accept-new", ConnectTimeout: 7 * time.Second}},
		{why: "-o 'Key Value' (one quoted word) and -oKey=Value (glued) are both ssh(1) syntax",
			in: "-o 'Port 2200' -oUser=u", want: SSHOptions{Port: 2200, User: "u"}},
		{why: "-o Key Value as two words is not ssh(1) syntax: the value is a stray argument",
			in: "-o Port 2200", wantErr: "want Key=Value"},
		{why: "keywords are case-insensitive", in: "-o port=2200 -o CONNECTTIMEOUT=3",
			want: SSHOptions{Port: 2200, ConnectTimeout: 3 * time.Second}},
		{why: "for ssh(1) the first value of a setting wins", in: "-p 1 -p 2 -o Port=3 -l a -o User=b",
			want: SSHOptions{Port: 1, User: "a"}},
		{why: "identity files accumulate", in: "-i /a -o IdentityFile=/b -i /c",
			want: SSHOptions{IdentityFiles: []string{"/a", "/b", "/c"}}},
		{why: "UserKnownHostsFile takes a list of files", in: `-o "UserKnownHostsFile=/kh1 /kh2"`,
			want: SSHOptions{UserKnownHostsFiles: []string{"/kh1", "/kh2"}}},
		{why: "single quotes keep spaces", in: `-i '/my keys/id'`,
			want: SSHOptions{IdentityFiles: []string{"/my keys/id"}}},
		{why: "a single quote inside single quotes, shell style", in: `-i '/it'\''s/id'`,
			want: SSHOptions{IdentityFiles: []string{"/it's/id"}}},
		{why: "double quotes honour backslash before a quote", in: `-i "/a \"b\"/id"`,
			want: SSHOptions{IdentityFiles: []string{`/a "b"/id`}}},
		{why: "a backslash escapes a space outside quotes", in: `-i /my\ keys/id`,
			want: SSHOptions{IdentityFiles: []string{"/my keys/id"}}},
		{why: "StrictHostKeyChecking=no (MHA's built-in) is kept so the dial can warn",
			in: mhaBuiltinSSHOptions,
			want: SSHOptions{StrictHostKeyChecking: "no", Ignored: []string{"ServerAliveInterval",
				"ServerAliveCountMax", "ConnectionAttempts", "PasswordAuthentication", "BatchMode"}}},
		{why: "ask cannot prompt: it means yes", in: "-o StrictHostKeyChecking=ask",
			want: SSHOptions{StrictHostKeyChecking: "yes"}},
		{why: "flags that only shape output are ignored, also combined", in: "-q -v -T -n -x -4 -C -qT",
			want: SSHOptions{Ignored: []string{"-q", "-v", "-T", "-n", "-x", "-4", "-C", "-q", "-T"}}},
		{why: "-E takes an argument that is ignored", in: "-E /tmp/ssh.log -p 2",
			want: SSHOptions{Port: 2, Ignored: []string{"-E"}}},
		{why: "multiplexing, GSSAPI and output options are ignored",
			in: "-o ControlMaster=auto -o ControlPath=/tmp/cm-%r -o ControlPersist=60 -o GSSAPIAuthentication=no " +
				"-o PreferredAuthentications=publickey -o LogLevel=ERROR -o Compression=yes -o ForwardAgent=no",
			want: SSHOptions{Ignored: []string{"ControlMaster", "ControlPath", "ControlPersist", "GSSAPIAuthentication",
				"PreferredAuthentications", "LogLevel", "Compression", "ForwardAgent"}}},
		{why: "ProxyCommand runs a local command", in: `-o ProxyCommand="nc %h %p"`,
			wantErr: "ssh_options: -o ProxyCommand is not supported by gomha"},
		{why: "ProxyJump routes through another host", in: "-o ProxyJump=bastion",
			wantErr: "-o ProxyJump is not supported by gomha"},
		{why: "-J is ProxyJump", in: "-J bastion", wantErr: "-J is not supported by gomha"},
		{why: "-W forwards stdio", in: "-W db:22", wantErr: "-W is not supported by gomha"},
		{why: "-L forwards a port", in: "-L 3307:db:3306", wantErr: "-L is not supported by gomha"},
		{why: "-R forwards a port", in: "-R 3307:db:3306", wantErr: "-R is not supported by gomha"},
		{why: "-D is a SOCKS forward", in: "-D 1080", wantErr: "-D is not supported by gomha"},
		{why: "LocalCommand runs a local command", in: "-o LocalCommand=touch", wantErr: "-o LocalCommand is not supported"},
		{why: "PermitLocalCommand enables it", in: "-o PermitLocalCommand=yes", wantErr: "-o PermitLocalCommand is not supported"},
		{why: "agent forwarding exposes the manager's keys", in: "-A", wantErr: "-A is not supported"},
		{why: "ForwardAgent=yes too", in: "-o ForwardAgent=yes", wantErr: "-o ForwardAgent is not supported"},
		{why: "an unknown option is refused, not silently dropped", in: "-o Frobnicate=1",
			wantErr: "-o Frobnicate is not supported by gomha"},
		{why: "bad port", in: "-p 70000", wantErr: "bad port"},
		{why: "ConnectTimeout must be positive", in: "-o ConnectTimeout=0", wantErr: "bad ConnectTimeout"},
		{why: "bad StrictHostKeyChecking value", in: "-o StrictHostKeyChecking=maybe", wantErr: "bad StrictHostKeyChecking"},
		{why: "a flag without its argument", in: "-i", wantErr: "-i needs an argument"},
		{why: "a host name or command is not an option", in: "-p 22 db1", wantErr: `unexpected argument "db1"`},
		{why: "unterminated quote", in: `-i '/k`, wantErr: "unterminated single quote"},
		{why: "unterminated double quote", in: `-i "/k`, wantErr: "unterminated double quote"},
		{why: "MHA's shell would expand $HOME; gomha refuses rather than pass it literally", in: "-i $HOME/k",
			wantErr: "not supported"},
		{why: "command substitution inside double quotes", in: "-i \"`id`\"", wantErr: "not supported"},
		{why: "a shell operator would run another command", in: "-p 22; rm -rf /", wantErr: "not supported"},
		{why: "${...} quoted is literal", in: `-o 'ControlPath=/tmp/$x'`,
			want: SSHOptions{Ignored: []string{"ControlPath"}}},
	}
	for _, c := range cases {
		t.Run(c.why, func(t *testing.T) {
			got, err := ParseSSHOptions(c.in)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("ParseSSHOptions(%q) error = %v, want it to contain %q", c.in, err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseSSHOptions(%q): %v", c.in, err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("ParseSSHOptions(%q)\n got %+v\nwant %+v", c.in, got, c.want)
			}
		})
	}
}

const sshTestConfig = `# a -F file as an operator might write it
LogLevel QUIET
Host db1 db2
    Port 2201
    IdentityFile /keys/db
    UserKnownHostsFile "/kh/db one" /kh/db2
Host db* !db3
    User dbuser
    IdentityFile /keys/dbstar
    ConnectTimeout 9
Host *
    StrictHostKeyChecking accept-new
    IdentityFile=/keys/all
    User everyone
    ServerAliveInterval 30
`

func TestSSHOptionsConfigFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ssh_config")
	if err := os.WriteFile(path, []byte(sshTestConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		why, opts, host string
		want            SSHOptions
	}{
		{why: "every matching block contributes; first value wins; identity files accumulate",
			opts: "-F " + path, host: "db1",
			want: SSHOptions{Port: 2201, User: "dbuser", ConfigFile: path, ConnectTimeout: 9 * time.Second,
				IdentityFiles:         []string{"/keys/db", "/keys/dbstar", "/keys/all"},
				UserKnownHostsFiles:   []string{"/kh/db one", "/kh/db2"},
				StrictHostKeyChecking: "accept-new", Ignored: []string{"LogLevel", "ServerAliveInterval"}}},
		{why: "a negated pattern excludes the host from the block", opts: "-F " + path, host: "db3",
			want: SSHOptions{User: "everyone", ConfigFile: path, IdentityFiles: []string{"/keys/all"},
				StrictHostKeyChecking: "accept-new", Ignored: []string{"LogLevel", "ServerAliveInterval"}}},
		{why: "host patterns match case-insensitively", opts: "-F " + path, host: "DB2",
			want: SSHOptions{Port: 2201, User: "dbuser", ConfigFile: path, ConnectTimeout: 9 * time.Second,
				IdentityFiles:         []string{"/keys/db", "/keys/dbstar", "/keys/all"},
				UserKnownHostsFiles:   []string{"/kh/db one", "/kh/db2"},
				StrictHostKeyChecking: "accept-new", Ignored: []string{"LogLevel", "ServerAliveInterval"}}},
		{why: "command-line options win over the file, their keys come first",
			opts: "-p 3000 -l cli -i /cli/key -F " + path, host: "db1",
			want: SSHOptions{Port: 3000, User: "cli", ConfigFile: path, ConnectTimeout: 9 * time.Second,
				IdentityFiles:         []string{"/cli/key", "/keys/db", "/keys/dbstar", "/keys/all"},
				UserKnownHostsFiles:   []string{"/kh/db one", "/kh/db2"},
				StrictHostKeyChecking: "accept-new", Ignored: []string{"LogLevel", "ServerAliveInterval"}}},
	}
	for _, c := range cases {
		t.Run(c.why, func(t *testing.T) {
			o, err := ParseSSHOptions(c.opts)
			if err != nil {
				t.Fatal(err)
			}
			got := o.ForHost(c.host)
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("ForHost(%q)\n got %+v\nwant %+v", c.host, got, c.want)
			}
		})
	}
}

func TestSSHOptionsConfigFileRefused(t *testing.T) {
	cases := []struct{ why, file, wantErr string }{
		{"ProxyCommand in any block is refused when the file is read",
			"Host elsewhere\n  ProxyCommand nc %h %p\n", ":2: ProxyCommand is not supported by gomha"},
		{"Match blocks are not parsed", "Match all\n  User x\n", ":1: Match is not supported"},
		{"Include is not followed", "Include other.conf\n", ":1: Include is not supported"},
		{"an unknown keyword is refused", "Host *\n  Frobnicate yes\n", ":2: Frobnicate is not supported"},
		{"a bad value is reported with its line", "Host *\n\n  Port x\n", ":3: Port: bad port"},
	}
	for _, c := range cases {
		t.Run(c.why, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "cfg")
			if err := os.WriteFile(path, []byte(c.file), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := ParseSSHOptions("-F " + path)
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("error = %v, want it to contain %q", err, c.wantErr)
			}
		})
	}
	if _, err := ParseSSHOptions("-F /nonexistent/ssh_config"); err == nil {
		t.Fatal("a missing -F file must be an error")
	}
}

// TestSSHOptionsConfigFileSpecial: a -F file that is not a regular file of
// sane size is refused at once, before it is opened; the test fails rather
// than hangs if the FIFO is opened after all.
func TestSSHOptionsConfigFileSpecial(t *testing.T) {
	dir := t.TempDir()
	fifo, zero, big := filepath.Join(dir, "fifo"), filepath.Join(dir, "zero"), filepath.Join(dir, "big")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/zero", zero); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(big, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(big, sshMaxConfigFile+1); err != nil { // sparse
		t.Fatal(err)
	}
	cases := []struct{ why, path, wantErr string }{
		{"a FIFO would block the open until a writer came", fifo, "-F " + fifo + ": is a named pipe (FIFO), not a regular file"},
		{"a link to /dev/zero would be read without end", zero, "-F " + zero + ": is a character device, not a regular file"},
		{"a directory is not a config file", dir, "-F " + dir + ": is a directory, not a regular file"},
		{"a huge file is a mistake", big, "-F " + big + ": is 16777217 bytes, larger than the 16 MiB an ssh config file may have"},
	}
	for _, c := range cases {
		t.Run(c.why, func(t *testing.T) {
			done := make(chan error, 1)
			go func() {
				_, err := ParseSSHOptions("-F " + c.path)
				done <- err
			}()
			select {
			case err := <-done:
				var oe *SSHOptionsError
				if !errors.As(err, &oe) || oe.Err.Error() != c.wantErr {
					t.Fatalf("error = %v, want ssh_options: %s", err, c.wantErr)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("ParseSSHOptions did not return within 5s")
			}
		})
	}
}

// TestSSHOptionsError: callers that name the parameter themselves get the
// reason alone from Err; the text names the parameter for the others.
func TestSSHOptionsError(t *testing.T) {
	_, err := ParseSSHOptions("-o ProxyJump=bastion")
	var oe *SSHOptionsError
	if !errors.As(err, &oe) || oe.Err.Error() != "-o ProxyJump is not supported by gomha" ||
		err.Error() != "ssh_options: -o ProxyJump is not supported by gomha" {
		t.Fatalf("error = %#v", err)
	}
	_, err = ParseSSHOptions("-F /nonexistent/ssh_config")
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a missing -F file: %v, want fs.ErrNotExist through the error", err)
	}
}

func TestShellQuote(t *testing.T) {
	cases := []struct{ why, in, want string }{
		{"plain word", "abc", "'abc'"},
		{"empty string stays one (empty) word", "", "''"},
		{"spaces and shell syntax are literal", "a b;$(id)`x`", "'a b;$(id)`x`'"},
		{"a single quote is closed, escaped and reopened", "it's", `'it'\''s'`},
		{"newline and backslash", "a\\\nb", "'a\\\nb'"},
	}
	for _, c := range cases {
		t.Run(c.why, func(t *testing.T) {
			got := ShellQuote(c.in)
			if got != c.want {
				t.Fatalf("ShellQuote(%q) = %s, want %s", c.in, got, c.want)
			}
			// A real POSIX shell must give back exactly c.in as one word.
			out, err := exec.Command("/bin/sh", "-c", "printf %s "+got).Output()
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != c.in {
				t.Fatalf("sh printed %q, want %q", out, c.in)
			}
		})
	}
}
