package etcdcoord

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
)

// Why a call did not reach etcd. The etcd client waits for a usable
// connection until the call's deadline and then reports a bare "context
// deadline exceeded": that gRPC could not connect, and why (a TLS
// handshake refused, a certificate not trusted, a refused connection), is
// dropped on the way. A connNote in the call's context keeps it; noteConn,
// a gRPC interceptor inside the client's retries, fills it in.

// connNote is what gRPC last said about the connection during one call.
type connNote struct {
	mu  sync.Mutex
	why string
}

type connNoteKey struct{}

// noting returns ctx carrying a fresh note.
func noting(ctx context.Context) (context.Context, *connNote) {
	n := &connNote{}
	return context.WithValue(ctx, connNoteKey{}, n), n
}

// noteConn records, in the call's note, why an attempt found no
// connection.
func noteConn(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	err := invoker(ctx, method, req, reply, cc, opts...)
	if err == nil {
		return nil
	}
	if n, ok := ctx.Value(connNoteKey{}).(*connNote); ok {
		if why := connProblem(err); why != "" {
			n.mu.Lock()
			n.why = why
			n.mu.Unlock()
		}
	}
	return err
}

// connProblem is why gRPC had no connection in err, e.g. `latest
// balancer error: connection error: desc = "transport: ..."` gives
// `transport: ...`, and `latest balancer error: write tcp ...: broken
// pipe` gives `write tcp ...: broken pipe`; "" when err is no connection
// error.
func connProblem(err error) string {
	st, ok := status.FromError(err)
	if !ok {
		return ""
	}
	msg := st.Message()
	var desc string
	for _, mark := range []string{"latest balancer error: ", "connection error: desc = "} {
		if i := strings.Index(msg, mark); i >= 0 {
			desc = msg[i+len(mark):]
			break
		}
	}
	if rest, ok := strings.CutPrefix(desc, "connection error: desc = "); ok {
		desc = rest
	}
	if u, err := strconv.Unquote(desc); err == nil {
		desc = u
	}
	return desc
}

// unreachableError is a call that ended without a connection to etcd.
type unreachableError struct {
	err  error  // what the client returned (a context error)
	why  string // gRPC's connection error
	hint string // what in the options likely causes it, or ""
}

func (e *unreachableError) Error() string {
	if e.hint != "" {
		return fmt.Sprintf("etcd not reached: %s; %s (%v)", e.why, e.hint, e.err)
	}
	return fmt.Sprintf("etcd not reached: %s (%v)", e.why, e.err)
}

func (e *unreachableError) Unwrap() error { return e.err }

// explain adds to err why no connection was made, when err is a context
// error and gRPC said why; other errors (etcd's own answers) stay as they
// are.
func (n *connNote) explain(err error) error {
	if err == nil || !(errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)) {
		return err
	}
	n.mu.Lock()
	why := n.why
	n.mu.Unlock()
	if why == "" {
		return err
	}
	return &unreachableError{err: err, why: why}
}

// call runs f with a deadline of callTimeout and says why etcd was not
// reached when it was not.
func (c *Coordinator) call(ctx context.Context, f func(context.Context) error) error {
	ctx, n := noting(ctx)
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	return advise(c.o, n.explain(f(ctx)))
}

// advise adds to a connection or permission problem what in o likely
// causes it.
func advise(o Options, err error) error {
	var un *unreachableError
	switch {
	case errors.As(err, &un):
		un.hint = tlsHint(o, un.why)
	case errors.Is(err, rpctypes.ErrPermissionDenied):
		who := "this client (no user given)"
		if o.Username != "" {
			who = "user " + o.Username
		}
		return fmt.Errorf("%w: %s needs readwrite on the keys under %s", err, who, o.Prefix)
	}
	return err
}

// tlsHint names the likely cause of a TLS connection problem.
func tlsHint(o Options, why string) string {
	usesTLS := o.CACert != "" || o.Cert != ""
	for _, e := range o.Endpoints {
		usesTLS = usesTLS || strings.HasPrefix(e, "https://")
	}
	switch {
	case !usesTLS && strings.Contains(why, "server preface"):
		return "etcd may serve TLS only: give https:// endpoints or a CA certificate"
	case o.Cert == "" && (strings.Contains(why, "bad certificate") || strings.Contains(why, "certificate required")):
		return "etcd requires a client certificate, none given"
	case usesTLS && o.Cert == "" && (strings.Contains(why, "broken pipe") || strings.Contains(why, "connection reset by peer")):
		// Over TLS 1.3 the client's handshake ends before etcd checks its
		// certificate: etcd's alert may come after the connection broke.
		return "etcd closed the connection: it may require a client certificate, none given"
	case strings.Contains(why, "unknown authority") && o.CACert == "":
		return "no CA certificate given, and the system's do not trust etcd's certificate"
	case strings.Contains(why, "unknown authority"):
		return "etcd's certificate is not signed by the CA in " + o.CACert
	}
	return ""
}

// isEtcdAnswer says whether err is etcd's own answer (a wrong password, a
// permission denied), as opposed to no answer.
func isEtcdAnswer(err error) bool {
	var ee rpctypes.EtcdError
	return errors.As(err, &ee)
}
