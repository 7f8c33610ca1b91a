package etcdsandbox

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// TLS material of a cluster started with Options.TLS, under Dir/tls: a CA
// made for this sandbox, one server certificate per member and one client
// certificate. Keys are written 0600. The CA's key is not kept: nothing
// signs with it after Up.
const (
	tlsDir         = "tls"
	caFile         = "ca.pem"
	clientCertFile = "client.pem"
	clientKeyFile  = "client-key.pem"
	// ClientCommonName is the client certificate's CN. etcd takes it as
	// the user name of a client that sends no password once auth is on;
	// no user has that name, so the certificate alone grants nothing.
	ClientCommonName = "gomha-sandbox-client"
	certValidity     = 10 * 365 * 24 * time.Hour
)

// TLSFiles are the PEM files a client needs: the CA that signed the
// members' certificates, and the client certificate and key that their
// --client-cert-auth accepts. All empty when the cluster is plain http.
func (c *Cluster) TLSFiles() (ca, cert, key string) {
	if !c.tls() {
		return "", "", ""
	}
	d := filepath.Join(c.Dir, tlsDir)
	return filepath.Join(d, caFile), filepath.Join(d, clientCertFile), filepath.Join(d, clientKeyFile)
}

// tls says whether the members serve clients over https.
func (c *Cluster) tls() bool { return len(c.Members) > 0 && c.Members[0].CertFile != "" }

// tlsConfig is the harness's own client TLS configuration (nil: http).
func (c *Cluster) tlsConfig() (*tls.Config, error) {
	if !c.tls() {
		return nil, nil
	}
	ca, cert, key := c.TLSFiles()
	pemCA, err := os.ReadFile(ca)
	if err != nil {
		return nil, fmt.Errorf("etcd sandbox TLS: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemCA) {
		return nil, fmt.Errorf("etcd sandbox TLS: no certificate in %s", ca)
	}
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		return nil, fmt.Errorf("etcd sandbox TLS: %w", err)
	}
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}, nil
}

// memberTLS sets member m's certificate paths (Dir/tls/<name>.pem).
func memberTLS(dir string, m *Member) {
	d := filepath.Join(dir, tlsDir)
	m.CAFile = filepath.Join(d, caFile)
	m.CertFile = filepath.Join(d, m.Name+".pem")
	m.KeyFile = filepath.Join(d, m.Name+"-key.pem")
}

// writeTLS creates the CA, every member's server certificate (SANs: its
// address, 127.0.0.1, localhost) and the client certificate in dir/tls.
func writeTLS(dir string, ms []Member) error {
	d := filepath.Join(dir, tlsDir)
	if err := os.MkdirAll(d, 0o700); err != nil {
		return fmt.Errorf("etcd sandbox TLS: %w", err)
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("etcd sandbox TLS: CA key: %w", err)
	}
	caTmpl := template("gomha etcd sandbox CA")
	caTmpl.IsCA, caTmpl.BasicConstraintsValid = true, true
	caTmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("etcd sandbox TLS: CA certificate: %w", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return fmt.Errorf("etcd sandbox TLS: CA certificate: %w", err)
	}
	if err := writePEM(filepath.Join(d, caFile), "CERTIFICATE", caDER, 0o644); err != nil {
		return err
	}
	for _, m := range ms {
		tmpl := template(m.Name)
		tmpl.IPAddresses = []net.IP{net.ParseIP(m.Addr), net.IPv4(127, 0, 0, 1)}
		tmpl.DNSNames = []string{"localhost"}
		// ClientAuth too: etcd's own gRPC gateway dials its gRPC server
		// with this certificate when --client-cert-auth is on.
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
		if err := issue(tmpl, ca, caKey, m.CertFile, m.KeyFile); err != nil {
			return err
		}
	}
	tmpl := template(ClientCommonName)
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	return issue(tmpl, ca, caKey, filepath.Join(d, clientCertFile), filepath.Join(d, clientKeyFile))
}

// template is a certificate valid from an hour ago (clock skew) for ten
// years, with a random serial.
func template(cn string) *x509.Certificate {
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	now := time.Now()
	return &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"gomha etcd sandbox"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(certValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
}

// issue signs tmpl with the CA for a new key and writes both.
func issue(tmpl, ca *x509.Certificate, caKey *ecdsa.PrivateKey, certPath, keyPath string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("etcd sandbox TLS: key for %s: %w", tmpl.Subject.CommonName, err)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("etcd sandbox TLS: certificate for %s: %w", tmpl.Subject.CommonName, err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return fmt.Errorf("etcd sandbox TLS: key for %s: %w", tmpl.Subject.CommonName, err)
	}
	return errors.Join(writePEM(keyPath, "EC PRIVATE KEY", keyDER, 0o600), writePEM(certPath, "CERTIFICATE", der, 0o644))
}

func writePEM(path, typ string, der []byte, mode os.FileMode) error {
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), mode); err != nil {
		return fmt.Errorf("etcd sandbox TLS: %w", err)
	}
	return nil
}
