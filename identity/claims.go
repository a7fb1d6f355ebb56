// Claims challenges: reading a resource's WWW-Authenticate insufficient_claims challenge, the step-up claims request, and remembering which claims a sign-in answered so that a repeated challenge does not loop.

package identity

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// MaxChallengeClaims bounds the claims request a challenge may carry,
// compacted. Real ones are far smaller (Continuous Access Evaluation's nbf
// request is about 65 bytes, a step-up's 55), and the request travels in
// the sign-in cookie, which must stay under 1 KB with the longest return
// path too (handlers' TestClaimsSignInCookieFits).
const MaxChallengeClaims = 192

// ErrMalformedClaims means a resource sent a claims challenge whose claims
// cannot be used: not base64, not a JSON object, or too large.
var ErrMalformedClaims = errors.New("identity: the claims challenge's claims are not a usable claims request")

// authChallenge is one challenge of a WWW-Authenticate header (RFC 9110
// 11.6.1): a scheme and its parameters, names in lower case.
type authChallenge struct {
	scheme string
	params map[string]string
}

// ClaimsChallenge reads the claims challenge from the WWW-Authenticate
// header values of a resource's 401 answer, as Microsoft Graph sends it
// after a Continuous Access Evaluation event:
//
//	Bearer realm="", authorization_uri="…", client_id="…", error="insufficient_claims", claims="<base64 JSON>"
//
// found reports whether the header holds a Bearer challenge with
// error=insufficient_claims and a claims parameter. claims is then the
// decoded claims request as compact JSON, ready for a sign-in, or err is
// ErrMalformedClaims. The parsing is tolerant, as a client's should be:
// values quoted or not, parameters in any order and any case, several
// challenges in one header or in several, padded or unpadded base64 in
// either alphabet.
func ClaimsChallenge(values []string) (claims string, found bool, err error) {
	for _, v := range values {
		for _, c := range parseAuthChallenges(v) {
			if !strings.EqualFold(c.scheme, "Bearer") || !strings.EqualFold(c.params["error"], "insufficient_claims") {
				continue
			}
			raw, ok := c.params["claims"]
			if !ok || strings.TrimSpace(raw) == "" {
				continue
			}
			claims, err := decodeChallengeClaims(raw)
			return claims, true, err
		}
	}
	return "", false, nil
}

// maxChallengeHeader bounds what is parsed of one header value.
const maxChallengeHeader = 8 << 10

// parseAuthChallenges splits one WWW-Authenticate value into its
// challenges. A token followed by "=" is a parameter of the current
// challenge; any other token starts a new challenge with that scheme.
// Values are quoted strings (with backslash escapes) or tokens that run to
// the next comma or space, so an unquoted base64 value keeps its "=" padding.
// Nothing here fails: what cannot be read is skipped.
func parseAuthChallenges(h string) []authChallenge {
	if len(h) > maxChallengeHeader {
		h = h[:maxChallengeHeader]
	}
	var out []authChallenge
	i := 0
	skip := func(set string) {
		for i < len(h) && strings.IndexByte(set, h[i]) >= 0 {
			i++
		}
	}
	for i < len(h) {
		skip(" \t,")
		start := i
		for i < len(h) && !strings.ContainsRune(" \t,=\"", rune(h[i])) {
			i++
		}
		name := h[start:i]
		if name == "" {
			// A stray '=' or '"': skip the character, whatever it is.
			i++
			continue
		}
		skip(" \t")
		if i >= len(h) || h[i] != '=' {
			out = append(out, authChallenge{scheme: name, params: map[string]string{}})
			continue
		}
		i++ // '='
		skip(" \t")
		var value string
		if i < len(h) && h[i] == '"' {
			i++
			var b strings.Builder
			for i < len(h) && h[i] != '"' {
				if h[i] == '\\' && i+1 < len(h) {
					i++
				}
				b.WriteByte(h[i])
				i++
			}
			i++ // the closing quote, if there is one
			value = b.String()
		} else {
			start := i
			for i < len(h) && h[i] != ',' && h[i] != ' ' && h[i] != '\t' {
				i++
			}
			value = h[start:i]
		}
		if len(out) == 0 {
			// Parameters without a scheme before them: keep them under
			// none, so that a sloppy header is still readable.
			out = append(out, authChallenge{params: map[string]string{}})
		}
		key := strings.ToLower(name)
		if _, dup := out[len(out)-1].params[key]; !dup {
			out[len(out)-1].params[key] = value
		}
	}
	// A scheme-less challenge takes the scheme "Bearer" only if it is
	// the only one: a resource that omitted the scheme still meant it.
	if len(out) == 1 && out[0].scheme == "" {
		out[0].scheme = "Bearer"
	}
	return out
}

// decodeChallengeClaims decodes a challenge's claims parameter: base64
// (standard or URL alphabet, padded or not) of a JSON object, or, leniently,
// the JSON object itself. It returns the object compacted.
func decodeChallengeClaims(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	var data []byte
	if strings.HasPrefix(raw, "{") {
		data = []byte(raw)
	} else {
		trimmed := strings.TrimRight(raw, "=")
		for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
			if d, err := enc.DecodeString(trimmed); err == nil {
				data = d
				break
			}
		}
		if data == nil {
			return "", ErrMalformedClaims
		}
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, data); err != nil {
		return "", ErrMalformedClaims
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(buf.Bytes(), &obj); err != nil || len(obj) == 0 {
		return "", ErrMalformedClaims
	}
	if buf.Len() > MaxChallengeClaims {
		return "", ErrMalformedClaims
	}
	return buf.String(), nil
}

// AuthContextClaims is the claims request of a step-up to an
// authentication context (REFERENCE §4.4): the ID token must then carry
// "acrs" with id.
func AuthContextClaims(id string) string {
	v, _ := json.Marshal(id) // a string always marshals
	return `{"id_token":{"acrs":{"essential":true,"value":` + string(v) + `}}}`
}

// HasAuthContext reports whether the ID token's acrs claim holds id.
func (c Claims) HasAuthContext(id string) bool {
	for _, v := range c.Strings("acrs") {
		if v == id {
			return true
		}
	}
	return false
}

// ChallengeRepeatWindow is how soon after a sign-in that answered a claims
// request the same request counts as a repeat. A challenge that comes back
// this soon was not satisfied by the sign-in: asking again would only send
// the user round the same loop. Answering it takes seconds (the redirect
// back and one call); two minutes leaves room for a slow resource and for
// instances whose clocks differ a little.
const ChallengeRepeatWindow = 2 * time.Minute

// maxAnswered is how many answered claims requests a session remembers:
// enough to catch a resource that alternates between a few demands.
const maxAnswered = 4

// AnsweredClaims is a claims request a sign-in of this user answered: a
// hash of it (the claims themselves need not be kept) and when.
type AnsweredClaims struct {
	Hash string `json:"h"`
	At   int64  `json:"t"` // Unix seconds
}

// claimsHash identifies a claims request: SHA-256 of its compact JSON,
// truncated to 128 bits.
func claimsHash(claims string) string {
	sum := sha256.Sum256([]byte(claims))
	return hex.EncodeToString(sum[:16])
}

// AnsweredRecently reports whether a sign-in of this user answered claims
// less than ChallengeRepeatWindow before now: a challenge for them now
// repeats one the sign-in could not satisfy. A mark up to a minute in the
// future counts too: another instance's clock may run a little ahead.
func (s *UserSession) AnsweredRecently(claims string, now time.Time) bool {
	at, ok := s.AnsweredAt(claims)
	return ok && !now.Before(at.Add(-time.Minute)) && now.Before(at.Add(ChallengeRepeatWindow))
}

// AnsweredSince counts the claims requests this user's sign-ins answered
// less than ChallengeRepeatWindow before now, whatever they asked: a
// resource that asks for other claims at every call would otherwise send the
// user round without end.
func (s *UserSession) AnsweredSince(now time.Time) int {
	n := 0
	for _, a := range s.Answered {
		if at := time.Unix(a.At, 0); !now.Before(at.Add(-time.Minute)) && now.Before(at.Add(ChallengeRepeatWindow)) {
			n++
		}
	}
	return n
}

// AnsweredAt returns when a sign-in of this user last answered claims.
func (s *UserSession) AnsweredAt(claims string) (time.Time, bool) {
	h := claimsHash(claims)
	for i := len(s.Answered) - 1; i >= 0; i-- {
		if s.Answered[i].Hash == h {
			return time.Unix(s.Answered[i].At, 0), true
		}
	}
	return time.Time{}, false
}

// answeredBefore returns what the session remembered before a sign-in
// replaced it, for the same user only: another user must not inherit it.
func answeredBefore(prev []AnsweredClaims, prevClaims, claims Claims) []AnsweredClaims {
	if len(prev) == 0 || len(prevClaims) == 0 || !sameUser(prevClaims, claims) {
		return nil
	}
	return prev
}

// RememberAnswered records that a sign-in answered claims at now
// (CompleteSignIn calls it), and forgets what is older than the window or
// beyond maxAnswered.
func (s *UserSession) RememberAnswered(claims string, now time.Time) {
	kept := s.Answered[:0:0]
	h := claimsHash(claims)
	for _, a := range s.Answered {
		if a.Hash != h && now.Before(time.Unix(a.At, 0).Add(ChallengeRepeatWindow)) {
			kept = append(kept, a)
		}
	}
	kept = append(kept, AnsweredClaims{Hash: h, At: now.Unix()})
	if len(kept) > maxAnswered {
		kept = kept[len(kept)-maxAnswered:]
	}
	s.Answered = kept
}
