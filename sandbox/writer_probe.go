package sandbox

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/go-sql-driver/mysql"
)

// masterProbe is what one look at a host told about its role.
type masterProbe struct {
	Addr       string    // host address probed
	At         time.Time // when the probe started
	Err        error     // the host did not answer (then nothing else is known)
	ReadOnly   bool      // @@global.read_only
	Replica    bool      // SHOW SLAVE STATUS returned a row
	MasterAddr string    // for a replica: Master_Host
}

// writable says whether the probe shows a master that takes writes: it
// answered, is not read-only and replicates from nobody.
func (p masterProbe) writable() bool { return p.Err == nil && !p.ReadOnly && !p.Replica }

func (p masterProbe) String() string {
	switch {
	case p.Err != nil:
		return fmt.Sprintf("%s: %v", p.Addr, p.Err)
	case p.Replica:
		return fmt.Sprintf("%s: replica of %s (read_only=%v)", p.Addr, p.MasterAddr, p.ReadOnly)
	default:
		return fmt.Sprintf("%s: no replication (read_only=%v)", p.Addr, p.ReadOnly)
	}
}

// openShort opens a pool of at most one admin connection to h that connects
// within dial and reads or writes within rw, so a dead or isolated host
// cannot stall its caller. No connection is made before first use. The
// driver's own messages (such as "connection reset by peer" when a master is
// killed) go to logger at debug level instead of stderr.
func (c *Cluster) openShort(h Host, dial, rw time.Duration, logger *slog.Logger) (*sql.DB, error) {
	return c.openShortAddr(h.mysqlAddr(), h.Addr, h.label(), dial, rw, logger)
}

// openShortAddr is openShort to any host:port (a proxy): host names it in
// the driver's messages, label in errors.
func (c *Cluster) openShortAddr(addr, host, label string, dial, rw time.Duration, logger *slog.Logger) (*sql.DB, error) {
	cfg := mysql.NewConfig()
	cfg.User = c.User
	cfg.Passwd = c.Password
	cfg.Net = "tcp"
	cfg.Addr = addr
	cfg.Timeout = dial
	cfg.ReadTimeout = rw
	cfg.WriteTimeout = rw
	cfg.InterpolateParams = true
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg.Logger = driverLogger{logger.With("host", host)}
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("connection settings for %s: %w", label, err)
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(1)
	return db, nil
}

// driverLogger sends go-sql-driver's messages to slog.
type driverLogger struct{ l *slog.Logger }

func (d driverLogger) Print(v ...any) { d.l.Debug("mysql driver", "msg", fmt.Sprint(v...)) }

// probeMaster reads read_only and the replica status of one host.
func probeMaster(ctx context.Context, db *sql.DB, addr string, at time.Time) masterProbe {
	p := masterProbe{Addr: addr, At: at}
	if err := db.QueryRowContext(ctx, "SELECT @@global.read_only /* gomha writer probe */").Scan(&p.ReadOnly); err != nil {
		p.Err = fmt.Errorf("read read_only on %s: %w", addr, err)
		return p
	}
	rows, err := queryMaps(ctx, db, "SHOW SLAVE STATUS /* gomha writer probe */")
	if err != nil {
		p.Err = fmt.Errorf("show slave status on %s: %w", addr, err)
		return p
	}
	if len(rows) > 0 {
		p.Replica = true
		p.MasterAddr = rows[0]["Master_Host"]
	}
	return p
}

// masterCandidate is a host that takes writes, with the number of probed
// replicas configured to replicate from it.
type masterCandidate struct {
	Addr      string
	Followers int
}

// masterCandidates lists the writable hosts of probes, most followed first;
// ties keep the order of probes (host order). A stale old master that came
// back writable is followed by nobody, so the master the replicas were moved
// to wins over it.
func masterCandidates(probes []masterProbe) []masterCandidate {
	followers := map[string]int{}
	for _, p := range probes {
		if p.Err == nil && p.Replica {
			followers[p.MasterAddr]++
		}
	}
	var out []masterCandidate
	for _, p := range probes {
		if p.writable() {
			out = append(out, masterCandidate{Addr: p.Addr, Followers: followers[p.Addr]})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Followers > out[j].Followers })
	return out
}

// pickMaster decides where the writer writes next. probes must be fresh
// (taken after the decision became necessary); hosts that did not answer are
// unknown, not rejected.
//
// After a failed write (failed=true) it returns the best candidate, current
// included, preferring current on a tie, or "" when no host qualifies yet.
// While writes succeed (failed=false) it moves only when current answered,
// is still a writable master, and another writable master has strictly more
// followers: that is the "stale old master" case, where the replicas were
// moved away from the host the writer uses. Otherwise it returns current.
func pickMaster(probes []masterProbe, current string, failed bool) string {
	cands := masterCandidates(probes)
	cur := -1
	for i, cd := range cands {
		if cd.Addr == current {
			cur = i
		}
	}
	if !failed {
		if cur < 0 || len(cands) == 0 || cands[0].Followers <= cands[cur].Followers {
			return current
		}
		return cands[0].Addr
	}
	if len(cands) == 0 {
		return ""
	}
	if cur >= 0 && cands[cur].Followers == cands[0].Followers {
		return current
	}
	return cands[0].Addr
}

// probeSummary is a one-line account of probes for error messages.
func probeSummary(probes []masterProbe) string {
	s := ""
	for i, p := range probes {
		if i > 0 {
			s += "; "
		}
		s += p.String()
	}
	if s == "" {
		return "no host answered"
	}
	return s
}

// prober probes one host of a writer in a loop: every probeTick while the
// writer looks for a master, every staleCheckEvery otherwise. Each host has
// its own goroutine so a host that hangs delays only its own result.
type prober struct {
	host Host
	db   *sql.DB
}

func (w *Writer) runProber(ctx context.Context, p prober, slot int) {
	defer w.probeWG.Done()
	var last time.Time
	t := time.NewTicker(probeTick)
	defer t.Stop()
	for {
		now := w.now()
		if w.finding.Load() || now.Sub(last) >= staleCheckEvery {
			last = now
			pctx, cancel := context.WithTimeout(ctx, probeTimeout)
			res := probeMaster(pctx, p.db, p.host.Addr, now)
			cancel()
			w.probeMu.Lock()
			w.probes[slot] = res
			w.probeMu.Unlock()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// freshProbes returns the latest probe of every host that started at or after
// since and got an answer or a definite error.
func (w *Writer) freshProbes(since time.Time) []masterProbe {
	w.probeMu.Lock()
	defer w.probeMu.Unlock()
	var out []masterProbe
	for _, p := range w.probes {
		if !p.At.IsZero() && !p.At.Before(since) {
			out = append(out, p)
		}
	}
	return out
}
