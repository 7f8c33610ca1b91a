package manager_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gomha/gomha/coord/etcdcoord"
	"github.com/gomha/gomha/manager"
	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/topology"
)

// The test binary doubles as a gomha process that a test can kill or
// interrupt half-way: with GOMHA_TEST_ROLE set it runs, on the
// configuration GOMHA_TEST_CONF, one failover of GOMHA_TEST_DEAD
// ("failover"), a manager that exits after one failover ("manager"), or a
// switchover to GOMHA_TEST_NEW ("switch"), with SIGINT and SIGTERM
// cancelling its context as in gomha's main, and exits with its code.
func TestMain(m *testing.M) {
	if role := os.Getenv("GOMHA_TEST_ROLE"); role != "" {
		os.Exit(helper(role, os.Getenv("GOMHA_TEST_CONF")))
	}
	os.Exit(m.Run())
}

func helper(role, conf string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	limit := 2 * time.Minute
	if role == "led" {
		limit = 5 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	cfg, err := config.Load(ctx, conf, config.Options{NoGlobal: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	switch role {
	case "failover":
		_, err = manager.RunFailover(ctx, cfg, manager.FailoverOptions{Dead: topology.Key{Host: os.Getenv("GOMHA_TEST_DEAD"), Port: 3306}})
	case "manager":
		err = manager.RunManager(ctx, cfg, manager.ManagerOptions{Once: true})
	case "led":
		err = runLed(ctx, cfg)
	case "switch":
		// A write transaction younger than the limit passes the checks and
		// is waited for TrxWait once writes are blocked: the window a test
		// interrupts the switch in.
		_, err = manager.RunSwitchover(ctx, cfg, manager.SwitchOptions{NewMaster: topology.Key{Host: os.Getenv("GOMHA_TEST_NEW"), Port: 3306},
			RunningUpdatesLimit: 10 * time.Second, TrxWait: 3 * time.Second})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	return manager.ExitCode(err)
}

// gomhaProcess is a gomha run in a child process.
type gomhaProcess struct {
	t   *testing.T
	cmd *exec.Cmd
}

// startProcess runs role in a child process; env adds GOMHA_TEST_* values.
func (s *scenario) startProcess(role string, env ...string) *gomhaProcess {
	s.t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), "GOMHA_TEST_ROLE="+role, "GOMHA_TEST_CONF="+s.c.ConfPath), env...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start %s process: %v", role, err)
	}
	p := &gomhaProcess{t: s.t, cmd: cmd}
	s.t.Cleanup(func() {
		if cmd.ProcessState == nil {
			p.kill()
		}
	})
	return p
}

// startFailoverProcess runs the failover of host in a child process.
func (s *scenario) startFailoverProcess(host string) *gomhaProcess {
	return s.startProcess("failover", "GOMHA_TEST_DEAD="+s.key(host).Host)
}

// kill SIGKILLs the process, as a power cut would.
func (p *gomhaProcess) kill() {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		p.t.Fatalf("kill process %d: %v", p.cmd.Process.Pid, err)
	}
	_ = p.cmd.Wait()
}

// signal sends sig to the process.
func (p *gomhaProcess) signal(sig syscall.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("signal process %d: %v", p.cmd.Process.Pid, err)
	}
}

// wait waits for the process to end and returns its exit code.
func (p *gomhaProcess) wait(limit time.Duration) int {
	p.t.Helper()
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case <-done:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(limit):
		p.t.Fatalf("process %d did not end within %s", p.cmd.Process.Pid, limit)
	}
	return -1
}

// runLed runs a manager coordinated through etcd (GOMHA_TEST_ETCD), with
// its own workdir (GOMHA_TEST_WORKDIR) and source address
// (GOMHA_TEST_SOURCE), as gomha manager --etcd does.
func runLed(ctx context.Context, cfg *config.Config) error {
	ttl, err := time.ParseDuration(os.Getenv("GOMHA_TEST_TTL"))
	if err != nil {
		return err
	}
	cfg.ManagerWorkdir = os.Getenv("GOMHA_TEST_WORKDIR")
	source := os.Getenv("GOMHA_TEST_SOURCE")
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, err := etcdcoord.New(etcdcoord.Options{Endpoints: strings.Split(os.Getenv("GOMHA_TEST_ETCD"), ","), TTL: ttl,
		LocalAddr: source, Logger: logger})
	if err != nil {
		return err
	}
	defer c.Close()
	return manager.RunLed(ctx, c, cfg, manager.ManagerOptions{Coord: c.Cluster(cfg.App), LocalAddr: source,
		Logger: logger, Console: manager.NewConsole(os.Stdout)})
}
