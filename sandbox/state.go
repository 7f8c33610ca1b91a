package sandbox

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/gomha/gomha/sandbox/internal/dirstate"
)

// record is the on-disk form of a Cluster (Dir/sandbox.json, mode 0600: it
// holds passwords).
type record struct {
	Version       int             `json:"version"`
	Dir           string          `json:"dir"`
	Hosts         []Host          `json:"hosts"`
	GTID          bool            `json:"gtid"`
	BinlogFormat  string          `json:"binlog_format"`
	User          string          `json:"user"`
	Password      string          `json:"password"`
	ReplUser      string          `json:"repl_user"`
	ReplPassword  string          `json:"repl_password"`
	ConfPath      string          `json:"conf_path"`
	SSHKey        string          `json:"ssh_key"`
	KnownHosts    string          `json:"known_hosts"`
	FirewallChain string          `json:"firewall_chain"`
	Cgroup        string          `json:"cgroup,omitempty"`
	UpDuration    time.Duration   `json:"up_duration_ns"`
	PIDs          map[string]PIDs `json:"pids"`
}

const recordVersion = 1

func (c *Cluster) record() record {
	c.mu.Lock()
	pids := make(map[string]PIDs, len(c.pids))
	for k, v := range c.pids {
		pids[k] = v
	}
	c.mu.Unlock()
	return record{
		Version: recordVersion, Dir: c.Dir, Hosts: c.Hosts, GTID: c.GTID,
		BinlogFormat: c.BinlogFormat, User: c.User, Password: c.Password,
		ReplUser: c.ReplUser, ReplPassword: c.ReplPassword, ConfPath: c.ConfPath,
		SSHKey: c.SSHKey, KnownHosts: c.KnownHosts, FirewallChain: c.FirewallChain,
		Cgroup: c.Cgroup, UpDuration: c.UpDuration, PIDs: pids,
	}
}

func fromRecord(r record, logger *slog.Logger) *Cluster {
	if r.PIDs == nil {
		r.PIDs = map[string]PIDs{}
	}
	return &Cluster{
		Dir: r.Dir, Hosts: r.Hosts, GTID: r.GTID, BinlogFormat: r.BinlogFormat,
		User: r.User, Password: r.Password, ReplUser: r.ReplUser, ReplPassword: r.ReplPassword,
		ConfPath: r.ConfPath, SSHKey: r.SSHKey, KnownHosts: r.KnownHosts,
		FirewallChain: r.FirewallChain, Cgroup: r.Cgroup, UpDuration: r.UpDuration,
		logger: logger, pids: r.PIDs,
	}
}

// save writes Dir/sandbox.json atomically.
func (c *Cluster) save() error {
	c.saveMu.Lock()
	defer c.saveMu.Unlock()
	return dirstate.Save(c.Dir, stateFile, "sandbox state", c.record())
}

// Open loads a sandbox from dir/sandbox.json as written by Up. Its logger
// discards; use SetLogger to change that.
func Open(dir string) (*Cluster, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("open sandbox %q: %w", dir, err)
	}
	r, err := readRecord(abs)
	if err != nil {
		return nil, err
	}
	if r.Dir != abs {
		return nil, fmt.Errorf("open sandbox %s: state file names dir %s (moved sandboxes are not supported)", abs, r.Dir)
	}
	return fromRecord(r, slog.New(slog.DiscardHandler)), nil
}

func readRecord(dir string) (record, error) {
	var r record
	if err := dirstate.Load(dir, stateFile, "sandbox", &r); err != nil {
		return r, err
	}
	if r.Version != recordVersion || len(r.Hosts) == 0 {
		return r, fmt.Errorf("open sandbox: %s: unsupported version %d or no hosts", filepath.Join(dir, stateFile), r.Version)
	}
	return r, nil
}
