package manager

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/gomha/gomha/node"
	"github.com/gomha/gomha/topology"
)

// ErrLockHeld means another session holds MHA's advisory lock on the master:
// another manager already monitors it.
var ErrLockHeld = errors.New("advisory lock is already held by someone")

// Ping types (MHA's ping_type).
const (
	PingSelect  = "SELECT"
	PingConnect = "CONNECT"
	PingInsert  = "INSERT"
)

// monitorLock is MHA's advisory lock name, so gomha and MHA exclude each other.
const monitorLock = "MHA_Master_High_Availability_Monitor"

// pinger checks the master per ping_type. It keeps one persistent connection
// holding the advisory lock (and serving SELECT and INSERT pings). Not safe
// for concurrent use.
type pinger struct {
	cfg      node.MySQLConfig
	pingType string
	timeout  time.Duration
	log      *slog.Logger

	sess       *node.Session
	conn       *sql.Conn
	lockConnID int64 // server connection id that took the lock; 0 = never
	lockMisses int   // reconnections in a row that found the lock held (see lockGrace)
}

func newPinger(cfg node.MySQLConfig, pingType string, interval time.Duration, log *slog.Logger) *pinger {
	cfg.ConnectTimeout, cfg.QueryTimeout = interval, interval
	pt := strings.ToUpper(pingType)
	if pt == "" {
		pt = PingSelect
	}
	return &pinger{cfg: cfg, pingType: pt, timeout: interval, log: log}
}

// ensure opens the persistent connection if needed and takes the lock on it.
// Errors are *topology.ConnError, or wrap ErrLockHeld.
func (p *pinger) ensure(ctx context.Context) error {
	if p.conn != nil {
		return nil
	}
	sess, err := node.OpenMySQL(ctx, p.cfg)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	conn, err := sess.DB().Conn(cctx)
	if err != nil {
		sess.Close()
		return node.ClassifyMySQLError(p.cfg.Key, err)
	}
	p.sess, p.conn = sess, conn
	if err := p.lock(ctx); err != nil {
		p.close()
		return err
	}
	if p.pingType == PingInsert {
		if err := p.createInfra(ctx); err != nil {
			p.close()
			return err
		}
	}
	return nil
}

// lock takes GET_LOCK(monitorLock, 0). When the holder is our own previous
// connection (still open on the server after a network failure), it is
// killed and the lock taken again; when the lock is free by the time its
// holder is asked for, it is taken again; when another connection holds it
// after we held it, the master counts as alive and the next ping asks
// again, lockGrace times, before ErrLockHeld.
func (p *pinger) lock(ctx context.Context) error {
	got, id, err := p.getLock(ctx)
	if err != nil {
		return err
	}
	if got {
		p.lockConnID, p.lockMisses = id, 0
		return nil
	}
	var holder sql.NullInt64
	qctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	if err := p.conn.QueryRowContext(qctx, "SELECT /* gomha */ IS_USED_LOCK(?)", monitorLock).Scan(&holder); err != nil {
		return node.ClassifyMySQLError(p.cfg.Key, err)
	}
	if !holder.Valid {
		// Free again: its holder went away between the two statements
		// (our own previous connection, ended by the server as a cut
		// heals). Take it.
		if got, id, err = p.getLock(ctx); err == nil && got {
			p.lockConnID, p.lockMisses = id, 0
			return nil
		}
		if err != nil {
			return err
		}
	}
	if p.lockConnID != 0 && holder.Valid && holder.Int64 == p.lockConnID {
		p.log.Warn("advisory lock still held by our previous connection; killing it", "connection_id", holder.Int64)
		if _, err := p.conn.ExecContext(qctx, fmt.Sprintf("KILL /* gomha */ CONNECTION %d", holder.Int64)); err != nil {
			p.log.Warn("kill previous monitor connection failed", "error", err)
		}
		// KILL only flags the connection: the server frees its lock when
		// that thread notices, a moment later. Ask again until then.
		for {
			if got, id, err = p.getLock(ctx); err == nil && got {
				p.lockConnID, p.lockMisses = id, 0
				return nil
			}
			select {
			case <-qctx.Done():
			case <-time.After(20 * time.Millisecond):
				continue
			}
			break
		}
	}
	if p.lockConnID != 0 && p.lockMisses < lockGrace {
		// We held it before this reconnection: the holder may be a
		// connection of ours the server has not ended yet (a GET_LOCK
		// sent before a network cut, run by the server when it healed,
		// after we gave up on it). The master is alive; ask again at the
		// next ping before concluding another manager took it.
		p.lockMisses++
		return fmt.Errorf("%w: GET_LOCK('%s') on %s is held by connection %d, perhaps a connection of ours the server has not ended yet: asking again (%d/%d)",
			errLockBusy, monitorLock, p.cfg.Key, holder.Int64, p.lockMisses, lockGrace)
	}
	return fmt.Errorf("%w: GET_LOCK('%s') on %s is held by connection %d", ErrLockHeld, monitorLock, p.cfg.Key, holder.Int64)
}

// errLockBusy: the master answered, but the advisory lock this manager
// held is held by another connection; it is asked for again at the next
// pings (lockGrace times) before ErrLockHeld.
var errLockBusy = errors.New("advisory lock busy")

// lockGrace is how many reconnections in a row may find the advisory lock
// held by another connection, once the pinger held it, before the manager
// concludes another monitor took it.
const lockGrace = 3

func (p *pinger) getLock(ctx context.Context) (bool, int64, error) {
	qctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	var got sql.NullInt64
	var id int64
	err := p.conn.QueryRowContext(qctx, "SELECT /* gomha */ GET_LOCK(?, 0), CONNECTION_ID()", monitorLock).Scan(&got, &id)
	if err != nil {
		return false, 0, node.ClassifyMySQLError(p.cfg.Key, err)
	}
	return got.Valid && got.Int64 == 1, id, nil
}

func (p *pinger) createInfra(ctx context.Context) error {
	for _, q := range []string{
		"CREATE DATABASE /* gomha */ IF NOT EXISTS infra",
		"CREATE TABLE /* gomha */ IF NOT EXISTS infra.chk_masterha (`key` tinyint NOT NULL PRIMARY KEY, `val` int(10) unsigned NOT NULL DEFAULT 0)",
	} {
		qctx, cancel := context.WithTimeout(ctx, 10*p.timeout)
		_, err := p.conn.ExecContext(qctx, q)
		cancel()
		if err != nil {
			return node.ClassifyMySQLError(p.cfg.Key, fmt.Errorf("prepare INSERT ping on %s: %w", p.cfg.Key, err))
		}
	}
	return nil
}

// ping checks the master once, within one ping interval. On failure the
// persistent connection is dropped, to be reopened by the next ping. Errors
// are *topology.ConnError, or wrap ErrLockHeld.
func (p *pinger) ping(ctx context.Context) error {
	if err := p.ensure(ctx); err != nil {
		return err
	}
	qctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	var err error
	switch p.pingType {
	case PingConnect:
		err = p.connectPing(qctx)
	case PingInsert:
		_, err = p.conn.ExecContext(qctx, "INSERT /* gomha */ INTO infra.chk_masterha VALUES (1, UNIX_TIMESTAMP()) ON DUPLICATE KEY UPDATE val = UNIX_TIMESTAMP()")
	default:
		var one int
		err = p.conn.QueryRowContext(qctx, "SELECT /* gomha */ 1").Scan(&one)
	}
	if err != nil {
		p.close()
		return node.ClassifyMySQLError(p.cfg.Key, err)
	}
	return nil
}

// connectPing opens a new connection and runs SELECT 1 on it.
func (p *pinger) connectPing(ctx context.Context) error {
	s, err := node.OpenMySQL(ctx, p.cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	var one int
	return s.DB().QueryRowContext(ctx, "SELECT /* gomha */ 1").Scan(&one)
}

func (p *pinger) close() {
	if p.conn != nil {
		p.conn.Close()
	}
	if p.sess != nil {
		p.sess.Close()
	}
	p.conn, p.sess = nil, nil
}

// watchBeat is how long each watch query sleeps: a quarter of the ping
// interval, between 100 and 500 ms. It is the resolution at which the
// manager notices a master that stopped answering.
func watchBeat(interval time.Duration) time.Duration {
	return min(max(interval/4, 100*time.Millisecond), 500*time.Millisecond)
}

// watchFailure is one failure of the watch connection; at is when the
// master last failed to answer: when the stalled query's answer was due,
// or when the connection broke.
type watchFailure struct {
	err error
	at  time.Time
}

// watch keeps one connection busy with short SLEEP queries, re-issued in a
// loop, so that the master is heard from every watchBeat: when mysqld dies
// the query fails at once (EOF or reset); when the master or its host goes
// silent, the answer is missing one beat later. Each failure is sent on
// failed (without blocking). After a failure it reconnects every interval
// until ctx ends.
func watch(ctx context.Context, cfg node.MySQLConfig, interval time.Duration, failed chan<- watchFailure, log *slog.Logger) {
	beat := watchBeat(interval)
	cfg.ConnectTimeout = interval
	cfg.QueryTimeout = 3 * beat // the driver's read timeout; the query's own deadline is shorter
	query := fmt.Sprintf("SELECT /* gomha: master watch */ SLEEP(%g)", beat.Seconds())
	for ctx.Err() == nil {
		f := watchOnce(ctx, cfg, query, beat)
		if ctx.Err() != nil {
			return
		}
		log.Debug("master watch connection failed", "error", f.err)
		select {
		case failed <- f:
		default:
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}

// watchOnce connects and loops on the sleep query until it fails or its
// answer is more than a beat late.
func watchOnce(ctx context.Context, cfg node.MySQLConfig, query string, beat time.Duration) watchFailure {
	s, err := node.OpenMySQL(ctx, cfg)
	if err != nil {
		return watchFailure{err: err, at: time.Now()}
	}
	defer s.Close()
	conn, err := s.DB().Conn(ctx)
	if err != nil {
		return watchFailure{err: node.ClassifyMySQLError(cfg.Key, err), at: time.Now()}
	}
	defer conn.Close()
	for {
		sent := time.Now()
		qctx, cancel := context.WithTimeout(ctx, 2*beat)
		var r sql.NullInt64
		err := conn.QueryRowContext(qctx, query).Scan(&r)
		late := qctx.Err() != nil
		cancel()
		if err == nil {
			continue
		}
		if late && ctx.Err() == nil {
			return watchFailure{at: sent.Add(beat), err: &topology.ConnError{Key: cfg.Key, Kind: topology.ConnTimeout,
				Err: fmt.Errorf("master watch: no answer within %s", (2 * beat).Round(time.Millisecond))}}
		}
		ce := node.ClassifyMySQLError(cfg.Key, fmt.Errorf("master watch: %w", err))
		if ce.Kind == topology.ConnTimeout {
			// The driver says "invalid connection" for a connection the
			// server or the network closed, as for a read timeout.
			ce = &topology.ConnError{Key: cfg.Key, Kind: topology.ConnUnreachable, Err: fmt.Errorf("master watch: connection lost: %w", err)}
		}
		return watchFailure{err: ce, at: time.Now()}
	}
}

// connKind returns the kind of a ping or connect error (0 for nil).
func connKind(err error) topology.ConnErrorKind {
	if err == nil {
		return 0
	}
	if k := topology.ConnErrorKindOf(err); k != 0 {
		return k
	}
	return topology.ConnUnreachable
}
