package topology

import (
	"fmt"
	"net"
	"strconv"
)

// Key identifies one MySQL/MariaDB instance by host and port.
type Key struct {
	Host string
	Port int
}

// String returns "host:port" (with brackets for IPv6 hosts).
func (k Key) String() string {
	return net.JoinHostPort(k.Host, strconv.Itoa(k.Port))
}

// IsZero reports whether the key is unset.
func (k Key) IsZero() bool { return k.Host == "" && k.Port == 0 }

// ParseKey reads "host:port" (IPv6 hosts in brackets), as Key.String writes it.
func ParseKey(s string) (Key, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return Key{}, fmt.Errorf("parse server %q: %w", s, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p <= 0 || p > 65535 {
		return Key{}, fmt.Errorf("parse server %q: bad port", s)
	}
	return Key{Host: host, Port: p}, nil
}
