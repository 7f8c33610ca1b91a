package topology

import (
	"errors"
	"strings"
)

// ConnErrorKind classifies why a server could not be read. The kinds matter
// to decisions: a refused connection means the host is up and mysqld is not,
// an access error means mysqld is alive but refuses us (a configuration
// problem, never a dead master).
type ConnErrorKind int

// Kinds of ConnError.
const (
	ConnRefused         ConnErrorKind = iota + 1 // TCP connect refused: host up, mysqld down
	ConnTimeout                                  // no answer within the deadline
	ConnUnreachable                              // no route, DNS failure, network error
	ConnAccessDenied                             // mysqld answered and refused the credentials
	ConnRefusedByServer                          // mysqld alive but refusing (too many connections, host blocked)
	ConnQueryFailed                              // connected, but reading its state failed
)

func (k ConnErrorKind) String() string {
	switch k {
	case ConnRefused:
		return "connection refused"
	case ConnTimeout:
		return "timed out"
	case ConnUnreachable:
		return "unreachable"
	case ConnAccessDenied:
		return "access denied"
	case ConnRefusedByServer:
		return "refused by server"
	case ConnQueryFailed:
		return "query failed"
	}
	return "unknown"
}

// ServerAlive reports whether this kind of error proves mysqld is running.
func (k ConnErrorKind) ServerAlive() bool {
	return k == ConnAccessDenied || k == ConnRefusedByServer || k == ConnQueryFailed
}

// ConnError is a failure to read one server, classified.
type ConnError struct {
	Key  Key
	Kind ConnErrorKind
	Err  error
}

func (e *ConnError) Error() string { return e.Key.String() + ": " + e.Detail() }

// Detail is the message without the server's address: the kind, then the
// cause unless it only repeats the kind.
func (e *ConnError) Detail() string {
	if e.Err == nil {
		return e.Kind.String()
	}
	// Go's dial errors repeat the address and often the kind:
	// "dial tcp 10.0.0.1:3306: connect: connection refused".
	msg := strings.TrimPrefix(e.Err.Error(), "dial tcp "+e.Key.String()+": ")
	msg = strings.TrimPrefix(msg, "connect: ")
	if strings.Contains(msg, e.Kind.String()) {
		return msg
	}
	return e.Kind.String() + ": " + msg
}

func (e *ConnError) Unwrap() error { return e.Err }

// ConnErrorKindOf returns the kind of a *ConnError in err's chain, or 0.
func ConnErrorKindOf(err error) ConnErrorKind {
	var ce *ConnError
	if errors.As(err, &ce) {
		return ce.Kind
	}
	return 0
}

// Node pairs a configured server with what was observed on it.
type Node struct {
	Server Server
	Status *Status // nil when Err is set
	Err    error
}

// Alive reports whether the server was read successfully.
func (n *Node) Alive() bool { return n.Status != nil && n.Err == nil }

// Key returns the server's key.
func (n *Node) Key() Key { return n.Server.Key() }

// Snapshot is the state of every configured server at one moment.
type Snapshot struct {
	Nodes []*Node // in configuration order
}

// Find returns the configured node that host:port names (hostname or IP).
func (s *Snapshot) Find(host string, port int) *Node {
	for _, n := range s.Nodes {
		if n.Server.Matches(host, port) {
			return n
		}
	}
	return nil
}

// ByKey returns the node with that key.
func (s *Snapshot) ByKey(k Key) *Node {
	for _, n := range s.Nodes {
		if n.Key() == k {
			return n
		}
	}
	return nil
}
