package identity_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"ms-identity-go-webapp/identity"
	"ms-identity-go-webapp/internal/testutil"
)

// Every form the app accepts gives the same certificate and key, the
// certificate of the key first.
func TestParseCertificateForms(t *testing.T) {
	c := testutil.NewClientCert(t, nil, "app", time.Now().Add(time.Hour))
	other := testutil.NewClientCert(t, testutil.SigningKey(), "intermediate", time.Now().Add(time.Hour))
	pkcs1 := append(c.CertPEM(), pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(c.Key)})...)
	tests := []struct {
		name     string
		data     []byte
		password string
		chain    int
	}{
		{"PEM, PKCS#8", c.PEM(), "", 1},
		{"PEM, PKCS#1", pkcs1, "", 1},
		{"PEM, key first", append(c.PEM()[len(c.CertPEM()):], c.CertPEM()...), "", 1},
		{"PEM, leaf after another certificate", append(other.CertPEM(), c.PEM()...), "", 2},
		{"PEM, encrypted PKCS#8", c.EncryptedPEM("pa55 word"), "pa55 word", 1},
		{"PEM, password given for a plain key", c.PEM(), "unused", 1},
		{"PFX", c.PFX("pfx-password"), "pfx-password", 1},
		{"PFX without password", c.PFX(""), "", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := identity.ParseCertificate(tt.data, tt.password)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Leaf().Equal(c.Cert) || !got.Key.Equal(c.Key) || len(got.Chain) != tt.chain {
				t.Fatalf("got leaf %s and %d certificates", got.Leaf().Subject, len(got.Chain))
			}
			if _, err := got.Credential(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestParseCertificateRefusals(t *testing.T) {
	c := testutil.NewClientCert(t, nil, "app", time.Now().Add(time.Hour))
	other := testutil.NewClientCert(t, testutil.SigningKey(), "other", time.Now().Add(time.Hour))
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalECPrivateKey(ecKey)
	pkcs8EC, _ := x509.MarshalPKCS8PrivateKey(ecKey)
	legacy := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Headers: map[string]string{
		"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-256-CBC,00112233445566778899AABBCCDDEEFF"}, Bytes: []byte("opaque")})
	tests := []struct {
		name     string
		data     []byte
		password string
		want     error  // nil: any error whose text holds mention
		mention  string //
	}{
		{"certificate alone", c.CertPEM(), "", identity.ErrNoPrivateKey, ""},
		{"key alone", c.PEM()[len(c.CertPEM()):], "", identity.ErrNoCertificate, ""},
		{"encrypted key, no password", c.EncryptedPEM("right"), "", identity.ErrPasswordRequired, ""},
		{"encrypted key, wrong password", c.EncryptedPEM("right"), "n0t-the-Passw0rd", identity.ErrWrongPassword, ""},
		{"PFX, wrong password", c.PFX("right"), "n0t-the-Passw0rd", identity.ErrWrongPassword, ""},
		{"PFX, no password", c.PFX("right"), "", identity.ErrPasswordRequired, ""},
		{"EC key", append(c.CertPEM(), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER})...), "", identity.ErrNotRSA, ""},
		{"EC key in PKCS#8", append(c.CertPEM(), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8EC})...), "", identity.ErrNotRSA, ""},
		{"key of another certificate", append(other.CertPEM(), c.PEM()[len(c.CertPEM()):]...), "", identity.ErrKeyMismatch, ""},
		{"legacy encrypted PEM", append(c.CertPEM(), legacy...), "x", nil, "openssl pkcs8 -topk8"},
		{"two keys", append(c.PEM(), other.PEM()...), "", nil, "more than one private key"},
		{"neither PEM nor PFX", []byte("hello"), "", nil, "neither PEM nor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := identity.ParseCertificate(tt.data, tt.password)
			switch {
			case err == nil:
				t.Fatal("accepted")
			case tt.want != nil && !errors.Is(err, tt.want):
				t.Fatalf("error %q, want %q", err, tt.want)
			case !strings.Contains(err.Error(), tt.mention):
				t.Fatalf("error %q does not say %q", err, tt.mention)
			}
			if tt.password != "" && strings.Contains(err.Error(), tt.password) {
				t.Errorf("the error repeats the password: %q", err)
			}
		})
	}
}

// fakeJWT is an unsigned token with an exp claim, which is all TokenFile
// reads.
func fakeJWT(sub string, exp time.Time) string {
	payload, _ := json.Marshal(map[string]any{"sub": sub, "exp": exp.Unix()})
	return "eyJhbGciOiJSUzI1NiJ9." + base64.RawURLEncoding.EncodeToString(payload) + ".c2ln"
}

type fakeClock struct{ offset atomic.Int64 }

func (c *fakeClock) now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *fakeClock) advance(d time.Duration) { c.offset.Add(int64(d)) }

// rewriteKeepingStamp replaces the file's content in place and puts its
// modification time back, so that only the token's expiry can tell the
// reader to look again.
func rewriteKeepingStamp(t *testing.T, path, content string) {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, info.ModTime(), info.ModTime()); err != nil {
		t.Fatal(err)
	}
}

func TestTokenFile(t *testing.T) {
	clk := &fakeClock{}
	exp := time.Now().Add(time.Hour)
	first := fakeJWT("first", exp)
	path := testutil.WriteFile(t, "token", []byte(first+"\n"))
	f, err := identity.NewTokenFile(path, clk.now)
	if err != nil {
		t.Fatal(err)
	}
	get := func(want string) {
		t.Helper()
		got, err := f.Token()
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("token for %s, want the one for %s", subOf(t, got), subOf(t, want))
		}
	}
	get(first)

	// The platform swaps in a new file (Kubernetes renames a symlink): the
	// next call reads it.
	second := fakeJWT("second", exp)
	tmp := filepath.Join(filepath.Dir(path), "token.new")
	if err := os.WriteFile(tmp, []byte(second), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	get(second)

	// A change the file's stamp does not show is not seen while the token
	// is valid (the file is not read on every call)...
	third := fakeJWT("third_", exp)
	rewriteKeepingStamp(t, path, third)
	get(second)
	// ...but the cached token is never used past its expiry.
	clk.advance(time.Hour)
	get(third)

	// A token without a readable expiry is read from the file every time.
	rewriteKeepingStamp(t, path, "opaque-token-1")
	clk.advance(time.Hour) // third expired
	get("opaque-token-1")
	rewriteKeepingStamp(t, path, "opaque-token-2")
	get("opaque-token-2")

	// The file gone: an error naming no token.
	os.Remove(path)
	if _, err := f.Token(); err == nil || strings.Contains(err.Error(), "opaque") {
		t.Fatalf("after the file was removed: %v", err)
	}
}

func TestNewTokenFileRefusals(t *testing.T) {
	dir := t.TempDir()
	empty := testutil.WriteFile(t, "empty", []byte(" \n"))
	for name, path := range map[string]string{"missing": filepath.Join(dir, "none"), "empty": empty, "a directory": dir} {
		if _, err := identity.NewTokenFile(path, nil); err == nil {
			t.Errorf("%s file accepted", name)
		}
	}
}

func subOf(t *testing.T, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return token
	}
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var c struct{ Sub string }
	json.Unmarshal(payload, &c)
	return c.Sub
}
