package failover

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gomha/gomha/topology"
)

// SwitchNode is what an online switchover needs of a server beyond Node;
// manager adapts node.Session to it.
type SwitchNode interface {
	Node
	Threads(ctx context.Context) ([]Thread, error)
	// Transactions reads information_schema.INNODB_TRX (a cache InnoDB
	// refreshes only after 100 ms without readers: not for polling).
	Transactions(ctx context.Context) ([]Trx, error)
	// ActiveTransactions reads them fresh (SHOW ENGINE INNODB STATUS).
	ActiveTransactions(ctx context.Context) ([]Trx, error)
	Kill(ctx context.Context, id int64) error
	// BlockWrites sets read_only=ON (super_read_only on MySQL); the server
	// waits for running writes, at most lockWait.
	BlockWrites(ctx context.Context, lockWait time.Duration) error
	// LockAllTables takes FLUSH TABLES WITH READ LOCK on a connection of
	// its own, held until release.
	LockAllTables(ctx context.Context, lockWait time.Duration) (release func(context.Context) error, err error)
	FlushTables(ctx context.Context, lockWait time.Duration) error
	BinlogCoord(ctx context.Context) (topology.BinlogCoord, error)
	WaitCoord(ctx context.Context, c topology.BinlogCoord, timeout time.Duration) error
	SetGTIDSlavePos(ctx context.Context, pos string) error
}

// SwitchEnv is an Env that also opens switchover sessions.
type SwitchEnv interface {
	Env
	ConnectSwitch(ctx context.Context, key topology.Key) (SwitchNode, error)
}

// SwitchHooks runs master_ip_online_change_script (nil *HookRun: not
// configured). command is "stop" or "start".
type SwitchHooks interface {
	OnlineChange(ctx context.Context, command string, orig, newMaster topology.Key, origIsNewSlave bool) (*HookRun, error)
}

// Thread is one row of a server's process list.
type Thread struct {
	ID      int64
	User    string
	Host    string
	DB      string
	Command string
	Time    time.Duration
	State   string
	Info    string
}

// Trx is one open InnoDB transaction.
type Trx struct {
	ID           string
	ThreadID     int64
	Age          time.Duration
	RowsModified int64
	State        string
	Query        string
}

// Sentinel errors of the switchover.
var (
	// ErrSwitchRefused: a pre-switch check failed; nothing was changed.
	ErrSwitchRefused = errors.New("switchover refused")
	// ErrRolledBack: the switch failed after writes were blocked and was
	// undone; the old master takes writes again.
	ErrRolledBack = errors.New("switchover failed and was rolled back")
	// ErrRollbackFailed: the switch failed and could not be fully undone;
	// the report says what state each server is in.
	ErrRollbackFailed = errors.New("switchover failed and the rollback did not complete")
)

// ownMarker tags gomha's own statements; they are never "long queries".
const ownMarker = "/* gomha */"

// background says whether a thread is not a client statement: idle
// connections, replication and system threads, gomha's own queries.
func background(t Thread) bool {
	switch t.Command {
	case "Sleep", "Connect", "Binlog Dump", "Binlog Dump GTID", "Daemon", "Killed",
		"Slave_IO", "Slave_SQL", "Slave_worker", "Register Slave":
		return true
	}
	return t.User == "system user" || t.User == "event_scheduler" || strings.Contains(t.Info, ownMarker)
}

// readStatement says whether a statement cannot write: SELECT or SHOW
// after leading comments and blanks (MHA's test).
func readStatement(q string) bool {
	q = strings.TrimSpace(q)
	for strings.HasPrefix(q, "/*") {
		end := strings.Index(q, "*/")
		if end < 0 {
			return false
		}
		q = strings.TrimSpace(q[end+2:])
	}
	f := strings.Fields(q)
	if len(f) == 0 {
		return false
	}
	w := strings.ToUpper(f[0])
	return w == "SELECT" || w == "SHOW"
}

// RunningUpdates lists what on the current master would make blocking its
// writes slow or unsafe: write statements running for limit or more, and
// transactions that modified rows and stay open for limit or more (they
// hold row locks; MHA's running_updates_limit). A transaction's age comes in
// whole seconds between two truncated timestamps, so it may read a second
// more than it is: only the second below it is certain, and a transaction a
// few milliseconds old never refuses a switchover.
func RunningUpdates(threads []Thread, trxs []Trx, limit time.Duration) []string {
	var out []string
	for _, t := range threads {
		if background(t) || readStatement(t.Info) || t.Time < limit {
			continue
		}
		out = append(out, fmt.Sprintf("thread %d (%s@%s) has run %q for %s", t.ID, t.User, t.Host,
			shorten(t.Info), t.Time.Round(time.Millisecond)))
	}
	for _, x := range trxs {
		held := x.Age - time.Second
		if x.RowsModified == 0 || held < limit {
			continue
		}
		out = append(out, fmt.Sprintf("transaction %s of thread %d has held locks on %d modified rows for more than %s", x.ID, x.ThreadID,
			x.RowsModified, held))
	}
	return out
}

// LongQueries lists the client statements running on the new master for
// limit or more (MHA's running_seconds_limit): they would delay it.
func LongQueries(threads []Thread, limit time.Duration) []string {
	var out []string
	for _, t := range threads {
		if background(t) || t.Time < limit {
			continue
		}
		out = append(out, fmt.Sprintf("thread %d (%s@%s, %s) has run %q for %s", t.ID, t.User, t.Host, t.Command,
			shorten(t.Info), t.Time.Round(time.Millisecond)))
	}
	return out
}

// OpenWrites returns the transactions that modified rows: once read_only is
// set they may still commit (privileged clients) or roll back, and the old
// master's final position is known only when they are gone.
func OpenWrites(trxs []Trx) []Trx {
	var out []Trx
	for _, x := range trxs {
		if x.RowsModified > 0 {
			out = append(out, x)
		}
	}
	return out
}

// stillOpen returns the transactions of before that are in now (same id).
func stillOpen(before, now []Trx) []Trx {
	ids := map[string]bool{}
	for _, x := range now {
		ids[x.ID] = true
	}
	var out []Trx
	for _, x := range before {
		if ids[x.ID] {
			out = append(out, x)
		}
	}
	return out
}

// LagProblem says why the new master is too far behind to block writes for
// its catch-up, or "" when it is not.
func LagProblem(st *topology.Status, limit time.Duration) string {
	if st == nil || st.Replica == nil {
		return "it is not a replica"
	}
	sbm := st.Replica.SecondsBehindMaster
	if sbm == nil {
		return "Seconds_Behind_Master is NULL"
	}
	if time.Duration(*sbm)*time.Second > limit {
		return fmt.Sprintf("it is %d s behind the master (running_updates_limit %s)", *sbm, limit)
	}
	return ""
}

func shorten(q string) string {
	q = strings.Join(strings.Fields(q), " ")
	if len(q) > 80 {
		return q[:77] + "..."
	}
	return q
}
