// Session: what the identity layer keeps in one user's server-side session, and its MSAL cache accessor.

package identity

import (
	"context"
	"encoding/json"
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

// Marshal encodes the session for storage.
func (s *UserSession) Marshal() ([]byte, error) { return json.Marshal(s) }

// UnmarshalUserSession decodes a stored session; empty data is a new session.
func UnmarshalUserSession(data []byte) (*UserSession, error) {
	s := &UserSession{}
	if len(data) == 0 {
		return s, nil
	}
	if err := json.Unmarshal(data, s); err != nil {
		return &UserSession{}, err
	}
	return s, nil
}

// sessionCache connects one MSAL client to one user's session. MSAL calls
// Replace before it reads its cache and Export after it changed it.
type sessionCache struct {
	s *UserSession
}

// Replace loads the user's cache into MSAL. It always calls Unmarshal, also
// with empty data: skipping it would leave the client's previous contents in
// place, which is how one user's tokens end up in another user's session.
func (c sessionCache) Replace(ctx context.Context, u cache.Unmarshaler, _ cache.ReplaceHints) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return u.Unmarshal(c.s.TokenCache)
}

// Export stores MSAL's cache back in the user's session.
func (c sessionCache) Export(ctx context.Context, m cache.Marshaler, _ cache.ExportHints) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	data, err := m.Marshal()
	if err != nil {
		return err
	}
	c.s.TokenCache = data
	return nil
}
