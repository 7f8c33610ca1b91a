package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/gomha/gomha/sandbox/internal/proc"
)

// Up deploys a cluster as described by opts: one mariadbd and one sshd per
// host address, host1 the master, the others its replicas. It fails with
// ErrRunning if opts.Dir holds a sandbox with live processes, ErrNotSandbox if
// it holds anything else, and ErrAddrInUse if an address is taken. On failure
// the processes it started are stopped and Dir is kept for its logs.
func Up(ctx context.Context, opts Options) (*Cluster, error) {
	start := time.Now()
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	c := &Cluster{
		Dir: o.Dir, Hosts: hostsFor(o), GTID: o.GTID, BinlogFormat: o.BinlogFormat,
		User: AdminUser, Password: AdminPass, ReplUser: ReplUser, ReplPassword: ReplPass,
		ConfPath:      filepath.Join(o.Dir, confFile),
		SSHKey:        filepath.Join(o.Dir, "ssh", "id_ed25519"),
		KnownHosts:    filepath.Join(o.Dir, "ssh", "known_hosts"),
		FirewallChain: firewallChain(o.Dir),
		Cgroup:        cgroupName(o.Dir),
		logger:        o.Logger.With("sandbox", o.Dir),
		pids:          map[string]PIDs{},
	}
	if err := c.prepareDir(ctx); err != nil {
		return nil, err
	}
	if err := c.deploy(ctx, o); err != nil {
		// Up's own context may be the reason: clean up on a fresh one.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		if derr := c.Down(dctx); derr != nil {
			err = errors.Join(err, fmt.Errorf("clean up after failed up: %w", derr))
		}
		return nil, fmt.Errorf("sandbox up in %s: %w", c.Dir, err)
	}
	c.UpDuration = time.Since(start)
	if err := c.save(); err != nil {
		return nil, err
	}
	c.logger.Info("sandbox up", "hosts", len(c.Hosts), "gtid", c.GTID,
		"master", c.Master().Addr, "took", c.UpDuration.Round(time.Millisecond).String())
	return c, nil
}

// prepareDir refuses a running sandbox, a foreign non-empty directory and
// taken addresses; it clears what a dead sandbox left behind.
func (c *Cluster) prepareDir(ctx context.Context) error {
	if old, err := readRecord(c.Dir); err == nil {
		oc := fromRecord(old, c.logger)
		for name, p := range oc.pids {
			h, herr := oc.Host(name)
			if herr == nil && (proc.Ours(p.Mysqld, h.mysqldMarker()) || proc.Ours(p.SSHD, h.sshdMarker())) {
				return fmt.Errorf("sandbox up in %s: %s still has live processes: %w", c.Dir, name, ErrRunning)
			}
		}
		if err := errors.Join(oc.removeFirewall(ctx), oc.removeIdentity(ctx)); err != nil {
			return err
		}
		for _, name := range append(ownedEntries(old.Hosts), confFile, stateFile) {
			if err := os.RemoveAll(filepath.Join(c.Dir, name)); err != nil {
				return fmt.Errorf("clear old sandbox in %s: %w", c.Dir, err)
			}
		}
	} else if ents, rerr := os.ReadDir(c.Dir); rerr == nil && len(ents) > 0 {
		return fmt.Errorf("sandbox up in %s: %w", c.Dir, ErrNotSandbox)
	}
	for _, h := range c.Hosts {
		for _, a := range []string{h.mysqlAddr(), h.sshAddr()} {
			if err := checkFree(a); err != nil {
				return fmt.Errorf("sandbox up in %s: %s: %w", c.Dir, h.Name, err)
			}
		}
	}
	// rules and cgroups of a crashed run
	if err := errors.Join(c.removeFirewall(ctx), c.removeIdentity(ctx)); err != nil {
		return err
	}
	return os.MkdirAll(c.Dir, 0o755)
}

// ownedEntries are the Dir entries a sandbox creates besides its files.
func ownedEntries(hosts []Host) []string {
	names := []string{"ssh", "manager"}
	for _, h := range hosts {
		names = append(names, filepath.Base(h.Dir))
	}
	return names
}

// deploy does the work of Up once Dir is ready.
func (c *Cluster) deploy(ctx context.Context, o Options) error {
	// Before any process starts: a socket keeps the cgroup it was opened in.
	c.setupIdentity(ctx)
	if err := c.save(); err != nil { // from now on Down can find what we start
		return err
	}
	var tmpl string
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) { tmpl, err = ensureTemplate(gctx, o.TemplateDir); return err })
	g.Go(func() error { return c.setupSSH(gctx) })
	if err := g.Wait(); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(c.Dir, "manager"), 0o755); err != nil {
		return fmt.Errorf("create manager workdir: %w", err)
	}
	if err := os.WriteFile(c.ConfPath, []byte(appConf(c)), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", c.ConfPath, err)
	}
	g, gctx = errgroup.WithContext(ctx)
	for _, h := range c.Hosts {
		g.Go(func() error { return c.deployHost(gctx, h, tmpl, o.ExtraMyCnf) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return c.setupReplication(ctx)
}

// deployHost creates a host's datadir from the template and starts its
// mariadbd and sshd.
func (c *Cluster) deployHost(ctx context.Context, h Host, tmpl string, extra []string) error {
	if err := os.MkdirAll(h.BinlogDir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", h.BinlogDir, err)
	}
	if err := copyTree(ctx, tmpl, h.DataDir); err != nil {
		return fmt.Errorf("datadir of %s: %w", h.Name, err)
	}
	if err := os.WriteFile(h.myCnf(), []byte(myCnf(h, c.BinlogFormat, extra)), 0o644); err != nil {
		return fmt.Errorf("write my.cnf of %s: %w", h.Name, err)
	}
	if err := c.startSSHD(ctx, h); err != nil {
		return err
	}
	return c.startMysqld(ctx, h)
}

// Down stops every process the sandbox recorded (mariadbd by SIGTERM, with
// SIGKILL after a grace period; sshd and its sessions by SIGKILL), waits until
// they are gone, and removes its firewall rules (faults and source NAT) and
// its cgroups. Dir is kept; see Destroy.
func (c *Cluster) Down(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	for _, h := range c.Hosts {
		g.Go(func() error {
			return errors.Join(c.stopMysqld(gctx, h.Name, syscall.SIGTERM), c.killSSHD(gctx, h))
		})
	}
	err := g.Wait()
	if err == nil { // a cgroup can only go once its processes have
		err = c.removeIdentity(ctx)
	}
	err = errors.Join(err, c.removeFirewall(ctx))
	if err != nil {
		return fmt.Errorf("sandbox down in %s: %w", c.Dir, err)
	}
	c.logger.Info("sandbox down")
	return nil
}

// Destroy runs Down and then removes Dir.
func (c *Cluster) Destroy(ctx context.Context) error {
	if err := c.Down(ctx); err != nil {
		return err
	}
	if err := os.RemoveAll(c.Dir); err != nil {
		return fmt.Errorf("remove sandbox dir %s: %w", c.Dir, err)
	}
	return nil
}
