package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gomha/gomha/coord/etcdcoord"
	"github.com/gomha/gomha/sandbox/etcdsandbox"
)

// unreachableApp writes app1.cnf for three servers on 127.0.2.201-203,
// where nothing listens (show then reports them down, exit 2, and still
// prints what etcd holds), and returns the show arguments for it.
func unreachableApp(t *testing.T) []string {
	t.Helper()
	dir := t.TempDir()
	conf := filepath.Join(dir, "app1.cnf")
	body := "[server default]\nuser=root\npassword=secret\nmanager_workdir=" + dir + "\n"
	for i := 1; i <= 3; i++ {
		body += fmt.Sprintf("\n[server%d]\nhostname=127.0.2.20%d\nport=3306\n", i, i)
	}
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return append([]string{"show"}, confArgs(conf)...)
}

// oneErrorLine checks that a command failed with exit 1 and one line on
// standard error holding want.
func oneErrorLine(t *testing.T, what string, res cliResult, want string) {
	t.Helper()
	if res.code != 1 || strings.Count(res.stderr, "\n") != 1 || !strings.Contains(res.stderr, want) {
		t.Fatalf("%s: exit %d, want 1 and one line with %q on stderr:\n%s", what, res.code, want, res.stderr)
	}
	t.Logf("%s: %s", what, strings.TrimSpace(res.stderr))
}

// TestShowOverEtcdTLSAndAuthSandbox runs gomha show against a real etcd
// that serves TLS only and requires a client certificate, then also
// authentication: --etcd-cacert/--etcd-cert/--etcd-key reach it, a missing
// certificate is one line; --etcd-user with --etcd-password-file (its line
// end is not part of the password) reads the leader, a wrong password is
// one line, and a prefix the user may not write is named with the
// permission it lacks.
func TestShowOverEtcdTLSAndAuthSandbox(t *testing.T) {
	e := etcdsandbox.UpT(t, etcdsandbox.Options{TLS: true})
	ca, cert, key := e.TLSFiles()
	show := unreachableApp(t)
	eps := strings.Join(e.Endpoints(), ",")
	withTLS := append(show[:len(show):len(show)], "--etcd", eps, "--etcd-cacert", ca, "--etcd-cert", cert, "--etcd-key", key)

	res := gomhaWith(t, cliEnv{}, withTLS...)
	if res.code != 2 || !strings.Contains(res.stdout, "etcd: leader none") {
		t.Fatalf("show over TLS: exit %d, want 2 (servers down) and the etcd line\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	res = gomhaWith(t, cliEnv{}, append(show[:len(show):len(show)], "--etcd", eps, "--etcd-cacert", ca)...)
	oneErrorLine(t, "show without a client certificate", res, "client certificate, none given")

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := e.EnableAuth(ctx, "gomha", "s3cret", "/gomha/"); err != nil {
		t.Fatal(err)
	}
	pw := filepath.Join(t.TempDir(), "etcd.pass")
	if err := os.WriteFile(pw, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mgr, err := etcdcoord.New(etcdcoord.Options{Endpoints: e.Endpoints(), CACert: ca, Cert: cert, Key: key,
		Username: "gomha", Password: "s3cret", TTL: 2 * time.Second, Host: "mgr-tls"})
	if err != nil {
		t.Fatal(err)
	}
	defer mgr.Close()
	_, release, err := mgr.Lead(ctx, "app1")
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	withUser := append(withTLS[:len(withTLS):len(withTLS)], "--etcd-user", "gomha", "--etcd-password-file", pw)
	res = gomhaWith(t, cliEnv{}, withUser...)
	if want := fmt.Sprintf("etcd: leader pid %d on host mgr-tls", os.Getpid()); res.code != 2 || !strings.Contains(res.stdout, want) {
		t.Fatalf("show with a user: exit %d, want 2 and %q\n%s\n%s", res.code, want, res.stdout, res.stderr)
	}
	// A command that must lead (failover --resume) under a prefix the
	// user may not write says which permission it lacks.
	res = gomhaWith(t, cliEnv{eng: &recorder{}}, append([]string{"failover"}, append(withUser[1:len(withUser):len(withUser)],
		"--etcd-prefix", "/other/", "--etcd-lease-ttl", "2s", "--resume")...)...)
	lines := strings.Split(strings.TrimSpace(res.stderr), "\n")
	last := lines[len(lines)-1]
	if res.code == 0 || !strings.HasPrefix(last, "gomha: app1: cannot lead the cluster's managers in etcd: ") ||
		!strings.Contains(last, "permission denied: user gomha needs readwrite on the keys under /other/") {
		t.Fatalf("failover --resume under /other/: exit %d, want the permission it lacks\n%s", res.code, res.stderr)
	}
	t.Logf("failover --resume under /other/: %s", last)
	if err := os.WriteFile(pw, []byte("wrong\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	oneErrorLine(t, "show with a wrong password", gomhaWith(t, cliEnv{}, withUser...), "log in as gomha: etcdserver: authentication failed")
}

// TestEtcdPasswordFlags: a user and its password file go together, and an
// empty file is refused (the etcd client would not log in at all), each
// in one line, before etcd is contacted.
func TestEtcdPasswordFlags(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	show := unreachableApp(t)
	for _, tc := range []struct {
		flags []string
		want  string
	}{
		{[]string{"--etcd-user", "gomha"}, "gomha: --etcd-user needs --etcd-password-file"},
		{[]string{"--etcd-password-file", empty}, "gomha: --etcd-password-file needs --etcd-user"},
		{[]string{"--etcd-user", "gomha", "--etcd-password-file", empty}, "--etcd-password-file " + empty + " is empty"},
		{[]string{"--etcd-user", "gomha", "--etcd-password-file", filepath.Join(dir, "none")}, "no such file"},
	} {
		args := append(show[:len(show):len(show)], "--etcd", "127.0.2.9:2379")
		oneErrorLine(t, strings.Join(tc.flags, " "), gomhaWith(t, cliEnv{}, append(args, tc.flags...)...), tc.want)
	}
}
