package etcdsandbox

import (
	"context"
	"fmt"
	"net"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
)

// ClientConfig returns a client configuration for endpoints whose
// connections are all dialled from localAddr, an address of this machine
// ("127.0.2.10"), so that Cut(localAddr) cuts exactly that client off
// etcd: a manager under test binds to its own address. An empty localAddr
// lets the kernel choose (127.0.0.1 for a loopback endpoint). Set Logger,
// TLS or auth on the result as needed; it has no logger of its own.
//
// etcd's client (v3.6 and later) adds no dialer of its own and appends
// Config.DialOptions last, so this dialer is the one gRPC uses.
func ClientConfig(endpoints []string, localAddr string) clientv3.Config {
	cfg := clientv3.Config{Endpoints: endpoints, DialTimeout: 2 * time.Second}
	if localAddr == "" {
		return cfg
	}
	ip := net.ParseIP(localAddr)
	dial := func(ctx context.Context, addr string) (net.Conn, error) {
		if ip == nil {
			return nil, fmt.Errorf("dial %s from %q: not an IP address", addr, localAddr)
		}
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}}
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("dial %s from %s: %w", addr, localAddr, err)
		}
		return conn, nil
	}
	cfg.DialOptions = []grpc.DialOption{grpc.WithContextDialer(dial)}
	return cfg
}
