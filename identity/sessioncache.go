// Session decoder: UnmarshalUserSession and Marshal for every request, without decoding the same stored session twice.

package identity

import (
	"bytes"
	"maps"
	"ms-identity-go-webapp/internal/bounded"
	"reflect"
	"slices"
)

// SessionDecoder decodes users' sessions for each request and encodes them
// back after it. It remembers, by session id, the encoding it last decoded
// and what it decoded to: a signed-in user's every page brings the same
// encoding again until a token refresh or a new sign-in changes it, and
// decoding it (the claims are JSON) is a good part of what such a page costs.
// An entry answers only for the very bytes it was decoded from, so a session
// changed by another instance is decoded afresh. It is safe for concurrent
// use and bounded by bytes (maxDecoded).
type SessionDecoder struct {
	entries bounded.Map[string, *decodedSession]
}

type decodedSession struct {
	data []byte      // the encoding, as the caller gave it; never changed
	s    UserSession // never handed out: each request gets its own copy
}

// maxDecoded bounds the decoder's memory: about 12 KB a signed-in user
// with Entra-sized tokens, so some 200 users, the most recent (as many as
// the session store's own cache holds).
var maxDecoded = bounded.Limit{Bytes: 2 << 20}

// Decode returns the session data encodes, as UnmarshalUserSession does,
// for the session id ("" for a request without a session). Each call
// returns a session of its own that the caller may change.
func (d *SessionDecoder) Decode(id string, data []byte) (*UserSession, error) {
	if id == "" || len(data) == 0 {
		return UnmarshalUserSession(data)
	}
	if e, ok := d.entries.Get(id); ok && bytes.Equal(e.data, data) {
		return e.copy(), nil
	}
	s, err := UnmarshalUserSession(data)
	if err != nil {
		return s, err
	}
	// The entry's token cache is the tail of data, which never changes,
	// rather than the copy the caller may let go of: one copy less per
	// cached user. Its claims are its own map, over shared values.
	e := &decodedSession{data: data, s: *s}
	e.s.Claims = maps.Clone(s.Claims)
	e.s.TokenCache = data[len(data)-len(s.TokenCache) : len(data) : len(data)] // full: an append copies
	d.entries.Put(id, e, 1024+2*len(data), maxDecoded)                         // the claims decoded take about as much as data
	return s, nil
}

// copy gives a request its own session: its own claims map, over claim
// values and a token cache that nothing changes in place (a refresh or a
// new sign-in replaces them).
func (e *decodedSession) copy() *UserSession {
	s := e.s
	s.Claims = maps.Clone(e.s.Claims)
	return &s
}

// Encode returns s's encoding, as s.Marshal does. When s holds exactly
// what Decode gave for the session id from previous (no refresh, no new
// claims, no sign-out), it returns previous itself without encoding s again.
func (d *SessionDecoder) Encode(id string, s *UserSession, previous []byte) ([]byte, error) {
	if id != "" && len(previous) > 0 {
		if e, ok := d.entries.Get(id); ok && bytes.Equal(e.data, previous) && e.s.HomeAccountID == s.HomeAccountID &&
			bytes.Equal(e.s.TokenCache, s.TokenCache) && claimsEqual(e.s.Claims, s.Claims) &&
			slices.Equal(e.s.Answered, s.Answered) {
			return previous, nil
		}
	}
	return s.Marshal()
}

// claimsEqual reports whether two sets of claims are equal, as
// reflect.DeepEqual would, without reflection for the values JSON decodes
// to: every page compares its user's claims with those it loaded, and
// reflect.DeepEqual allocated some 70 times for a typical ID token's.
func claimsEqual(a, b Claims) bool {
	if len(a) != len(b) || (a == nil) != (b == nil) {
		return false
	}
	for k, va := range a {
		vb, ok := b[k]
		if !ok || !jsonEqual(va, vb) {
			return false
		}
	}
	return true
}

// jsonEqual compares two values as decoded by encoding/json; values of any
// other type are left to reflect.DeepEqual.
func jsonEqual(a, b any) bool {
	switch a := a.(type) {
	case nil:
		return b == nil
	case string:
		b, ok := b.(string)
		return ok && a == b
	case float64:
		b, ok := b.(float64)
		return ok && a == b
	case bool:
		b, ok := b.(bool)
		return ok && a == b
	case []any:
		b, ok := b.([]any)
		if !ok || len(a) != len(b) || (a == nil) != (b == nil) {
			return false
		}
		for i := range a {
			if !jsonEqual(a[i], b[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		b, ok := b.(map[string]any)
		return ok && claimsEqual(a, b)
	}
	return reflect.DeepEqual(a, b)
}
