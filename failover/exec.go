package failover

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"time"

	"github.com/gomha/gomha/binlog"
	"github.com/gomha/gomha/topology"
)

// Node is what the failover needs of one MySQL/MariaDB server; node.Session
// satisfies it.
type Node interface {
	Key() topology.Key
	Flavor() topology.Flavor
	Discover(ctx context.Context) (*topology.Status, error)
	Var(ctx context.Context, name string) (string, error)
	StopReplicaIO(ctx context.Context) error
	StopReplica(ctx context.Context) error
	StartReplica(ctx context.Context) error
	ResetReplicaAll(ctx context.Context) error
	SetReadOnly(ctx context.Context, on bool) error
	ChangeMaster(ctx context.Context, cm topology.ChangeMaster) error
	WaitRelayApplied(ctx context.Context, timeout time.Duration) (*topology.Status, error)
	WaitGTID(ctx context.Context, pos string, timeout time.Duration) error
	WaitReplicaRunning(ctx context.Context, timeout time.Duration) error
	Close() error
}

// Shell is a command channel to a host; node.SSHSession satisfies it.
type Shell interface {
	Run(ctx context.Context, cmd string) (stdout, stderr []byte, err error)
	Stream(ctx context.Context, cmd string) (io.ReadCloser, error)
	Close() error
}

// Env gives the failover access to the cluster; the manager builds it from
// the configuration.
type Env interface {
	// Connect opens an admin session to a server.
	Connect(ctx context.Context, key topology.Key) (Node, error)
	// Shell opens an SSH session to a server's host.
	Shell(ctx context.Context, key topology.Key) (Shell, error)
	// Snapshot reads every configured server; dead is marked dead without
	// a connection attempt when it is not zero.
	Snapshot(ctx context.Context, dead topology.Key) *topology.Snapshot
	// ApplyTarget is how the local mariadb client reaches a server.
	ApplyTarget(key topology.Key) binlog.Target
	// BinlogDirs is the server's master_binlog_dir.
	BinlogDirs(key topology.Key) []string
	// Source is how replicas reach a server in CHANGE MASTER TO: its
	// configured hostname and port, and the replication credentials.
	Source(key topology.Key) topology.ChangeMaster
}

// Hooks runs the configured scripts. A nil *HookRun means "not configured".
// Exit codes follow MHA: 0 ok, 10 failed but proceed, anything else aborts.
type Hooks interface {
	FailoverStop(ctx context.Context, dead topology.Key, sshReachable bool) (*HookRun, error)
	Shutdown(ctx context.Context, dead topology.Key, sshReachable bool) (*HookRun, error)
	FailoverStart(ctx context.Context, dead, newMaster topology.Key) (*HookRun, error)
	Report(ctx context.Context, r *Report, newSlaves []topology.Key) (*HookRun, error)
}

// Options steer one failover run.
type Options struct {
	App  string
	Plan PlanOptions // NewMasterHost, LatestPriority, CheckReplDelay, IgnoreFailOnDead, MultiTierSlave, GTID
	// SSHReachable says whether the dead master's host answers SSH; nil
	// means unknown: the failover checks.
	SSHReachable   *bool
	SkipSalvage    bool          // --skip_save_master_binlog
	SkipDisableRO  bool          // --skip_disable_read_only
	SkipResetSlave bool          // skip_reset_slave
	RelayWait      time.Duration // bound on waiting for SQL threads (default 60 s)
	CatchUpWait    time.Duration // bound on a replica catching up (default 5 min)
	WorkDir        string        // local directory for extracted binlogs
	Detection      *Detection
	Logger         *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.RelayWait <= 0 {
		o.RelayWait = 60 * time.Second
	}
	if o.CatchUpWait <= 0 {
		o.CatchUpWait = 5 * time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Sentinel errors of the execution.
var (
	ErrMasterAlive   = errors.New("the master is alive")
	ErrHookAborted   = errors.New("hook script aborted the failover")
	ErrRecoverMaster = errors.New("recovery of the new master failed")
)

// PartialError reports a failover whose new master took over but some
// replicas could not be recovered (MHA's exit code 10).
type PartialError struct{ Failed []string }

func (e *PartialError) Error() string {
	return "master switched, but recovery failed on " + joinComma(e.Failed)
}

func joinComma(xs []string) string {
	out := ""
	for i, x := range xs {
		if i > 0 {
			out += ", "
		}
		out += x
	}
	return out
}
