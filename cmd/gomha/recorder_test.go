package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gomha/gomha/failover"
	"github.com/gomha/gomha/manager"
	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/topology"
)

// recorder is the engine of the CLI tests: it records what a command line
// asked of package manager and touches no server.
type recorder struct {
	calls []string
	cfg   *config.Config
	repl  manager.CheckReplOptions
	ssh   manager.SSHCheckOptions
	mgr   manager.ManagerOptions
	fo    manager.FailoverOptions
	so    manager.SwitchOptions

	err  error            // returned by every call
	dead string           // the dead master RunManager reports failing over
	rep  *failover.Report // returned by RunFailover and RunSwitchover
}

func (r *recorder) note(call string, cfg *config.Config) {
	r.calls = append(r.calls, call)
	r.cfg = cfg
}

func (r *recorder) CheckRepl(_ context.Context, cfg *config.Config, opts manager.CheckReplOptions, con *manager.Console) (*manager.ReplReport, error) {
	r.note("CheckRepl", cfg)
	r.repl = opts
	con.Infof("recorded check repl")
	return &manager.ReplReport{App: cfg.App}, r.err
}

func (r *recorder) CheckSSH(_ context.Context, cfg *config.Config, opts manager.SSHCheckOptions, _ *manager.Console) ([]manager.SSHHostResult, error) {
	r.note("CheckSSH", cfg)
	r.ssh = opts
	return nil, r.err
}

func (r *recorder) RunLed(ctx context.Context, _ manager.Leader, cfg *config.Config, opts manager.ManagerOptions) error {
	r.note("RunLed", cfg)
	return r.RunManager(ctx, cfg, opts)
}

func (r *recorder) RunManager(_ context.Context, cfg *config.Config, opts manager.ManagerOptions) error {
	r.note("RunManager", cfg)
	r.mgr = opts
	opts.Logger.Info("recorded manager log line")
	opts.Console.Infof("recorded manager console line")
	if r.dead != "" && opts.OnFailover != nil {
		opts.OnFailover(&failover.Report{DeadMaster: r.dead}, r.err)
	}
	return r.err
}

func (r *recorder) RunFailover(_ context.Context, cfg *config.Config, opts manager.FailoverOptions) (*failover.Report, error) {
	r.note("RunFailover", cfg)
	r.fo = opts
	opts.Logger.Info("recorded failover log line")
	opts.Console.Infof("recorded failover console line")
	return r.rep, r.err
}

func (r *recorder) DryRun(_ context.Context, cfg *config.Config, opts manager.FailoverOptions) (*failover.Plan, error) {
	r.note("DryRun", cfg)
	r.fo = opts
	return &failover.Plan{}, r.err
}

func (r *recorder) MasterAnswers(context.Context, *config.Config, topology.Key, string) (bool, error) {
	return false, nil
}

func (r *recorder) RunSwitchover(_ context.Context, cfg *config.Config, opts manager.SwitchOptions) (*failover.Report, error) {
	r.note("RunSwitchover", cfg)
	r.so = opts
	return r.rep, r.err
}

// cliResult is one in-process run of the CLI.
type cliResult struct {
	code           int
	stdout, stderr string
}

// gomhaWith runs the CLI in-process with env, under an MHA name when
// args[0] is one, keeping standard output and error apart.
func gomhaWith(t *testing.T, env cliEnv, args ...string) cliResult {
	t.Helper()
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	argv := args
	if !strings.HasPrefix(args[0], "masterha_") {
		argv = append([]string{"gomha"}, args...)
	}
	code := runWith(ctx, argv, &out, &errOut, env)
	return cliResult{code: code, stdout: out.String(), stderr: errOut.String()}
}

// testApp writes app1.cnf for three servers on 127.0.0.1-3 (never
// contacted: the recorder stands in for them) and returns its path and
// the directory holding it, which is also its manager_workdir. extra are
// more [server default] lines, DIR standing for that directory.
func testApp(t *testing.T, extra string) (conf, dir string) {
	t.Helper()
	dir = t.TempDir()
	conf = filepath.Join(dir, "app1.cnf")
	body := "[server default]\nuser=root\npassword=secret\nmanager_workdir=" + dir + "\n" + strings.ReplaceAll(extra, "DIR", dir) +
		"\n[server1]\nhostname=127.0.0.1\nport=3306\n\n[server2]\nhostname=127.0.0.2\nport=3306\n\n[server3]\nhostname=127.0.0.3\nport=3306\n"
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return conf, dir
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// warned reports whether stderr has the one-line warning of option.
func warned(stderr, option string) bool {
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(l, "gomha: "+option) && strings.Contains(l, " accepted: ") {
			return true
		}
	}
	return false
}
