package sshpool

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gomha/gomha/node"
)

// median runs f n times and returns the median duration.
func median(t *testing.T, n int, f func() error) time.Duration {
	t.Helper()
	ds := make([]time.Duration, 0, n)
	for range n {
		start := time.Now()
		if err := f(); err != nil {
			t.Fatal(err)
		}
		ds = append(ds, time.Since(start))
	}
	slices.Sort(ds)
	return ds[n/2].Round(100 * time.Microsecond)
}

// TestPoolCosts measures, on this machine's sshd and login shell, what the
// pool saves: a command on a pooled connection against a fresh dial, and an
// SFTP read against a command that reads the same bytes. The figures are
// logged (go test -v -run TestPoolCosts ./sshpool).
func TestPoolCosts(t *testing.T) {
	srv := startSSHD(t, "127.0.0.198")
	cfg := srv.config(t)
	p := newPool(t, Options{})
	if err := p.Add("h", cfg); err != nil {
		t.Fatal(err)
	}
	ctx := ctxFor(t, 2*time.Minute)
	sh, err := p.Shell(ctx, "h")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "mysql-bin.000001")
	write(t, path, strings.Repeat("binlog event bytes\n", 1<<16))
	dial, fresh := dialCosts(ctx, t, cfg)
	pooled := median(t, 15, func() error { _, _, err := sh.Run(ctx, "true"); return err })
	check := median(t, 15, func() error { return p.Check(ctx, "h") })
	shellRead := median(t, 15, func() error {
		_, _, err := sh.Run(ctx, "tail -c +500001 "+node.ShellQuote(path)+" | head -c 4096")
		return err
	})
	subsystem, readAt, openRead := sftpCosts(ctx, t, p, sh.sess, path)
	greeter := listenGreeting(t, "127.0.0.198", "hi\n")
	tcp := median(t, 15, func() error { _, err := readGreeting(ctx, p, "h", greeter); return err })
	t.Logf("SSH costs on this machine (medians): handshake (DialSSH) %s; fresh DialSSH+Run(true) %s; pooled Run(true) %s; "+
		"keepalive round trip %s; pooled Run of tail|head 4 KiB %s; SFTP subsystem start %s; SFTP ReadAt 4 KiB %s; "+
		"SFTP Open+ReadAt+Close %s; DialTCP+greeting %s",
		dial, fresh, pooled, check, shellRead, subsystem, readAt, openRead, tcp)
}

// dialCosts measures a handshake alone, and a fresh connection running
// `true`.
func dialCosts(ctx context.Context, t *testing.T, cfg node.SSHConfig) (dial, fresh time.Duration) {
	dial = median(t, 7, func() error {
		s, err := node.DialSSH(ctx, cfg)
		if err == nil {
			s.Close()
		}
		return err
	})
	fresh = median(t, 7, func() error {
		s, err := node.DialSSH(ctx, cfg)
		if err != nil {
			return err
		}
		defer s.Close()
		_, _, err = s.Run(ctx, "true")
		return err
	})
	return dial, fresh
}

// sftpCosts measures the subsystem start, a 4 KiB ReadAt on an open file and
// an Open+ReadAt+Close, through the pool's client.
func sftpCosts(ctx context.Context, t *testing.T, p *Pool, sess *node.SSHSession, path string) (start, readAt, openRead time.Duration) {
	start = median(t, 5, func() error {
		c, err := sess.OpenSFTP(ctx)
		if err == nil {
			c.Close()
		}
		return err
	})
	fs, err := p.Files(ctx, "h")
	if err != nil {
		t.Fatal(err)
	}
	f, err := fs.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	readAt = median(t, 31, func() error { _, err := f.ReadAt(buf, 500_000); return err })
	openRead = median(t, 15, func() error {
		f, err := fs.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = f.ReadAt(buf, 500_000)
		return err
	})
	return start, readAt, openRead
}
