package sandbox

import (
	"time"
)

// Ack is one acknowledged write: the COMMIT of the transaction that inserted
// ID returned OK on Host (an address) at At.
type Ack struct {
	ID   int64
	Host string
	At   time.Time
}

// Switch is one move of the writer from a master to another, seen from the
// acknowledgements: the last one on From, the first one on To.
type Switch struct {
	From, To    string // host addresses
	LastAckOld  time.Time
	FirstAckNew time.Time
	Downtime    time.Duration // FirstAckNew - LastAckOld
}

// WriterReport is what a Writer did, returned by Stop.
type WriterReport struct {
	Table string // schema.table written to
	// Acked are the ids whose COMMIT returned OK, in commit order. Every one
	// must exist on the surviving master and its replicas.
	Acked []int64
	// Unknown are the ids whose COMMIT outcome is unknown (the connection
	// died during COMMIT): they may or may not exist.
	Unknown []int64
	// Acks holds every acknowledgement with its host and time.
	Acks []Ack
	// ByHost counts acknowledgements per host address.
	ByHost map[string]int
	// Switches lists each move to another master, in order.
	Switches []Switch
	// Downtime is the longest gap between two consecutive acknowledgements,
	// or between the last one and Stopped when the writer was failing at the
	// end: the write downtime a client saw.
	Downtime         time.Duration
	Started, Stopped time.Time
	// Errors counts failed transactions (refused, rolled back or unknown).
	Errors int
	// LastError is the last failure, "" if none.
	LastError string
}

// AckedOnAfter counts the writes host (an address) acknowledged strictly
// after t. A failover test asserts AckedOnAfter(oldMaster, FirstAck(newMaster))
// == 0: no write was accepted by the old master once the new one took any.
func (r WriterReport) AckedOnAfter(host string, t time.Time) int {
	n := 0
	for _, a := range r.Acks {
		if a.Host == host && a.At.After(t) {
			n++
		}
	}
	return n
}

// FirstAck is the time of the first write host (an address) acknowledged;
// ok is false if it acknowledged none.
func (r WriterReport) FirstAck(host string) (t time.Time, ok bool) {
	for _, a := range r.Acks {
		if a.Host == host {
			return a.At, true
		}
	}
	return time.Time{}, false
}

// LastAck is the time of the last write host (an address) acknowledged; ok
// is false if it acknowledged none.
func (r WriterReport) LastAck(host string) (t time.Time, ok bool) {
	for i := len(r.Acks) - 1; i >= 0; i-- {
		if r.Acks[i].Host == host {
			return r.Acks[i].At, true
		}
	}
	return time.Time{}, false
}

// writerRecord is the mutable record of a running writer, guarded by
// Writer.mu.
type writerRecord struct {
	acks      []Ack
	unknown   []int64
	errors    int
	lastErr   string
	lastErrAt time.Time
}

// buildReport turns a writer's record into its report.
func buildReport(rec writerRecord, table string, started, stopped time.Time) WriterReport {
	r := WriterReport{
		Table: table, Acks: rec.acks, Unknown: rec.unknown, ByHost: map[string]int{},
		Started: started, Stopped: stopped, Errors: rec.errors, LastError: rec.lastErr,
	}
	r.Acked = make([]int64, len(rec.acks))
	for i, a := range rec.acks {
		r.Acked[i] = a.ID
		r.ByHost[a.Host]++
	}
	r.Switches = switchesOf(rec.acks)
	r.Downtime = longestGap(rec.acks, rec.lastErrAt, stopped)
	return r
}

// switchesOf finds the moves between hosts in acks (in commit order).
func switchesOf(acks []Ack) []Switch {
	var out []Switch
	for i := 1; i < len(acks); i++ {
		prev, cur := acks[i-1], acks[i]
		if prev.Host != cur.Host {
			out = append(out, Switch{
				From: prev.Host, To: cur.Host, LastAckOld: prev.At, FirstAckNew: cur.At,
				Downtime: cur.At.Sub(prev.At),
			})
		}
	}
	return out
}

// longestGap is the longest time between consecutive acknowledgements. When
// the last error came after the last acknowledgement the writer was still
// down when it stopped, so the time from that acknowledgement to stopped
// counts too.
func longestGap(acks []Ack, lastErrAt, stopped time.Time) time.Duration {
	var gap time.Duration
	for i := 1; i < len(acks); i++ {
		gap = max(gap, acks[i].At.Sub(acks[i-1].At))
	}
	if n := len(acks); n > 0 && lastErrAt.After(acks[n-1].At) {
		gap = max(gap, stopped.Sub(acks[n-1].At))
	}
	return gap
}
