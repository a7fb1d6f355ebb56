// Client credentials other than a secret: a certificate read from PEM or PKCS#12, and a federated token read from a file.

package identity

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	"github.com/youmark/pkcs8"
	"software.sslmate.com/src/go-pkcs12"
)

// Why a certificate file was refused. ParseCertificate wraps these, so a
// caller can tell them apart with errors.Is.
var (
	ErrPasswordRequired = errors.New("the private key is encrypted and no password was given")
	ErrWrongPassword    = errors.New("the password is wrong")
	ErrNoPrivateKey     = errors.New("the file holds no private key")
	ErrNoCertificate    = errors.New("the file holds no certificate")
	ErrNotRSA           = errors.New("the private key is not an RSA key (MSAL signs client assertions with RSA only)")
	ErrKeyMismatch      = errors.New("the private key does not belong to any certificate in the file")
)

// Certificate is an app's client certificate with its private key, as
// uploaded to the app registration: MSAL signs each client assertion with
// the key and names the certificate by its thumbprint.
type Certificate struct {
	Chain []*x509.Certificate // the certificate that matches Key first, then the rest of the chain
	Key   *rsa.PrivateKey
}

// Leaf is the certificate whose key signs the assertions.
func (c *Certificate) Leaf() *x509.Certificate { return c.Chain[0] }

// Thumbprint is the certificate's SHA-1 thumbprint in upper-case hex, as the
// Entra admin center lists it under Certificates & secrets.
func (c *Certificate) Thumbprint() string {
	sum := sha1.Sum(c.Leaf().Raw)
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// Credential returns the certificate as MSAL's credential.
func (c *Certificate) Credential() (confidential.Credential, error) {
	return confidential.NewCredFromCert(c.Chain, c.Key)
}

// ParseCertificate reads a certificate (or chain) and its RSA private key
// from a PEM file (PKCS#8, PKCS#1 or encrypted PKCS#8) or from a PKCS#12
// (.pfx, .p12) file as Azure Key Vault and Windows export them. The password
// decrypts an encrypted key or a PKCS#12 file; it is ignored otherwise.
//
// MSAL's own confidential.CertFromPEM reads neither encrypted keys nor
// PKCS#12, and silently skips an EC key, reporting only "no private key".
func ParseCertificate(data []byte, password string) (*Certificate, error) {
	var (
		certs []*x509.Certificate
		key   any
		err   error
	)
	if bytes.Contains(data, []byte("-----BEGIN ")) {
		certs, key, err = parsePEM(data, password)
	} else {
		certs, key, err = parsePKCS12(data, password)
	}
	if err != nil {
		return nil, err
	}
	if key == nil {
		return nil, ErrNoPrivateKey
	}
	if len(certs) == 0 {
		return nil, ErrNoCertificate
	}
	rsaKey, ok := key.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%w: it is %s", ErrNotRSA, keyKind(key))
	}
	// The leaf is the certificate of this key, wherever it is in the file:
	// MSAL names the first certificate in the assertion's thumbprint.
	for i, c := range certs {
		if pub, ok := c.PublicKey.(*rsa.PublicKey); ok && pub.Equal(&rsaKey.PublicKey) {
			chain := append([]*x509.Certificate{c}, certs[:i]...)
			chain = append(chain, certs[i+1:]...)
			return &Certificate{Chain: chain, Key: rsaKey}, nil
		}
	}
	return nil, ErrKeyMismatch
}

func parsePEM(data []byte, password string) ([]*x509.Certificate, any, error) {
	var (
		certs []*x509.Certificate
		key   any
	)
	setKey := func(k any) error {
		if key != nil {
			return errors.New("the file holds more than one private key")
		}
		key = k
		return nil
	}
	for {
		block, rest := pem.Decode(data)
		if block == nil {
			break
		}
		data = rest
		if block.Type != "CERTIFICATE" && block.Headers["DEK-Info"] != "" {
			// RFC 1423 encryption (openssl's -traditional) derives its key
			// with one round of MD5: refuse it rather than half-support it.
			return nil, nil, errors.New("the private key uses legacy PEM encryption (DEK-Info); convert it to encrypted PKCS#8 with `openssl pkcs8 -topk8 -v2 aes-256-cbc -in old.key -out new.key`")
		}
		switch block.Type {
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, nil, fmt.Errorf("a certificate in the file cannot be parsed: %w", err)
			}
			certs = append(certs, c)
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
			if err != nil {
				return nil, nil, fmt.Errorf("the private key cannot be parsed: %w", err)
			}
			if err := setKey(k); err != nil {
				return nil, nil, err
			}
		case "RSA PRIVATE KEY":
			k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
			if err != nil {
				return nil, nil, fmt.Errorf("the private key cannot be parsed: %w", err)
			}
			if err := setKey(k); err != nil {
				return nil, nil, err
			}
		case "EC PRIVATE KEY":
			k, err := x509.ParseECPrivateKey(block.Bytes)
			if err != nil {
				return nil, nil, fmt.Errorf("the private key cannot be parsed: %w", err)
			}
			if err := setKey(k); err != nil {
				return nil, nil, err
			}
		case "ENCRYPTED PRIVATE KEY":
			if password == "" {
				return nil, nil, ErrPasswordRequired
			}
			k, _, err := pkcs8.ParsePrivateKey(block.Bytes, []byte(password))
			if err != nil {
				if strings.Contains(err.Error(), "incorrect password") {
					return nil, nil, ErrWrongPassword
				}
				return nil, nil, fmt.Errorf("the encrypted private key cannot be decrypted (%v); encrypt it with PBES2, e.g. `openssl pkcs8 -topk8 -v2 aes-256-cbc`", err)
			}
			if err := setKey(k); err != nil {
				return nil, nil, err
			}
		}
	}
	return certs, key, nil
}

func parsePKCS12(data []byte, password string) ([]*x509.Certificate, any, error) {
	key, cert, chain, err := pkcs12.DecodeChain(data, password)
	switch {
	case errors.Is(err, pkcs12.ErrIncorrectPassword):
		if password == "" {
			return nil, nil, ErrPasswordRequired
		}
		return nil, nil, ErrWrongPassword
	case err != nil && strings.Contains(err.Error(), "private key missing"):
		return nil, nil, ErrNoPrivateKey
	case err != nil:
		return nil, nil, fmt.Errorf("the file is neither PEM nor a readable PKCS#12 (.pfx) file: %w", err)
	}
	return append([]*x509.Certificate{cert}, chain...), key, nil
}

func keyKind(key any) string {
	switch key.(type) {
	case *ecdsa.PrivateKey:
		return "an EC key"
	case ed25519.PrivateKey:
		return "an Ed25519 key"
	}
	return fmt.Sprintf("a %T", key)
}

// TokenFile is a federated token (workload identity) kept in a file that the
// platform rewrites before the token expires: the projected service account
// token of Kubernetes workload identity (AZURE_FEDERATED_TOKEN_FILE), for
// example. It is read again whenever the file changes, and whenever the
// token it last read has expired or is about to, so an expired token is
// never sent while a newer one is on disk. It is safe for concurrent use.
type TokenFile struct {
	path string
	now  func() time.Time

	mu    sync.Mutex
	token string
	info  os.FileInfo // of the file the token was read from
	exp   time.Time   // the token's exp claim; zero when it has none
}

// tokenRefreshMargin is how long before its expiry a cached token is read
// again: the platform has usually written its successor by then.
const tokenRefreshMargin = time.Minute

// NewTokenFile reads the token in path once, so that a missing, unreadable
// or empty file stops start-up. now is the clock for the expiry (nil =
// time.Now).
func NewTokenFile(path string, now func() time.Time) (*TokenFile, error) {
	if now == nil {
		now = time.Now
	}
	f := &TokenFile{path: path, now: now}
	if _, err := f.Token(); err != nil {
		return nil, err
	}
	return f, nil
}

// Token returns the file's current token.
func (f *TokenFile) Token() (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	info, err := os.Stat(f.path)
	if err != nil {
		return "", fmt.Errorf("the federated token file cannot be read: %w", err)
	}
	fresh := f.token != "" && sameFile(f.info, info) &&
		(f.exp.IsZero() || f.now().Add(tokenRefreshMargin).Before(f.exp))
	if fresh {
		return f.token, nil
	}
	data, err := os.ReadFile(f.path)
	if err != nil {
		return "", fmt.Errorf("the federated token file cannot be read: %w", err)
	}
	token := strings.TrimSpace(string(data))
	if token == "" {
		return "", errors.New("the federated token file is empty")
	}
	f.token, f.info, f.exp = token, info, tokenExpiry(token)
	if f.exp.IsZero() {
		// Without a readable exp there is no knowing when the token goes
		// stale: forget it, so that every request reads the file.
		f.info = nil
	}
	return token, nil
}

// Credential returns the token file as MSAL's credential. MSAL calls it for
// every token request (code redemption and refresh alike) and sends its
// answer as the client assertion.
func (f *TokenFile) Credential() confidential.Credential {
	return confidential.NewCredFromAssertionCallback(func(context.Context, confidential.AssertionRequestOptions) (string, error) {
		return f.Token()
	})
}

// sameFile reports whether the file is unchanged since it was last read:
// the same file (Kubernetes swaps a symlink to a new one), modified at the
// same time, of the same size.
func sameFile(a, b os.FileInfo) bool {
	return a != nil && b != nil && os.SameFile(a, b) && a.ModTime().Equal(b.ModTime()) && a.Size() == b.Size()
}

// tokenExpiry reads a JWT's exp claim without checking the token: Entra
// checks it. It returns the zero time for anything else.
func tokenExpiry(token string) time.Time {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return time.Time{}
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return time.Time{}
	}
	var claims struct {
		Exp json.Number `json:"exp"`
	}
	if json.Unmarshal(payload, &claims) != nil {
		return time.Time{}
	}
	exp, err := claims.Exp.Int64()
	if err != nil || exp <= 0 {
		return time.Time{}
	}
	return time.Unix(exp, 0)
}
