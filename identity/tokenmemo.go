// Token memo: the access token MSAL last found in a user's token cache, so that each page does not parse the whole cache again.

package identity

import (
	"bytes"
	"hash/maphash"
	"ms-identity-go-webapp/internal/bounded"
	"slices"
	"time"
)

// tokenMemo remembers, for one user's serialized token cache and scopes,
// the access token MSAL returned from it. Every signed-in page asks for the
// same token again; finding it means MSAL parsing the user's whole cache (5 KB
// of JSON with Entra's tokens), the most expensive step of such a page.
//
// An entry answers only for the exact cache it came from (a new token, a
// refresh or a sign-out changes the cache's bytes), and only while MSAL would
// itself return the cached token instead of refreshing it: until five minutes
// before it expires, and not past its refresh time. The entry is found by a
// fast, seeded, non-cryptographic hash of the account, the scopes and the
// cache, and then holds only if the account, the scopes and the cache's bytes
// are those it was made for: a collision finds nothing, it never finds
// another cache's token.
type tokenMemo struct {
	entries bounded.Map[memoKey, memoEntry]
}

// memoKey finds an entry; memoEntry.for says whom it answers for.
type memoKey uint64

// memoFor is what an entry answers for.
type memoFor struct {
	account string
	scopes  []string
	cache   []byte // the user's serialized cache, which nothing changes in place
}

func (f memoFor) equal(o memoFor) bool {
	return f.account == o.account && slices.Equal(f.scopes, o.scopes) && bytes.Equal(f.cache, o.cache)
}

type memoEntry struct {
	for_      memoFor
	token     Token
	refreshOn time.Time // Entra's refresh_in: MSAL refreshes the token after it
}

// memoSize bounds the memo: with Entra-sized tokens about 7 KB per user
// who recently visited a page that needs a token (the token, and the user's
// 5 KB cache, unless the decoded session it came from is still cached),
// under 2 MB in all.
const memoSize = 256

// msalExpiryMargin is how long before expiry MSAL stops using a cached
// access token (storage.AccessToken.Validate).
const msalExpiryMargin = 5 * time.Minute

// memoSeed seeds the memo's hash for this process.
var memoSeed = maphash.MakeSeed()

// newMemoKey returns where the entry for the session's cache and scopes is
// kept, and what it must answer for.
func newMemoKey(s *UserSession, scopes []string) (memoKey, memoFor) {
	var h maphash.Hash
	h.SetSeed(memoSeed)
	h.WriteString(s.HomeAccountID)
	for _, scope := range scopes {
		h.WriteByte(0)
		h.WriteString(scope)
	}
	h.WriteByte(0)
	h.Write(s.TokenCache)
	return memoKey(h.Sum64()), memoFor{account: s.HomeAccountID, scopes: scopes, cache: s.TokenCache}
}

// get returns the remembered token if it was found in exactly this cache
// for these scopes and MSAL would still return it from the cache. MSAL
// decides with its own clock, time.Now; so does the memo.
func (m *tokenMemo) get(k memoKey, f memoFor) (Token, bool) {
	e, ok := m.entries.Get(k)
	now := time.Now()
	if !ok || !e.for_.equal(f) || !now.Add(msalExpiryMargin).Before(e.token.ExpiresOn) || (!e.refreshOn.IsZero() && now.After(e.refreshOn)) {
		return Token{}, false
	}
	e.token.FromCache = true
	return e.token, true
}

// put remembers a token MSAL returned for the cache with key k. When the
// memo is full, an arbitrary entry makes room.
func (m *tokenMemo) put(k memoKey, f memoFor, t Token, refreshOn time.Time) {
	f.scopes = slices.Clone(f.scopes)
	m.entries.Put(k, memoEntry{for_: f, token: t, refreshOn: refreshOn}, 0, bounded.Limit{Entries: memoSize})
}
