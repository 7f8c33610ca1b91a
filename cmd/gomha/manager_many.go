package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/gomha/gomha/failover"
	"github.com/gomha/gomha/httpapi"
	"github.com/gomha/gomha/manager"
	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/supervisor"
)

// globalInDir is the global file of a --conf-dir, never a cluster of its
// own.
const globalInDir = "masterha_default.cnf"

// clusterFiles are the configuration files gomha manager watches.
type clusterFiles struct {
	confs  []string // --conf, in the order given
	dir    string   // --conf-dir
	global string   // --global-conf
}

// list returns the files to watch now: the --conf files, then every
// *.cnf of the directory but its global file, by name.
func (c clusterFiles) list() ([]string, error) {
	files := append([]string(nil), c.confs...)
	if c.dir == "" {
		return files, nil
	}
	entries, err := os.ReadDir(c.dir)
	if err != nil {
		return nil, fmt.Errorf("--conf-dir: %w", err)
	}
	var names []string
	for _, e := range entries {
		if n := e.Name(); strings.HasSuffix(n, ".cnf") && n != globalInDir && !e.IsDir() {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		files = append(files, filepath.Join(c.dir, n))
	}
	return files, nil
}

// globalFile is --global-conf, else the directory's masterha_default.cnf
// when it exists, else "" (config's default, /etc/masterha_default.cnf).
func (c clusterFiles) globalFile() string {
	if c.global != "" || c.dir == "" {
		return c.global
	}
	if p := filepath.Join(c.dir, globalInDir); fileExists(p) {
		return p
	}
	return ""
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// hangupSignals is the default of cliEnv.hangups: the process's SIGHUPs.
func hangupSignals() (<-chan os.Signal, func()) {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGHUP)
	return c, func() { signal.Stop(c) }
}

// runMany is gomha manager for several clusters: a supervisor runs one
// unit per file until the command's context ends (SIGINT, SIGTERM), and
// every SIGHUP reloads the files.
func (m *managerFlags) runMany(cmd *cobra.Command, env cliEnv, src clusterFiles) error {
	switch {
	case m.logOutput != "":
		return withCode(1, errors.New("--log-output names one file for one cluster: with several, each writes to its manager_log (or standard output and error)"))
	case m.newHost != "":
		return withCode(1, errors.New("--new-master-host names a server of one cluster: give it with one --conf"))
	}
	files, err := src.list()
	if err != nil {
		return withCode(1, err)
	}
	ctx := cmd.Context()
	var sup *supervisor.Supervisor
	web, err := m.http.listen(func() []httpapi.Cluster { return httpapi.SupervisorClusters(sup)() },
		slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil)))
	if err != nil {
		return err
	}
	if web != nil {
		defer func() { web.stop() }() // closes the listener on an error below; once serving, stops the server
	}
	run, gate := env.eng.RunManager, supervisor.Gate(supervisor.LocalGate{})
	if m.etcd.set() {
		m.etcd.sourceAddr = &m.localAddr
		c, err := m.etcd.open(slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil)))
		if err != nil {
			return err
		}
		defer c.Close()
		gate = c
		run = func(ctx context.Context, cfg *config.Config, opts manager.ManagerOptions) error {
			opts.Coord = c.Cluster(cfg.App)
			return env.eng.RunManager(ctx, cfg, opts)
		}
	}
	mopts := manager.ManagerOptions{
		IgnoreLastFailover: m.ignoreLast, LastFailoverMinute: m.lastMinute, SkipSalvage: m.skipSalvage,
		SkipDisableRO: m.skipDisable, SkipChangeMaster: m.skipChange, RemoveDeadConf: m.removeDead,
		IgnoreFailOnStart: m.ignoreFailOnStart, AcceptNewHostKeys: m.acceptNew, SkipSSHCheck: m.skipSSH,
		LocalAddr: m.localAddr, HookTimeout: m.hookTimeout, SecondsBehind: m.sbm,
	}
	var onFailover func(app string, rep *failover.Report, err error)
	if web != nil {
		mopts.Observer, onFailover = web.srv.Observer(), web.srv.OnFailover
	}
	sup = supervisor.New(ctx, supervisor.Options{
		Manager: mopts, OnFailover: onFailover,
		Run: run, Gate: gate,
		Load: func(ctx context.Context, file string) (*config.Config, error) {
			cfg, err := loadConfigQuiet(ctx, file, src.globalFile())
			if err == nil && m.workdir != "" {
				cfg.ManagerWorkdir = m.workdir
			}
			return cfg, err
		},
		Out: cmd.OutOrStdout(), Err: cmd.ErrOrStderr(), Debug: m.debug,
	})
	release := interruptsFrom(ctx).hold(func() (bool, string) {
		apps := sup.FailingOver()
		if len(apps) == 0 {
			return false, ""
		}
		return true, "failing over " + strings.Join(apps, ", ") + ": the manager stops once that has finished (SIGKILL stops it at once)"
	})
	defer release()
	hup, stopHup := env.sighups()
	defer stopHup()
	if web != nil {
		web.serve(ctx, cmd.ErrOrStderr())
	}
	_ = sup.Reload(files) // each problem is already one line on standard error
	for {
		select {
		case <-ctx.Done():
			sup.Wait()
			return nil
		case <-hup:
			files, err := src.list()
			if err != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "gomha: SIGHUP: %v; the clusters watched are left as they are\n", err)
				continue
			}
			_ = sup.Reload(files)
		}
	}
}
