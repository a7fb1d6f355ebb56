// ID token: decoding its claims and the checks MSAL Go leaves to the app.

package identity

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Claims are the decoded payload of an ID token.
type Claims map[string]any

// String returns a string claim, or "" when it is missing or not a string.
func (c Claims) String(name string) string {
	s, _ := c[name].(string)
	return s
}

// Strings returns a claim that holds a list of strings, such as roles.
func (c Claims) Strings(name string) []string {
	list, _ := c[name].([]any)
	out := make([]string, 0, len(list))
	for _, v := range list {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// Time returns a NumericDate claim (exp, iat, nbf) as a time.
func (c Claims) Time(name string) (time.Time, bool) {
	switch v := c[name].(type) {
	case float64:
		return time.Unix(int64(v), 0), true
	case json.Number:
		n, err := v.Int64()
		return time.Unix(n, 0), err == nil
	}
	return time.Time{}, false
}

// HasRole reports whether the roles claim holds role. App roles are
// case-sensitive in Entra ID, so the comparison is too.
func (c Claims) HasRole(role string) bool {
	for _, r := range c.Strings("roles") {
		if r == role {
			return true
		}
	}
	return false
}

// maxTokenSize bounds what is decoded; Entra's ID tokens are a few KB.
const maxTokenSize = 64 << 10

// DecodeClaims decodes a JWT's payload without checking its signature. It is
// used only on tokens that came straight from the token endpoint over TLS
// (OpenID Connect Core 3.1.3.7): MSAL Go decodes the ID token but exposes no
// extra claims (roles, nonce), so the app reads the payload itself.
func DecodeClaims(raw string) (Claims, error) {
	if len(raw) > maxTokenSize {
		return nil, errors.New("ID token is too large")
	}
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil, errors.New("ID token is not a JWT")
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return nil, fmt.Errorf("ID token payload is not base64url: %w", err)
	}
	var claims Claims
	if err := json.Unmarshal(payload, &claims); err != nil {
		return nil, fmt.Errorf("ID token payload is not a JSON object: %w", err)
	}
	if claims == nil {
		return nil, errors.New("ID token payload is empty")
	}
	return claims, nil
}

// validateClaims makes the ID token checks of OpenID Connect Core 3.1.3.7 that
// MSAL Go does not make: issuer, audience, expiry, not-before and, for a token
// from a sign-in, the nonce that ties it to this browser's flow.
func validateClaims(c Claims, issuer, clientID, nonce string, now time.Time, skew time.Duration) error {
	iss := c.String("iss")
	if tid := c.String("tid"); tid != "" {
		// Multi-tenant authorities (common, organizations) publish a template.
		issuer = strings.ReplaceAll(issuer, "{tenantid}", tid)
	}
	if iss == "" || iss != issuer {
		return fmt.Errorf("ID token issuer %q is not the tenant's issuer %q", iss, issuer)
	}
	if !audienceContains(c["aud"], clientID) {
		return fmt.Errorf("ID token audience is not this app (%s)", clientID)
	}
	exp, ok := c.Time("exp")
	if !ok {
		return errors.New("ID token has no exp claim")
	}
	if !now.Before(exp.Add(skew)) {
		return fmt.Errorf("ID token expired at %s", exp.UTC().Format(time.RFC3339))
	}
	if nbf, ok := c.Time("nbf"); ok && now.Add(skew).Before(nbf) {
		return fmt.Errorf("ID token is not valid before %s (check this machine's clock)", nbf.UTC().Format(time.RFC3339))
	}
	if nonce != "" && c.String("nonce") != nonce {
		return errors.New("ID token nonce does not match the sign-in that requested it")
	}
	return nil
}

func audienceContains(aud any, clientID string) bool {
	switch v := aud.(type) {
	case string:
		return v == clientID
	case []any:
		for _, a := range v {
			if a == clientID {
				return true
			}
		}
	}
	return false
}

// Expired reports whether the ID token's exp (plus skew) has passed.
func (c Claims) Expired(now time.Time, skew time.Duration) bool {
	exp, ok := c.Time("exp")
	return !ok || !now.Before(exp.Add(skew))
}
