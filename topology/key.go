package topology

import (
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
