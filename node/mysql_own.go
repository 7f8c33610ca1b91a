package node

import (
	"net"
	"sort"
	"sync"
)

// ownConns is the set of a session's open connections, by local address
// ("ip:port", as the server's processlist shows the client), so that the
// session never kills its own connections when it frees a server from
// lock holders.
type ownConns struct {
	mu    sync.Mutex
	addrs map[string]bool
}

func (o *ownConns) add(c net.Conn) net.Conn {
	a := c.LocalAddr().String()
	o.mu.Lock()
	o.addrs[a] = true
	o.mu.Unlock()
	return &ownConn{Conn: c, own: o, addr: a}
}

func (o *ownConns) list() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]string, 0, len(o.addrs))
	for a := range o.addrs {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// ownConn removes itself from the set when closed.
type ownConn struct {
	net.Conn
	own  *ownConns
	addr string
	once sync.Once
}

func (c *ownConn) Close() error {
	c.once.Do(func() {
		c.own.mu.Lock()
		delete(c.own.addrs, c.addr)
		c.own.mu.Unlock()
	})
	return c.Conn.Close()
}
