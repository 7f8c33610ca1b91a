package hook

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func script(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "hook.sh")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRunArgumentsAndSecrets(t *testing.T) {
	s := script(t, `echo "args:$*"; echo "pw:$MHA_NEW_MASTER_PASSWORD"; exit 10`)
	res, err := Runner{}.Run(context.Background(), s+" --extra='a b'", []Arg{
		{Name: "command", Value: "start"},
		{Name: "new_master_host", Value: "h o'st"},
		{Name: "orig_master_is_new_slave", Flag: true},
		{Name: "new_master_password", Value: "p#w d", Secret: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 10 {
		t.Fatalf("exit code %d, want 10 (MHA's 'failed but proceed')", res.ExitCode)
	}
	want := "args:--extra=a b --command=start --new_master_host=h o'st --orig_master_is_new_slave\npw:p#w d"
	if res.Output != want {
		t.Fatalf("output %q, want %q", res.Output, want)
	}
	if strings.Contains(res.String(), "p#w d") {
		t.Fatalf("secret on the logged command line: %s", res)
	}
}

// TestRunPasswordArgs: hook_password_args=1 hands the password to a script
// that only reads MHA's command line, and the logged line masks it.
func TestRunPasswordArgs(t *testing.T) {
	s := script(t, `echo "args:$*"; echo "pw:$MHA_NEW_MASTER_PASSWORD"`)
	res, err := Runner{PasswordArgs: true}.Run(context.Background(), s, []Arg{
		{Name: "command", Value: "start"},
		{Name: "new_master_password", Value: "p#w d", Secret: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "args:--command=start --new_master_password=p#w d\npw:p#w d"
	if res.Output != want {
		t.Fatalf("output %q, want %q", res.Output, want)
	}
	if strings.Contains(res.String(), "p#w d") || !strings.Contains(res.String(), "--new_master_password=xxx") {
		t.Fatalf("logged command line %q: want the password masked", res)
	}
}

func TestRunTimeoutKillsProcessGroup(t *testing.T) {
	s := script(t, "sleep 30 & sleep 30\n")
	start := time.Now()
	res, err := Runner{Timeout: 300 * time.Millisecond}.Run(context.Background(), s, nil)
	if !errors.Is(err, ErrTimeout) || !res.TimedOut {
		t.Fatalf("want timeout, got %v %+v", err, res)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatalf("a hung hook held the caller for %s", time.Since(start))
	}
}

func TestRunMissingScript(t *testing.T) {
	res, err := Runner{}.Run(context.Background(), "/nonexistent/hook", nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 127 {
		t.Fatalf("missing script exit %d, want 127 from the shell", res.ExitCode)
	}
}
