package manager

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/gomha/gomha/binlog"
	"github.com/gomha/gomha/failover"
	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/node"
	"github.com/gomha/gomha/sshpool"
	"github.com/gomha/gomha/topology"
)

// Env gives the failover access to a configured cluster: MySQL sessions,
// SSH sessions, credentials. It implements failover.Env.
type Env struct {
	cfg               *config.Config
	ConnectTimeout    time.Duration
	LocalAddr         string
	AcceptNewHostKeys bool
	Logger            *slog.Logger
	// Pool, when set, holds the manager's open SSH connections: Shell
	// leases them (and never waits for a host the pool cannot reach).
	Pool *sshpool.Pool
}

// NewEnv returns an Env over cfg.
func NewEnv(cfg *config.Config, logger *slog.Logger) *Env {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Env{cfg: cfg, ConnectTimeout: 2 * time.Second, Logger: logger}
}

var _ failover.Env = (*Env)(nil)
var _ failover.Node = (*node.Session)(nil)
var _ failover.Shell = (*node.SSHSession)(nil)

func (e *Env) server(key topology.Key) (config.Server, error) {
	for _, s := range e.cfg.Servers {
		if TopologyServer(s).Key() == key {
			return s, nil
		}
	}
	return config.Server{}, fmt.Errorf("%s is not in %s", key, e.cfg.File)
}

// Connect opens an admin session.
func (e *Env) Connect(ctx context.Context, key topology.Key) (failover.Node, error) {
	s, err := e.server(key)
	if err != nil {
		return nil, err
	}
	mc := MySQLConfig(s, e.ConnectTimeout)
	mc.LocalAddr, mc.Logger = e.LocalAddr, e.Logger
	mc.QueryTimeout = 30 * time.Second
	sess, err := node.OpenMySQL(ctx, mc)
	if err != nil {
		return nil, err
	}
	return sess, nil
}

// Shell opens an SSH session to the server's host.
func (e *Env) Shell(ctx context.Context, key topology.Key) (failover.Shell, error) {
	s, err := e.server(key)
	if err != nil {
		return nil, err
	}
	if e.Pool != nil {
		sh, err := e.Pool.Shell(ctx, key.String())
		if err == nil {
			return pooledShell{Shell: sh, pool: e.Pool, name: key.String()}, nil
		}
		if !errors.Is(err, sshpool.ErrUnknownHost) {
			return nil, err
		}
	}
	sc, err := SSHConfigFor(s, e.AcceptNewHostKeys)
	if err != nil {
		return nil, err
	}
	sc.LocalAddr, sc.Logger = e.LocalAddr, e.Logger
	sess, err := node.DialSSH(ctx, sc)
	if err != nil {
		return nil, err
	}
	return sess, nil
}

// Snapshot reads every configured server; dead is not contacted.
func (e *Env) Snapshot(ctx context.Context, dead topology.Key) *topology.Snapshot {
	var targets []node.Target
	for _, t := range Targets(e.cfg, e.ConnectTimeout) {
		if t.Server.Key() == dead {
			continue
		}
		t.MySQL.LocalAddr = e.LocalAddr
		targets = append(targets, t)
	}
	snap := node.GatherSnapshot(ctx, targets)
	var out topology.Snapshot
	for _, s := range e.cfg.Servers {
		ts := TopologyServer(s)
		if ts.Key() == dead {
			out.Nodes = append(out.Nodes, &topology.Node{Server: ts,
				Err: &topology.ConnError{Key: dead, Kind: topology.ConnRefused, Err: fmt.Errorf("confirmed dead")}})
			continue
		}
		out.Nodes = append(out.Nodes, snap.ByKey(ts.Key()))
	}
	return &out
}

// ApplyTarget is how the local mariadb client reaches the server.
func (e *Env) ApplyTarget(key topology.Key) binlog.Target {
	s, _ := e.server(key)
	return binlog.Target{Host: key.Host, Port: key.Port, User: s.User, Password: s.Password.Reveal()}
}

// BinlogDirs is the server's master_binlog_dir.
func (e *Env) BinlogDirs(key topology.Key) []string {
	s, _ := e.server(key)
	return s.MasterBinlogDir
}

// Source is what replicas put in CHANGE MASTER TO to reach the server.
func (e *Env) Source(key topology.Key) topology.ChangeMaster {
	s, _ := e.server(key)
	return topology.ChangeMaster{
		Host: s.Hostname, Port: s.Port, User: s.ReplUser,
		Password: s.ReplPassword.Reveal(), PasswordSet: s.ReplPasswordSet,
		HeartbeatPeriod: HeartbeatPeriod(s),
	}
}

// HeartbeatPeriod is the MASTER_HEARTBEAT_PERIOD gomha sets when it points
// replicas at s: half its ping_interval, so that a silent master shows in
// the replicas' heartbeat counts within one interval.
func HeartbeatPeriod(s config.Server) time.Duration {
	iv := time.Duration(s.PingInterval) * time.Second
	if iv <= 0 {
		iv = 3 * time.Second
	}
	return iv / 2
}
