package manager

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pkg/sftp"

	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/node"
	"github.com/gomha/gomha/sshpool"
)

// ErrSSHCheckFailed is returned by CheckSSH when any host failed.
var ErrSSHCheckFailed = errors.New("SSH Configuration Check Failed")

// SSHCheckOptions tune CheckSSH.
type SSHCheckOptions struct {
	AcceptNewHostKeys bool // record unknown host keys (trust on first use); a changed key is always refused
}

// SSHHostResult is the outcome for one host.
type SSHHostResult struct {
	Name      string `json:"name"`
	SSH       string `json:"ssh"` // user@host:port
	OK        bool   `json:"ok"`
	BinlogDir string `json:"binlog_dir,omitempty"` // the readable master_binlog_dir
	Error     string `json:"error,omitempty"`
	Took      string `json:"took"`
	err       error  // the failure, for callers that tell its kinds apart
	noSFTP    error  // a pooled check that fell back to a command: why
}

// SSHConfigFor returns how gomha reaches s over SSH: ssh_host/ssh_port/
// ssh_user/ssh_connection_timeout and the honoured ssh_options.
func SSHConfigFor(s config.Server, acceptNew bool) (node.SSHConfig, error) {
	opts, err := node.ParseSSHOptions(s.SSHOptions)
	if err != nil {
		return node.SSHConfig{}, fmt.Errorf("[%s] %w", s.Name, err)
	}
	host := s.SSHIP
	if host == "" {
		host = s.SSHHost
	}
	return node.SSHConfig{
		Host:              host,
		Port:              s.SSHPort,
		User:              s.SSHUser,
		ConnectTimeout:    time.Duration(s.SSHConnectionTimeout) * time.Second,
		Options:           opts,
		AcceptNewHostKeys: acceptNew,
		UseAgent:          true,
	}, nil
}

// CheckSSH connects from the manager to every configured host (except those
// with skip_init_ssh_check) over SSH, verifying host keys, and checks that
// master_binlog_dir is readable there. gomha never copies files between
// database hosts, so MHA's full host-to-host mesh is not needed.
func CheckSSH(ctx context.Context, cfg *config.Config, opts SSHCheckOptions, con *Console) ([]SSHHostResult, error) {
	con.Infof("Starting SSH connection tests..")
	var servers []config.Server
	for _, s := range cfg.Servers {
		if s.SkipInitSSHCheck {
			con.Infof("Skipping %s (skip_init_ssh_check is set)", s.Name)
			continue
		}
		servers = append(servers, s)
	}
	results := checkHostsSSH(ctx, servers, opts)
	var failed []string
	for _, r := range results {
		if r.OK {
			con.Infof("  Connecting via SSH to %s (%s).. ok. master_binlog_dir %s readable.", r.SSH, r.Name, r.BinlogDir)
		} else {
			con.Errorf("  SSH connection to %s (%s) failed: %s", r.SSH, r.Name, r.Error)
			failed = append(failed, r.Name+" ("+r.SSH+")")
		}
	}
	if len(failed) > 0 {
		con.Raw("SSH Configuration Check Failed!\n")
		return results, fmt.Errorf("%w: %s", ErrSSHCheckFailed, strings.Join(failed, ", "))
	}
	con.Raw("All SSH connection tests passed successfully.\n")
	return results, nil
}

// checkHostsSSH checks every server's host at once.
func checkHostsSSH(ctx context.Context, servers []config.Server, opts SSHCheckOptions) []SSHHostResult {
	results := make([]SSHHostResult, len(servers))
	var wg sync.WaitGroup
	for i, s := range servers {
		wg.Go(func() { results[i] = checkOneSSH(ctx, s, opts) })
	}
	wg.Wait()
	return results
}

// ErrSSHAtStart is returned by the manager's start-up when a host answers
// SSH but refuses gomha (host key, authentication, master_binlog_dir).
var ErrSSHAtStart = errors.New("SSH check at start-up failed")

// sshAtStart is the manager's start-up SSH check, as MHA's: every host
// (but skip_init_ssh_check ones) is reached as a failover would reach it.
// A host that answers and refuses is a configuration error a failover must
// not discover: the manager does not start. A host that does not answer at
// all is a warning (MHA warns too): a failover then neither salvages nor
// fences over SSH there.
//
// With the manager's pool, each host is checked on the connection the
// manager keeps (and a failover uses), its binlog directory listed over
// the SFTP client a failover reads binlogs with: no second handshake, no
// command of its own.
func sshAtStart(ctx context.Context, cfg *config.Config, acceptNew bool, con *Console, pool *sshpool.Pool) error {
	var servers []config.Server
	for _, s := range cfg.Servers {
		if !s.SkipInitSSHCheck {
			servers = append(servers, s)
		}
	}
	var results []SSHHostResult
	if pool != nil {
		results = checkHostsPooled(ctx, servers, pool, acceptNew)
	} else {
		results = checkHostsSSH(ctx, servers, SSHCheckOptions{AcceptNewHostKeys: acceptNew})
	}
	var refused []string
	for _, r := range results {
		switch {
		case r.OK:
			if r.noSFTP != nil {
				con.Warnf("SSH to %s (%s): no SFTP there (%v): checked with a command on a second connection", r.SSH, r.Name, r.noSFTP)
			}
			con.Infof("Checking SSH to %s (%s).. ok.", r.SSH, r.Name)
		case r.Unanswered():
			con.Warnf("SSH to %s (%s) does not answer: a failover could not read its binlog nor fence it over SSH: %s", r.SSH, r.Name, r.Error)
		default:
			con.Errorf("SSH to %s (%s) failed: %s", r.SSH, r.Name, r.Error)
			refused = append(refused, r.Error)
		}
	}
	if len(refused) > 0 {
		return fmt.Errorf("%w: %s (fix it, or set skip_init_ssh_check=1 on the server, or --skip_ssh_check)", ErrSSHAtStart, strings.Join(refused, "; "))
	}
	return nil
}

func checkOneSSH(ctx context.Context, s config.Server, opts SSHCheckOptions) SSHHostResult {
	start := time.Now()
	res := SSHHostResult{Name: s.Name, SSH: s.SSHUser + "@" + s.SSHHost + ":" + strconv.Itoa(s.SSHPort)}
	defer func() { res.Took = time.Since(start).Round(time.Millisecond).String() }()
	sc, err := SSHConfigFor(s, opts.AcceptNewHostKeys)
	if err != nil {
		res.Error, res.err = err.Error(), err
		return res
	}
	sess, err := node.DialSSH(ctx, sc)
	if err != nil {
		res.Error, res.err = err.Error(), err
		return res
	}
	defer sess.Close()
	dir, err := readableBinlogDir(ctx, sess, s.MasterBinlogDir)
	if err != nil {
		res.Error, res.err = err.Error(), err
		return res
	}
	res.OK, res.BinlogDir = true, dir
	return res
}

// Unanswered reports whether the host did not answer at all (unreachable,
// or no handshake in time), as opposed to answering and refusing (host
// key, authentication, master_binlog_dir, ssh_options).
func (r SSHHostResult) Unanswered() bool {
	return errors.Is(r.err, node.ErrSSHUnreachable) || errors.Is(r.err, node.ErrSSHTimeout)
}

// readableBinlogDir returns the first master_binlog_dir entry that is a
// readable, searchable directory on the host.
func readableBinlogDir(ctx context.Context, sess *node.SSHSession, dirs []string) (string, error) {
	quoted := make([]string, len(dirs))
	for i, d := range dirs {
		quoted[i] = node.ShellQuote(d)
	}
	cmd := "for d in " + strings.Join(quoted, " ") + `; do if [ -d "$d" ] && [ -r "$d" ] && [ -x "$d" ]; then echo "$d"; exit 0; fi; done; exit 1`
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, _, err := sess.Run(rctx, cmd)
	if err != nil {
		return "", fmt.Errorf("master_binlog_dir (%s) is not a readable directory on this host", strings.Join(dirs, ","))
	}
	return strings.TrimSpace(string(out)), nil
}

// checkHostsPooled checks every server's host at once through pool.
func checkHostsPooled(ctx context.Context, servers []config.Server, pool *sshpool.Pool, acceptNew bool) []SSHHostResult {
	results := make([]SSHHostResult, len(servers))
	var wg sync.WaitGroup
	for i, s := range servers {
		wg.Go(func() { results[i] = checkOnePooled(ctx, s, pool, acceptNew) })
	}
	wg.Wait()
	return results
}

// pooledCheckSlack is what the SFTP subsystem's start and the directory
// listing may add to ssh_connection_timeout.
const pooledCheckSlack = 5 * time.Second

// checkOnePooled waits (within ssh_connection_timeout) for the pool's
// connection to s's host and lists the first readable master_binlog_dir
// over its SFTP client. The pool's dial errors keep their kinds: a host
// that does not answer is Unanswered, one that refuses is not.
func checkOnePooled(ctx context.Context, s config.Server, pool *sshpool.Pool, acceptNew bool) SSHHostResult {
	start := time.Now()
	res := SSHHostResult{Name: s.Name, SSH: s.SSHUser + "@" + s.SSHHost + ":" + strconv.Itoa(s.SSHPort)}
	defer func() { res.Took = time.Since(start).Round(time.Millisecond).String() }()
	limit := time.Duration(s.SSHConnectionTimeout) * time.Second
	if limit <= 0 {
		limit = 5 * time.Second
	}
	cctx, cancel := context.WithTimeout(ctx, limit+pooledCheckSlack)
	defer cancel()
	files, err := pool.Files(cctx, TopologyServer(s).Key().String())
	switch {
	case err != nil && (errors.Is(err, sshpool.ErrNotConnected) || cctx.Err() != nil):
		res.Error, res.err = err.Error(), err
		return res
	case err != nil:
		// Connected, but no SFTP there (or no pooled connection for that
		// server): check as without a pool, with a command.
		r := checkOneSSH(ctx, s, SSHCheckOptions{AcceptNewHostKeys: acceptNew})
		r.noSFTP = err
		return r
	}
	for _, d := range s.MasterBinlogDir {
		if err := readDirBounded(cctx, files, d); err == nil {
			res.OK, res.BinlogDir = true, d
			return res
		}
	}
	err = fmt.Errorf("master_binlog_dir (%s) is not a readable directory on this host", strings.Join(s.MasterBinlogDir, ","))
	res.Error, res.err = err.Error(), err
	return res
}

// readDirBounded lists dir, giving up when ctx ends (the SFTP client's
// calls take no context).
func readDirBounded(ctx context.Context, files *sftp.Client, dir string) error {
	done := make(chan error, 1)
	go func() {
		_, err := files.ReadDir(dir)
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
