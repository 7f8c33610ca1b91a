package simmysql

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
)

// session is one client connection: the go-mysql handler of its commands.
type session struct {
	srv  *Server
	raw  net.Conn
	id   atomic.Uint32
	once sync.Once
	done chan struct{} // closed with the connection
}

func (c *session) setID(id uint32) { c.id.Store(id) }
func (c *session) connID() uint32  { return c.id.Load() }

// close ends the connection (a crash, KILL, or its end).
func (c *session) close() {
	c.once.Do(func() {
		close(c.done)
		c.raw.Close()
	})
}

// HandleQuery answers one COM_QUERY.
func (c *session) HandleQuery(query string) (*mysql.Result, error) {
	if !c.srv.waitUncut(c.done) {
		return nil, errClosed
	}
	r, err := c.answer(query)
	if !c.srv.waitUncut(c.done) { // a SLEEP's answer waits too
		return nil, errClosed
	}
	return r, err
}

// errClosed answers a statement whose connection closed meanwhile (the
// answer goes nowhere).
var errClosed = errors.New("connection closed")

// UseDB accepts any schema (COM_INIT_DB).
func (c *session) UseDB(string) error { return nil }

// HandleFieldList is not used by gomha.
func (c *session) HandleFieldList(table, _ string) ([]*mysql.Field, error) {
	return nil, c.unknown("COM_FIELD_LIST " + table)
}

// HandleStmtPrepare: gomha interpolates parameters client-side and never
// prepares statements.
func (c *session) HandleStmtPrepare(query string) (int, int, any, error) {
	return 0, 0, nil, c.unknown("COM_STMT_PREPARE " + query)
}

// HandleStmtExecute: see HandleStmtPrepare.
func (c *session) HandleStmtExecute(_ any, query string, _ []any) (*mysql.Result, error) {
	return nil, c.unknown("COM_STMT_EXECUTE " + query)
}

// HandleStmtClose: see HandleStmtPrepare.
func (c *session) HandleStmtClose(any) error { return nil }

// HandleOtherCommand refuses the commands gomha does not send.
func (c *session) HandleOtherCommand(cmd byte, _ []byte) error {
	return c.unknown(fmt.Sprintf("command 0x%02x", cmd))
}

// unknown reports a statement the simulator does not know and returns the
// error the client gets.
func (c *session) unknown(what string) error {
	c.srv.sim.reportUnknown(c.srv.Addr(), what)
	return mysql.NewError(mysql.ER_NOT_SUPPORTED_YET, "simmysql does not simulate: "+what)
}

// sleep is SLEEP(d): the connection's goroutine parks in the poller until
// d has passed or the client goes away (the socket turns readable at
// EOF), or the connection is closed on this side (crash, KILL). It reports
// whether the sleep was interrupted, as MariaDB's SLEEP returns 1 then.
func (c *session) sleep(d time.Duration) bool {
	end := time.Now().Add(d)
	tcp, ok := c.raw.(*net.TCPConn)
	if !ok {
		return c.sleepTimer(end)
	}
	rc, err := tcp.SyscallConn()
	if err != nil {
		return c.sleepTimer(end)
	}
	if err := tcp.SetReadDeadline(end); err != nil {
		return true
	}
	defer tcp.SetReadDeadline(time.Time{})
	var gone, pending bool
	err = rc.Read(func(fd uintptr) bool {
		var b [1]byte
		n, _, e := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		if errors.Is(e, syscall.EAGAIN) || errors.Is(e, syscall.EINTR) {
			return false // nothing yet: park until readable or the deadline
		}
		gone, pending = e != nil || n == 0, e == nil && n > 0
		return true
	})
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return false
	case err != nil || gone:
		c.close()
		return true
	case pending: // a command sent before the answer: finish the sleep
		return c.sleepTimer(end)
	}
	return false
}

// sleepTimer waits until end on a timer, or until the connection closes.
func (c *session) sleepTimer(end time.Time) bool {
	t := time.NewTimer(time.Until(end))
	defer t.Stop()
	select {
	case <-t.C:
		return false
	case <-c.done:
		return true
	}
}
