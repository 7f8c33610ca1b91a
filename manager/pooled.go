package manager

import (
	"context"
	"io"
	"io/fs"
	"log/slog"
	"time"

	"github.com/pkg/sftp"

	"github.com/gomha/gomha/failover"
	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/sshpool"
)

// newPool keeps an SSH connection open to every configured host while the
// manager runs, each with a file client ready: a probe, a check or a
// failover's read of the dead master's binlog then costs a channel, not a
// handshake and a shell.
func newPool(cfg *config.Config, localAddr string, acceptNew bool, log *slog.Logger) *sshpool.Pool {
	p := sshpool.New(sshpool.Options{Logger: log, EagerSFTP: true})
	for _, s := range cfg.Servers {
		sc, err := SSHConfigFor(s, acceptNew)
		if err != nil {
			log.Warn("no pooled SSH connection", "server", s.Name, "error", err)
			continue
		}
		sc.LocalAddr, sc.Logger = localAddr, log
		if err := p.Add(TopologyServer(s).Key().String(), sc); err != nil {
			log.Warn("no pooled SSH connection", "server", s.Name, "error", err)
		}
	}
	return p
}

// pooledShell is a lease of a pooled connection that also reads files over
// the connection's SFTP client.
type pooledShell struct {
	*sshpool.Shell
	pool *sshpool.Pool
	name string
}

var _ failover.FileShell = pooledShell{}

// Files returns the connection's file client.
func (s pooledShell) Files(ctx context.Context) (failover.RemoteFiles, error) {
	c, err := s.pool.Files(ctx, s.name)
	if err != nil {
		return nil, err
	}
	return sftpFiles{c}, nil
}

// sftpFiles adapts an SFTP client to failover.RemoteFiles.
type sftpFiles struct{ c *sftp.Client }

func (f sftpFiles) ReadDir(dir string) ([]fs.FileInfo, error) { return f.c.ReadDir(dir) }

func (f sftpFiles) Open(path string) (failover.RemoteFile, error) {
	file, err := f.c.Open(path)
	if err != nil {
		return nil, err
	}
	return sftpFile{file}, nil
}

type sftpFile struct{ *sftp.File }

// CopyTo writes the file from off to its end to w, with SFTP's concurrent
// reads.
func (f sftpFile) CopyTo(w io.Writer, off int64) (int64, error) {
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return 0, err
	}
	return f.WriteTo(w)
}

// poolCheckTimeout bounds a keepalive that proves a host's sshd answers.
const poolCheckTimeout = 500 * time.Millisecond
