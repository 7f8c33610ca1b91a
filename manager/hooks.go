package manager

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/gomha/gomha/failover"
	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/manager/hook"
	"github.com/gomha/gomha/topology"
)

// Hooks runs MHA's scripts with MHA's arguments (MHA.md section 5); it
// implements failover.Hooks. Passwords travel in the environment
// (MHA_NEW_MASTER_PASSWORD, ...), and on the command line only with
// hook_password_args=1.
type Hooks struct {
	cfg    *config.Config
	Runner hook.Runner
}

// NewHooks returns Hooks for cfg with a per-script timeout.
func NewHooks(cfg *config.Config, timeout time.Duration) *Hooks {
	return &Hooks{cfg: cfg, Runner: hook.Runner{Timeout: timeout, PasswordArgs: passwordArgs(cfg)}}
}

// passwordArgs is hook_password_args, read like the other cluster-wide
// settings from the first server.
func passwordArgs(cfg *config.Config) bool {
	return len(cfg.Servers) > 0 && cfg.Servers[0].HookPasswordArgs
}

var _ failover.Hooks = (*Hooks)(nil)

func (h *Hooks) server(key topology.Key) config.Server {
	for _, s := range h.cfg.Servers {
		if TopologyServer(s).Key() == key {
			return s
		}
	}
	return config.Server{Hostname: key.Host, IP: key.Host, Port: key.Port}
}

func (h *Hooks) run(ctx context.Context, script string, args []hook.Arg) (*failover.HookRun, error) {
	if script == "" {
		return nil, nil
	}
	res, err := h.Runner.Run(ctx, script, args)
	hr := &failover.HookRun{Command: res.String(), ExitCode: res.ExitCode, Output: res.Output, Took: res.Took}
	if err != nil {
		hr.Error = err.Error()
	}
	return hr, err
}

func arg(name, value string) hook.Arg { return hook.Arg{Name: name, Value: value} }

func ip(s config.Server) string {
	if s.IP != "" {
		return s.IP
	}
	return s.Hostname
}

// sshArgs are the extra SSH arguments MHA adds when the SSH endpoint differs
// from the MySQL one.
func sshArgs(prefix string, s config.Server, withOptions bool) []hook.Arg {
	var out []hook.Arg
	if s.SSHHost != "" && s.SSHHost != s.Hostname {
		out = append(out, arg(prefix+"ssh_host", s.SSHHost), arg(prefix+"ssh_ip", s.SSHIP))
	}
	if s.SSHPort != 0 && s.SSHPort != 22 {
		out = append(out, arg(prefix+"ssh_port", strconv.Itoa(s.SSHPort)))
	}
	if withOptions && s.SSHOptions != "" {
		out = append(out, arg("ssh_options", s.SSHOptions))
	}
	return out
}

func command(sshReachable bool) string {
	if sshReachable {
		return "stopssh"
	}
	return "stop"
}

// FailoverStop runs master_ip_failover_script --command=stop|stopssh.
func (h *Hooks) FailoverStop(ctx context.Context, dead topology.Key, sshReachable bool) (*failover.HookRun, error) {
	s := h.server(dead)
	args := []hook.Arg{arg("orig_master_host", s.Hostname), arg("orig_master_ip", ip(s)), arg("orig_master_port", strconv.Itoa(s.Port)),
		arg("command", command(sshReachable))}
	if sshReachable {
		args = append(args, arg("ssh_user", s.SSHUser))
	}
	return h.run(ctx, s.MasterIPFailoverScript, append(args, sshArgs("orig_master_", s, true)...))
}

// Shutdown runs shutdown_script --command=stop|stopssh.
func (h *Hooks) Shutdown(ctx context.Context, dead topology.Key, sshReachable bool) (*failover.HookRun, error) {
	s := h.server(dead)
	args := []hook.Arg{arg("command", command(sshReachable))}
	if sshReachable {
		args = append(args, arg("ssh_user", s.SSHUser))
	}
	args = append(args, arg("host", s.Hostname), arg("ip", ip(s)), arg("port", strconv.Itoa(s.Port)))
	if s.MasterPIDFile != "" {
		args = append(args, arg("pid_file", s.MasterPIDFile))
	}
	return h.run(ctx, s.ShutdownScript, append(args, sshArgs("", s, true)...))
}

// FailoverStart runs master_ip_failover_script --command=start.
func (h *Hooks) FailoverStart(ctx context.Context, dead, newMaster topology.Key) (*failover.HookRun, error) {
	o, n := h.server(dead), h.server(newMaster)
	args := []hook.Arg{arg("command", "start"), arg("ssh_user", n.SSHUser),
		arg("orig_master_host", o.Hostname), arg("orig_master_ip", ip(o)), arg("orig_master_port", strconv.Itoa(o.Port)),
		arg("new_master_host", n.Hostname), arg("new_master_ip", ip(n)), arg("new_master_port", strconv.Itoa(n.Port)),
		arg("new_master_user", n.User)}
	args = append(args, sshArgs("orig_master_", o, true)...)
	args = append(args, sshArgs("new_master_", n, false)...)
	args = append(args, hook.Arg{Name: "new_master_password", Value: n.Password.Reveal(), Secret: true})
	return h.run(ctx, o.MasterIPFailoverScript, args)
}

// Report runs report_script with the failover's subject and body.
func (h *Hooks) Report(ctx context.Context, r *failover.Report, newSlaves []topology.Key) (*failover.HookRun, error) {
	if len(h.cfg.Servers) == 0 {
		return nil, nil
	}
	script := h.cfg.Servers[0].ReportScript
	orig := r.DeadMaster
	if orig == "" {
		orig = r.OldMaster
	}
	var args []hook.Arg
	if k, err := parseKey(orig); err == nil {
		args = append(args, arg("orig_master_host", h.server(k).Hostname))
	}
	if r.Succeeded && r.NewMaster != "" {
		if k, err := parseKey(r.NewMaster); err == nil {
			args = append(args, arg("new_master_host", h.server(k).Hostname))
		}
		var hosts []string
		for _, k := range newSlaves {
			hosts = append(hosts, h.server(k).Hostname)
		}
		args = append(args, arg("new_slave_hosts", strings.Join(hosts, ",")))
	}
	args = append(args, arg("conf", h.cfg.File), arg("subject", r.Subject()), arg("body", r.String()))
	return h.run(ctx, script, args)
}

// CheckStatus runs the status commands of master_ip_failover_script and
// shutdown_script, as MHA does before monitoring; a non-zero exit is an error.
func (h *Hooks) CheckStatus(ctx context.Context, master topology.Key) []*failover.HookRun {
	s := h.server(master)
	var out []*failover.HookRun
	if s.MasterIPFailoverScript != "" {
		r, _ := h.run(ctx, s.MasterIPFailoverScript, append([]hook.Arg{arg("command", "status"), arg("ssh_user", s.SSHUser),
			arg("orig_master_host", s.Hostname), arg("orig_master_ip", ip(s)), arg("orig_master_port", strconv.Itoa(s.Port))},
			sshArgs("orig_master_", s, true)...))
		r.Name = "master_ip_failover_script status"
		out = append(out, r)
	}
	if s.ShutdownScript != "" {
		r, _ := h.run(ctx, s.ShutdownScript, append([]hook.Arg{arg("command", "status"), arg("ssh_user", s.SSHUser),
			arg("host", s.Hostname), arg("ip", ip(s))}, sshArgs("", s, true)...))
		r.Name = "shutdown_script status"
		out = append(out, r)
	}
	return out
}

func parseKey(s string) (topology.Key, error) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return topology.Key{}, strconv.ErrSyntax
	}
	p, err := strconv.Atoi(s[i+1:])
	return topology.Key{Host: strings.Trim(s[:i], "[]"), Port: p}, err
}
