package etcdcoord

import (
	"context"
	"errors"
	"strings"
	"testing"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The etcd client reports a call that found no connection as a bare
// deadline; what gRPC said about the connection, and what in the options
// likely caused it, make it an error an operator can act on.
func TestExplainConnProblem(t *testing.T) {
	balancer := func(desc string) error {
		return status.Error(codes.DeadlineExceeded, `latest balancer error: connection error: desc = "`+desc+`"`)
	}
	withTLS := Options{Endpoints: []string{"https://e1:2379"}, CACert: "/etc/ca.pem", Cert: "c.pem", Key: "k.pem", Prefix: "/gomha/"}
	for _, tc := range []struct {
		name    string
		o       Options
		attempt error // what gRPC returned to one attempt
		err     error // what the client returned
		want    string
	}{
		{"a plain client on a TLS-only etcd", Options{Endpoints: []string{"e1:2379"}}, balancer("error reading server preface: EOF"), context.DeadlineExceeded,
			"etcd not reached: error reading server preface: EOF; etcd may serve TLS only: give https:// endpoints or a CA certificate (context deadline exceeded)"},
		{"no client certificate (TLS 1.2 and 1.3 alerts)", Options{Endpoints: withTLS.Endpoints, CACert: "/etc/ca.pem"}, balancer("error reading server preface: remote error: tls: certificate required"), context.DeadlineExceeded,
			"certificate required; etcd requires a client certificate, none given"},
		{"no client certificate, the connection broken before etcd's alert arrived", Options{Endpoints: withTLS.Endpoints, CACert: "/etc/ca.pem"},
			status.Error(codes.DeadlineExceeded, "latest balancer error: write tcp 127.0.0.1:56204->127.0.2.3:2379: write: broken pipe"), context.DeadlineExceeded,
			"etcd not reached: write tcp 127.0.0.1:56204->127.0.2.3:2379: write: broken pipe; etcd closed the connection: it may require a client certificate, none given"},
		{"etcd's certificate from another CA", withTLS, balancer("transport: authentication handshake failed: tls: failed to verify certificate: x509: certificate signed by unknown authority"), context.DeadlineExceeded,
			"unknown authority; etcd's certificate is not signed by the CA in /etc/ca.pem"},
		{"no CA given: the system's", Options{Endpoints: withTLS.Endpoints}, balancer("transport: authentication handshake failed: x509: certificate signed by unknown authority"), context.DeadlineExceeded,
			"no CA certificate given, and the system's do not trust etcd's certificate"},
		{"nothing listens: no hint, the cause alone", withTLS, balancer("transport: Error while dialing: dial tcp 10.0.0.1:2379: connect: connection refused"), context.DeadlineExceeded,
			"etcd not reached: transport: Error while dialing: dial tcp 10.0.0.1:2379: connect: connection refused (context deadline exceeded)"},
		{"connected, no quorum: the deadline alone", withTLS, status.Error(codes.DeadlineExceeded, "context deadline exceeded"), context.DeadlineExceeded,
			"context deadline exceeded"},
		{"etcd's own answer is kept", withTLS, balancer("x509: certificate signed by unknown authority"), rpctypes.ErrAuthFailed,
			rpctypes.ErrAuthFailed.Error()},
		{"a permission denied names the permission", Options{Username: "gomha", Prefix: "/gomha/"}, nil, rpctypes.ErrPermissionDenied,
			"etcdserver: permission denied: user gomha needs readwrite on the keys under /gomha/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, n := noting(context.Background())
			if tc.attempt != nil {
				_ = noteConn(ctx, "/etcdserverpb.Lease/LeaseGrant", nil, nil, nil, func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
					return tc.attempt
				})
			}
			got := advise(tc.o, n.explain(tc.err))
			if !strings.Contains(got.Error(), tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			if !errors.Is(got, tc.err) {
				t.Fatalf("%v does not wrap %v", got, tc.err)
			}
		})
	}
}
