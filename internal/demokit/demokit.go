// Package demokit holds what the demos (`make demo`, `make demo-ha`) share:
// step headers, the gomha commands shown as they run, waiting for the
// manager's status and report, and the final check that every write the
// writer saw acknowledged is on every surviving server.
package demokit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/gomha/gomha/manager"
	"github.com/gomha/gomha/sandbox"
)

// Step prints a step's header.
func Step(format string, args ...any) {
	fmt.Printf("\n\033[1m== %s\033[0m\n", fmt.Sprintf(format, args...))
}

// Gomha runs bin (gomha or one of its MHA names) with args, showing the
// command line, its output and its errors.
func Gomha(bin string, args ...string) error {
	fmt.Printf("$ %s %s\n", filepath.Base(bin), strings.Join(args, " "))
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	return cmd.Run()
}

// WaitStatus waits until the status file of app in workdir says code.
func WaitStatus(ctx context.Context, workdir, app string, code manager.StatusCode) error {
	for {
		st, err := manager.ReadStatus(workdir, app, 0)
		if err == nil && st.Code == code {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("manager (workdir %s) did not reach %s: %v", workdir, code, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// WaitReport waits for a failover report of app written in workdir after
// after, and returns its path.
func WaitReport(ctx context.Context, workdir, app string, after time.Time) (string, error) {
	for {
		files, _ := filepath.Glob(filepath.Join(workdir, app+".failover.*.txt"))
		for _, f := range files {
			if fi, err := os.Stat(f); err == nil && fi.ModTime().After(after) {
				time.Sleep(100 * time.Millisecond) // let the manager finish writing it
				return f, nil
			}
		}
		select {
		case <-ctx.Done():
			return "", errors.New("no failover report in " + workdir + " within the time limit")
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// PrintFile prints a file's content (a failover report).
func PrintFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	fmt.Print(string(data))
	return nil
}

// VerifySurvivors prints what the writer saw, checks that the replicas
// follow the current master in step with it, and that every acknowledged
// write is on every host but dead. It returns the current master's address.
func VerifySurvivors(ctx context.Context, c *sandbox.Cluster, wr sandbox.WriterReport, dead string) (string, error) {
	old, err := c.Host(dead)
	if err != nil {
		return "", err
	}
	fmt.Printf("writer: %d commits acknowledged, %d of them on the old master; write downtime seen by the writer: %s\n",
		len(wr.Acked), wr.ByHost[old.Addr], wr.Downtime.Round(time.Millisecond))
	newMaster, err := c.CurrentMaster(ctx)
	if err != nil {
		return "", err
	}
	if err := c.VerifyReplicas(ctx, newMaster, dead); err != nil {
		return "", err
	}
	for _, h := range c.Hosts {
		if h.Name == old.Name {
			continue
		}
		n, err := countRows(ctx, c, h.Name, wr.Table)
		if err != nil {
			return "", err
		}
		if err := c.VerifyAcked(ctx, h.Name, wr.Table, wr.Acked); err != nil {
			return "", err
		}
		fmt.Printf("%s (%s): %d rows, all %d acknowledged ids present\n", h.Name, h.Addr, n, len(wr.Acked))
	}
	return newMaster, nil
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
