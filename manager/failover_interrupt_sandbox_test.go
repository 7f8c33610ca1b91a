package manager_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gomha/gomha/coord"
	"github.com/gomha/gomha/failover"
	"github.com/gomha/gomha/internal/testkit"
)

// TestFailoverCtrlCSandbox: an operator presses Ctrl-C twice (SIGINT) on
// `gomha failover` while it applies the salvaged tail to the new master.
// Past its point of no return a failover is not cut in half, not even by a
// second signal (which ends other commands at once): it finishes, exits 0,
// and its report says a stop was asked for; nothing is lost or applied
// twice, and no journal is left behind.
func TestFailoverCtrlCSandbox(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "gomha")
	if b, err := exec.Command("go", "build", "-o", bin, "github.com/gomha/gomha/cmd/gomha").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	s := newScenarioConf(t, true, "", map[string]string{"server2": "candidate_master=1"}, withFormat("MIXED", onceConf...))
	k := s.startCounter()
	s.waitCount(k, 50)
	before := s.deadMasterAhead(k)
	out := &testkit.Buffer{}
	cmd := exec.Command(bin, "failover", "--conf", s.c.ConfPath, "--dead-master-host", s.key("host1").Host)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &gomhaProcess{t: t, cmd: cmd}
	s.waitHalfApplied(before)
	at := s.counterValue("host2")
	// An operator's Ctrl-C, then another one a moment later.
	p.signal(syscall.SIGINT)
	sent := time.Now()
	time.Sleep(200 * time.Millisecond)
	p.signal(syscall.SIGINT)
	code := p.wait(60 * time.Second)
	t.Logf("two SIGINTs with the counter at %d on host2 (%d before, %d acknowledged): exit %d %s later",
		at, before, k.n(), code, time.Since(sent).Round(time.Millisecond))
	for _, want := range []string{
		"stop requested: once it has begun changing servers the command finishes first", // the first Ctrl-C
		"still running: last step: apply " + s.key("host2").String(),                    // the second: where it stands
		"--resume",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("gomha failover does not tell the operator %q:\n%s", want, out)
		}
	}
	if code != 0 {
		t.Fatalf("the failover exited %d after a Ctrl-C past its point of no return, want 0 (it finishes)", code)
	}
	rep := latestReport(t, s.cfg.ManagerWorkdir, s.cfg.App)
	if !rep.Succeeded || rep.NewMaster != s.key("host2").String() {
		t.Fatalf("report of the interrupted failover: succeeded %v, new master %s", rep.Succeeded, rep.NewMaster)
	}
	if !strings.Contains(strings.Join(rep.Warnings, "\n"), "past its point of no return") {
		t.Errorf("the report does not say a stop was requested: %q", rep.Warnings)
	}
	if entries, _, err := coord.ReadJournal(s.cfg.ManagerWorkdir, s.cfg.App); err != nil || len(entries) != 0 {
		t.Errorf("journal after the finished failover: %d entries (%v)", len(entries), err)
	}
	s.verify("host2", "host1")
	s.checkCounter(k, "host2", "host3")
}

// latestReport reads the newest failover report (JSON) in workdir.
func latestReport(t *testing.T, workdir, app string) *failover.Report {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(workdir, app+".failover.*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no failover report in %s (%v)", workdir, err)
	}
	sort.Strings(files)
	data, err := os.ReadFile(files[len(files)-1])
	if err != nil {
		t.Fatal(err)
	}
	var rep failover.Report
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatalf("%s: %v", files[len(files)-1], err)
	}
	return &rep
}
