package manager_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/gomha/gomha/manager"
	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/topology"
)

// The test binary doubles as a failover process that a test can kill
// (SIGKILL) half-way: with GOMHA_TEST_FAILOVER_CONF set, it runs one
// failover of GOMHA_TEST_FAILOVER_DEAD and exits.
func TestMain(m *testing.M) {
	if conf := os.Getenv("GOMHA_TEST_FAILOVER_CONF"); conf != "" {
		os.Exit(helperFailover(conf, os.Getenv("GOMHA_TEST_FAILOVER_DEAD")))
	}
	os.Exit(m.Run())
}

func helperFailover(conf, dead string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg, err := config.Load(ctx, conf, config.Options{NoGlobal: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	_, err = manager.RunFailover(ctx, cfg, manager.FailoverOptions{Dead: topology.Key{Host: dead, Port: 3306}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	return manager.ExitCode(err)
}

// failoverProcess is a failover running in a child process.
type failoverProcess struct {
	t   *testing.T
	cmd *exec.Cmd
}

// startFailoverProcess runs the failover of host in a child process.
func (s *scenario) startFailoverProcess(host string) *failoverProcess {
	s.t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "GOMHA_TEST_FAILOVER_CONF="+s.c.ConfPath, "GOMHA_TEST_FAILOVER_DEAD="+s.key(host).Host)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start failover process: %v", err)
	}
	p := &failoverProcess{t: s.t, cmd: cmd}
	s.t.Cleanup(func() {
		if cmd.ProcessState == nil {
			p.kill()
		}
	})
	return p
}

// kill SIGKILLs the failover process, as a power cut would.
func (p *failoverProcess) kill() {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		p.t.Fatalf("kill failover process %d: %v", p.cmd.Process.Pid, err)
	}
	_ = p.cmd.Wait()
}
