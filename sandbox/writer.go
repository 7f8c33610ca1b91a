package sandbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const (
	defaultWriteInterval = 5 * time.Millisecond
	probeTick            = 10 * time.Millisecond      // probe rate while looking for a master
	staleCheckEvery      = 100 * time.Millisecond     // probe rate while writes succeed
	maxProbeAge          = 3 * staleCheckEvery        // older probes are ignored by the stale check
	probeTimeout         = 200 * time.Millisecond     // connect/read timeout of a probe
	findGrace            = probeTimeout + 2*probeTick // longest wait for every host's probe
	writeTimeout         = 2 * time.Second            // bound of one write transaction
	findFirstTimeout     = 10 * time.Second           // StartWriter: find the first master
	createTableTimeout   = 15 * time.Second
)

// errReadOnly means the host the writer used turned read-only. The admin
// user holds READ_ONLY ADMIN (ALL PRIVILEGES), so the server would accept
// its writes: the writer checks read_only itself inside each transaction.
var errReadOnly = errors.New("host is read_only")

// WriterOptions configure StartWriter.
type WriterOptions struct {
	// Table is schema.table, default "gomha_test.writes"; a bare name is
	// taken in TestDatabase. Created on the master if missing.
	Table string
	// Interval is the pause between commits: 0 means the default 5 ms, a
	// negative value no pause at all (as fast as possible).
	Interval time.Duration
	// RowsPerTrx is the number of rows each transaction inserts, default 1.
	RowsPerTrx int
	Logger     *slog.Logger
	// Now is the clock of every recorded time, default time.Now.
	Now func() time.Time
	// Via, when set, is the host:port of a proxy (HAProxy in front of the
	// cluster): the writer then connects there only, as an application
	// would, never probes the hosts and never picks a master itself. Each
	// transaction reads @@server_id to record which host took it, and
	// refuses a read-only one as a user without READ ONLY ADMIN would be
	// refused. After a failed write it tries again every 10 ms, on the
	// connections its pool holds, as an application would: it reaches
	// another server once the proxy has closed them (HAProxy's
	// on-marked-down shutdown-sessions) or opens new ones.
	Via string
}

var identRE = regexp.MustCompile(`^[A-Za-z0-9_]{1,64}$`)

// splitTable validates "schema.table" (or "table") into its parts.
func splitTable(name string) (schema, table string, err error) {
	schema, table, ok := strings.Cut(name, ".")
	if !ok {
		schema, table = TestDatabase, name
	}
	if !identRE.MatchString(schema) || !identRE.MatchString(table) {
		return "", "", fmt.Errorf("writer table %q: want schema.table of letters, digits and '_'", name)
	}
	return schema, table, nil
}

// Writer commits numbered rows to whichever host is the writable master,
// following it through failovers, and records which commits were
// acknowledged where and when. It writes to one host at a time, over one
// connection.
type Writer struct {
	c        *Cluster
	interval time.Duration
	rows     int
	table    string // `schema`.`table`, quoted
	name     string // schema.table
	now      func() time.Time
	logger   *slog.Logger
	writeDBs map[string]*sql.DB // by host address, one connection each
	probeDBs []*sql.DB
	via      string            // the proxy's host:port, "" when the writer finds the master itself
	byID     map[uint32]string // host address by server_id (Via)

	probeMu sync.Mutex
	probes  []masterProbe // latest probe per host, in host order
	probeWG sync.WaitGroup
	finding atomic.Bool // looking for a master: probe every probeTick

	cancelProbes context.CancelFunc
	stop         chan struct{}
	done         chan struct{}
	stopOnce     sync.Once
	report       WriterReport

	acked   atomic.Int64
	mu      sync.Mutex // guards rec
	rec     writerRecord
	started time.Time
}

// StartWriter finds the writable master (read_only=0, no replica status),
// creates the table there if missing (id BIGINT PRIMARY KEY numbered by the
// writer, payload, host = address it was committed on, ts DATETIME(6)), and
// commits rows in a goroutine until Stop or until ctx ends. Ids continue
// after the largest one already in the table.
func StartWriter(ctx context.Context, c *Cluster, opts WriterOptions) (*Writer, error) {
	w, err := newWriter(c, opts)
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithCancel(ctx)
	w.cancelProbes = cancel
	if w.via != "" {
		return w.startVia(ctx, pctx)
	}
	for i, h := range c.Hosts {
		w.probeWG.Add(1)
		go w.runProber(pctx, prober{host: h, db: w.probeDBs[i]}, i)
	}
	fctx, fcancel := context.WithTimeout(ctx, findFirstTimeout)
	master, ok := w.findMaster(fctx, "", w.started)
	fcancel()
	if !ok {
		err := fmt.Errorf("start writer: no writable master within %v: %s",
			findFirstTimeout, probeSummary(w.freshProbes(w.started)))
		w.shutdown()
		return nil, err
	}
	next, err := w.prepareTable(ctx, master)
	if err != nil {
		w.shutdown()
		return nil, err
	}
	w.logger.Info("writer started", "host", master, "first_id", next)
	go w.run(pctx, master, next)
	return w, nil
}

func newWriter(c *Cluster, o WriterOptions) (*Writer, error) {
	if o.Table == "" {
		o.Table = TestDatabase + ".writes"
	}
	schema, table, err := splitTable(o.Table)
	if err != nil {
		return nil, err
	}
	switch {
	case o.Interval == 0:
		o.Interval = defaultWriteInterval
	case o.Interval < 0:
		o.Interval = 0
	}
	if o.RowsPerTrx <= 0 {
		o.RowsPerTrx = 1
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	w := &Writer{
		c: c, interval: o.Interval, rows: o.RowsPerTrx,
		table: "`" + schema + "`.`" + table + "`", name: schema + "." + table,
		now: o.Now, logger: o.Logger.With("table", schema+"."+table),
		writeDBs: map[string]*sql.DB{}, probes: make([]masterProbe, len(c.Hosts)),
		stop: make(chan struct{}), done: make(chan struct{}), via: o.Via,
	}
	w.started = w.now()
	if o.Via != "" {
		return w.openVia(o.Via)
	}
	for _, h := range c.Hosts {
		wdb, err := c.openShort(h, probeTimeout, writeTimeout, w.logger)
		if err != nil {
			w.closeDBs()
			return nil, err
		}
		w.writeDBs[h.Addr] = wdb
		pdb, err := c.openShort(h, probeTimeout, probeTimeout, w.logger)
		if err != nil {
			w.closeDBs()
			return nil, err
		}
		w.probeDBs = append(w.probeDBs, pdb)
	}
	return w, nil
}

// prepareTable creates the table on master if missing and returns the first
// id to write.
func (w *Writer) prepareTable(ctx context.Context, master string) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, createTableTimeout)
	defer cancel()
	db := w.writeDBs[master]
	q := "CREATE TABLE IF NOT EXISTS " + w.table + " (id BIGINT NOT NULL PRIMARY KEY, " +
		"payload VARCHAR(64) NOT NULL, host VARCHAR(64) NOT NULL, ts DATETIME(6) NOT NULL) " +
		"ENGINE=InnoDB /* gomha writer */"
	if _, err := db.ExecContext(ctx, q); err != nil {
		return 0, fmt.Errorf("create writer table %s on %s: %w", w.name, master, err)
	}
	var maxID int64
	if err := db.QueryRowContext(ctx, "SELECT COALESCE(MAX(id), 0) FROM "+w.table+" /* gomha writer */").Scan(&maxID); err != nil {
		return 0, fmt.Errorf("read largest id of %s on %s: %w", w.name, master, err)
	}
	return maxID + 1, nil
}

// Acked is the number of writes acknowledged so far.
func (w *Writer) Acked() int { return int(w.acked.Load()) }

// LastAckHost is the address of the host that acknowledged the last
// write, "" before any.
func (w *Writer) LastAckHost() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if n := len(w.rec.acks); n > 0 {
		return w.rec.acks[n-1].Host
	}
	return ""
}

// WaitAcked waits until at least n writes were acknowledged. It fails when
// ctx ends or the writer stops first.
func (w *Writer) WaitAcked(ctx context.Context, n int) error {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		if w.Acked() >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %d acknowledged writes to %s (have %d, last error: %s): %w",
				n, w.name, w.Acked(), w.lastError(), ctx.Err())
		case <-w.done:
			if w.Acked() >= n {
				return nil
			}
			return fmt.Errorf("writer to %s stopped after %d acknowledged writes, before %d (last error: %s)",
				w.name, w.Acked(), n, w.lastError())
		case <-t.C:
		}
	}
}

func (w *Writer) lastError() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.rec.lastErr == "" {
		return "none"
	}
	return w.rec.lastErr
}

// Stop ends the writer after its transaction in flight (bounded by
// writeTimeout) and returns its report. Calling it again returns the same
// report.
func (w *Writer) Stop() WriterReport {
	w.stopOnce.Do(func() {
		close(w.stop)
		<-w.done
		stopped := w.now()
		w.shutdown()
		w.mu.Lock()
		w.report = buildReport(w.rec, w.name, w.started, stopped)
		w.mu.Unlock()
		w.logger.Info("writer stopped", "acked", len(w.report.Acked), "unknown", len(w.report.Unknown),
			"errors", w.report.Errors, "switches", len(w.report.Switches), "downtime", w.report.Downtime.String())
	})
	return w.report
}

// shutdown stops the probers and closes every connection.
func (w *Writer) shutdown() {
	w.cancelProbes()
	w.probeWG.Wait()
	w.closeDBs()
}

func (w *Writer) closeDBs() {
	for _, db := range w.writeDBs {
		db.Close()
	}
	for _, db := range w.probeDBs {
		db.Close()
	}
}

func (w *Writer) stopping() bool {
	select {
	case <-w.stop:
		return true
	default:
		return false
	}
}
