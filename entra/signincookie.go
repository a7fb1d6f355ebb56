// Sign-in cookies: each sign-in in progress (state, nonce, PKCE verifier, return path) in a sealed cookie of its own, so that nothing is stored on the server before someone has signed in.

package entra

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"ms-identity-go-webapp/identity"
	"ms-identity-go-webapp/internal/reqstate"
)

// signInCookiePrefix starts the name of every sign-in cookie; the rest is
// the first characters of the sign-in's state, so that the callback finds
// its cookie by the state Entra ID sends back. __Host-: only this origin,
// over HTTPS, can set one, so no sibling subdomain can plant a sign-in.
const signInCookiePrefix = "__Host-signin-"

const (
	// signInNameChars is how much of the state names the cookie: 96 bits.
	signInNameChars = 16
	// maxSignIns is how many sign-ins a browser keeps in progress at once
	// (tabs); starting one more drops the oldest.
	maxSignIns = 5
	// maxSignInNext bounds the return path a sign-in remembers; a longer
	// one returns to the home page. With it, maxSignIns cookies together
	// stay under 4 KB (TestSignInCookiesStayUnder4KB).
	maxSignInNext = 320
	// maxSignInDeletions bounds the sign-in cookies that do not open which
	// one answer deletes.
	maxSignInDeletions = 5
	// maxSignInCookie is the longest cookie value opened at all.
	maxSignInCookie = 1024
)

// signInCookieName returns the cookie name for a state, "" when the state
// cannot be one this app made (too short, or characters base64url has not).
func signInCookieName(state string) string {
	if len(state) < signInNameChars {
		return ""
	}
	name := state[:signInNameChars]
	for _, c := range name {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return ""
		}
	}
	return signInCookiePrefix + name
}

// signInCookie returns a sign-in cookie with the attributes they all have:
// HTTPS only, out of reach of scripts, and Lax, not Strict: the browser
// must send it when Entra ID redirects back to the app. It lives as long as
// a sign-in may take.
func signInCookie(name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode}
}

// keepSignIn sets the cookie of a sign-in that has just started, sealed
// (AES-GCM, bound to the cookie's name). It drops the browser's sign-in
// cookies that do not open, and the oldest beyond maxSignIns.
func (a *Auth) keepSignIn(w http.ResponseWriter, r *http.Request, flow identity.Flow) error {
	type pending struct {
		name string
		flow identity.Flow
	}
	var open []pending
	deleted := 0
	for _, c := range r.Cookies() {
		if !strings.HasPrefix(c.Name, signInCookiePrefix) {
			continue
		}
		if f, ok := a.openSignIn(c); ok {
			open = append(open, pending{c.Name, f})
		} else if deleted < maxSignInDeletions {
			// A browser sent a pile of bogus ones (68 KB of them made
			// 2,001 deletions): the rest go with the next sign-ins.
			http.SetCookie(w, signInCookie(c.Name, "", -1))
			deleted++
		}
	}
	slices.SortFunc(open, func(a, b pending) int { return a.flow.Created.Compare(b.flow.Created) })
	for len(open) >= maxSignIns {
		http.SetCookie(w, signInCookie(open[0].name, "", -1))
		open = open[1:]
	}

	if len(flow.Next) > maxSignInNext {
		flow.Next = "/"
	}
	name := signInCookieName(flow.State)
	data, err := flow.MarshalBinary()
	if err != nil {
		return err
	}
	value := base64.RawURLEncoding.EncodeToString(a.signIns.Seal(data, []byte(name)))
	http.SetCookie(w, signInCookie(name, value, int(identity.FlowTTL.Seconds())))
	return nil
}

// takeSignIn returns the sign-in this browser started with state, and
// deletes its cookie: a sign-in is used once, whatever its outcome. It
// returns nil when there is none, or its cookie does not open (tampered,
// sealed with a secret this app does not know, oversized); the callback then
// refuses the response.
func (a *Auth) takeSignIn(w http.ResponseWriter, r *http.Request, state string) *identity.Flow {
	name := signInCookieName(state)
	if name == "" {
		return nil
	}
	c, err := r.Cookie(name)
	if err != nil {
		return nil
	}
	http.SetCookie(w, signInCookie(name, "", -1))
	flow, ok := a.openSignIn(c)
	if !ok {
		a.logger.Info("sign-in cookie unusable: tampered, oversized or sealed with another secret",
			"request_id", reqstate.ID(r.Context()))
		return nil
	}
	if !a.usedSignIns.first(flow.State, flow.Created.Add(identity.FlowTTL), a.now()) {
		// A copy of the cookie, replayed: the browser's own was deleted
		// when it came back. Each replay would otherwise cost a token
		// request made with the app's credential.
		a.logger.Warn("sign-in cookie used again; refused without asking the identity provider",
			"request_id", reqstate.ID(r.Context()))
		return nil
	}
	return &flow
}

// maxUsedSignIns bounds how many used sign-ins an instance remembers until
// their cookies expire: 100,000 of about 50 bytes, 5 MB at most. Beyond
// that, the oldest-looking are forgotten first (those that expire first).
const maxUsedSignIns = 100_000

// usedSignIns are the sign-ins whose cookie came back, by a hash of their
// state, until their cookie expires: a sign-in cookie drives at most one
// token request on an instance. Nothing of it is stored outside memory, so
// anonymous requests still store nothing.
type usedSignIns struct {
	mu   sync.Mutex
	seen map[[32]byte]time.Time // until when a replay is refused
}

// first reports whether the sign-in with state is used for the first time,
// and remembers it until expires.
func (u *usedSignIns) first(state string, expires, now time.Time) bool {
	k := sha256.Sum256([]byte(state))
	u.mu.Lock()
	defer u.mu.Unlock()
	if until, ok := u.seen[k]; ok && now.Before(until) {
		return false
	}
	if u.seen == nil {
		u.seen = make(map[[32]byte]time.Time)
	}
	if len(u.seen) >= maxUsedSignIns {
		u.forget(now)
	}
	u.seen[k] = expires
	return true
}

// forget drops the expired entries, and then, while there are still too
// many, those that expire soonest.
func (u *usedSignIns) forget(now time.Time) {
	for k, until := range u.seen {
		if !now.Before(until) {
			delete(u.seen, k)
		}
	}
	if len(u.seen) < maxUsedSignIns {
		return
	}
	type entry struct {
		k     [32]byte
		until time.Time
	}
	all := make([]entry, 0, len(u.seen))
	for k, until := range u.seen {
		all = append(all, entry{k, until})
	}
	slices.SortFunc(all, func(a, b entry) int { return a.until.Compare(b.until) })
	for _, e := range all[:len(all)-maxUsedSignIns*9/10] {
		delete(u.seen, e.k)
	}
}

// openSignIn opens a sign-in cookie.
func (a *Auth) openSignIn(c *http.Cookie) (identity.Flow, bool) {
	if len(c.Value) > maxSignInCookie {
		return identity.Flow{}, false
	}
	sealed, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil {
		return identity.Flow{}, false
	}
	data, _, err := a.signIns.Open(sealed, []byte(c.Name))
	if err != nil {
		return identity.Flow{}, false
	}
	flow, err := identity.UnmarshalFlow(data)
	if err != nil || signInCookieName(flow.State) != c.Name {
		return identity.Flow{}, false
	}
	return flow, true
}
