// In-memory sign-in state: authorization codes and browser sessions, with a
// lazy purge so memory stays bounded over long benchmark runs.

package emulator

import (
	"net/http"
	"time"
)

// authCode is one issued authorization code and what it was issued for.
type authCode struct {
	username    string
	redirectURI string
	scope       string // the authorize request's scope
	nonce       string
	challenge   string
	method      string // S256 or plain; empty when there was no challenge
	sid         string
	authTime    time.Time
	expires     time.Time
	redeemed    bool
}

// browserSession is the emulator's own sign-in session (Entra's ESTSAUTH
// cookie), which lets prompt=none succeed without the form.
type browserSession struct {
	username string
	sid      string // sent to the app as session_state and the sid claim
	authTime time.Time
	expires  time.Time
}

const (
	sessionCookie = "entra_emulator_session"
	purgeEvery    = 30 * time.Second
)

// purgeLocked drops expired codes and sessions. It runs at most every
// purgeEvery (of Config.Now time), so each call is usually free. Codes are
// kept for one extra CodeTTL after they expire so that a late redemption
// still gets AADSTS70008 (expired) rather than "unknown code".
func (e *Emulator) purgeLocked(now time.Time) {
	if d := now.Sub(e.lastPurge); d >= 0 && d < purgeEvery {
		return
	}
	e.lastPurge = now
	for k, c := range e.codes {
		if now.After(c.expires.Add(e.codeTTL)) {
			delete(e.codes, k)
		}
	}
	for k, s := range e.sessions {
		if now.After(s.expires) {
			delete(e.sessions, k)
		}
	}
}

// newCode stores and returns a fresh authorization code.
func (e *Emulator) newCode(c *authCode) string {
	code := "1.AQ" + randomString(96)
	now := e.now()
	c.expires = now.Add(e.codeTTL)
	e.mu.Lock()
	e.purgeLocked(now)
	e.codes[code] = c
	e.mu.Unlock()
	e.count(StatCodesIssued)
	e.recordIssued(code)
	return code
}

// newSession starts an emulator browser session and sets its cookie,
// scoped to /{tenant}/ like Entra's cookies are scoped to its host. A
// session the browser already had is replaced, so a client that signs in
// again and again holds one session, not one per sign-in.
func (e *Emulator) newSession(w http.ResponseWriter, r *http.Request, username string) *browserSession {
	now := e.now()
	s := &browserSession{username: username, sid: newGUID(), authTime: now, expires: now.Add(e.refreshTTL)}
	id := randomString(32)
	e.mu.Lock()
	e.purgeLocked(now)
	if old, err := r.Cookie(sessionCookie); err == nil {
		delete(e.sessions, old.Value)
	}
	e.sessions[id] = s
	e.mu.Unlock()
	http.SetCookie(w, &http.Cookie{
		Name:  sessionCookie,
		Value: id,
		Path:  "/" + e.tenant + "/",
		// Max-Age rather than Expires: Config.Now may be a test clock far
		// from the browser's.
		MaxAge:   int(e.refreshTTL / time.Second),
		Secure:   true,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	})
	return s
}

// session returns the request's live emulator session, or nil.
func (e *Emulator) session(r *http.Request) *browserSession {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil
	}
	now := e.now()
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.sessions[c.Value]
	if s == nil || now.After(s.expires) {
		return nil
	}
	cp := *s
	return &cp
}

// endSession forgets the request's session and clears its cookie.
func (e *Emulator) endSession(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		e.mu.Lock()
		delete(e.sessions, c.Value)
		e.mu.Unlock()
	}
	http.SetCookie(w, &http.Cookie{
		Name:     sessionCookie,
		Value:    "",
		Path:     "/" + e.tenant + "/",
		MaxAge:   -1,
		Secure:   true,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	})
}
