package manager

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomha/gomha/manager/config"
)

// TestHookPasswordProblems: an MHA script that reads its password from
// the command line is named with its line and the fix; one adapted to the
// environment is not; hook_password_args=1 warns once about ps.
func TestHookPasswordProblems(t *testing.T) {
	dir := t.TempDir()
	mhaScript := filepath.Join(dir, "master_ip_failover")
	os.WriteFile(mhaScript, []byte("#!/usr/bin/perl\nuse Getopt::Long;\nGetOptions(\n  'command=s' => \\$command,\n  'new_master_password=s' => \\$new_master_password,\n);\n"), 0o755)
	adapted := filepath.Join(dir, "online_change")
	os.WriteFile(adapted, []byte("#!/usr/bin/perl\nmy $orig_master_password = $ENV{MHA_ORIG_MASTER_PASSWORD};\nmy $new_master_password = $ENV{MHA_NEW_MASTER_PASSWORD};\n"), 0o755)
	cfg := &config.Config{Servers: []config.Server{{
		MasterIPFailoverScript:     "/usr/bin/env perl " + mhaScript + " --vip=10.0.0.9",
		MasterIPOnlineChangeScript: adapted,
		ReportScript:               "/nonexistent/report",
	}, {MasterIPFailoverScript: "/usr/bin/env perl " + mhaScript + " --vip=10.0.0.9"}}}
	ps := hookPasswordProblems(cfg)
	if len(ps) != 1 {
		t.Fatalf("problems %v, want one about %s", ps, mhaScript)
	}
	for _, want := range []string{"master_ip_failover_script " + mhaScript + " line 5 reads --new_master_password",
		"MHA_NEW_MASTER_PASSWORD", "hook_password_args=1"} {
		if !strings.Contains(ps[0].Msg, want) {
			t.Errorf("%q lacks %q", ps[0].Msg, want)
		}
	}
	cfg.Servers[0].HookPasswordArgs = true
	ps = hookPasswordProblems(cfg)
	if len(ps) != 1 || !strings.Contains(ps[0].Msg, "readable by every local user") {
		t.Fatalf("with hook_password_args=1: %v, want one warning about command lines", ps)
	}
}
