package sandbox

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

// outcome is what became of one write transaction.
type outcome int

const (
	committed outcome = iota // COMMIT returned OK
	failed                   // certainly not committed
	unknown                  // the connection died during COMMIT
)

// run is the writer's loop: commit, record, and on a failure look for the
// master again. It is the only goroutine that writes, so the writer never
// writes to two hosts at once.
func (w *Writer) run(ctx context.Context, current string, next int64) {
	defer close(w.done)
	for !w.stopping() && ctx.Err() == nil {
		ids := make([]int64, w.rows)
		for i := range ids {
			ids[i] = next
			next++
		}
		out, err := w.commit(ctx, current, ids)
		w.record(current, ids, out, err)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			w.logger.Debug("write failed", "host", current, "ids", ids, "outcome", out, "err", err)
			pick, ok := w.findMaster(ctx, current, w.now())
			if !ok {
				return
			}
			if pick != current {
				w.logger.Info("writer moves to another master", "from", current, "to", pick, "after", err.Error())
			}
			current = pick
			continue
		}
		if pick := pickMaster(w.freshProbes(w.now().Add(-maxProbeAge)), current, false); pick != current {
			w.logger.Warn("writer leaves a stale master: the replicas follow another writable host",
				"from", current, "to", pick)
			current = pick
		}
		if w.interval > 0 {
			select {
			case <-w.stop:
			case <-ctx.Done():
			case <-time.After(w.interval):
			}
		}
	}
}

// findMaster waits until probes started at or after since name a master,
// and returns it; ok is false when the writer stops or ctx ends first. It
// decides once every host answered or failed, or after findGrace: a
// decision on the first answers alone could pick a stale old master before
// the replica that follows the new one was heard.
func (w *Writer) findMaster(ctx context.Context, current string, since time.Time) (string, bool) {
	w.finding.Store(true)
	defer w.finding.Store(false)
	t := time.NewTicker(probeTick)
	defer t.Stop()
	for {
		fresh := w.freshProbes(since)
		if len(fresh) == len(w.probes) || w.now().Sub(since) >= findGrace {
			if pick := pickMaster(fresh, current, true); pick != "" {
				return pick, true
			}
		}
		select {
		case <-w.stop:
			return "", false
		case <-ctx.Done():
			return "", false
		case <-t.C:
		}
	}
}

// commit inserts ids on host in one transaction, refusing (rolling back) if
// the host is read-only, and classifies the result.
func (w *Writer) commit(ctx context.Context, host string, ids []int64) (outcome, error) {
	ctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	tx, err := w.writeDBs[host].BeginTx(ctx, nil)
	if err != nil {
		return failed, fmt.Errorf("begin on %s: %w", host, err)
	}
	q, args := w.insertSQL(host, ids)
	if _, err := tx.ExecContext(ctx, q, args...); err != nil {
		_ = tx.Rollback()
		return failed, fmt.Errorf("insert ids %d.. on %s: %w", ids[0], host, err)
	}
	var ro bool
	if err := tx.QueryRowContext(ctx, "SELECT @@global.read_only /* gomha writer */").Scan(&ro); err != nil {
		_ = tx.Rollback()
		return failed, fmt.Errorf("read read_only on %s: %w", host, err)
	}
	if ro {
		_ = tx.Rollback()
		return failed, fmt.Errorf("insert ids %d.. on %s: %w", ids[0], host, errReadOnly)
	}
	if err := tx.Commit(); err != nil {
		// An error packet means the server refused the COMMIT; anything else
		// (connection lost, timeout) leaves the outcome unknown.
		var me *mysql.MySQLError
		if errors.As(err, &me) {
			return failed, fmt.Errorf("commit ids %d.. on %s: %w", ids[0], host, err)
		}
		return unknown, fmt.Errorf("commit ids %d.. on %s: outcome unknown: %w", ids[0], host, err)
	}
	return committed, nil
}

// insertSQL is one multi-row INSERT of ids, recording host and the time.
func (w *Writer) insertSQL(host string, ids []int64) (string, []any) {
	var b strings.Builder
	b.WriteString("INSERT INTO " + w.table + " (id, payload, host, ts) VALUES ")
	args := make([]any, 0, 4*len(ids))
	ts := w.now()
	for i, id := range ids {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(?, ?, ?, ?)")
		args = append(args, id, fmt.Sprintf("gomha writer row %d", id), host, ts)
	}
	b.WriteString(" /* gomha writer */")
	return b.String(), args
}

// record notes the outcome of one transaction.
func (w *Writer) record(host string, ids []int64, out outcome, err error) {
	now := w.now()
	w.mu.Lock()
	defer w.mu.Unlock()
	switch out {
	case committed:
		for _, id := range ids {
			w.rec.acks = append(w.rec.acks, Ack{ID: id, Host: host, At: now})
		}
		w.acked.Add(int64(len(ids)))
	case unknown:
		w.rec.unknown = append(w.rec.unknown, ids...)
	}
	if err != nil {
		w.rec.errors++
		w.rec.lastErr = err.Error()
		w.rec.lastErrAt = now
	}
}

func (o outcome) String() string {
	switch o {
	case committed:
		return "committed"
	case failed:
		return "failed"
	default:
		return "unknown"
	}
}
