// Token memo: the access token MSAL last found in a user's token cache, so that each page does not parse the whole cache again.

package identity

import (
	"crypto/sha256"
	"sync"
	"time"
)

// tokenMemo remembers, for one user's serialized token cache and scopes,
// the access token MSAL returned from it. Every signed-in page asks for the
// same token again; finding it means MSAL parsing the user's whole cache (5 KB
// of JSON with Entra's tokens), the most expensive step of such a page.
//
// The key is a hash of the cache's bytes: a new token, a refresh or a sign-out
// changes them, so an entry answers only for the exact cache it came from, and
// only while MSAL would itself return the cached token instead of refreshing
// it: until five minutes before it expires, and not past its refresh time.
type tokenMemo struct {
	mu      sync.Mutex
	entries map[memoKey]memoEntry
}

type memoKey [sha256.Size]byte

type memoEntry struct {
	token     Token
	refreshOn time.Time // Entra's refresh_in: MSAL refreshes the token after it
}

// memoSize bounds the memo: about 2.5 KB per signed-in user who visited a
// page that needs a token recently, 2.5 MB in all.
const memoSize = 1024

// msalExpiryMargin is how long before expiry MSAL stops using a cached
// access token (storage.AccessToken.Validate).
const msalExpiryMargin = 5 * time.Minute

func newMemoKey(s *UserSession, scopes []string) memoKey {
	h := sha256.New()
	h.Write([]byte(s.HomeAccountID))
	for _, scope := range scopes {
		h.Write([]byte{0})
		h.Write([]byte(scope))
	}
	h.Write([]byte{0})
	h.Write(s.TokenCache)
	var k memoKey
	h.Sum(k[:0])
	return k
}

// get returns the remembered token if MSAL would still return it from the
// cache. MSAL decides with its own clock, time.Now; so does the memo.
func (m *tokenMemo) get(k memoKey) (Token, bool) {
	m.mu.Lock()
	e, ok := m.entries[k]
	m.mu.Unlock()
	now := time.Now()
	if !ok || !now.Add(msalExpiryMargin).Before(e.token.ExpiresOn) || (!e.refreshOn.IsZero() && now.After(e.refreshOn)) {
		return Token{}, false
	}
	e.token.FromCache = true
	return e.token, true
}

// put remembers a token MSAL returned for the cache with key k. When the
// memo is full, an arbitrary entry makes room.
func (m *tokenMemo) put(k memoKey, t Token, refreshOn time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.entries == nil {
		m.entries = make(map[memoKey]memoEntry)
	}
	if _, ok := m.entries[k]; !ok && len(m.entries) >= memoSize {
		for old := range m.entries {
			delete(m.entries, old)
			break
		}
	}
	m.entries[k] = memoEntry{token: t, refreshOn: refreshOn}
}
