package etcdcoord

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
)

// ErrNotLeader means this manager does not lead the cluster (any more):
// it must not act on it.
var ErrNotLeader = errors.New("not the cluster's leading manager")

// Options configure the connection to etcd and the leases.
type Options struct {
	// Endpoints are the etcd members' client URLs or host:port.
	Endpoints []string
	// CACert, Cert and Key are PEM files for TLS (all optional: CACert
	// alone verifies the server; Cert and Key authenticate this client).
	CACert, Cert, Key string
	// Username and Password authenticate to etcd (its RBAC).
	Username, Password string
	// LocalAddr is the source address of the connections (optional).
	LocalAddr string
	// TTL is the leadership lease (default 6 s, at least 2 s): a manager
	// that dies is replaced within TTL; one cut off from etcd stops
	// acting within TTL*3/4.
	TTL time.Duration
	// Prefix is where the keys live (default "/gomha/").
	Prefix string
	// Host names this manager in what it writes (default os.Hostname).
	Host   string
	Logger *slog.Logger
}

func (o Options) withDefaults() (Options, error) {
	if len(o.Endpoints) == 0 {
		return o, errors.New("etcd: no endpoint given")
	}
	for _, e := range o.Endpoints {
		if strings.TrimSpace(e) == "" {
			return o, fmt.Errorf("etcd: empty endpoint in %q", strings.Join(o.Endpoints, ","))
		}
	}
	if o.Username != "" && o.Password == "" {
		// The etcd client would silently not log in at all.
		return o, fmt.Errorf("etcd: user %s without a password", o.Username)
	}
	if o.TTL == 0 {
		o.TTL = 6 * time.Second
	}
	if o.TTL < 2*time.Second {
		return o, fmt.Errorf("etcd: lease TTL %s is shorter than 2s", o.TTL)
	}
	if o.TTL%time.Second != 0 {
		return o, fmt.Errorf("etcd: lease TTL %s is not a whole number of seconds", o.TTL)
	}
	if o.Prefix == "" {
		o.Prefix = "/gomha/"
	}
	if !strings.HasSuffix(o.Prefix, "/") {
		o.Prefix += "/"
	}
	if o.Host == "" {
		o.Host, _ = os.Hostname()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}

// clientConfig is the etcd client's configuration for o.
func clientConfig(o Options) (clientv3.Config, error) {
	cfg := clientv3.Config{
		Endpoints:            o.Endpoints,
		DialTimeout:          3 * time.Second,
		DialKeepAliveTime:    o.TTL / 4,
		DialKeepAliveTimeout: o.TTL / 4,
		Username:             o.Username,
		Password:             o.Password,
		// The library logs every retry at warn level through zap; gomha
		// says what matters in its own words.
		Logger:      zap.NewNop(),
		DialOptions: []grpc.DialOption{grpc.WithChainUnaryInterceptor(noteConn)},
	}
	if o.LocalAddr != "" {
		ip := net.ParseIP(o.LocalAddr)
		if ip == nil {
			return cfg, fmt.Errorf("etcd: source address %q is not an IP address", o.LocalAddr)
		}
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}}
		cfg.DialOptions = append(cfg.DialOptions, grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			return d.DialContext(ctx, "tcp", addr)
		}))
	}
	if o.CACert != "" || o.Cert != "" || o.Key != "" {
		t, err := tlsConfig(o)
		if err != nil {
			return cfg, err
		}
		cfg.TLS = t
	}
	return cfg, nil
}

func tlsConfig(o Options) (*tls.Config, error) {
	t := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.CACert != "" {
		pem, err := os.ReadFile(o.CACert)
		if err != nil {
			return nil, fmt.Errorf("etcd CA certificate: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("etcd CA certificate %s: no PEM certificate in it", o.CACert)
		}
		t.RootCAs = pool
	}
	if (o.Cert == "") != (o.Key == "") {
		return nil, errors.New("etcd: --etcd-cert and --etcd-key go together")
	}
	if o.Cert != "" {
		c, err := tls.LoadX509KeyPair(o.Cert, o.Key)
		if err != nil {
			return nil, fmt.Errorf("etcd client certificate %s / key %s: %w", o.Cert, o.Key, err)
		}
		t.Certificates = []tls.Certificate{c}
	}
	return t, nil
}

// dial opens a client. Without a user it does not wait for etcd to
// answer; with one, the client logs in first (DialTimeout, 3 s).
func dial(o Options) (*clientv3.Client, error) {
	cfg, err := clientConfig(o)
	if err != nil {
		return nil, err
	}
	// The login's context derives from the client's: the note says why
	// etcd was not reached, if it was not.
	ctx, n := noting(context.Background())
	cfg.Context = ctx
	cli, err := clientv3.New(cfg)
	if err != nil {
		if o.Username != "" {
			err = fmt.Errorf("log in as %s: %w", o.Username, advise(o, n.explain(err)))
		}
		return nil, fmt.Errorf("etcd %s: %w", strings.Join(o.Endpoints, ","), err)
	}
	return cli, nil
}

// callTimeout bounds every single etcd request.
const callTimeout = 3 * time.Second
