package sandbox

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-sql-driver/mysql"
)

// viaRetry is the pause after a failed write through a proxy before the
// next attempt (a new connection through the proxy).
const viaRetry = probeTick

// openVia opens the writer's one connection through the proxy at addr and
// maps the hosts' server_ids to their addresses.
func (w *Writer) openVia(addr string) (*Writer, error) {
	db, err := w.c.openShortAddr(addr, addr, "proxy "+addr, probeTimeout, writeTimeout, w.logger)
	if err != nil {
		return nil, err
	}
	w.writeDBs[addr] = db
	w.byID = make(map[uint32]string, len(w.c.Hosts))
	for _, h := range w.c.Hosts {
		w.byID[h.ServerID] = h.Addr
	}
	return w, nil
}

// startVia is StartWriter through a proxy: it waits until the proxy leads
// to a writable host, creates the table there and starts the loop.
func (w *Writer) startVia(ctx, loopCtx context.Context) (*Writer, error) {
	fctx, cancel := context.WithTimeout(ctx, findFirstTimeout)
	host, err := w.waitVia(fctx)
	cancel()
	if err != nil {
		w.shutdown()
		return nil, err
	}
	next, err := w.prepareTable(ctx, w.via)
	if err != nil {
		w.shutdown()
		return nil, err
	}
	w.logger.Info("writer started", "via", w.via, "host", host, "first_id", next)
	go w.runVia(loopCtx, next)
	return w, nil
}

// waitVia waits until a connection through the proxy reaches a writable
// host, and returns that host's address.
func (w *Writer) waitVia(ctx context.Context) (string, error) {
	var last error
	for {
		qctx, cancel := context.WithTimeout(ctx, writeTimeout)
		var ro bool
		var id uint32
		err := w.writeDBs[w.via].QueryRowContext(qctx,
			"SELECT @@global.read_only, @@global.server_id /* gomha writer */").Scan(&ro, &id)
		cancel()
		switch {
		case err != nil:
			last = err
		case ro:
			last = fmt.Errorf("server_id %d is read_only", id)
		case w.byID[id] == "":
			last = fmt.Errorf("server_id %d is no host of the sandbox", id)
		default:
			return w.byID[id], nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("start writer: no writable master through %s within %v: %w", w.via, findFirstTimeout, last)
		case <-time.After(viaRetry):
		}
	}
}

// runVia is the writer's loop through a proxy: commit, record, and after a
// failure try again (the proxy decides where the next connection goes).
func (w *Writer) runVia(ctx context.Context, next int64) {
	defer close(w.done)
	var lastHost string
	for !w.stopping() && ctx.Err() == nil {
		ids := make([]int64, w.rows)
		for i := range ids {
			ids[i] = next
			next++
		}
		host, out, err := w.commitVia(ctx, ids)
		w.record(host, ids, out, err)
		pause := w.interval
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			w.logger.Debug("write through the proxy failed", "via", w.via, "host", host, "ids", ids, "outcome", out, "err", err)
			pause = viaRetry
		} else if host != lastHost {
			if lastHost != "" {
				w.logger.Info("the proxy sent the writer to another master", "via", w.via, "from", lastHost, "to", host)
			}
			lastHost = host
		}
		if pause > 0 {
			select {
			case <-w.stop:
			case <-ctx.Done():
			case <-time.After(pause):
			}
		}
	}
}

// commitVia inserts ids in one transaction through the proxy: it learns
// which host it reached (@@server_id), refuses (rolls back) if that host
// is read-only, and classifies the result as commit does. host is "" when
// the transaction failed before the host was known.
func (w *Writer) commitVia(ctx context.Context, ids []int64) (host string, _ outcome, _ error) {
	ctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	tx, err := w.writeDBs[w.via].BeginTx(ctx, nil)
	if err != nil {
		return "", failed, fmt.Errorf("begin through %s: %w", w.via, err)
	}
	var id uint32
	if err := tx.QueryRowContext(ctx, "SELECT @@global.server_id /* gomha writer */").Scan(&id); err != nil {
		_ = tx.Rollback()
		return "", failed, fmt.Errorf("read server_id through %s: %w", w.via, err)
	}
	host = w.byID[id]
	if host == "" {
		_ = tx.Rollback()
		return "", failed, fmt.Errorf("%s led to server_id %d, no host of the sandbox", w.via, id)
	}
	q, args := w.insertSQL(host, ids)
	if _, err := tx.ExecContext(ctx, q, args...); err != nil {
		_ = tx.Rollback()
		return host, failed, fmt.Errorf("insert ids %d.. on %s through %s: %w", ids[0], host, w.via, err)
	}
	var ro bool
	if err := tx.QueryRowContext(ctx, "SELECT @@global.read_only /* gomha writer */").Scan(&ro); err != nil {
		_ = tx.Rollback()
		return host, failed, fmt.Errorf("read read_only on %s through %s: %w", host, w.via, err)
	}
	if ro {
		_ = tx.Rollback()
		return host, failed, fmt.Errorf("insert ids %d.. on %s through %s: %w", ids[0], host, w.via, errReadOnly)
	}
	if err := tx.Commit(); err != nil {
		var me *mysql.MySQLError
		if errors.As(err, &me) {
			return host, failed, fmt.Errorf("commit ids %d.. on %s through %s: %w", ids[0], host, w.via, err)
		}
		return host, unknown, fmt.Errorf("commit ids %d.. on %s through %s: outcome unknown: %w", ids[0], host, w.via, err)
	}
	return host, committed, nil
}
