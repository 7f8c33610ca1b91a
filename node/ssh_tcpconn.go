package node

import (
	"io"
	"net"
	"sync"
)

// sshTCPConn is a direct-tcpip channel seen through one end of a net.Pipe,
// because x/crypto's channel connections refuse deadlines and every remote
// call of gomha has one. Two goroutines copy between the pipe and the
// channel; they end when either side is closed (on a dead host, when the SSH
// connection is closed).
type sshTCPConn struct {
	net.Conn          // our end of the pipe: Read, Write, deadlines
	ch       net.Conn // the SSH channel
	once     sync.Once
}

// newSSHTCPConn wraps an SSH channel connection.
func newSSHTCPConn(ch net.Conn) *sshTCPConn {
	ours, theirs := net.Pipe()
	c := &sshTCPConn{Conn: ours, ch: ch}
	go func() { // remote -> caller
		_, _ = io.Copy(theirs, ch)
		theirs.Close()
	}()
	go func() { // caller -> remote
		_, _ = io.Copy(ch, theirs)
		ch.Close()
	}()
	return c
}

// Close closes the pipe and the channel.
func (c *sshTCPConn) Close() error {
	var err error
	c.once.Do(func() {
		err = c.Conn.Close()
		c.ch.Close()
	})
	return err
}

// LocalAddr returns the channel's address (zero: x/crypto does not know it).
func (c *sshTCPConn) LocalAddr() net.Addr { return c.ch.LocalAddr() }

// RemoteAddr returns the channel's address (zero: x/crypto does not know it).
func (c *sshTCPConn) RemoteAddr() net.Addr { return c.ch.RemoteAddr() }
