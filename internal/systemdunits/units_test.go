package systemdunits

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	root     = "../.."
	contrib  = root + "/contrib/systemd"
	template = "gomha-manager@.service" // one cluster: gomha-manager@app1.service
	dirUnit  = "gomha-manager.service"  // every cluster of /etc/masterha
)

var units = []string{template, dirUnit}

func load(t *testing.T, path string) *unit {
	t.Helper()
	u, err := readUnit(path)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// want fails unless section's key is set to value (its last assignment).
func want(t *testing.T, u *unit, section, key, value string) {
	t.Helper()
	got, ok := u.get(section, key)
	switch {
	case !ok:
		t.Errorf("%s: [%s] %s= is missing; want %s=%s", u.path, section, key, key, value)
	case got != value:
		t.Errorf("%s: [%s] %s=%s; want %s", u.path, section, key, got, value)
	}
}

// TestUnitsKeepTheirEssentials reads the units as shipped: what makes them
// run gomha safely must not be lost in a later edit.
func TestUnitsKeepTheirEssentials(t *testing.T) {
	for _, name := range units {
		t.Run(name, func(t *testing.T) {
			u := load(t, filepath.Join(contrib, name))
			checkEssentials(t, u, "@BINDIR@/gomha")
		})
	}
}

func checkEssentials(t *testing.T, u *unit, gomha string) {
	t.Helper()
	base := filepath.Base(u.path)

	exec, _ := u.get("Service", "ExecStart")
	switch base {
	case template:
		if exec != gomha+" manager --conf /etc/masterha/%i.cnf $GOMHA_OPTS" {
			t.Errorf("%s: ExecStart=%s; want one cluster per instance: %s manager --conf /etc/masterha/%%i.cnf $GOMHA_OPTS", u.path, exec, gomha)
		}
		// A manager of one --conf does not read its file again on SIGHUP.
		if r, ok := u.get("Service", "ExecReload"); ok {
			t.Errorf("%s: ExecReload=%s: gomha manager --conf F only warns on SIGHUP (only --conf-dir reads its files again)", u.path, r)
		}
		want(t, u, "Unit", "Conflicts", dirUnit)
		if !slices.Contains(u.words("Service", "LogsDirectory"), "masterha/%i") {
			t.Errorf("%s: LogsDirectory= lacks masterha/%%i (MHA's manager_workdir and manager_log directory)", u.path)
		}
	case dirUnit:
		if exec != gomha+" manager --conf-dir /etc/masterha $GOMHA_OPTS" {
			t.Errorf("%s: ExecStart=%s; want %s manager --conf-dir /etc/masterha $GOMHA_OPTS", u.path, exec, gomha)
		}
		want(t, u, "Service", "ExecReload", "/bin/kill -HUP $MAINPID")
		if !slices.Contains(u.words("Service", "LogsDirectory"), "masterha") {
			t.Errorf("%s: LogsDirectory= lacks masterha", u.path)
		}
	default:
		t.Fatalf("%s: no rule for this unit", u.path)
	}

	want(t, u, "Service", "Type", "exec")
	want(t, u, "Service", "User", "gomha")
	want(t, u, "Service", "Group", "gomha")
	want(t, u, "Service", "EnvironmentFile", "-/etc/default/gomha")
	want(t, u, "Install", "WantedBy", "multi-user.target")

	// Restarts: on a crash or an error exit, never in a tight loop.
	want(t, u, "Service", "Restart", "on-failure")
	if d := span(t, u, "Service", "RestartSec"); d < 5*time.Second {
		t.Errorf("%s: RestartSec=%s: a failing start would loop too fast", u.path, d)
	}
	// The start limit must be reachable: burst starts, RestartSec apart,
	// fit in the interval.
	burstS, _ := u.get("Unit", "StartLimitBurst")
	burst, err := strconv.Atoi(burstS)
	interval, restartSec := span(t, u, "Unit", "StartLimitIntervalSec"), span(t, u, "Service", "RestartSec")
	if err != nil || burst < 1 || time.Duration(burst-1)*restartSec >= interval {
		t.Errorf("%s: StartLimitBurst=%q within StartLimitIntervalSec=%s, RestartSec=%s: the limit is never reached, so a configuration error restarts forever",
			u.path, burstS, interval, restartSec)
	}
	if !slices.Contains(u.words("Service", "SuccessExitStatus"), "143") {
		t.Errorf("%s: SuccessExitStatus= lacks 143 (a second SIGTERM: an operator's stop)", u.path)
	}

	// Stopping never cuts a failover: SIGTERM to gomha alone (not to its
	// hooks), time for the failover to finish.
	want(t, u, "Service", "KillMode", "mixed")
	if s, ok := u.get("Service", "KillSignal"); ok && s != "SIGTERM" {
		t.Errorf("%s: KillSignal=%s; gomha stops cleanly on SIGTERM", u.path, s)
	}
	if d := span(t, u, "Service", "TimeoutStopSec"); d < 5*time.Minute {
		t.Errorf("%s: TimeoutStopSec=%s: a failover under way gets less than 5 minutes to finish", u.path, d)
	}

	// Hardening that leaves the hooks and the state gomha keeps alone.
	want(t, u, "Service", "NoNewPrivileges", "yes")
	want(t, u, "Service", "ProtectSystem", "strict")
	want(t, u, "Service", "ProtectHome", "read-only")
	want(t, u, "Service", "CapabilityBoundingSet", "")
	want(t, u, "Service", "StateDirectory", "gomha")
	// manager_workdir defaults to /var/tmp: a private one would hide the
	// status file from masterha_check_status and drop <app>.failover.error
	// (what stops a second failover) at every restart.
	if v, _ := u.get("Service", "PrivateTmp"); v != "" && v != "no" && v != "false" {
		t.Errorf("%s: PrivateTmp=%s hides MHA's default manager_workdir (/var/tmp) from the operator's commands", u.path, v)
	}
	if rw := u.words("Service", "ReadWritePaths"); !slices.Contains(rw, "/var/tmp") {
		t.Errorf("%s: ReadWritePaths=%v lacks /var/tmp, MHA's default manager_workdir", u.path, rw)
	}
	for _, k := range []string{"ProtectKernelTunables", "ProtectKernelModules", "ProtectControlGroups",
		"RestrictSUIDSGID", "LockPersonality", "RestrictRealtime"} {
		want(t, u, "Service", k, "yes")
	}
	want(t, u, "Service", "SystemCallArchitectures", "native")
}

func span(t *testing.T, u *unit, section, key string) time.Duration {
	t.Helper()
	v, ok := u.get(section, key)
	if !ok {
		t.Errorf("%s: [%s] %s= is missing", u.path, section, key)
		return 0
	}
	d, err := parseTimespan(v)
	if err != nil {
		t.Errorf("%s: [%s] %s=%s: %v", u.path, section, key, v, err)
	}
	return d
}

// TestMakeInstall runs `make install` into a temporary DESTDIR and checks
// that the units land where systemd looks (/usr/local/lib/systemd/system
// for the default PREFIX) naming the installed binary; then with PREFIX
// and the unit directories set, into real paths that systemd-analyze
// verify and systemd-sysusers check, when they are on this machine.
func TestMakeInstall(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	build := t.TempDir() // BIN: the repository's ./bin is left alone

	t.Run("default PREFIX", func(t *testing.T) {
		dest := t.TempDir()
		makeInstall(t, "DESTDIR="+dest, "BIN="+build)
		for _, f := range []string{"usr/local/bin/gomha", "usr/local/bin/masterha_manager", "usr/local/bin/masterha_stop"} {
			if _, err := os.Stat(filepath.Join(dest, f)); err != nil {
				t.Error(err)
			}
		}
		unitDir := filepath.Join(dest, "usr/local/lib/systemd/system")
		for _, name := range units {
			u := load(t, filepath.Join(unitDir, name))
			checkInstalled(t, u.path)
			checkEssentials(t, u, "/usr/local/bin/gomha")
		}
		sysusers := filepath.Join(dest, "usr/local/lib/sysusers.d/gomha.conf")
		b, err := os.ReadFile(sysusers)
		if err != nil {
			t.Fatal(err)
		}
		if !regexp.MustCompile(`(?m)^u gomha - ".*" /var/lib/gomha`).Match(b) {
			t.Errorf("%s does not create the system user gomha with its home in /var/lib/gomha (the units' StateDirectory):\n%s", sysusers, b)
		}
	})

	t.Run("PREFIX and unit directories", func(t *testing.T) {
		dir := t.TempDir()
		unitDir, sysusersDir := filepath.Join(dir, "etc/systemd/system"), filepath.Join(dir, "etc/sysusers.d")
		makeInstall(t, "DESTDIR=", "PREFIX="+dir, "SYSTEMDUNITDIR="+unitDir, "SYSUSERSDIR="+sysusersDir, "BIN="+build)
		gomha := filepath.Join(dir, "bin/gomha")
		for _, name := range units {
			u := load(t, filepath.Join(unitDir, name))
			checkInstalled(t, u.path)
			checkEssentials(t, u, gomha)
		}
		checkFlags(t, gomha)
		if _, err := exec.LookPath("systemd-analyze"); err != nil {
			t.Log("systemd-analyze is not installed: the units are not verified by systemd")
		} else {
			// The template is verified through an instance.
			for _, name := range []string{dirUnit, "gomha-manager@app1.service"} {
				verify(t, filepath.Join(unitDir, name))
			}
			// The README's drop-in for VIP hooks, on an instance.
			dropin := filepath.Join(unitDir, "gomha-manager@app2.service.d")
			if err := os.MkdirAll(dropin, 0o755); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(filepath.Join(contrib, "vip-capabilities.conf"))
			if err != nil {
				t.Fatal(err)
			}
			d := load(t, filepath.Join(contrib, "vip-capabilities.conf"))
			for _, k := range []string{"CapabilityBoundingSet", "AmbientCapabilities"} {
				if w := d.words("Service", k); !slices.Equal(w, []string{"CAP_NET_ADMIN", "CAP_NET_RAW"}) {
					t.Errorf("vip-capabilities.conf: %s=%v; want CAP_NET_ADMIN CAP_NET_RAW", k, w)
				}
			}
			if err := os.WriteFile(filepath.Join(dropin, "vip-capabilities.conf"), b, 0o644); err != nil {
				t.Fatal(err)
			}
			verify(t, filepath.Join(unitDir, "gomha-manager@app2.service"))
		}
		if _, err := exec.LookPath("systemd-sysusers"); err != nil {
			t.Log("systemd-sysusers is not installed: gomha.conf is not checked by it")
		} else {
			// --dry-run on an empty root: checks the file, writes nothing.
			empty := t.TempDir()
			out, err := exec.Command("systemd-sysusers", "--dry-run", "--root="+empty, filepath.Join(sysusersDir, "gomha.conf")).CombinedOutput()
			if err != nil || !strings.Contains(string(out), "Creating user 'gomha'") {
				t.Errorf("systemd-sysusers --dry-run gomha.conf: %v\n%s", err, out)
			}
		}
	})
}

// verify runs systemd-analyze verify on a unit (its drop-ins included).
// It exits 0 on an unknown key or a bad value: any word from it fails.
func verify(t *testing.T, path string) {
	t.Helper()
	out, err := exec.Command("systemd-analyze", "verify", "--man=no", path).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify %s: %v\n%s", filepath.Base(path), err, out)
	}
}

func makeInstall(t *testing.T, vars ...string) {
	t.Helper()
	cmd := exec.Command("make", append([]string{"-s", "-C", root, "install"}, vars...)...)
	// Under `make test PREFIX=... DESTDIR=...`, the outer make's variables
	// would reach this one (MAKEFLAGS, and the environment): the install
	// must go where the test says, never into the system.
	strip := []string{"MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES",
		"PREFIX", "DESTDIR", "BINDIR", "SYSTEMDUNITDIR", "SYSUSERSDIR", "BIN"}
	for _, e := range os.Environ() {
		if k, _, _ := strings.Cut(e, "="); !slices.Contains(strip, k) {
			cmd.Env = append(cmd.Env, e)
		}
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make install %s: %v\n%s", strings.Join(vars, " "), err, out)
	}
}

// checkInstalled: readable by all, every placeholder substituted.
func checkInstalled(t *testing.T, path string) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o644 {
		t.Errorf("%s: mode %v; want 0644", path, st.Mode().Perm())
	}
	b, _ := os.ReadFile(path)
	if m := regexp.MustCompile(`@[A-Z]+@`).Find(b); m != nil {
		t.Errorf("%s: %s left unsubstituted", path, m)
	}
}

// checkFlags: every option the units, the example /etc/default/gomha and
// the README give gomha manager is one it has.
func checkFlags(t *testing.T, gomha string) {
	t.Helper()
	out, err := exec.Command(gomha, "manager", "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("gomha manager --help: %v\n%s", err, out)
	}
	have := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\s+(?:-\w, )?(--[a-z][a-z0-9-]*)`).FindAllStringSubmatch(string(out), -1) {
		have[m[1]] = true
	}
	if len(have) < 10 {
		t.Fatalf("read only %d options from gomha manager --help:\n%s", len(have), out)
	}
	// The command lines: ExecStart= of the units, GOMHA_OPTS= of the
	// example and of the README, commented out or not.
	files := []string{filepath.Join(contrib, "gomha.default"), filepath.Join(root, "README.md")}
	for _, u := range units {
		files = append(files, filepath.Join(contrib, u))
	}
	var lines []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(b), "\n") {
			l = strings.TrimLeft(l, "# ")
			if strings.HasPrefix(l, "ExecStart=") || strings.HasPrefix(l, "GOMHA_OPTS=") {
				lines = append(lines, l)
			}
		}
	}
	used := regexp.MustCompile(`(?:^|[\s=])(--[a-z][a-z0-9-]*)`).FindAllStringSubmatch(strings.Join(lines, "\n"), -1)
	if len(used) < 10 {
		t.Fatalf("found only %d options in the units' ExecStart and the GOMHA_OPTS examples", len(used))
	}
	for _, m := range used {
		if !have[m[1]] {
			t.Errorf("an ExecStart= or GOMHA_OPTS= example gives gomha manager %s, which it does not have", m[1])
		}
	}
}
