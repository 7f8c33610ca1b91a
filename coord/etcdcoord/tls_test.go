package etcdcoord

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomha/gomha/coord"
	"github.com/gomha/gomha/internal/testkit"
	"github.com/gomha/gomha/sandbox/etcdsandbox"
)

// TestLeadOverTLS runs two managers on a real etcd that serves clients
// over TLS only and requires a client certificate: with the CA, a client
// certificate and key they lead, fence and take over as over http (one
// with https:// endpoints and its own source address, one with bare
// host:port endpoints). A manager lacking the certificate, or trusting
// another CA, never leads, and says why in one line.
func TestLeadOverTLS(t *testing.T) {
	e := etcdsandbox.UpT(t, etcdsandbox.Options{TLS: true})
	ca, cert, key := e.TLSFiles()
	other := otherCA(t)
	var bare []string
	for _, m := range e.Members {
		bare = append(bare, strings.TrimPrefix(m.ClientURL, "https://"))
	}

	// The refusals wait out their 3 s meanwhile.
	refusals := []struct {
		name string
		o    Options
		want []string
	}{
		{"CA only, no client certificate", Options{CACert: ca},
			[]string{"client certificate, none given"}},
		{"another CA", Options{CACert: other, Cert: cert, Key: key},
			[]string{"x509: certificate signed by unknown authority", "not signed by the CA in " + other}},
		{"no CA: the system's", Options{Cert: cert, Key: key},
			[]string{"x509: certificate signed by unknown authority", "no CA certificate given"}},
		{"no TLS at all", Options{Endpoints: bare},
			[]string{"server preface", "etcd may serve TLS only"}},
	}
	refused := make([]error, len(refusals))
	var wg sync.WaitGroup
	for i, r := range refusals {
		o := r.o
		if o.Endpoints == nil {
			o.Endpoints = e.Endpoints()
		}
		o.TTL, o.Host = 2*time.Second, "refused"
		c, err := New(o)
		if err != nil {
			t.Fatalf("%s: New: %v", r.name, err)
		}
		t.Cleanup(func() { c.Close() })
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
			defer cancel()
			_, _, refused[i] = c.Lead(ctx, "app1")
		})
	}

	tlsCoord := func(host string, eps []string, local string) *Coordinator {
		c, err := New(Options{Endpoints: eps, CACert: ca, Cert: cert, Key: key, LocalAddr: local, TTL: 2 * time.Second, Host: host})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	a := tlsCoord("mgr-a", e.Endpoints(), "127.0.2.10")
	b := tlsCoord("mgr-b", bare, "")
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	actx, releaseA, err := a.Lead(ctx, "app1")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Cluster("app1").Append(ctx, coord.Entry{Step: "failover", Server: "127.0.0.1:3306"}); err != nil {
		t.Fatal(err)
	}
	bled := make(chan error, 1)
	var releaseB func()
	go func() {
		var err error
		_, releaseB, err = b.Lead(ctx, "app1")
		bled <- err
	}()
	releaseA()
	<-actx.Done()
	select {
	case err := <-bled:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the second manager was not elected after the first resigned")
	}
	defer releaseB()
	cb := b.Cluster("app1")
	if entries, err := cb.Journal(ctx); err != nil || len(entries) != 1 || entries[0].Host != "mgr-a" {
		t.Fatalf("the successor reads the journal: %v %+v", err, entries)
	}
	if err := cb.Append(ctx, coord.Entry{Step: "resume"}); err != nil {
		t.Fatal(err)
	}

	wg.Wait()
	for i, r := range refusals {
		err := refused[i]
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s: Lead: %v, want a deadline", r.name, err)
			continue
		}
		for _, w := range r.want {
			if !strings.Contains(err.Error(), w) || strings.Contains(err.Error(), "\n") {
				t.Errorf("%s: Lead's error %q, want one line with %q", r.name, err, w)
			}
		}
		t.Logf("%s: %v", r.name, err)
	}
}

// TestLeadWithAuth runs managers on a real etcd with authentication on and
// one user, gomha, whose role may read and write the keys under /gomha/
// only: the least a manager needs. With its password it leads and writes
// its keys; with a wrong one it stops at once, in one line; under another
// prefix it is denied and says which permission it lacks. A manager whose
// etcd does not answer its login at start waits for etcd, as it would
// once started.
func TestLeadWithAuth(t *testing.T) {
	e := etcdsandbox.UpT(t, etcdsandbox.Options{})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := e.EnableAuth(ctx, "gomha", "s3cret", "/gomha/"); err != nil {
		t.Fatal(err)
	}
	auth := func(o Options) Options {
		o.Endpoints, o.Username, o.TTL = e.Endpoints(), "gomha", 2*time.Second
		if o.Password == "" {
			o.Password = "s3cret"
		}
		return o
	}

	t0 := time.Now()
	_, err := New(auth(Options{Password: "wrong"}))
	if err == nil || !strings.Contains(err.Error(), "log in as gomha: etcdserver: authentication failed") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("wrong password: %v", err)
	}
	t.Logf("wrong password, in %v: %v", time.Since(t0).Round(time.Millisecond), err)

	a, err := New(auth(Options{Host: "mgr-a"}))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	_, release, err := a.Lead(ctx, "app1")
	if err != nil {
		t.Fatal(err)
	}
	ca := a.Cluster("app1")
	if err := ca.Append(ctx, coord.Entry{Step: "failover"}); err != nil {
		t.Fatal(err)
	}
	if err := ca.Publish(ctx, "status", []byte(`{"code":0}`)); err != nil {
		t.Fatal(err)
	}
	if snap, err := a.Read(ctx, "app1"); err != nil || snap.Leader == nil || snap.Leader.Host != "mgr-a" || len(snap.Journal) != 1 {
		t.Fatalf("read: %v %+v", err, snap)
	}
	release()

	// The role grants /gomha/ only: under /other/ the same user is denied.
	var logs testkit.Buffer
	o := auth(Options{Prefix: "/other/", Host: "mgr-o"})
	o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	outside, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	defer outside.Close()
	lctx, lcancel := context.WithTimeout(ctx, 3*time.Second)
	_, _, err = outside.Lead(lctx, "app1")
	lcancel()
	want := "register this manager: etcdserver: permission denied: user gomha needs readwrite on the keys under /other/"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Lead outside /gomha/: %v, want %q", err, want)
	}
	if l := logs.String(); strings.Count(l, "cannot campaign") != 1 || !strings.Contains(l, want) {
		t.Fatalf("log of Lead outside /gomha/, want %q once:\n%s", want, l)
	}

	// etcd does not answer the login (this source address is cut off):
	// New does not fail, and Lead leads once etcd answers.
	if err := e.Cut(ctx, "127.0.2.21"); err != nil {
		t.Fatal(err)
	}
	late, err := New(auth(Options{LocalAddr: "127.0.2.21", Host: "mgr-late"}))
	if err != nil {
		t.Fatalf("New while etcd does not answer: %v", err)
	}
	defer late.Close()
	if late.cli != nil {
		t.Fatal("logged in through the cut")
	}
	if err := e.Join(ctx, "127.0.2.21"); err != nil {
		t.Fatal(err)
	}
	_, release, err = late.Lead(ctx, "app1")
	if err != nil {
		t.Fatalf("Lead once etcd answers: %v", err)
	}
	release()
}

// otherCA writes a CA certificate that signed nothing of the sandbox's.
func otherCA(t *testing.T) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "another CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "other-ca.pem")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
