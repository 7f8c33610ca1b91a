package simmysql

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/server"
)

// Version is @@version of every simulated server (the MariaDB the fixture
// was captured from); the handshake says "5.5.5-" before it, as MariaDB's.
const Version = "10.11.19-MariaDB-0+deb12u1-log"

// Subnet is where the simulated servers listen: 127.0.4.1 to 127.0.4.250.
const Subnet = "127.0.4"

// hostsPerPort is how many addresses of Subnet share one port number.
const hostsPerPort = 250

// Options configure a Sim. Zero values take the defaults.
type Options struct {
	User     string // the account every server accepts (default "gomha")
	Password string // its password (default "gomha")
	// BasePort, when set, is the first port: server j listens on
	// 127.0.4.(1 + j%250), port BasePort + j/250. Zero (the default): on
	// 127.0.4.(1 + j%250), on a port the kernel picks, so that a fixed
	// port taken by anything listening on all addresses cannot fail it.
	BasePort int
	// Heartbeat is the replicas' MASTER_HEARTBEAT_PERIOD (default 0.5 s,
	// half a ping_interval of 1 s, as gomha sets it).
	Heartbeat time.Duration
	Logger    *slog.Logger
	// OnUnknown, when set, is called with every statement the simulator
	// does not know (it also logs it at error level and answers an error).
	OnUnknown func(addr, query string)
}

// Sim is a set of simulated clusters.
type Sim struct {
	opts  Options
	proto *server.Server
	auth  server.AuthenticationHandler // one account, mysql_native_password
	wg    sync.WaitGroup               // every goroutine of every server

	mu       sync.Mutex
	clusters []*Cluster
	servers  int
	closed   bool
	unknown  map[string]int // statement -> times seen
}

// New returns an empty simulator; AddCluster starts clusters.
func New(opts Options) *Sim {
	if opts.User == "" {
		opts.User = "gomha"
	}
	if opts.Password == "" {
		opts.Password = "gomha"
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = 500 * time.Millisecond
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	proto := server.NewServer("5.5.5-"+Version, mysql.DEFAULT_COLLATION_ID, mysql.AUTH_NATIVE_PASSWORD, nil, nil)
	auth := server.NewInMemoryAuthenticationHandler(mysql.AUTH_NATIVE_PASSWORD)
	if err := auth.AddUser(opts.User, opts.Password); err != nil {
		panic(err) // mysql_native_password is supported: unreachable
	}
	return &Sim{opts: opts, proto: proto, auth: auth, unknown: map[string]int{}}
}

// Cluster is a master and its two replicas.
type Cluster struct {
	ID       int
	Master   *Server
	Replicas []*Server
}

// ErrClosed is returned by a closed Sim.
var ErrClosed = errors.New("simmysql: closed")

// AddCluster starts a cluster: three servers on the next three addresses,
// the replicas' IO threads connected to the master.
func (s *Sim) AddCluster() (*Cluster, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	c := &Cluster{}
	first := s.servers
	s.servers += 3
	s.mu.Unlock()
	now := time.Now()
	for i := range 3 {
		j := first + i
		port := 0
		if s.opts.BasePort > 0 {
			port = s.opts.BasePort + j/hostsPerPort
		}
		srv := &Server{sim: s, host: fmt.Sprintf("%s.%d", Subnet, 1+j%hostsPerPort), port: port,
			serverID: uint32(j + 1), sessions: map[*session]struct{}{}, locks: map[string]uint32{}}
		if i == 0 {
			c.Master = srv
		} else {
			srv.source, srv.readOnly = c.Master, true
			srv.io = ioThread{connected: true, since: now}
			c.Replicas = append(c.Replicas, srv)
		}
	}
	for _, srv := range c.Servers() {
		if err := srv.listen(); err != nil {
			for _, srv := range c.Servers() {
				srv.crash()
			}
			return nil, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c.ID = len(s.clusters)
	s.clusters = append(s.clusters, c)
	if s.closed {
		for _, srv := range c.Servers() {
			srv.crash()
		}
		return nil, ErrClosed
	}
	return c, nil
}

// Servers returns the master, then the replicas.
func (c *Cluster) Servers() []*Server { return append([]*Server{c.Master}, c.Replicas...) }

// Kill crashes the master's mysqld and returns when it happened: its port
// refuses connections, its connections are closed, and its replicas' IO
// threads report Connecting with error 2003.
func (c *Cluster) Kill() time.Time {
	at := time.Now()
	c.Master.crash()
	for _, r := range c.Replicas {
		r.lostSource(time.Now())
	}
	return at
}

// Cut makes the master answer none of its clients while its replicas still
// replicate from it (heartbeats go on): the manager alone is cut off from
// the master, or the master is too slow for it, and it is not dead.
func (c *Cluster) Cut() { c.Master.cutOff() }

// Heal undoes Cut.
func (c *Cluster) Heal() { c.Master.heal() }

// Freeze is a master that stops answering anyone (SIGSTOP, or its host cut
// off by the network): it answers no client, and its replicas' IO threads
// still say Yes but receive no heartbeat.
func (c *Cluster) Freeze() {
	c.Master.cutOff()
	for _, r := range c.Replicas {
		r.silence(true)
	}
}

// Thaw undoes Freeze.
func (c *Cluster) Thaw() {
	for _, r := range c.Replicas {
		r.silence(false)
	}
	c.Master.heal()
}

// Restart starts the master's mysqld again; the replicas reconnect.
func (c *Cluster) Restart() error {
	if c.Master.up() {
		return nil
	}
	if err := c.Master.listen(); err != nil {
		return err
	}
	for _, r := range c.Replicas {
		r.foundSource(time.Now())
	}
	return nil
}

// Cluster returns cluster i.
func (s *Sim) Cluster(i int) (*Cluster, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i < 0 || i >= len(s.clusters) {
		return nil, fmt.Errorf("simmysql: no cluster %d (%d started)", i, len(s.clusters))
	}
	return s.clusters[i], nil
}

// Stats is what a Sim reports about itself.
type Stats struct {
	Clusters int            `json:"clusters"`
	Sessions int            `json:"sessions"` // open client connections
	Unknown  map[string]int `json:"unknown,omitempty"`
}

// Stats counts clusters, open sessions and the unknown statements seen.
func (s *Sim) Stats() Stats {
	s.mu.Lock()
	clusters := append([]*Cluster(nil), s.clusters...)
	st := Stats{Clusters: len(clusters), Unknown: map[string]int{}}
	for q, n := range s.unknown {
		st.Unknown[q] = n
	}
	s.mu.Unlock()
	for _, c := range clusters {
		for _, srv := range c.Servers() {
			st.Sessions += srv.stats()
		}
	}
	return st
}

// Close crashes every server and waits for their goroutines.
func (s *Sim) Close() {
	s.mu.Lock()
	s.closed = true
	clusters := s.clusters
	s.mu.Unlock()
	for _, c := range clusters {
		for _, srv := range c.Servers() {
			srv.crash()
		}
	}
	s.wg.Wait()
}

// reportUnknown records and reports a statement the simulator does not know.
func (s *Sim) reportUnknown(addr, query string) {
	s.mu.Lock()
	s.unknown[query]++
	first := s.unknown[query] == 1
	s.mu.Unlock()
	if first {
		s.opts.Logger.Error("statement not simulated", "server", addr, "query", query)
	}
	if s.opts.OnUnknown != nil {
		s.opts.OnUnknown(addr, query)
	}
}
