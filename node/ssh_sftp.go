package node

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// OpenSFTP starts the "sftp" subsystem on this connection and returns a
// client for it; the start (channel, subsystem request, version exchange) is
// bounded by ctx. The server starts its sftp-server through the login shell
// once; after that a read costs no shell start. The client's own calls take
// no context: on a dead host they end when the connection is closed, so
// close the SSHSession first, then the client (its Close waits for the
// server to close the channel).
func (s *SSHSession) OpenSFTP(ctx context.Context) (*sftp.Client, error) {
	const what = "sftp subsystem"
	start := time.Now()
	sess, err := s.openSession(ctx, what)
	if err != nil {
		return nil, err
	}
	type result struct {
		c   *sftp.Client
		err error
	}
	ch := make(chan result, 1)
	go func() {
		c, err := startSFTP(sess)
		ch <- result{c, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			sess.Close()
			return nil, s.sftpError(r.err)
		}
		return r.c, nil
	case <-ctx.Done():
		sess.Close()
		go func() {
			if r := <-ch; r.c != nil {
				r.c.Close()
			}
		}()
		return nil, s.waitError(ctx, "start "+what, time.Since(start))
	}
}

// startSFTP requests the subsystem on sess and exchanges versions. The
// client's Close also closes sess.
func startSFTP(sess *ssh.Session) (*sftp.Client, error) {
	w, err := sess.StdinPipe()
	if err != nil {
		return nil, err
	}
	r, err := sess.StdoutPipe()
	if err != nil {
		return nil, err
	}
	e, err := sess.StderrPipe()
	if err != nil {
		return nil, err
	}
	go func() { _, _ = io.Copy(io.Discard, e) }() // so stderr never stalls the channel
	if err := sess.RequestSubsystem("sftp"); err != nil {
		return nil, err
	}
	return sftp.NewClientPipe(r, sftpStdin{w, sess})
}

// sftpStdin closes the whole channel when the sftp client closes its input.
type sftpStdin struct {
	io.WriteCloser
	sess *ssh.Session
}

func (w sftpStdin) Close() error {
	err := w.WriteCloser.Close()
	_ = w.sess.Close()
	return err
}

// sftpError names the host, and the usual cause of a garbled start: a shell
// rc file that prints to stdout.
func (s *SSHSession) sftpError(err error) error {
	if strings.Contains(err.Error(), "too long") || strings.Contains(err.Error(), "unexpected packet") {
		return fmt.Errorf("ssh %s: start sftp subsystem: %w (does the login shell's rc file print to stdout?)", s.addr, err)
	}
	return fmt.Errorf("ssh %s: start sftp subsystem: %w", s.addr, err)
}
