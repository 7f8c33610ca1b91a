package manager

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/topology"
)

// maxScriptScan bounds how much of a hook script is read to look for
// MHA's password arguments.
const maxScriptScan = 1 << 20

// passwordArgNames are the secrets MHA passes to hooks on the command line
// and gomha passes in the environment.
var passwordArgNames = []string{"orig_master_password", "new_master_password"}

// hookSettings lists every configured script setting once: its parameter
// name and its command line.
func hookSettings(cfg *config.Config) [][2]string {
	var out [][2]string
	seen := map[string]bool{}
	add := func(name, cmd string) {
		if cmd != "" && !seen[name+"\x00"+cmd] {
			seen[name+"\x00"+cmd] = true
			out = append(out, [2]string{name, cmd})
		}
	}
	for _, s := range cfg.Servers {
		add("master_ip_failover_script", s.MasterIPFailoverScript)
		add("master_ip_online_change_script", s.MasterIPOnlineChangeScript)
		add("shutdown_script", s.ShutdownScript)
		add("report_script", s.ReportScript)
	}
	return out
}

// hookPasswordProblems finds the hook scripts that read a password from
// MHA's command-line arguments (--new_master_password) without reading
// gomha's environment variable: with hook_password_args=0 they would get
// no password. With hook_password_args=1 it warns that the passwords are
// on command lines.
func hookPasswordProblems(cfg *config.Config) []topology.Problem {
	var out []topology.Problem
	if passwordArgs(cfg) {
		out = append(out, topology.Problem{Code: topology.ProblemHookPassword, Severity: topology.SeverityWarning,
			Msg: "hook_password_args=1: MySQL passwords are passed to hook scripts on their command lines, readable by every local user (ps); " +
				"make the scripts read MHA_ORIG_MASTER_PASSWORD and MHA_NEW_MASTER_PASSWORD from the environment and set it to 0"})
		return out
	}
	for _, h := range hookSettings(cfg) {
		for _, file := range scriptFiles(h[1]) {
			for _, f := range passwordArgUses(file) {
				out = append(out, topology.Problem{Code: topology.ProblemHookPassword, Severity: topology.SeverityWarning,
					Msg: fmt.Sprintf("%s %s line %d reads --%s, which gomha passes in the environment as %s, not on the command line: "+
						"read it from there, or set hook_password_args=1 to pass it as MHA does", h[0], file, f.line, f.name, envName(f.name))})
			}
		}
	}
	return out
}

func envName(arg string) string { return "MHA_" + strings.ToUpper(arg) }

// scriptFiles returns the words of a script setting that name regular
// files: the script, or an interpreter and its script.
func scriptFiles(command string) []string {
	var out []string
	for _, w := range strings.Fields(command) {
		w = strings.Trim(w, `'"`)
		if !strings.Contains(w, "/") {
			continue
		}
		if fi, err := os.Stat(w); err == nil && fi.Mode().IsRegular() {
			out = append(out, w)
		}
	}
	return out
}

type passwordUse struct {
	name string
	line int
}

// passwordArgUses returns the first line of file naming each password
// argument, unless the file also reads that password's environment
// variable (a script already adapted to gomha). Binary files and files
// that cannot be read give nothing.
func passwordArgUses(file string) []passwordUse {
	f, err := os.Open(file)
	if err != nil {
		return nil
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxScriptScan))
	if err != nil || bytes.IndexByte(data[:min(len(data), 8192)], 0) >= 0 {
		return nil
	}
	var out []passwordUse
	for _, name := range passwordArgNames {
		if bytes.Contains(data, []byte(envName(name))) {
			continue
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(make([]byte, 0, 64*1024), maxScriptScan)
		for n := 1; sc.Scan(); n++ {
			if strings.Contains(sc.Text(), name) {
				out = append(out, passwordUse{name: name, line: n})
				break
			}
		}
	}
	return out
}
