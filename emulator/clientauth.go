// Client authentication with a client assertion: a JWT signed with a registered certificate, or a federated token.

package emulator

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"
)

const (
	// jwtBearer is the client_assertion_type of RFC 7523 client
	// authentication, the only one Entra takes.
	jwtBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	// assertionSkew is the clock difference allowed on nbf and exp.
	assertionSkew = 5 * time.Minute
	// maxAssertionLifetime is the longest span from nbf to exp Entra takes
	// in an assertion signed with a certificate.
	maxAssertionLifetime = 24 * time.Hour
)

// ClientAssertion records one client assertion the token endpoint received,
// for tests to check what a client sent. It holds no signature and no key.
type ClientAssertion struct {
	Kind             string // "certificate" or "federated"; "" when the token could not be read
	Alg              string // the JOSE header's alg
	ThumbprintHeader string // "x5t#S256" or "x5t", whichever named the certificate
	Thumbprint       string // the thumbprint the client sent, decoded, in upper-case hex
	X5C              int    // the number of certificates in the header's x5c
	Issuer           string
	Subject          string
	TokenID          string // the jti claim
	Error            int    // the AADSTS code it was refused with; 0 when accepted
}

// registeredCert is one certificate uploaded to the app.
type registeredCert struct {
	cert   *x509.Certificate
	key    *rsa.PublicKey
	sha1   []byte
	sha256 []byte
}

// clientCredentials are one app's registered certificates and federated
// credentials.
type clientCredentials struct {
	certs             []registeredCert
	federatedSubjects []string
}

func newClientCredentials(certs []*x509.Certificate, subjects []string) (*clientCredentials, error) {
	c := &clientCredentials{}
	for _, cert := range certs {
		key, ok := cert.PublicKey.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("client certificate %q has a %T key: Entra ID takes RSA certificates only", cert.Subject.CommonName, cert.PublicKey)
		}
		s1, s256 := sha1.Sum(cert.Raw), sha256.Sum256(cert.Raw)
		c.certs = append(c.certs, registeredCert{cert: cert, key: key, sha1: s1[:], sha256: s256[:]})
	}
	for _, s := range subjects {
		if strings.TrimSpace(s) == "" {
			return nil, errors.New("a federated credential's subject is empty")
		}
		c.federatedSubjects = append(c.federatedSubjects, s)
	}
	return c, nil
}

// LoadCertificates reads the certificates in a PEM file (or one DER
// certificate, a .cer), as uploaded to an app registration. Private keys in
// the file are ignored: the emulator needs only the public part.
func LoadCertificates(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	for rest := data; ; {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		c, err := x509.ParseCertificate(data)
		if err != nil {
			return nil, fmt.Errorf("%s holds no PEM or DER certificate", path)
		}
		certs = append(certs, c)
	}
	return certs, nil
}

// ClientAssertions returns every client assertion received so far, for any
// app, in order.
func (e *Emulator) ClientAssertions() []ClientAssertion {
	e.assertionsMu.Lock()
	defer e.assertionsMu.Unlock()
	return slices.Clone(e.assertions)
}

// authenticateAssertion checks a request's client assertion, as Entra does
// for private_key_jwt (signed with a certificate registered on the app) and
// for a federated credential (a token from a trusted external issuer).
// client is the app the request's client_id names; secret is a client
// secret sent alongside, which is refused.
func (e *Emulator) authenticateAssertion(r *http.Request, client *app, form url.Values, secret string) *aadError {
	raw := form.Get("client_assertion")
	switch {
	case secret != "":
		return &aadError{http.StatusBadRequest, "invalid_request", 9002313,
			"Invalid request. Request is malformed or invalid. Send one client credential: client_secret or client_assertion, not both."}
	case raw == "":
		a := errMissingClientSecret()
		return &a
	case form.Get("client_assertion_type") != jwtBearer:
		a := errInvalidAssertion(fmt.Sprintf("client_assertion_type must be '%s', not '%s'.", jwtBearer, form.Get("client_assertion_type")))
		return &a
	}
	e.recordIssued(raw) // for the log scans: the assertion is a credential
	rec := ClientAssertion{}
	a := e.checkAssertion(r, client, raw, &rec)
	if a != nil {
		rec.Error = a.code
	}
	e.assertionsMu.Lock()
	e.assertions = append(e.assertions, rec)
	e.assertionsMu.Unlock()
	return a
}

// jose is the parsed JOSE header of an assertion.
type jose struct {
	Alg       string   `json:"alg"`
	Kid       string   `json:"kid"`
	X5t       string   `json:"x5t"`
	X5tS256   string   `json:"x5t#S256"`
	X5c       []string `json:"x5c"`
	signing   string   // header.payload, the signed bytes
	signature []byte
}

// assertionClaims are the claims Entra reads from an assertion.
type assertionClaims struct {
	Iss string   `json:"iss"`
	Sub string   `json:"sub"`
	Aud audience `json:"aud"`
	Exp *numeric `json:"exp"`
	Nbf *numeric `json:"nbf"`
	Iat *numeric `json:"iat"`
	Jti string   `json:"jti"`
}

// audience is the aud claim: one string or an array of them.
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	var one string
	if json.Unmarshal(b, &one) == nil {
		*a = audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*a = many
	return nil
}

// numeric is a NumericDate, written as an integer or a fraction.
type numeric float64

func (n *numeric) time() time.Time { return time.Unix(int64(*n), 0) }

func parseAssertion(raw string) (jose, assertionClaims, error) {
	var (
		h jose
		c assertionClaims
	)
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return h, c, errMalformed
	}
	hdr, err1 := b64.DecodeString(parts[0])
	payload, err2 := b64.DecodeString(parts[1])
	sig, err3 := b64.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil || json.Unmarshal(hdr, &h) != nil || json.Unmarshal(payload, &c) != nil {
		return h, c, errMalformed
	}
	h.signing, h.signature = parts[0]+"."+parts[1], sig
	return h, c, nil
}

func (e *Emulator) checkAssertion(r *http.Request, client *app, raw string, rec *ClientAssertion) *aadError {
	fail := func(a aadError) *aadError { return &a }
	h, c, err := parseAssertion(raw)
	if err != nil {
		return fail(errInvalidAssertion("JWT token is invalid or malformed: it is not three base64url parts holding a JSON header and JSON claims."))
	}
	rec.Alg, rec.Issuer, rec.Subject, rec.TokenID, rec.X5C = h.Alg, c.Iss, c.Sub, c.Jti, len(h.X5c)
	if c.Iss == "" {
		return fail(errInvalidAssertion("The assertion has no iss claim: it must be the client id, or a federated token's issuer."))
	}
	if strings.EqualFold(c.Iss, client.clientID) {
		rec.Kind = "certificate"
		return e.checkCertificateAssertion(r, client, h, c, rec)
	}
	rec.Kind = "federated"
	return e.checkFederatedAssertion(r, client, h, c)
}

// checkCertificateAssertion checks an assertion the app signed with the key
// of a certificate registered on it, in Entra's order: the certificate, the
// signature, then the claims. Only the client's own certificates count.
func (e *Emulator) checkCertificateAssertion(r *http.Request, client *app, h jose, c assertionClaims, rec *ClientAssertion) *aadError {
	fail := func(a aadError) *aadError { return &a }
	if h.Alg != "PS256" && h.Alg != "RS256" {
		return fail(errInvalidAssertion(fmt.Sprintf("The JWT's signing algorithm '%s' is not supported for client assertions; use PS256 or RS256.", h.Alg)))
	}
	// MSAL Go sends x5t#S256 in standard base64 with padding, MSAL Python
	// and others the SHA-1 x5t in base64url: take any of them.
	name, value, size := "x5t#S256", h.X5tS256, sha256.Size
	if value == "" {
		name, value, size = "x5t", h.X5t, sha1.Size
	}
	if value == "" {
		return fail(errCertNotRegistered(client.clientID, "", "The assertion's header names no certificate: it has neither x5t#S256 nor x5t."))
	}
	thumb, ok := decodeAnyBase64(value)
	if !ok || len(thumb) != size {
		return fail(errInvalidAssertion(fmt.Sprintf("The %s header '%s' is not a base64-encoded %d-byte thumbprint.", name, value, size)))
	}
	rec.ThumbprintHeader, rec.Thumbprint = name, strings.ToUpper(hex.EncodeToString(thumb))
	var reg *registeredCert
	for i := range client.creds.certs {
		if rc := &client.creds.certs[i]; slices.Equal(rc.sha256, thumb) || slices.Equal(rc.sha1, thumb) {
			reg = rc
			break
		}
	}
	if reg == nil {
		return fail(errCertNotRegistered(client.clientID, rec.Thumbprint, "The key was not found."))
	}
	now := e.now()
	if now.After(reg.cert.NotAfter) {
		return fail(errCertNotRegistered(client.clientID, rec.Thumbprint, fmt.Sprintf("The key used is expired: the certificate was valid until %s.", reg.cert.NotAfter.UTC().Format(time.RFC3339))))
	}
	if len(h.X5c) > 0 {
		der, err := base64.StdEncoding.DecodeString(h.X5c[0])
		if err != nil || !slices.Equal(der, reg.cert.Raw) {
			return fail(errInvalidAssertion("The first certificate of the x5c header is not the one its thumbprint names."))
		}
	}
	if !verifyRSA(reg.key, h) {
		return fail(aadError{http.StatusUnauthorized, "invalid_client", 700027,
			fmt.Sprintf("Client assertion contains an invalid signature. [Reason - The provided signature value did not match the expected signature value., Thumbprint of key used by client: '%s', Found key 'Start=%s, End=%s']",
				rec.Thumbprint, reg.cert.NotBefore.UTC().Format("01/02/2006 15:04:05"), reg.cert.NotAfter.UTC().Format("01/02/2006 15:04:05"))})
	}
	if !strings.EqualFold(c.Sub, client.clientID) {
		return fail(errInvalidAssertion(fmt.Sprintf("The assertion's sub claim '%s' must be the client id '%s', as its iss is.", c.Sub, client.clientID)))
	}
	endpoint := baseURL(r) + "/" + e.tenant + "/oauth2/v2.0/token"
	if !slices.ContainsFunc(c.Aud, func(a string) bool { return strings.EqualFold(a, endpoint) }) {
		return fail(errInvalidAssertion(fmt.Sprintf("The assertion's audience '%s' is not this token endpoint, '%s'.", strings.Join(c.Aud, " "), endpoint)))
	}
	return e.checkAssertionTimes(c, true)
}

// checkAssertionTimes applies nbf and exp with five minutes of skew, and for
// an assertion the app made itself, the one-day limit on its lifetime.
func (e *Emulator) checkAssertionTimes(c assertionClaims, limitLifetime bool) *aadError {
	if c.Exp == nil {
		a := errInvalidAssertion("The assertion has no exp claim.")
		return &a
	}
	now := e.now()
	exp := c.Exp.time()
	start := now
	switch {
	case c.Nbf != nil:
		start = c.Nbf.time()
	case c.Iat != nil:
		start = c.Iat.time()
	}
	switch {
	case now.Add(assertionSkew).Before(start), now.Add(-assertionSkew).After(exp):
		a := errAssertionTime(now, start, exp, "")
		return &a
	case limitLifetime && exp.Sub(start) > maxAssertionLifetime:
		a := errAssertionTime(now, start, exp, " Its lifetime, from nbf to exp, is longer than the one day allowed.")
		return &a
	}
	return nil
}

// verifyRSA checks an RS256 or PS256 signature over the assertion.
func verifyRSA(key *rsa.PublicKey, h jose) bool {
	sum := sha256.Sum256([]byte(h.signing))
	switch h.Alg {
	case "RS256":
		return rsa.VerifyPKCS1v15(key, crypto.SHA256, sum[:], h.signature) == nil
	case "PS256":
		return rsa.VerifyPSS(key, crypto.SHA256, sum[:], h.signature, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto}) == nil
	}
	return false
}

// decodeAnyBase64 decodes s in either base64 alphabet, padded or not.
func decodeAnyBase64(s string) ([]byte, bool) {
	s = strings.TrimRight(s, "=")
	if b, err := base64.RawURLEncoding.DecodeString(s); err == nil {
		return b, true
	}
	b, err := base64.RawStdEncoding.DecodeString(s)
	return b, err == nil
}

func errInvalidAssertion(detail string) aadError {
	return aadError{http.StatusUnauthorized, "invalid_client", 50027, "Invalid JWT token. " + detail}
}

func errCertNotRegistered(clientID, thumbprint, reason string) aadError {
	return aadError{http.StatusUnauthorized, "invalid_client", 700027,
		fmt.Sprintf("The certificate with identifier used to sign the client assertion is not registered on application. [Reason - %s Thumbprint of key used by client: '%s', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '%s'. With the emulator, register it with -client-cert or Config.ClientCertificates.]",
			reason, thumbprint, clientID)}
}

func errAssertionTime(now, start, exp time.Time, detail string) aadError {
	const layout = "01/02/2006 15:04:05"
	return aadError{http.StatusUnauthorized, "invalid_client", 700024,
		fmt.Sprintf("Client assertion is not within its valid time range. Current time: %s, assertion valid from %s, expiry time of assertion %s.%s Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .",
			now.UTC().Format(layout), start.UTC().Format(layout), exp.UTC().Format(layout), detail)}
}
