package etcdsandbox

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// TestTLSAndAuthSandbox: a cluster with TLS serves https only and only to
// a client certificate of its CA; the harness itself (Up, Leader, Start)
// goes through TLS, and after EnableAuth as root; the user EnableAuth made
// may write under its prefix and nowhere else.
func TestTLSAndAuthSandbox(t *testing.T) {
	c := UpT(t, Options{TLS: true})
	t.Logf("3 TLS members up in %v", c.UpDuration.Round(time.Millisecond))
	ca, cert, key := c.TLSFiles()
	for _, ep := range c.Endpoints() {
		if !strings.HasPrefix(ep, "https://127.0.2.") {
			t.Fatalf("endpoint %s, want https", ep)
		}
	}
	for _, f := range []string{key, c.Member(0).KeyFile} {
		if st, err := os.Stat(f); err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("key %s: %v, mode %v", f, err, st.Mode())
		}
	}
	pool := x509.NewCertPool()
	pem, err := os.ReadFile(ca)
	if err != nil || !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("CA %s: %v", ca, err)
	}
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	// A client without a certificate is refused (etcd's --client-cert-auth).
	nocert := ClientConfig(c.Endpoints(), "")
	nocert.TLS = &tls.Config{RootCAs: pool}
	if err := put(newClient(t, nocert), "/gomha/test/x", "x", time.Second); err == nil {
		t.Fatal("a client without a certificate could write")
	}

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := c.EnableAuth(ctx, "gomha", "s3cret", "/gomha/"); err != nil {
		t.Fatal(err)
	}
	// The harness still reaches its cluster: status calls, a member
	// restarted, a write as root.
	if err := c.Kill(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Leader(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitReady(ctx); err != nil {
		t.Fatalf("the harness's write as root: %v", err)
	}

	certOnly := ClientConfig(c.Endpoints(), "")
	certOnly.TLS = &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}}
	if err := put(newClient(t, certOnly), "/gomha/test/x", "x", 2*time.Second); !errors.Is(err, rpctypes.ErrPermissionDenied) {
		t.Fatalf("the client certificate alone (CN %s, no such user): %v, want permission denied", ClientCommonName, err)
	}
	user := certOnly
	user.Username, user.Password = "gomha", "s3cret"
	cli := newClient(t, user)
	if err := put(cli, "/gomha/test/x", "x", 2*time.Second); err != nil {
		t.Fatalf("gomha writes under /gomha/: %v", err)
	}
	for _, k := range []string{"/other", "/gomha-other/x", "/gomha"} {
		if err := put(cli, k, "x", 2*time.Second); !errors.Is(err, rpctypes.ErrPermissionDenied) {
			t.Errorf("gomha writes %s: %v, want permission denied", k, err)
		}
	}
	user.Password = "wrong"
	user.DialTimeout, user.Logger = 2*time.Second, zap.NewNop()
	if _, err := clientv3.New(user); !errors.Is(err, rpctypes.ErrAuthFailed) {
		t.Fatalf("wrong password: %v, want %v", err, rpctypes.ErrAuthFailed)
	}
}
