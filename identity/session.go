// Session: what the identity layer keeps in one user's server-side session, and its MSAL cache accessor.

package identity

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/cache"
)

// UserSession is everything about one browser's sign-in that lives in its
// server-side session. The handlers load it at the start of a request and save
// it when it changed; this package only reads and changes it.
type UserSession struct {
	// Flows are the sign-ins this browser has started and not finished, keyed by
	// their state. More than one lets two tabs sign in at once.
	Flows map[string]Flow `json:"flows,omitempty"`
	// Claims are the claims of the user's current, checked ID token.
	Claims Claims `json:"claims,omitempty"`
	// HomeAccountID ("uid.utid") finds the user's account in the token cache:
	// the confidential client has no Accounts() to list them.
	HomeAccountID string `json:"home_account_id,omitempty"`
	// TokenCache is the user's MSAL token cache, serialized by MSAL.
	TokenCache []byte `json:"token_cache,omitempty"`

	// plain and stored remember the last compressed encoding (see Marshal)
	// and what it was made from, so that an unchanged session is not
	// compressed again.
	plain, stored []byte
}

// Flow is one sign-in in progress: the secrets the callback must match.
type Flow struct {
	Nonce    string    `json:"nonce"`
	Verifier string    `json:"verifier"` // PKCE code_verifier; only its S256 hash went to the browser
	Next     string    `json:"next"`     // local path to return to after sign-in
	Created  time.Time `json:"created"`
}

// maxFlows bounds the flows one session keeps; the oldest goes first.
const maxFlows = 5

// flowTTL is how long a started sign-in may take. Entra's own codes last
// 10 minutes; the user may first have to type a password and pass MFA.
const flowTTL = 15 * time.Minute

// SignedIn reports whether the session holds a signed-in user.
func (s *UserSession) SignedIn() bool {
	return s != nil && len(s.Claims) > 0 && s.HomeAccountID != ""
}

// SignOut forgets the user: claims, account and tokens. Pending flows stay.
func (s *UserSession) SignOut() {
	s.Claims = nil
	s.HomeAccountID = ""
	s.TokenCache = nil
}

// A signed-in session holds the user's tokens: with Entra's, 5 KB or more
// of JSON, which session stores then sign, encrypt and base64-encode (twice,
// in gorilla/securecookie's format). Such a session is stored compressed,
// with MSAL's cache as it is rather than base64-encoded inside JSON:
//
//	compressedSession, then DEFLATE(uvarint(len(JSON)) JSON cache)
//
// where JSON is the session without its token cache. With the raw ID token
// left out of the cache (see withoutIDTokens), a stored session takes a third
// of the space it took as JSON. A session without tokens (a sign-in in
// progress, or nothing at all) stays plain JSON: it is small, and "{}" tells
// the handlers there is nothing to store.
const compressedSession = 0x01

// maxSessionBytes bounds a decompressed session; stores limit what they
// keep to far less.
const maxSessionBytes = 1 << 20

// Marshal encodes the session for storage. The handlers call it on every
// request to see whether the session changed, so an unchanged signed-in
// session returns the encoding it was loaded with, without compressing
// again.
func (s *UserSession) Marshal() ([]byte, error) {
	if len(s.TokenCache) == 0 {
		return json.Marshal(s)
	}
	rest := *s
	rest.TokenCache = nil
	meta, err := json.Marshal(&rest)
	if err != nil {
		return nil, err
	}
	plain := binary.AppendUvarint(make([]byte, 0, 8+len(meta)+len(s.TokenCache)), uint64(len(meta)))
	plain = append(append(plain, meta...), s.TokenCache...)
	if s.stored != nil && bytes.Equal(plain, s.plain) {
		return s.stored, nil
	}
	stored, err := compress(plain)
	if err != nil {
		return nil, err
	}
	s.plain, s.stored = plain, stored
	return stored, nil
}

// UnmarshalUserSession decodes a stored session; empty data is a new session.
func UnmarshalUserSession(data []byte) (*UserSession, error) {
	s := &UserSession{}
	if len(data) == 0 {
		return s, nil
	}
	if data[0] != compressedSession {
		if err := json.Unmarshal(data, s); err != nil {
			return &UserSession{}, err
		}
		return s, nil
	}
	plain, err := decompress(data[1:])
	if err != nil {
		return &UserSession{}, err
	}
	n, size := binary.Uvarint(plain)
	if size <= 0 || n > uint64(len(plain)-size) {
		return &UserSession{}, errors.New("identity: stored session is truncated")
	}
	meta, tokenCache := plain[size:size+int(n)], plain[size+int(n):]
	if err := json.Unmarshal(meta, s); err != nil || len(tokenCache) == 0 || s.TokenCache != nil {
		return &UserSession{}, fmt.Errorf("identity: stored session is malformed (%v)", err)
	}
	s.TokenCache = tokenCache
	s.plain, s.stored = plain, data
	return s, nil
}

// Compressors are large (hundreds of KB of tables): reuse them.
var (
	writers = sync.Pool{New: func() any { w, _ := flate.NewWriter(nil, flate.BestSpeed); return w }}
	readers = sync.Pool{New: func() any { return flate.NewReader(nil) }}
)

func compress(plain []byte) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(len(plain)/2 + 64)
	buf.WriteByte(compressedSession)
	w := writers.Get().(*flate.Writer)
	defer writers.Put(w)
	w.Reset(&buf)
	if _, err := w.Write(plain); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func decompress(data []byte) ([]byte, error) {
	r := readers.Get().(io.ReadCloser)
	defer readers.Put(r)
	if err := r.(flate.Resetter).Reset(bytes.NewReader(data), nil); err != nil {
		return nil, err
	}
	plain, err := io.ReadAll(io.LimitReader(r, maxSessionBytes+1))
	if err != nil {
		return nil, fmt.Errorf("identity: stored session: %w", err)
	}
	if len(plain) > maxSessionBytes {
		return nil, errors.New("identity: stored session is too large")
	}
	return plain, nil
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
