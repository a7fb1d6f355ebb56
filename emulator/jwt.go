// RS256 JSON Web Tokens and the JWKS, written with crypto/rsa alone.

package emulator

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
)

var b64 = base64.RawURLEncoding

// signer holds the emulator's signing key and its published form.
type signer struct {
	key     *rsa.PrivateKey
	kid     string // as Entra: the base64url SHA-1 thumbprint of the certificate (= x5t)
	certDER []byte // self-signed certificate for the JWKS x5c, as Entra publishes one
	header  string // the encoded JOSE header, the same for every token
	sigLen  int    // length of an encoded signature, for token padding
}

func newSigner(key *rsa.PrivateKey, now time.Time) (*signer, error) {
	if key.N.BitLen() < 2048 {
		return nil, fmt.Errorf("signing key has %d bits, want at least 2048", key.N.BitLen())
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(now.UnixNano()),
		Subject:      pkix.Name{CommonName: "Local Entra ID emulator token signing (not Microsoft)"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(5, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("create signing certificate: %w", err)
	}
	thumb := sha1.Sum(der)
	s := &signer{key: key, kid: b64.EncodeToString(thumb[:]), certDER: der, sigLen: b64.EncodedLen(key.Size())}
	h, _ := json.Marshal(struct {
		Typ string `json:"typ"`
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}{"JWT", "RS256", s.kid})
	s.header = b64.EncodeToString(h)
	return s, nil
}

// encodedLen is the length of the token sign would produce for a payload of
// n JSON bytes, so padding can be sized without signing twice.
func (s *signer) encodedLen(n int) int {
	return len(s.header) + 1 + b64.EncodedLen(n) + 1 + s.sigLen
}

// sign returns the compact serialisation of payload signed with RS256.
func (s *signer) sign(payload []byte) (string, error) {
	signingInput := s.header + "." + b64.EncodeToString(payload)
	sum := sha256.Sum256([]byte(signingInput))
	sig, err := rsa.SignPKCS1v15(rand.Reader, s.key, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return signingInput + "." + b64.EncodeToString(sig), nil
}

// errMalformed means the token is not a compact JWS at all; errSignature
// that it is one but was not signed by this emulator's key.
var (
	errMalformed = errors.New("token is not a well-formed JWT")
	errSignature = errors.New("token signature is invalid")
)

// verify checks token's RS256 signature and decodes its claims into dst.
func (s *signer) verify(token string, dst any) error {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return errMalformed
	}
	hdrJSON, err := b64.DecodeString(parts[0])
	if err != nil {
		return errMalformed
	}
	var hdr struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}
	if json.Unmarshal(hdrJSON, &hdr) != nil {
		return errMalformed
	}
	payload, err := b64.DecodeString(parts[1])
	if err != nil {
		return errMalformed
	}
	sig, err := b64.DecodeString(parts[2])
	if err != nil {
		return errMalformed
	}
	if hdr.Alg != "RS256" || hdr.Kid != s.kid {
		return errSignature
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(&s.key.PublicKey, crypto.SHA256, sum[:], sig) != nil {
		return errSignature
	}
	if json.Unmarshal(payload, dst) != nil {
		return errMalformed
	}
	return nil
}

// jwk is one key of the JWKS, with the members Entra publishes.
type jwk struct {
	Kty    string   `json:"kty"`
	Use    string   `json:"use"`
	Kid    string   `json:"kid"`
	X5t    string   `json:"x5t"`
	N      string   `json:"n"`
	E      string   `json:"e"`
	X5c    []string `json:"x5c"`
	Issuer string   `json:"issuer"`
}

func (s *signer) jwks(issuer string) map[string][]jwk {
	pub := s.key.PublicKey
	return map[string][]jwk{"keys": {{
		Kty:    "RSA",
		Use:    "sig",
		Kid:    s.kid,
		X5t:    s.kid,
		N:      b64.EncodeToString(pub.N.Bytes()),
		E:      b64.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
		X5c:    []string{base64.StdEncoding.EncodeToString(s.certDER)},
		Issuer: issuer,
	}}}
}
