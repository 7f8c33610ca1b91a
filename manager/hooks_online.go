package manager

import (
	"context"
	"strconv"

	"github.com/gomha/gomha/failover"
	"github.com/gomha/gomha/manager/hook"
	"github.com/gomha/gomha/topology"
)

var _ failover.SwitchHooks = (*Hooks)(nil)

// OnlineChange runs master_ip_online_change_script --command=stop|start
// with MHA's arguments (MHA.md section 5). The passwords travel in the
// environment as MHA_ORIG_MASTER_PASSWORD and MHA_NEW_MASTER_PASSWORD,
// never on the command line. The script is the original master's.
func (h *Hooks) OnlineChange(ctx context.Context, command string, orig, newMaster topology.Key, origIsNewSlave bool) (*failover.HookRun, error) {
	o, n := h.server(orig), h.server(newMaster)
	args := []hook.Arg{arg("command", command),
		arg("orig_master_host", o.Hostname), arg("orig_master_ip", ip(o)), arg("orig_master_port", strconv.Itoa(o.Port)),
		arg("orig_master_user", o.User),
		arg("new_master_host", n.Hostname), arg("new_master_ip", ip(n)), arg("new_master_port", strconv.Itoa(n.Port)),
		arg("new_master_user", n.User),
		arg("orig_master_ssh_user", o.SSHUser), arg("new_master_ssh_user", n.SSHUser)}
	args = append(args, sshArgs("orig_master_", o, true)...)
	args = append(args, sshArgs("new_master_", n, false)...)
	if origIsNewSlave {
		args = append(args, hook.Arg{Name: "orig_master_is_new_slave", Flag: true})
	}
	args = append(args,
		hook.Arg{Name: "orig_master_password", Value: o.Password.Reveal(), Secret: true},
		hook.Arg{Name: "new_master_password", Value: n.Password.Reveal(), Secret: true})
	script := o.MasterIPOnlineChangeScript
	if script == "" {
		script = n.MasterIPOnlineChangeScript
	}
	return h.run(ctx, script, args)
}
