package manager

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/manager/hook"
	"github.com/gomha/gomha/node"
	"github.com/gomha/gomha/sshpool"
	"github.com/gomha/gomha/topology"
)

// replicaPollEvery is how often a replica's IO thread is re-read during the
// first watch beat after its first reading: the replica of a crashed master
// stops saying Yes within milliseconds. After that only its heartbeat
// counter can still tell (over two heartbeat periods), and a reading every
// beat is enough (replicaPollAfter): polling every 25 ms for
// master_hang_timeout made a suspect cluster cost about six times a healthy
// one, which a manager of many clusters pays for every cluster at once when
// it is itself too slow to hear them.
const replicaPollEvery = 25 * time.Millisecond

// replicaWatchEnd is when a replica's readings stop: until, or later when
// two of its heartbeat periods from its first reading end a little after
// until (its connection and first reading take some of a later look's ping
// interval), so that its heartbeat can show the master's silence; not when
// its heartbeat period is longer than master_hang_timeout allows (then its
// host probes the master's port instead).
func (m *Monitor) replicaWatchEnd(until, firstAt time.Time, hb time.Duration) time.Time {
	if hb <= 0 || 2*hb > m.hangTimeout() {
		return until
	}
	if silent := firstAt.Add(2 * hb); silent.After(until) {
		return silent
	}
	return until
}

// replicaPollAfter is the wait between readings after the first beat.
func (m *Monitor) replicaPollAfter(since time.Time) time.Duration {
	if beat := watchBeat(m.interval); time.Since(since) >= beat {
		return beat
	}
	return replicaPollEvery
}

// gather asks every view about the suspect master in parallel, each bounded
// by its own deadline. The views end together: a master that answers the
// manager again ends the others at once; otherwise the replicas watch the
// master until they lost it or until the manager has given up on it
// (master_hang_timeout after the first failure).
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
	vctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The replicas watch as long as the manager does, and for a later look
	// in the same episode at least a ping interval (two heartbeats).
	until := since.Add(m.hangTimeout())
	if later := time.Now().Add(m.interval); later.After(until) {
		until = later
	}
	n := len(m.opts.Replicas)
	sshDone := make(chan sshView, 1)
	sshStart := time.Now()
	go func() { sshDone <- m.sshCheck(vctx) }()
	var wg sync.WaitGroup
	wg.Go(timed(0, func() {
		v.Manager = m.managerCheck(vctx, since)
		if v.Manager.Kind == 0 || v.Manager.Kind.ServerAlive() {
			cancel() // it answers: nothing else matters
		}
	}))
	for i, r := range m.opts.Replicas {
		wg.Go(timed(i+1, func() { v.Replicas[i] = m.replicaCheck(vctx, r, until) }))
	}
	wg.Go(timed(n+1, func() { v.Secondary = m.secondaryCheck(vctx) }))
	wg.Wait()
	v.SSH = m.sshVerdict(v, sshDone)
	v.Took[n+2] = time.Since(sshStart)
	return v
}

// sshVerdict takes the SSH view of the master's host as it stands, never
// waiting for it: SSH only adds evidence (and says whether the binlog can be salvaged,
// which the failover finds out by itself). A host that did not let us in
// while the manager waited master_hang_timeout for the master counts as
// unreachable; otherwise an unanswered check is a "don't know".
func (m *Monitor) sshVerdict(v views, done <-chan sshView) sshView {
	select {
	case s := <-done:
		return s
	default:
	}
	if v.Manager.Persisted {
		return sshView{Err: "no SSH session within master_hang_timeout (" + m.hangTimeout().String() + ")"}
	}
	return sshView{Pending: true}
}

// managerCheck opens new connections to the master, one every watch beat,
// each given a ping interval: any answer ends the check (connected,
// refused, or alive but refusing us). A master that answers none of them
// is unreachable once nothing answered for master_hang_timeout since the
// first failure, the last attempt having had a beat to answer: attempts
// overlap, so a master that comes back (a network blip) answers within a
// beat and is never declared dead.
func (m *Monitor) managerCheck(ctx context.Context, since time.Time) managerView {
	cfg := m.mysqlConfig(m.opts.Master)
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make(chan error)
	attempt := func() {
		c, cc := context.WithTimeout(actx, m.interval)
		defer cc()
		s, err := node.OpenMySQL(c, cfg)
		if err == nil {
			s.Close()
		}
		select {
		case results <- err:
		case <-actx.Done():
		}
	}
	var v managerView
	var last error
	v.Attempts++
	go attempt()
	tick := time.NewTicker(watchBeat(m.interval))
	defer tick.Stop()
	for {
		select {
		case err := <-results:
			if err == nil {
				return managerView{Attempts: v.Attempts}
			}
			last = err
			if k := connKind(err); k == topology.ConnRefused || k.ServerAlive() {
				return managerView{Kind: k, Attempts: v.Attempts, Err: err.Error()}
			}
		case <-tick.C:
			if m.opts.Now().Sub(since) >= m.hangTimeout() {
				return unanswered(v.Attempts, m.opts.Now().Sub(since), last)
			}
			v.Attempts++
			go attempt()
		case <-ctx.Done():
			v.Kind, v.Err = topology.ConnTimeout, ctx.Err().Error()
			return v
		}
	}
}

// unanswered is the manager's view of a master that answered none of n
// attempts over d.
func unanswered(n int, d time.Duration, last error) managerView {
	v := managerView{Kind: topology.ConnTimeout, Attempts: n, Persisted: true,
		Err: fmt.Sprintf("no answer for %s", d.Round(time.Millisecond))}
	if last != nil {
		v.Kind = connKind(last)
		v.Err += ": " + last.Error()
	}
	return v
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

// replicaCheck reads the replica's IO thread state, re-polling while it
// still says Yes, until it lost the master or until the manager gives up
// (until). A replica whose heartbeat cannot show the master's silence by
// then (no MASTER_HEARTBEAT_PERIOD known, or too long) also probes the
// master's port from its host at once (a master cut off by the network
// keeps the IO thread at Yes until slave_net_timeout).
func (m *Monitor) replicaCheck(ctx context.Context, r config.Server, until time.Time) replicaView {
	v := replicaView{Key: TopologyServer(r).Key()}
	s, err := node.OpenMySQL(ctx, m.mysqlConfig(r))
	if err != nil {
		v.Err = err.Error()
		return v
	}
	defer s.Close()
	var first replicaIO
	var firstAt, end time.Time
	var probe chan probeOutcome
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
			end = m.replicaWatchEnd(until, firstAt, io.hbPeriod)
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
		if probe == nil && !v.lost() && (io.hbPeriod <= 0 || firstAt.Add(2*io.hbPeriod).After(end)) {
			probe = m.probeAsync(ctx, r)
		}
		if v.lost() || !time.Now().Before(end) || !sleepCtx(ctx, min(m.replicaPollAfter(firstAt), time.Until(end))) {
			break
		}
	}
	if probe != nil && !v.lost() {
		select {
		case p := <-probe:
			v.Probe, v.Err = p.result, p.msg
		case <-ctx.Done():
		}
	}
	return v
}

type probeOutcome struct {
	result probeResult
	msg    string
}

// probeAsync probes the master's port from r's host in the background.
func (m *Monitor) probeAsync(ctx context.Context, r config.Server) chan probeOutcome {
	ch := make(chan probeOutcome, 1)
	go func() {
		p, msg := m.probeFrom(ctx, r)
		ch <- probeOutcome{p, msg}
	}()
	return ch
}

// isMaster says whether host:port names the monitored master.
func (m *Monitor) isMaster(host string, port int) bool {
	s := m.opts.Master
	return port == s.Port && (host == s.Hostname || host == s.IP)
}

// probeFrom asks the replica's host, over SSH, whether it can open the
// master's port: through the pooled connection when there is one (the
// host's sshd connects, no command runs), else with a command.
func (m *Monitor) probeFrom(ctx context.Context, r config.Server) (probeResult, string) {
	if m.opts.Pool != nil {
		if p, msg, ok := m.probeThrough(ctx, TopologyServer(r).Key().String()); ok {
			return p, msg
		}
	}
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

// probeThrough connects to the master's port from the far end of the
// pooled connection name and waits a ping interval for the server's
// greeting. ok is false when the host's sshd refuses to forward (then a
// command must do it).
func (m *Monitor) probeThrough(ctx context.Context, name string) (p probeResult, msg string, ok bool) {
	pctx, cancel := context.WithTimeout(ctx, m.interval)
	defer cancel()
	addr := net.JoinHostPort(ip(m.opts.Master), strconv.Itoa(m.opts.Master.Port))
	conn, err := m.opts.Pool.DialTCP(pctx, name, addr)
	switch {
	case errors.Is(err, node.ErrSSHForwardingRefused):
		return probeNotRun, "", false
	case errors.Is(err, sshpool.ErrNotConnected):
		// No SSH connection to that host: the probe did not run, whatever
		// the reason (its sshd refusing is not the master's port refusing).
		return probeFailed, err.Error(), true
	case err != nil && strings.Contains(err.Error(), "refused"):
		return probeRefused, "", true
	case err != nil && pctx.Err() != nil:
		return probeTimeout, "no connection within the limit", true
	case err != nil:
		return probeFailed, err.Error(), true
	}
	defer conn.Close()
	if dl, ok := pctx.Deadline(); ok {
		_ = conn.SetReadDeadline(dl)
	}
	var greeting [5]byte
	if _, err := io.ReadFull(conn, greeting[:]); err != nil {
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			return probeTimeout, "no greeting within the limit", true
		}
		return probeNoGreeting, "closed without a greeting", true
	}
	return probeOpen, "", true
}

// sshCheck asks whether the master's host answers SSH and probes mysqld's
// port there. With the pool: one keepalive on the open connection (the
// host's sshd answered), never a dial. Without: a dial
// (ssh_connection_timeout) and, as in MHA, a command that ran there (a
// dying host may still accept a connection).
func (m *Monitor) sshCheck(ctx context.Context) sshView {
	if m.opts.Pool != nil {
		name := m.key.String()
		cctx, cancel := context.WithTimeout(ctx, poolCheckTimeout)
		err := m.opts.Pool.Check(cctx, name)
		cancel()
		if err != nil {
			return sshView{Err: err.Error()}
		}
		p, _, ok := m.probeThrough(ctx, name)
		if !ok {
			p = probeNotRun
		}
		return sshView{Reachable: true, Port: p}
	}
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
