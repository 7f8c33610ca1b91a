package failover

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gomha/gomha/topology"
)

// Decisions that stop a plan. Each is returned wrapped in a message that
// names the servers concerned; test with errors.Is.
var (
	// ErrNoCandidate: no alive replica may become the new master, or the
	// server forced with --new_master_host may not. See *CandidateError.
	ErrNoCandidate = errors.New("no replica can become the new master")
	// ErrDivergedReplicas: two replicas' GTID histories cannot be ordered,
	// so "the latest replica" does not exist. See *DivergenceError.
	ErrDivergedReplicas = errors.New("replicas have diverged GTID histories")
	// ErrErrantTransactions: a replica holds transactions that did not come
	// from the dead master's history. See *ErrantError.
	ErrErrantTransactions = errors.New("errant transactions on a replica")
	// ErrReplicaDead: a replica without ignore_fail could not be read. MHA
	// refuses to fail over then; so do we.
	ErrReplicaDead = errors.New("a replica is dead and does not have ignore_fail")
	// ErrNotReplicaOfDead: an alive server does not replicate from the dead
	// master (and is neither ignore_fail nor a managed multi-tier replica).
	ErrNotReplicaOfDead = errors.New("a server does not replicate from the dead master")
	// ErrUnorderedCoords: replicas report master binlog coordinates that
	// cannot be ordered (file names without numeric suffix, different bases).
	ErrUnorderedCoords = errors.New("replica positions cannot be ordered")
	// ErrBadSnapshot: the snapshot lacks what a plan needs (the dead master
	// is not configured, no alive replica, a live master for a switchover).
	ErrBadSnapshot = errors.New("snapshot cannot be planned")
	// ErrNotHealthy: a switchover needs a live master and healthy replicas.
	ErrNotHealthy = errors.New("replication is not healthy enough for a switchover")
)

// Excluded names a server left out of a plan, or a replica that cannot be
// the new master, and why.
type Excluded struct {
	Key   topology.Key
	Label string // "hostname(ip:port)"
	Why   string
	// Down: the server could not be read (left out with ignore_fail): the
	// failover then ends with MHA's exit code 10.
	Down bool `json:",omitempty"`
}

func (e Excluded) String() string { return e.Label + ": " + e.Why }

// CandidateError explains why no new master could be chosen: every replica
// considered and why it was rejected, or why the forced one was.
type CandidateError struct {
	Forced   topology.Key // zero unless --new_master_host was given
	Rejected []Excluded
}

func (e *CandidateError) Error() string {
	var b strings.Builder
	if !e.Forced.IsZero() {
		fmt.Fprintf(&b, "%v: %s (--new_master_host) cannot be promoted", ErrNoCandidate, e.Forced)
		for _, r := range e.Rejected {
			if r.Key == e.Forced {
				fmt.Fprintf(&b, ": %s", r.Why)
			}
		}
		b.WriteString("; there is no fallback: fix it or name another server")
		return b.String()
	}
	b.WriteString(ErrNoCandidate.Error())
	if len(e.Rejected) == 0 {
		b.WriteString(": no alive replica of the dead master")
	}
	for i, r := range e.Rejected {
		sep := "; "
		if i == 0 {
			sep = ": "
		}
		b.WriteString(sep + r.String())
	}
	return b.String()
}

// Unwrap makes errors.Is(err, ErrNoCandidate) true.
func (e *CandidateError) Unwrap() error { return ErrNoCandidate }

// DivergenceError names two replicas whose GTID histories cannot be ordered
// and the GTIDs where they part.
type DivergenceError struct {
	A, B         topology.Key
	AGTID, BGTID string // the conflicting GTIDs, or what each has that the other lacks
	Detail       string
}

func (e *DivergenceError) Error() string {
	return fmt.Sprintf("%v: %s has %s, %s has %s (%s); decide which history is right and fix the other replica before failing over",
		ErrDivergedReplicas, e.A, orNone(e.AGTID), e.B, orNone(e.BGTID), e.Detail)
}

// Unwrap makes errors.Is(err, ErrDivergedReplicas) true.
func (e *DivergenceError) Unwrap() error { return ErrDivergedReplicas }

// ErrantError names a replica holding transactions outside the master's
// history.
type ErrantError struct {
	Key   topology.Key
	GTIDs string
	Why   string
}

func (e *ErrantError) Error() string {
	return fmt.Sprintf("%v: %s has %s (%s); remove them or make every server hold them before failing over",
		ErrErrantTransactions, e.Key, e.GTIDs, e.Why)
}

// Unwrap makes errors.Is(err, ErrErrantTransactions) true.
func (e *ErrantError) Unwrap() error { return ErrErrantTransactions }

func orNone(s string) string {
	if s == "" {
		return "nothing"
	}
	return s
}
