// Session: what the identity layer keeps in one user's server-side session, and its MSAL cache accessor.

package identity

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/cache"
)

// UserSession is what the app keeps about one signed-in user in their
// server-side session. The handlers load it at the start of a request and
// save it when it changed; this package only reads and changes it. A sign-in
// in progress is not part of it (see Flow): nothing is stored on the server
// before someone has signed in.
type UserSession struct {
	// Claims are the claims of the user's current, checked ID token.
	Claims Claims `json:"claims,omitempty"`
	// HomeAccountID ("uid.utid") finds the user's account in the token cache:
	// the confidential client has no Accounts() to list them.
	HomeAccountID string `json:"home_account_id,omitempty"`
	// Answered are the claims requests (a claims challenge, a step-up)
	// this user's latest sign-ins answered, so that one that comes back
	// right away is shown instead of sent round again (claims.go).
	Answered []AnsweredClaims `json:"answered,omitempty"`
	// TokenCache is the user's MSAL token cache, serialized by MSAL. It is
	// encoded as it is, after the JSON of the rest (see Marshal).
	TokenCache []byte `json:"-"`
}

// SignedIn reports whether the session holds a signed-in user.
func (s *UserSession) SignedIn() bool {
	return s != nil && len(s.Claims) > 0 && s.HomeAccountID != ""
}

// SignOut forgets the user: claims, account and tokens.
func (s *UserSession) SignOut() {
	s.Claims = nil
	s.HomeAccountID = ""
	s.TokenCache = nil
	s.Answered = nil
}

// maxSessionBytes bounds an encoded session; stores keep far less.
const maxSessionBytes = 1 << 20

// Marshal encodes the session for storage:
//
//	uvarint(len(JSON)) JSON cache
//
// where JSON holds the claims and the home account id, and cache is MSAL's
// serialized cache as MSAL wrote it (JSON too), not base64-encoded inside
// the JSON. The session store compresses and seals the whole record once.
// The handlers call Marshal after every request to see whether the session
// changed: it is cheap, and the same session always encodes alike.
func (s *UserSession) Marshal() ([]byte, error) {
	meta, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	out := binary.AppendUvarint(make([]byte, 0, binary.MaxVarintLen64+len(meta)+len(s.TokenCache)), uint64(len(meta)))
	out = append(out, meta...)
	return append(out, s.TokenCache...), nil
}

// UnmarshalUserSession decodes what Marshal encoded; empty data is a new,
// signed-out session. On an error the session is empty.
func UnmarshalUserSession(data []byte) (*UserSession, error) {
	s := &UserSession{}
	if len(data) == 0 {
		return s, nil
	}
	if len(data) > maxSessionBytes {
		return &UserSession{}, errors.New("identity: stored session is too large")
	}
	n, size := binary.Uvarint(data)
	if size <= 0 || n > uint64(len(data)-size) {
		return &UserSession{}, errors.New("identity: stored session is truncated")
	}
	meta, cache := data[size:size+int(n)], data[size+int(n):]
	if err := json.Unmarshal(meta, s); err != nil {
		return &UserSession{}, fmt.Errorf("identity: stored session is malformed: %w", err)
	}
	if len(cache) > 0 {
		s.TokenCache = bytes.Clone(cache)
	}
	return s, nil
}

// sessionCache connects one MSAL client to one user's session. MSAL calls
// Replace before it reads its cache and Export after it changed it. Each
// client is used for one operation of one request (see Client.msal).
type sessionCache struct {
	s *UserSession
	// parsed is the cache data this client last loaded into memory.
	parsed []byte
	loaded bool
}

// Replace loads the user's cache into MSAL. It always calls Unmarshal the
// first time, also with empty data: skipping it would leave the client's
// previous contents in place, which is how one user's tokens end up in
// another user's session. After that it skips loading the very bytes it just
// loaded: MSAL calls Replace before every read, and parsing the cache is the
// most expensive step of a signed-in page (Account, then AcquireTokenSilent).
func (c *sessionCache) Replace(ctx context.Context, u cache.Unmarshaler, _ cache.ReplaceHints) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if c.loaded && bytes.Equal(c.parsed, c.s.TokenCache) {
		return nil
	}
	c.loaded = false
	if err := u.Unmarshal(c.s.TokenCache); err != nil {
		return err
	}
	c.parsed, c.loaded = c.s.TokenCache, true
	return nil
}

// Export stores MSAL's cache back in the user's session, without the ID
// tokens (see withoutIDTokens).
func (c *sessionCache) Export(ctx context.Context, m cache.Marshaler, _ cache.ExportHints) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	data, err := m.Marshal()
	if err != nil {
		return err
	}
	c.s.TokenCache = withoutIDTokens(data)
	return nil
}

// withoutIDTokens drops the raw ID tokens from MSAL's serialized cache. The
// app checks the ID token when it arrives and keeps its claims in the
// session; MSAL would only hand the raw token back from silent calls, which
// the app ignores (a refresh's new ID token comes in the refresh's result).
// At 1.5-2.5 KB, Entra's ID token is a third of a stored session.
func withoutIDTokens(data []byte) []byte {
	var sections map[string]json.RawMessage
	if json.Unmarshal(data, &sections) != nil || sections["IdToken"] == nil {
		return data
	}
	delete(sections, "IdToken")
	out, err := json.Marshal(sections)
	if err != nil {
		return data
	}
	return out
}
