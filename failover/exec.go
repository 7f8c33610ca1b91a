package failover

import (
	"context"
	"errors"
	"io"
	"io/fs"
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
	StartReplicaSQL(ctx context.Context) error
	StopReplica(ctx context.Context) error
	StartReplica(ctx context.Context) error
	ResetReplicaAll(ctx context.Context) error
	SetReadOnly(ctx context.Context, on bool) error
	ChangeMaster(ctx context.Context, cm topology.ChangeMaster) error
	// ApplyRelayLog lets the replica execute all it received (its SQL
	// thread started if it was stopped without an error) and returns its
	// status read after both threads are stopped.
	ApplyRelayLog(ctx context.Context, timeout time.Duration, progress func(*topology.Status)) (*topology.Status, error)
	// KillLockHolders kills the sessions that keep session victim (0: the
	// replication applier threads) waiting for a lock once it has waited a
	// second; it describes those it killed.
	KillLockHolders(ctx context.Context, victim uint64) ([]string, error)
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

// FileShell is a Shell that can also read files on its host without
// running a command (SFTP over the open connection: no shell to start).
type FileShell interface {
	Shell
	Files(ctx context.Context) (RemoteFiles, error)
}

// RemoteFiles reads a host's files.
type RemoteFiles interface {
	ReadDir(dir string) ([]fs.FileInfo, error)
	Open(path string) (RemoteFile, error)
}

// RemoteFile is an open file on a host.
type RemoteFile interface {
	io.ReaderAt
	io.Closer
	Stat() (fs.FileInfo, error)
	// CopyTo writes the bytes from off to the end of the file to w.
	CopyTo(w io.Writer, off int64) (int64, error)
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

// Journal records each irreversible step before it is taken, so that a run
// killed half-way leaves what a successor needs to finish it without
// repeating anything; the manager backs it with coord's journal.
type Journal interface {
	Record(step, server, detail string, data map[string]string) error
}

// Resume is what an interrupted failover's journal says, for the run that
// finishes it.
type Resume struct {
	NewMaster topology.Key // chosen by the interrupted run; zero if it did not get that far
	Promoted  bool         // the new master's promotion was under way or done
	// CatchingUp: the new master was replicating from the latest replica
	// to catch up when the run was interrupted.
	CatchingUp bool
	// PromotedPos is the new master's GTID position when it was promoted
	// (gtid_binlog_pos / gtid_executed), when the journal has it.
	PromotedPos string
}

// Options steer one failover run.
type Options struct {
	App  string
	Plan PlanOptions // NewMasterHost, LatestPriority, CheckReplDelay, IgnoreFailOnDead, MultiTierSlave, GTID
	// SSHReachable says whether the dead master's host answers SSH; nil
	// means unknown: the failover checks.
	SSHReachable   *bool
	SkipSalvage    bool // --skip_save_master_binlog
	SkipDisableRO  bool // --skip_disable_read_only
	SkipResetSlave bool // skip_reset_slave
	// SkipChangeMaster (--skip_change_master): promote the new master but
	// leave the other replicas as they are (recovered, not repointed).
	SkipChangeMaster bool
	// RelayWait (relay_wait_timeout) bounds the wait for every replica to
	// apply what it received, and each apply of missing events.
	RelayWait   time.Duration
	CatchUpWait time.Duration // bound on a replica catching up (default 5 min)
	CopyWait    time.Duration // bound on copying the dead master's binlogs (default 10 min)
	WorkDir     string        // local directory for extracted binlogs
	Detection   *Detection
	// Rerun is the command that runs this failover again, for the report
	// when it stops half-way (the manager knows the configuration path).
	Rerun string
	// DeadGone says the dead master can take no write now: its port
	// refused connections, or neither it nor its host answered anything
	// while it was confirmed dead. Its fencing then goes on beside the
	// promotion instead of holding it (it is still awaited, and reported,
	// before the failover ends). Otherwise (a master that hangs, or whose
	// host still answers) the promotion waits for it.
	DeadGone bool
	// Fence is fence_old_master (default kill); DeadAddr is the dead
	// master's IP as its host knows it, DeadPIDFile master_pid_file.
	Fence       FenceMode
	DeadAddr    string
	DeadPIDFile string
	// Journal, when set, gets every irreversible step before it is taken.
	Journal Journal
	// Resume, when set, finishes the failover an interrupted run began.
	Resume *Resume
	Logger *slog.Logger
}

// DefaultRelayWait is relay_wait_timeout's default: long enough for a
// replicated ALTER TABLE of a large table to finish on a replica.
const DefaultRelayWait = time.Hour

func (o Options) withDefaults() Options {
	if o.RelayWait <= 0 {
		o.RelayWait = DefaultRelayWait
	}
	if o.CatchUpWait <= 0 {
		o.CatchUpWait = 5 * time.Minute
	}
	if o.CopyWait <= 0 {
		o.CopyWait = 10 * time.Minute
	}
	if o.Fence == "" {
		o.Fence = FenceKill
	}
	if o.Rerun == "" {
		o.Rerun = "the same failover command"
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
	// ErrDiverged: a survivor does not hold everything the new master held
	// when it was promoted; it is left out and named (exit code 10).
	ErrDiverged = errors.New("it does not hold everything the new master held when it was promoted")
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
