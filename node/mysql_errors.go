package node

import (
	"context"
	"errors"
	"net"
	"os"
	"syscall"

	"github.com/go-sql-driver/mysql"

	"github.com/gomha/gomha/topology"
)

// Server error numbers that prove mysqld is alive but refuses us. MHA treats
// these as configuration errors, never as a dead master.
var aliveButRefusing = map[uint16]bool{
	1040: true, // too many connections
	1042: true, // can't get hostname
	1043: true, // bad handshake
	1129: true, // host blocked
	1130: true, // host not allowed
	1203: true, // max_user_connections
	1226: true, // user resource limit
	1251: true, // client does not support auth protocol
	1275: true, // old password format
}

// ClassifyMySQLError turns a driver or network error into a
// *topology.ConnError whose Kind says what it means for failover.
func ClassifyMySQLError(key topology.Key, err error) *topology.ConnError {
	if err == nil {
		return nil
	}
	var ce *topology.ConnError
	if errors.As(err, &ce) {
		return ce
	}
	return &topology.ConnError{Key: key, Kind: mysqlErrorKind(err), Err: err}
}

func mysqlErrorKind(err error) topology.ConnErrorKind {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch {
		case me.Number == 1044 || me.Number == 1045 || me.Number == 1698:
			return topology.ConnAccessDenied
		case aliveButRefusing[me.Number]:
			return topology.ConnRefusedByServer
		}
		return topology.ConnQueryFailed
	}
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) {
		return topology.ConnRefused
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, mysql.ErrInvalidConn) {
		return topology.ConnTimeout
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return topology.ConnTimeout
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return topology.ConnUnreachable
	}
	var de *net.DNSError
	if errors.As(err, &de) {
		return topology.ConnUnreachable
	}
	return topology.ConnUnreachable
}

// IsMySQLError reports whether err carries MySQL error number n.
func IsMySQLError(err error, n uint16) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == n
}
