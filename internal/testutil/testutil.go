// Package testutil holds the small helpers that tests in several packages
// share: a log buffer safe for concurrent writers, throwaway TLS and client
// certificates, and MSAL credentials.
package testutil

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	"github.com/youmark/pkcs8"
	"software.sslmate.com/src/go-pkcs12"
)

// SyncBuffer collects log output written by a server's goroutines.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Cert is a self-signed server certificate for localhost, 127.0.0.1 and
// the ExternalIDNames, valid for an hour.
type Cert struct {
	TLS     tls.Certificate
	CertPEM []byte
	KeyPEM  []byte
	Pool    *x509.CertPool // trusts the certificate
}

// ExternalIDNames are the other names a Cert is for: an External ID
// tenant's ciamlogin.com hosts and a custom URL domain, which tests reach
// on loopback through a dialer of their own (emulatortest.Server.DialContext)
// and never through DNS.
var ExternalIDNames = []string{"*.ciamlogin.com", "login.contoso.test"}

// NewCert makes a Cert.
func NewCert(t testing.TB) Cert {
	t.Helper()
	c, err := newCert()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// SharedCert is one Cert for every server a test binary starts, as
// httptest has one certificate: one client, or one browser, trusts them all.
var SharedCert = sync.OnceValue(func() Cert {
	c, err := newCert()
	if err != nil {
		panic(err)
	}
	return c
})

func newCert() (Cert, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Cert{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     append([]string{"localhost"}, ExternalIDNames...),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return Cert{}, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return Cert{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return Cert{}, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return Cert{
		TLS:     tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf},
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
		Pool:    pool,
	}, nil
}

// WriteFiles writes the certificate and key as PEM files in a temporary
// directory of the test.
func (c Cert) WriteFiles(t testing.TB) (certFile, keyFile string) {
	t.Helper()
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "localhost.crt"), filepath.Join(dir, "localhost.key")
	if err := os.WriteFile(certFile, c.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, c.KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// SigningKey is one RSA key for every emulator a test binary starts:
// generating a 2048-bit key is the slowest part of emulator.New.
var SigningKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// SecretCredential is MSAL's credential for a client secret.
func SecretCredential(secret string) confidential.Credential {
	cred, err := confidential.NewCredFromSecret(secret)
	if err != nil {
		panic(err)
	}
	return cred
}

// ClientKey is one RSA key for the client certificates a test binary makes.
var ClientKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// ClientCert is an app's self-signed client certificate and its key, in the
// forms an app can be given it.
type ClientCert struct {
	Cert *x509.Certificate
	Key  *rsa.PrivateKey
}

// NewClientCert makes a self-signed certificate for key (nil = ClientKey())
// valid from an hour ago until notAfter.
func NewClientCert(t testing.TB, key *rsa.PrivateKey, name string, notAfter time.Time) ClientCert {
	t.Helper()
	if key == nil {
		key = ClientKey()
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return ClientCert{Cert: cert, Key: key}
}

// CertPEM is the certificate alone, as uploaded to the app registration.
func (c ClientCert) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Cert.Raw})
}

// PEM is the certificate and its unencrypted PKCS#8 key in one file.
func (c ClientCert) PEM() []byte {
	der, err := x509.MarshalPKCS8PrivateKey(c.Key)
	if err != nil {
		panic(err)
	}
	return append(c.CertPEM(), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})...)
}

// EncryptedPEM is the certificate and its key encrypted with password
// (PKCS#8, PBES2 with AES-256-CBC, as openssl writes it).
func (c ClientCert) EncryptedPEM(password string) []byte {
	der, err := pkcs8.MarshalPrivateKey(c.Key, []byte(password), nil)
	if err != nil {
		panic(err)
	}
	return append(c.CertPEM(), pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: der})...)
}

// PFX is the certificate and its key as a PKCS#12 file, as Azure Key Vault
// and Windows export them.
func (c ClientCert) PFX(password string) []byte {
	data, err := pkcs12.Modern.Encode(c.Key, c.Cert, nil, password)
	if err != nil {
		panic(err)
	}
	return data
}

// KeySecrets are forms in which the private key could leak into a log: the
// lines of its PEM encoding and its private exponent and primes in decimal
// and hex, for the log scans.
func (c ClientCert) KeySecrets() []string {
	der, _ := x509.MarshalPKCS8PrivateKey(c.Key)
	var out []string
	for _, line := range bytes.Split(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), []byte("\n")) {
		if len(line) == 64 {
			out = append(out, string(line))
		}
	}
	for _, n := range append([]*big.Int{c.Key.D}, c.Key.Primes...) {
		out = append(out, n.String(), n.Text(16))
	}
	return out
}

// WriteFile writes data to a new file named name in a temporary directory
// of the test, readable only by its owner, and returns its path.
func WriteFile(t testing.TB, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
