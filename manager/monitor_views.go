package manager

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/manager/hook"
	"github.com/gomha/gomha/node"
	"github.com/gomha/gomha/topology"
)

// replicaPollEvery is how often a replica's IO thread is re-read right after
// a crash, while it may still say Yes.
const replicaPollEvery = 75 * time.Millisecond

// gather asks every view about the suspect master in parallel, each bounded
// by its own deadline.
func (m *Monitor) gather(ctx context.Context, since time.Time) views {
	v := views{Master: m.key, Replicas: make([]replicaView, len(m.opts.Replicas)), Configured: m.opts.ConfiguredReplicas}
	v.Took = make([]time.Duration, len(m.opts.Replicas)+3) // manager, replicas..., secondary, ssh
	timed := func(i int, f func()) func() {
		return func() {
			start := time.Now()
			f()
			v.Took[i] = time.Since(start)
		}
	}
	n := len(m.opts.Replicas)
	var wg sync.WaitGroup
	wg.Go(timed(0, func() { v.Manager = m.managerCheck(ctx, since) }))
	for i, r := range m.opts.Replicas {
		wg.Go(timed(i+1, func() { v.Replicas[i] = m.replicaCheck(ctx, r) }))
	}
	wg.Go(timed(n+1, func() { v.Secondary = m.secondaryCheck(ctx) }))
	sshDone := make(chan sshView, 1)
	sshStart := time.Now()
	go func() { sshDone <- m.sshCheck(ctx) }()
	wg.Wait()
	// The SSH view only adds evidence (and tells whether the binlog can be
	// salvaged, which the failover finds out by itself). When the others
	// already agree that mysqld is gone, it gets a short grace, not its
	// full handshake time: SSH logins are often slow (login shells).
	wait := time.Duration(0)
	if strongEvidence(v) {
		wait = sshGrace
	}
	select {
	case v.SSH = <-sshDone:
	case <-afterOrForever(wait):
		v.SSH = sshView{Pending: true}
	}
	v.Took[n+2] = time.Since(sshStart)
	return v
}

// sshGrace is how long a decisive confirmation waits for the SSH view.
const sshGrace = 50 * time.Millisecond

func afterOrForever(d time.Duration) <-chan time.Time {
	if d <= 0 {
		return nil
	}
	return time.After(d)
}

// strongEvidence: the manager's connection is refused (host up, mysqld
// down) and every replica asked has lost its IO connection.
func strongEvidence(v views) bool {
	if v.Manager.Kind != topology.ConnRefused {
		return false
	}
	asked := 0
	for _, r := range v.Replicas {
		if !r.witness() {
			continue
		}
		asked++
		if !r.lost() || r.IORunning == "Yes" {
			return false
		}
	}
	return asked > 0
}

// managerCheck reconnects to the master with new connections, one attempt
// per ping interval: a refusal (or an "alive but refusing" error) answers at
// once; a timeout (a master that accepts connections and says nothing, or
// does not answer at all) counts once it has lasted master_hang_timeout
// since the first failed check.
func (m *Monitor) managerCheck(ctx context.Context, since time.Time) managerView {
	var v managerView
	cfg := m.mysqlConfig(m.opts.Master)
	for {
		start := time.Now()
		v.Attempts++
		actx, cancel := context.WithTimeout(ctx, m.interval)
		s, err := node.OpenMySQL(actx, cfg)
		cancel()
		if err == nil {
			s.Close()
			v.Kind, v.Err = 0, ""
			return v
		}
		v.Kind, v.Err = connKind(err), err.Error()
		if v.Kind == topology.ConnRefused || v.Kind.ServerAlive() || ctx.Err() != nil {
			return v
		}
		if m.opts.Now().Sub(since) >= m.hangTimeout() {
			v.Persisted = true
			return v
		}
		if !sleepCtx(ctx, m.interval-time.Since(start)) {
			return v
		}
	}
}

// hangTimeout is master_hang_timeout, two ping intervals by default.
func (m *Monitor) hangTimeout() time.Duration {
	if t := m.opts.Master.MasterHangTimeout; t > 0 {
		return time.Duration(t) * time.Second
	}
	return 2 * m.interval
}

func (m *Monitor) mysqlConfig(s config.Server) node.MySQLConfig {
	cfg := MySQLConfig(s, m.interval)
	cfg.QueryTimeout, cfg.LocalAddr = m.interval, m.opts.LocalAddr
	return cfg
}

// replicaCheck reads the replica's IO thread state, re-polling for about two
// ping intervals while it still says Yes; then it probes the master's port
// from the replica's host over SSH (a master cut off by the network keeps
// the IO thread at Yes until slave_net_timeout).
func (m *Monitor) replicaCheck(ctx context.Context, r config.Server) replicaView {
	v := replicaView{Key: TopologyServer(r).Key()}
	s, err := node.OpenMySQL(ctx, m.mysqlConfig(r))
	if err != nil {
		v.Err = err.Error()
		return v
	}
	defer s.Close()
	deadline := time.Now().Add(2 * m.interval)
	var first replicaIO
	var firstAt time.Time
	for {
		io, err := readReplicaIO(ctx, s, m.interval)
		if err != nil {
			if !v.Asked {
				v.Err = err.Error()
				return v
			}
			break // keep the last reading
		}
		if firstAt.IsZero() {
			first, firstAt = io, time.Now()
		}
		v.Silent = io.silentSince(first, time.Since(firstAt))
		v.Asked, v.IORunning, v.LastIOErrno, v.LastIOError = true, io.running, io.errno, io.errMsg
		if !io.hasReplicaRow {
			v.Err = "not a replica"
			return v
		}
		if !m.isMaster(io.host, io.port) {
			v.Err = fmt.Sprintf("Master_Host %s:%d", io.host, io.port)
			return v
		}
		v.Replicates = true
		if v.lost() || time.Now().After(deadline) || !sleepCtx(ctx, replicaPollEvery) {
			break
		}
	}
	if v.Asked && !v.lost() && ctx.Err() == nil {
		v.Probe, v.Err = m.probeFrom(ctx, r)
	}
	return v
}

// isMaster says whether host:port names the monitored master.
func (m *Monitor) isMaster(host string, port int) bool {
	s := m.opts.Master
	return port == s.Port && (host == s.Hostname || host == s.IP)
}

// replicaIO is the part of SHOW SLAVE STATUS the monitor reads.
type replicaIO struct {
	host          string
	port          int
	running       string
	errno         int
	errMsg        string
	hasReplicaRow bool
	readPos       string        // Master_Log_File:Read_Master_Log_Pos
	hbPeriod      time.Duration // MariaDB: Slave_heartbeat_period
	heartbeats    int64         // MariaDB: Slave_received_heartbeats
}

// silentSince: an IO thread that says Yes but received neither a
// heartbeat nor an event since first, over two heartbeat periods.
func (io replicaIO) silentSince(first replicaIO, elapsed time.Duration) bool {
	return io.running == "Yes" && io.hbPeriod > 0 && elapsed >= 2*io.hbPeriod &&
		io.heartbeats == first.heartbeats && io.readPos == first.readPos
}

// readReplicaIO runs SHOW SLAVE STATUS (SHOW REPLICA STATUS on MySQL, where
// 8.4 removed the old words).
func readReplicaIO(ctx context.Context, s *node.Session, timeout time.Duration) (replicaIO, error) {
	qctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	q := "SHOW /* gomha */ SLAVE STATUS"
	if s.Flavor() == topology.MySQL {
		q = "SHOW /* gomha */ REPLICA STATUS"
	}
	rows, err := s.DB().QueryContext(qctx, q)
	if err != nil && node.IsMySQLError(err, 1064) {
		rows, err = s.DB().QueryContext(qctx, "SHOW /* gomha */ SLAVE STATUS")
	}
	if err != nil {
		return replicaIO{}, fmt.Errorf("read replica status on %s: %w", s.Key(), err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return replicaIO{}, fmt.Errorf("read replica status on %s: %w", s.Key(), err)
	}
	var io replicaIO
	if rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return replicaIO{}, fmt.Errorf("read replica status on %s: %w", s.Key(), err)
		}
		m := map[string]string{}
		for i, c := range cols {
			m[c] = vals[i].String
		}
		pick := func(a, b string) string {
			if v, ok := m[a]; ok {
				return v
			}
			return m[b]
		}
		io.hasReplicaRow = true
		io.host = pick("Master_Host", "Source_Host")
		io.port, _ = strconv.Atoi(pick("Master_Port", "Source_Port"))
		io.running = pick("Slave_IO_Running", "Replica_IO_Running")
		io.errno, _ = strconv.Atoi(m["Last_IO_Errno"])
		io.errMsg = m["Last_IO_Error"]
		io.readPos = pick("Master_Log_File", "Source_Log_File") + ":" + pick("Read_Master_Log_Pos", "Read_Source_Log_Pos")
	}
	if err := rows.Err(); err != nil || !io.hasReplicaRow || s.Flavor() != topology.MariaDB {
		return io, err
	}
	hb, err := node.QueryMaps(qctx, s.DB(), "SHOW /* gomha */ GLOBAL STATUS WHERE Variable_name IN ('Slave_heartbeat_period', 'Slave_received_heartbeats')")
	if err != nil {
		return io, nil // the heartbeat is extra evidence only
	}
	for _, row := range hb {
		switch row["Variable_name"] {
		case "Slave_heartbeat_period":
			f, _ := strconv.ParseFloat(row["Value"], 64)
			io.hbPeriod = time.Duration(f * float64(time.Second))
		case "Slave_received_heartbeats":
			io.heartbeats, _ = strconv.ParseInt(row["Value"], 10, 64)
		}
	}
	return io, nil
}

// probeFrom asks the replica's host, over SSH, whether it can open the
// master's port.
func (m *Monitor) probeFrom(ctx context.Context, r config.Server) (probeResult, string) {
	sess, err := m.dialSSH(ctx, r)
	if err != nil {
		return probeFailed, err.Error()
	}
	defer sess.Close()
	p, _, msg := probePort(ctx, sess, m.opts.Master, m.interval)
	return p, msg
}

func (m *Monitor) dialSSH(ctx context.Context, s config.Server) (*node.SSHSession, error) {
	sc, err := SSHConfigFor(s, false)
	if err != nil {
		return nil, err
	}
	sc.LocalAddr, sc.Logger = m.opts.LocalAddr, m.log
	return node.DialSSH(ctx, sc)
}

// probePort connects to the master's mysqld port from the far end of sess
// and waits for the server's greeting, with bash's /dev/tcp under
// timeout(1): nothing to install there. A hung or frozen mysqld's kernel
// still accepts the connection; only the greeting proves the server
// answers. ran says whether the remote command ran to its end (the host
// runs commands).
func probePort(ctx context.Context, sess *node.SSHSession, master config.Server, interval time.Duration) (p probeResult, ran bool, msg string) {
	host := master.IP
	if host == "" {
		host = master.Hostname
	}
	secs := max(int(interval/time.Second), 1)
	// exit 1: connect failed (refused); 2: closed without a greeting;
	// 124: no greeting (or no connection) within the limit.
	target := node.ShellQuote(fmt.Sprintf(`exec 3<>/dev/tcp/%s/%d || exit 1; n=$(head -c 5 <&3 | wc -c); [ "$n" -ge 5 ] || exit 2`, host, master.Port))
	cmd := fmt.Sprintf(`if command -v bash >/dev/null 2>&1 && command -v timeout >/dev/null 2>&1; then `+
		`timeout %d bash -c %s 2>/dev/null; echo "rc=$?"; else echo rc=127; fi`, secs, target)
	rctx, cancel := context.WithTimeout(ctx, time.Duration(secs+5)*time.Second)
	defer cancel()
	out, _, err := sess.Run(rctx, cmd)
	if err != nil {
		return probeFailed, false, err.Error()
	}
	switch rc := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(out)), "rc=")); rc {
	case "0":
		return probeOpen, true, ""
	case "1":
		return probeRefused, true, ""
	case "2":
		return probeNoGreeting, true, "closed without a greeting"
	case "124":
		return probeTimeout, true, "no greeting within the limit"
	default:
		return probeFailed, true, "probe exit " + rc
	}
}

// sshCheck dials the master's host (ssh_connection_timeout) and probes
// mysqld's port there. As in MHA, the host is reachable only when a command
// ran there: a dying host may still accept a connection.
func (m *Monitor) sshCheck(ctx context.Context) sshView {
	sess, err := m.dialSSH(ctx, m.opts.Master)
	if err != nil {
		return sshView{Err: err.Error()}
	}
	defer sess.Close()
	p, ran, msg := probePort(ctx, sess, m.opts.Master, m.interval)
	if !ran {
		return sshView{Err: "connected, but no command could run: " + msg}
	}
	return sshView{Reachable: true, Port: p}
}

// secondaryCheck runs secondary_check_script with MHA's arguments; the
// password goes in the environment (MHA_MASTER_PASSWORD), never on the
// command line or in the log.
func (m *Monitor) secondaryCheck(ctx context.Context) secondaryView {
	s := m.opts.Master
	if s.SecondaryCheckScript == "" {
		return secondaryView{}
	}
	args := []hook.Arg{
		{Name: "user", Value: s.SSHUser},
		{Name: "master_host", Value: s.Hostname},
		{Name: "master_ip", Value: s.IP},
		{Name: "master_port", Value: strconv.Itoa(s.Port)},
		{Name: "master_user", Value: s.User},
		{Name: "master_password", Value: s.Password.Reveal(), Secret: true},
		{Name: "ping_type", Value: m.pingType},
	}
	if s.SSHOptions != "" {
		args = append(args, hook.Arg{Name: "options", Value: s.SSHOptions})
	}
	rctx, cancel := context.WithTimeout(ctx, max(10*m.interval, 30*time.Second))
	defer cancel()
	res, err := m.opts.Hooks.Run(rctx, s.SecondaryCheckScript, args)
	v := secondaryView{Configured: true, ExitCode: res.ExitCode, Output: res.Output}
	if err != nil {
		v.Err = err.Error()
	}
	m.log.Info("secondary check script ran", "command", res.String(), "exit_code", res.ExitCode,
		"took", res.Took.Round(time.Millisecond).String(), "output", firstLine(res.Output))
	return v
}

// sleepCtx waits d or until ctx ends; it reports whether ctx is still live.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
