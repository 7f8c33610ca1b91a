// Command demo is what `make demo` runs: a 3-host sandbox, the checks, a
// manager watching it (with its HTTP API and status page on 127.0.0.1), a
// writer committing rows, the master killed, the failover report, the new
// topology, the row counts compared, and the manager's metrics.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/gomha/gomha/internal/demokit"
	"github.com/gomha/gomha/manager"
	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/node"
	"github.com/gomha/gomha/sandbox"
)

func main() {
	dir := flag.String("dir", "/tmp/gomha-demo", "sandbox directory")
	bin := flag.String("gomha", "bin/gomha", "the gomha binary")
	flag.Parse()
	node.QuietDriverLogs()
	if err := run(*dir, *bin); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(dir, bin string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := os.Stat(filepath.Join(dir, "sandbox.json")); err == nil {
		demokit.Step("stopping the previous demo (manager and sandbox) in %s", dir)
		_ = demokit.Gomha(bin, "stop", "--conf", filepath.Join(dir, "app1.cnf"))
		_ = demokit.Gomha(bin, "sandbox", "down", "--dir", dir, "--remove")
	}
	demokit.Step("deploy a 3-host MariaDB cluster: each host its own 127.0.0.x with mariadbd + sshd")
	if err := demokit.Gomha(bin, "sandbox", "up", "--hosts", "3", "--dir", dir); err != nil {
		return err
	}
	c, err := sandbox.Open(dir)
	if err != nil {
		return err
	}
	conf := c.ConfPath
	demokit.Step("check SSH and replication, as MHA's masterha_check_ssh / masterha_check_repl")
	if err := demokit.Gomha(filepath.Join(filepath.Dir(bin), "masterha_check_ssh"), "--conf="+conf); err != nil {
		return err
	}
	if err := demokit.Gomha(filepath.Join(filepath.Dir(bin), "masterha_check_repl"), "--conf="+conf); err != nil {
		return err
	}
	demokit.Step("start the manager (gomha manager), watching the master every second, with its HTTP API and status page")
	cfg, err := config.Load(ctx, conf, config.Options{NoGlobal: true})
	if err != nil {
		return err
	}
	httpAddr, err := demokit.HTTPAddr("127.0.0.1", 8080)
	if err != nil {
		return err
	}
	base := "http://" + httpAddr
	fmt.Printf("$ %s manager --conf %s --http %s\n", filepath.Base(bin), conf, httpAddr)
	mgr := exec.Command(bin, "manager", "--conf", conf, "--http", httpAddr)
	mgr.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := mgr.Start(); err != nil {
		return err
	}
	fmt.Printf("manager pid %d, log in %s\n", mgr.Process.Pid, cfg.ManagerLog)
	ok := false
	defer func() {
		if !ok { // on success the manager keeps watching; `make demo-down` stops it
			_ = mgr.Process.Signal(syscall.SIGTERM)
			_ = mgr.Wait()
		}
	}()
	if err := demokit.WaitStatus(ctx, cfg.ManagerWorkdir, cfg.App, manager.StatusPingOK); err != nil {
		return err
	}
	_ = demokit.Gomha(bin, "check", "status", "--conf", conf)
	if err := demokit.WaitHTTP(ctx, base+"/healthz"); err != nil {
		return err
	}
	fmt.Printf("\nstatus page: %s/  (open it now to watch the failover; it refreshes every 2 s)\n", base)
	fmt.Printf("API: %s/api/v1/clusters/app1   metrics: %s/metrics   (no authentication: the demo listens on 127.0.0.1 only)\n", base, base)

	demokit.Step("a writer commits numbered rows to the master")
	w, err := sandbox.StartWriter(ctx, c, sandbox.WriterOptions{})
	if err != nil {
		return err
	}
	if err := w.WaitAcked(ctx, 300); err != nil {
		return err
	}
	fmt.Printf("%d rows committed on %s\n", w.Acked(), c.Master().Addr)

	demokit.Step("kill -9 the master's mariadbd (%s)", c.Master().Addr)
	killed := time.Now()
	if err := c.KillMysqld(ctx, c.Master().Name); err != nil {
		return err
	}
	report, err := demokit.WaitReport(ctx, cfg.ManagerWorkdir, cfg.App, killed)
	if err != nil {
		return err
	}
	if err := w.WaitAcked(ctx, w.Acked()+200); err != nil {
		return fmt.Errorf("writer did not resume on the new master: %w", err)
	}
	wr := w.Stop()
	demokit.Step("the failover report (%s)", report)
	if err := demokit.PrintFile(report); err != nil {
		return err
	}

	demokit.Step("the new topology (gomha show)")
	_ = demokit.Gomha(bin, "show", "--conf", conf)

	demokit.Step("every acknowledged write is on every surviving server")
	newMaster, err := demokit.VerifySurvivors(ctx, c, wr, c.Master().Name)
	if err != nil {
		return err
	}

	demokit.Step("the manager's Prometheus metrics after the failover")
	if err := demokit.PrintMetrics(ctx, base); err != nil {
		return err
	}
	ok = true
	fmt.Printf("\nThe sandbox keeps running (the manager now watches %s). Try:\n  %s/  (the status page)\n  %s show --conf %s\n  %s sandbox status --dir %s\n  make demo-down\n",
		newMaster, base, bin, conf, bin, dir)
	return nil
}
