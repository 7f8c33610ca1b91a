// Command demo is what `make demo` runs: a 3-host sandbox, the checks, a
// manager watching it, a writer committing rows, the master killed, the
// failover report, the new topology, and the row counts compared.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

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

func step(format string, args ...any) {
	fmt.Printf("\n\033[1m== %s\033[0m\n", fmt.Sprintf(format, args...))
}

func gomha(bin string, args ...string) error {
	fmt.Printf("$ %s %s\n", filepath.Base(bin), strings.Join(args, " "))
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	return cmd.Run()
}

func run(dir, bin string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := os.Stat(filepath.Join(dir, "sandbox.json")); err == nil {
		step("stopping the previous demo (manager and sandbox) in %s", dir)
		_ = gomha(bin, "stop", "--conf", filepath.Join(dir, "app1.cnf"))
		_ = gomha(bin, "sandbox", "down", "--dir", dir, "--remove")
	}
	step("deploy a 3-host MariaDB cluster: each host its own 127.0.0.x with mariadbd + sshd")
	if err := gomha(bin, "sandbox", "up", "--hosts", "3", "--dir", dir); err != nil {
		return err
	}
	c, err := sandbox.Open(dir)
	if err != nil {
		return err
	}
	conf := c.ConfPath
	step("check SSH and replication, as MHA's masterha_check_ssh / masterha_check_repl")
	if err := gomha(filepath.Join(filepath.Dir(bin), "masterha_check_ssh"), "--conf="+conf); err != nil {
		return err
	}
	if err := gomha(filepath.Join(filepath.Dir(bin), "masterha_check_repl"), "--conf="+conf); err != nil {
		return err
	}
	step("start the manager (gomha manager), watching the master every second")
	cfg, err := config.Load(ctx, conf, config.Options{NoGlobal: true})
	if err != nil {
		return err
	}
	mgr := exec.Command(bin, "manager", "--conf", conf)
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
	if err := waitStatus(ctx, cfg, manager.StatusPingOK); err != nil {
		return err
	}
	_ = gomha(bin, "check", "status", "--conf", conf)

	step("a writer commits numbered rows to the master")
	w, err := sandbox.StartWriter(ctx, c, sandbox.WriterOptions{})
	if err != nil {
		return err
	}
	if err := w.WaitAcked(ctx, 300); err != nil {
		return err
	}
	fmt.Printf("%d rows committed on %s\n", w.Acked(), c.Master().Addr)

	step("kill -9 the master's mariadbd (%s)", c.Master().Addr)
	killed := time.Now()
	if err := c.KillMysqld(ctx, "host1"); err != nil {
		return err
	}
	report, err := waitReport(ctx, cfg, killed)
	if err != nil {
		return err
	}
	if err := w.WaitAcked(ctx, w.Acked()+200); err != nil {
		return fmt.Errorf("writer did not resume on the new master: %w", err)
	}
	wr := w.Stop()
	step("the failover report (%s)", report)
	data, err := os.ReadFile(report)
	if err != nil {
		return err
	}
	fmt.Print(string(data))

	step("the new topology (gomha show)")
	_ = gomha(bin, "show", "--conf", conf)

	step("every acknowledged write is on every surviving server")
	fmt.Printf("writer: %d commits acknowledged, %d of them on the old master; write downtime seen by the writer: %s\n",
		len(wr.Acked), wr.ByHost[c.Master().Addr], wr.Downtime.Round(time.Millisecond))
	newMaster, err := c.CurrentMaster(ctx)
	if err != nil {
		return err
	}
	if err := c.VerifyReplicas(ctx, newMaster, "host1"); err != nil {
		return err
	}
	for _, h := range c.Hosts[1:] {
		n, err := countRows(ctx, c, h.Name, wr.Table)
		if err != nil {
			return err
		}
		if err := c.VerifyAcked(ctx, h.Name, wr.Table, wr.Acked); err != nil {
			return err
		}
		fmt.Printf("%s (%s): %d rows, all %d acknowledged ids present\n", h.Name, h.Addr, n, len(wr.Acked))
	}
	ok = true
	fmt.Printf("\nThe sandbox keeps running (the manager now watches %s). Try:\n  %s show --conf %s\n  %s sandbox status --dir %s\n  make demo-down\n",
		newMaster, bin, conf, bin, dir)
	return nil
}

func waitStatus(ctx context.Context, cfg *config.Config, code manager.StatusCode) error {
	for {
		st, err := manager.ReadStatus(cfg.ManagerWorkdir, cfg.App, 0)
		if err == nil && st.Code == code {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("manager did not reach %s: %v", code, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitReport waits for the failover report the manager writes.
func waitReport(ctx context.Context, cfg *config.Config, after time.Time) (string, error) {
	for {
		files, _ := filepath.Glob(filepath.Join(cfg.ManagerWorkdir, cfg.App+".failover.*.txt"))
		for _, f := range files {
			if fi, err := os.Stat(f); err == nil && fi.ModTime().After(after) {
				time.Sleep(100 * time.Millisecond)
				return f, nil
			}
		}
		select {
		case <-ctx.Done():
			return "", errors.New("no failover report within the time limit")
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func countRows(ctx context.Context, c *sandbox.Cluster, host, table string) (int, error) {
	db, err := c.DB(ctx, host)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var n int
	err = db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+table).Scan(&n)
	return n, err
}
