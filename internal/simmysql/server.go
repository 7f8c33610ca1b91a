package simmysql

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/go-mysql-org/go-mysql/server"
)

// Server is one simulated mysqld: a listener on its own address, its client
// sessions, its advisory locks and, for a replica, the state of its IO
// thread.
type Server struct {
	sim      *Sim
	host     string
	port     int
	serverID uint32
	source   *Server // the master it replicates from; nil for a master
	readOnly bool

	mu       sync.Mutex
	ln       net.Listener // nil while down
	sessions map[*session]struct{}
	locks    map[string]uint32 // GET_LOCK name -> holder's connection id
	io       ioThread
	cut      chan struct{} // non-nil while clients get no answer (closed at Heal)
}

// ioThread is a replica's IO thread as SHOW SLAVE STATUS shows it.
type ioThread struct {
	connected bool
	silent    bool      // connected, but the master sends nothing (frozen)
	since     time.Time // when it (re)connected: heartbeats count from there
	beats     int64     // heartbeats received before since
	errno     int
	err       string
}

// Addr returns host:port.
func (s *Server) Addr() string { return net.JoinHostPort(s.host, strconv.Itoa(s.port)) }

// Host returns the server's address.
func (s *Server) Host() string { return s.host }

// Port returns the server's port.
func (s *Server) Port() int { return s.port }

// ServerID returns @@server_id.
func (s *Server) ServerID() uint32 { return s.serverID }

// listen opens the server's listener (on the port it had, or on one the
// kernel picks the first time) and serves it until it closes.
func (s *Server) listen() error {
	ln, err := net.Listen("tcp", s.Addr())
	if err != nil {
		return fmt.Errorf("simulated server %s: %w", s.Addr(), err)
	}
	s.mu.Lock()
	if s.port == 0 {
		// Only the first listen, before the server is published: a
		// restart listens on the same port, and port is read unlocked.
		s.port = ln.Addr().(*net.TCPAddr).Port
	}
	s.ln = ln
	s.mu.Unlock()
	s.sim.wg.Go(func() { s.accept(ln) })
	return nil
}

// accept serves ln until it is closed (a crash or the end). Other errors
// (out of file descriptors...) are logged and retried after a pause, as a
// server does: a listener that stopped accepting would leave its clients'
// connections unanswered in the kernel's backlog, a server that hangs.
func (s *Server) accept(ln net.Listener) {
	pause := 5 * time.Millisecond
	for {
		c, err := ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			s.sim.opts.Logger.Error("accept failed, retrying", "server", s.Addr(), "error", err)
			time.Sleep(pause)
			pause = min(2*pause, time.Second)
			continue
		}
		pause = 5 * time.Millisecond
		s.sim.wg.Go(func() { s.serve(c) })
	}
}

// serve runs one client connection: the handshake, then its commands.
func (s *Server) serve(raw net.Conn) {
	sess := &session{srv: s, raw: raw, done: make(chan struct{})}
	if !s.register(sess) {
		raw.Close()
		return
	}
	defer s.unregister(sess)
	if !s.waitUncut(sess.done) {
		return
	}
	_ = raw.SetDeadline(time.Now().Add(10 * time.Second))
	c, err := s.sim.proto.NewCustomizedConn(newFlushConn(raw), s.sim.auth, sess)
	if err != nil {
		raw.Close()
		return
	}
	_ = raw.SetDeadline(time.Time{})
	sess.setID(c.ConnectionID())
	for {
		if err := c.HandleCommand(); err != nil {
			return
		}
	}
}

// flushConn buffers what the protocol writes and sends it when the server
// next reads: a result set goes out in one write, as MariaDB sends it from
// its net buffer, not one packet per column (go-mysql writes every packet
// straight to the connection, which would cost both sides a system call
// per column).
type flushConn struct {
	net.Conn
	w *bufio.Writer
}

func newFlushConn(c net.Conn) *flushConn {
	return &flushConn{Conn: c, w: bufio.NewWriterSize(c, 16<<10)}
}

func (c *flushConn) Write(p []byte) (int, error) { return c.w.Write(p) }

// Read sends what is buffered first: the client answers only what it got.
func (c *flushConn) Read(p []byte) (int, error) {
	if err := c.w.Flush(); err != nil {
		return 0, err
	}
	return c.Conn.Read(p)
}

// Close sends what is buffered (an error before a disconnection) and closes.
func (c *flushConn) Close() error {
	_ = c.w.Flush()
	return c.Conn.Close()
}

// register adds a session; false when the server is down.
func (s *Server) register(sess *session) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return false
	}
	s.sessions[sess] = struct{}{}
	return true
}

// unregister removes a session and releases its locks, as a server does
// when a connection ends.
func (s *Server) unregister(sess *session) {
	sess.close()
	id := sess.connID()
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.sessions, sess)
	for name, holder := range s.locks {
		if holder == id {
			delete(s.locks, name)
		}
	}
}

// crash closes the listener and every connection: new connections are
// refused, open ones end (a SLEEP in progress with them).
func (s *Server) crash() {
	s.mu.Lock()
	ln := s.ln
	s.ln = nil
	var open []*session
	for sess := range s.sessions {
		open = append(open, sess)
	}
	s.locks = map[string]uint32{}
	s.mu.Unlock()
	if ln != nil {
		ln.Close()
	}
	for _, sess := range open {
		sess.close()
	}
}

// killConn closes the connection with that id; false when there is none.
func (s *Server) killConn(id uint32) bool {
	s.mu.Lock()
	var victim *session
	for sess := range s.sessions {
		if sess.connID() == id {
			victim = sess
		}
	}
	s.mu.Unlock()
	if victim == nil {
		return false
	}
	victim.close()
	return true
}

// cutOff makes the server answer no client (new connections are accepted
// and never greeted, statements never answered) while its replicas still
// see it: the network between the clients and the master is cut, not the
// master.
func (s *Server) cutOff() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cut == nil {
		s.cut = make(chan struct{})
	}
}

// heal undoes cutOff: the waiting answers go out.
func (s *Server) heal() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cut != nil {
		close(s.cut)
		s.cut = nil
	}
}

// waitUncut waits while the server is cut off from its clients; false when
// the connection closed meanwhile.
func (s *Server) waitUncut(done <-chan struct{}) bool {
	s.mu.Lock()
	cut := s.cut
	s.mu.Unlock()
	if cut == nil {
		return true
	}
	select {
	case <-cut:
		return true
	case <-done:
		return false
	}
}

// up says whether the server accepts connections.
func (s *Server) up() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ln != nil
}

// lostSource records that the replica's IO thread lost its master, whose
// port now refuses connections.
func (s *Server) lostSource(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.io.connected {
		return
	}
	s.io.beats = s.heartbeatsLocked(now)
	s.io.connected = false
	s.io.errno = 2003
	s.io.err = fmt.Sprintf("error reconnecting to master '%s@%s' - retry-time: %d  maximum-retries: 100000  message: "+
		"Can't connect to server on '%s' (111 \"Connection refused\")", replUser, s.source.Addr(), connectRetry, s.source.host)
}

// silence stops (or resumes) the heartbeats the replica receives while its
// IO thread still says Yes: a master frozen or cut off by the network,
// before slave_net_timeout.
func (s *Server) silence(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.io.connected {
		return
	}
	now := time.Now()
	if on && !s.io.silent {
		s.io.beats = s.heartbeatsLocked(now)
	}
	if !on && s.io.silent {
		s.io.since = now
	}
	s.io.silent = on
}

// foundSource records that the replica's IO thread is connected again.
func (s *Server) foundSource(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.io.connected {
		return
	}
	s.io = ioThread{connected: true, since: now, beats: s.io.beats}
}

// ioState returns the replica's IO thread state and heartbeat count now.
func (s *Server) ioState(now time.Time) (ioThread, int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.io, s.heartbeatsLocked(now)
}

// heartbeatsLocked counts the heartbeats received: one per heartbeat period
// while connected (an idle master sends nothing else).
func (s *Server) heartbeatsLocked(now time.Time) int64 {
	if !s.io.connected || s.io.silent {
		return s.io.beats
	}
	return s.io.beats + int64(now.Sub(s.io.since)/s.sim.opts.Heartbeat)
}

// lock takes the advisory lock name for connection id: 1 taken (or already
// held by it), 0 held by another.
func (s *Server) lock(name string, id uint32) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if h, ok := s.locks[name]; ok && h != id {
		return 0
	}
	s.locks[name] = id
	return 1
}

// lockHolder returns the connection holding name, 0 when free.
func (s *Server) lockHolder(name string) uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.locks[name]
}

// unlock releases name for id: 1 released, 0 held by another, -1 free.
func (s *Server) unlock(name string, id uint32) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	h, ok := s.locks[name]
	switch {
	case !ok:
		return -1
	case h != id:
		return 0
	}
	delete(s.locks, name)
	return 1
}

// stats returns the number of open sessions.
func (s *Server) stats() (sessions int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

var _ server.Handler = (*session)(nil)
