// Command demoha is what `make demo-ha` runs: a 3-member etcd, a 3-host
// sandbox on 127.0.8.x, two managers coordinated through etcd, a writer,
// the leading manager killed and the other taking over, then the master
// killed and the new leader failing over, the rows compared. With -down
// it stops what a previous run left running (`make demo-ha-down`).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gomha/gomha/coord/etcdcoord"
	"github.com/gomha/gomha/internal/demokit"
	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/node"
	"github.com/gomha/gomha/sandbox"
	"github.com/gomha/gomha/sandbox/etcdsandbox"
)

// The demo's addresses: 127.0.8.x, apart from `make demo` (127.0.0.x),
// the tests (127.0.0.x-127.0.4.x) and the tests' etcd (127.0.2.x).
const (
	subnet    = "127.0.8"
	etcdAddrs = "127.0.8.101,127.0.8.102,127.0.8.103"
	leaseTTL  = 4 * time.Second
)

func main() {
	dir := flag.String("dir", "/tmp/gomha-demo-ha", "demo directory (etcd, sandbox and the managers' workdirs under it)")
	bin := flag.String("gomha", "bin/gomha", "the gomha binary")
	down := flag.Bool("down", false, "stop the managers, the sandbox and etcd of the demo in -dir, and exit")
	flag.Parse()
	node.QuietDriverLogs()
	d := &demo{dir: *dir, bin: *bin}
	var err error
	if *down {
		err = d.stop(context.Background(), false)
	} else {
		err = d.run()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo-ha:", err)
		os.Exit(1)
	}
}

// demo is one run: where it lives and what it started.
type demo struct {
	dir, bin  string
	endpoints string // etcd, comma-separated
	c         *sandbox.Cluster
	cfg       *config.Config
	w         *watcher
	managers  []*managerProc
}

func (d *demo) etcdDir() string    { return filepath.Join(d.dir, "etcd") }
func (d *demo) sandboxDir() string { return filepath.Join(d.dir, "sandbox") }

func (d *demo) run() error {
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	if d.leftovers() {
		demokit.Step("stopping the previous demo (managers, sandbox, etcd) in %s", d.dir)
		if err := d.stop(ctx, true); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(d.dir, 0o755); err != nil {
		return err
	}
	if err := d.deploy(ctx); err != nil {
		return err
	}
	defer d.w.etcd.Close()
	ok := false
	defer func() {
		if !ok { // on success the survivor keeps watching; `make demo-ha-down` stops it
			for _, m := range d.managers {
				_, _ = stopManager(context.Background(), m, 20*time.Second)
			}
			fmt.Fprintf(os.Stderr, "\nmanagers' logs: %s/manager-*/manager.log; `make demo-ha-down` stops the sandbox and etcd\n", d.dir)
		}
	}()
	leader, err := d.startManagers(ctx)
	if err != nil {
		return err
	}
	if err := d.takeOverAndFailOver(ctx, leader); err != nil {
		return err
	}
	ok = true
	fmt.Printf("\nThe demo took %s. The cluster, etcd and the surviving manager keep running. Try:\n"+
		"  %s show --conf %s --etcd %s\n  tail %s/manager-*/manager.log\n  make demo-ha-down\n",
		time.Since(start).Round(time.Second), d.bin, d.c.ConfPath, d.endpoints, d.dir)
	return nil
}

// leftovers reports whether a previous demo left something in d.dir.
func (d *demo) leftovers() bool {
	for _, p := range []string{filepath.Join(d.dir, managersFile), d.sandboxDir(), d.etcdDir()} {
		if _, err := os.Stat(p); err == nil {
			return true
		}
	}
	return false
}

// deploy starts etcd and the sandbox (steps 1 and 2).
func (d *demo) deploy(ctx context.Context) error {
	demokit.Step("start a 3-member etcd (%s)", etcdAddrs)
	if err := demokit.Gomha(d.bin, "sandbox", "etcd", "up", "--dir", d.etcdDir(), "--addrs", etcdAddrs); err != nil {
		return err
	}
	e, err := etcdsandbox.Open(d.etcdDir())
	if err != nil {
		return err
	}
	d.endpoints = strings.Join(e.Endpoints(), ",")

	demokit.Step("deploy a 3-host MariaDB cluster: each host its own %s.x with mariadbd + sshd", subnet)
	if err := demokit.Gomha(d.bin, "sandbox", "up", "--hosts", "3", "--subnet", subnet, "--dir", d.sandboxDir()); err != nil {
		return err
	}
	if d.c, err = sandbox.Open(d.sandboxDir()); err != nil {
		return err
	}
	if d.cfg, err = config.Load(ctx, d.c.ConfPath, config.Options{NoGlobal: true}); err != nil {
		return err
	}
	r, err := etcdcoord.New(etcdcoord.Options{Endpoints: e.Endpoints(), TTL: leaseTTL})
	if err != nil {
		return err
	}
	d.w = &watcher{etcd: r, app: d.cfg.App}
	return nil
}

// startManagers starts managers A and B and waits until one leads and
// watches (step 3).
func (d *demo) startManagers(ctx context.Context) (takeover, error) {
	demokit.Step("start two managers coordinated through etcd (lease TTL %s), each with its own workdir as if on its own host", leaseTTL)
	for _, name := range []string{"A", "B"} {
		m, err := startManager(d.bin, d.dir, name, d.c.ConfPath, d.endpoints, leaseTTL)
		if err != nil {
			return takeover{}, err
		}
		d.managers = append(d.managers, m)
		if err := saveManagers(d.dir, d.managers); err != nil {
			return takeover{}, err
		}
		fmt.Printf("manager %s: pid %d, log %s\n", m.Name, m.PID, m.Log)
	}
	t, err := d.w.waitWatching(ctx, d.managers)
	if err != nil {
		return t, err
	}
	if err := d.w.waitManagers(ctx, 2); err != nil {
		return t, err
	}
	fmt.Printf("manager %s (pid %d) leads and watches the master; the other waits in etcd\n", t.m.Name, t.m.PID)
	_ = demokit.Gomha(d.bin, "show", "--conf", d.c.ConfPath, "--etcd", d.endpoints)
	return t, nil
}

// takeOverAndFailOver runs steps 4 to 7: a writer, the leader killed and
// the other taking over, the master killed and the failover, the rows.
func (d *demo) takeOverAndFailOver(ctx context.Context, leader takeover) error {
	demokit.Step("a writer commits numbered rows to the master")
	w, err := sandbox.StartWriter(ctx, d.c, sandbox.WriterOptions{})
	if err != nil {
		return err
	}
	defer w.Stop()
	if err := w.WaitAcked(ctx, 300); err != nil {
		return err
	}
	fmt.Printf("%d rows committed on %s\n", w.Acked(), d.c.Master().Addr)

	demokit.Step("kill -9 the leading manager %s (pid %d)", leader.m.Name, leader.m.PID)
	killed := time.Now()
	if err := leader.m.kill(); err != nil {
		return err
	}
	var others []*managerProc
	for _, m := range d.managers {
		if m != leader.m {
			others = append(others, m)
		}
	}
	next, err := d.w.waitWatching(ctx, others)
	if err != nil {
		return err
	}
	fmt.Printf("manager %s (pid %d) took over: leads %s after the kill (its lease of %s had to expire), watches the master %s after it\n",
		next.m.Name, next.m.PID, next.led.Sub(killed).Round(10*time.Millisecond), leaseTTL, next.watching.Sub(killed).Round(10*time.Millisecond))
	_ = demokit.Gomha(d.bin, "show", "--conf", d.c.ConfPath, "--etcd", d.endpoints)

	master := d.c.Master()
	demokit.Step("kill -9 the master's mariadbd (%s), with %d rows committed", master.Addr, w.Acked())
	killed = time.Now()
	if err := d.c.KillMysqld(ctx, master.Name); err != nil {
		return err
	}
	report, err := demokit.WaitReport(ctx, next.m.Workdir, d.cfg.App, killed)
	if err != nil {
		return err
	}
	rep, err := d.w.waitReport(ctx, killed)
	if err != nil {
		return err
	}
	if err := w.WaitAcked(ctx, w.Acked()+200); err != nil {
		return fmt.Errorf("writer did not resume on the new master: %w", err)
	}
	wr := w.Stop()
	fmt.Printf("manager %s failed over to %s %s after the kill; report in etcd and in %s\n",
		next.m.Name, rep.NewMaster, rep.Finished.Sub(killed).Round(10*time.Millisecond), report)
	demokit.Step("the failover report (%s)", report)
	if err := demokit.PrintFile(report); err != nil {
		return err
	}
	demokit.Step("what etcd holds now (gomha show --etcd)")
	_ = demokit.Gomha(d.bin, "show", "--conf", d.c.ConfPath, "--etcd", d.endpoints)

	demokit.Step("every acknowledged write is on every surviving server")
	_, err = demokit.VerifySurvivors(ctx, d.c, wr, master.Name)
	return err
}

// stop stops the managers the demo recorded, then the sandbox and etcd;
// remove also deletes what they kept (a rerun starts afresh).
func (d *demo) stop(ctx context.Context, remove bool) error {
	ms, err := readManagers(d.dir)
	if err != nil {
		return err
	}
	for _, m := range ms {
		stopped, err := stopManager(ctx, m, 20*time.Second)
		if err != nil {
			return err
		}
		if stopped {
			fmt.Printf("manager %s (pid %d) stopped\n", m.Name, m.PID)
		}
	}
	down := []string{"down"}
	if remove {
		down = append(down, "--remove")
	}
	for _, sub := range []struct {
		dir, record string
		cmd         []string
	}{
		{d.sandboxDir(), "sandbox.json", []string{"sandbox"}},
		{d.etcdDir(), "etcd.json", []string{"sandbox", "etcd"}},
	} {
		if _, err := os.Stat(filepath.Join(sub.dir, sub.record)); err == nil {
			args := append(append(sub.cmd, down...), "--dir", sub.dir)
			if err := demokit.Gomha(d.bin, args...); err != nil {
				return err
			}
		} else if remove {
			// An up that failed before recording anything left only files
			// (its processes stopped): a new up would refuse the directory.
			if err := os.RemoveAll(sub.dir); err != nil {
				return err
			}
		}
	}
	if !remove {
		return nil
	}
	for _, m := range ms {
		if err := os.RemoveAll(m.Workdir); err != nil {
			return err
		}
	}
	if err := os.Remove(filepath.Join(d.dir, managersFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
