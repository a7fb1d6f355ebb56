// The certificate credential: a self-signed RSA certificate and its key in
// one PEM file, the format CLIENT_CERTIFICATE_PATH reads.

package register

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

const (
	// certLifetime is how long a new certificate is valid.
	certLifetime = 365 * 24 * time.Hour
	// certRenewBefore: a certificate expiring sooner is replaced.
	certRenewBefore = 30 * 24 * time.Hour
)

// loadClientCert reads the certificate at path if it is one the app can
// use: a certificate with its RSA key (PKCS#8), valid for a while yet.
func loadClientCert(path string, now time.Time) (*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var cert *x509.Certificate
	var key *rsa.PrivateKey
	for rest := data; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		switch b.Type {
		case "CERTIFICATE":
			if cert == nil {
				cert, err = x509.ParseCertificate(b.Bytes)
			}
		case "PRIVATE KEY":
			var k any
			if k, err = x509.ParsePKCS8PrivateKey(b.Bytes); err == nil {
				key, _ = k.(*rsa.PrivateKey)
			}
		}
		if err != nil {
			return nil, err
		}
	}
	switch {
	case cert == nil || key == nil:
		return nil, errors.New("it does not hold a certificate and its unencrypted RSA key")
	case !key.PublicKey.Equal(cert.PublicKey):
		return nil, errors.New("its key is not the certificate's")
	case now.Add(certRenewBefore).After(cert.NotAfter):
		return nil, fmt.Errorf("it expires on %s", cert.NotAfter.UTC().Format(time.DateOnly))
	}
	return cert, nil
}

// newClientCert makes a key and a self-signed certificate for it, and
// writes both to path (mode 0600, atomically).
func newClientCert(path, name string, now time.Time) (*x509.Certificate, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             now.Add(-5 * time.Minute),
		NotAfter:              now.Add(certLifetime),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	data = append(data, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})...)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	if err := writeFileAtomic(path, data); err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// thumbprint is a certificate's customKeyIdentifier as Graph shows it: the
// base64 of its SHA-1 hash.
func thumbprint(c *x509.Certificate) string {
	sum := sha1.Sum(c.Raw)
	return base64.StdEncoding.EncodeToString(sum[:])
}
