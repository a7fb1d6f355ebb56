// The emulator's browser session (Entra's ESTSAUTH cookies): the accounts
// signed in in one browser, and the sign-ins in progress on its pages.

package emulator

import (
	"net/http"
	"slices"
	"strings"
	"time"
)

// browserSession is one browser's emulator session. Like Entra's, it can
// hold several accounts: each password sign-in in the same browser adds one,
// which is what makes single sign-on and the account picker possible.
type browserSession struct {
	sid      string // sent to the app as session_state and the sid claim
	expires  time.Time
	accounts []sessionAccount // most recently signed in first
	apps     []appSignIn      // the apps each account was signed into here, first sign-in first
}

// appSignIn records that an app got a code for an account in a browser
// session: ending the session for that account must reach the app's
// front-channel logout URL.
type appSignIn struct {
	clientID string
	username string
}

// sessionAccount is one account signed in in a browser session.
type sessionAccount struct {
	username string
	authTime time.Time // when the password was last typed for it here
}

// interaction is a sign-in in progress on one of the emulator's pages after
// the account is known: the consent page or the second-factor page. It is
// kept on the server, named by a random id in the page's form, and only
// the browser session and the authorization request it started in can
// continue it, so a form cannot be replayed into another request or browser.
type interaction struct {
	sessionKey string // the session cookie value it belongs to
	query      string // the authorize request's raw query string
	sid        string // the browser session's sid
	username   string
	authTime   time.Time
	password   bool // the password was typed during this authorization
	consented  bool // the consent page was accepted during it
	secondDone bool // the second factor was passed during it
	step       string
	attempts   int // wrong second-factor codes so far
	expires    time.Time
}

// The pages an interaction can be waiting on.
const (
	stepConsent      = "consent"
	stepSecondFactor = "second_factor"
)

const sessionCookie = "entra_emulator_session"

// purgeSessionsLocked drops expired browser sessions and interactions.
func (e *Emulator) purgeSessionsLocked(now time.Time) {
	for k, s := range e.sessions {
		if now.After(s.expires) {
			delete(e.sessions, k)
		}
	}
	for k, in := range e.interactions {
		if now.After(in.expires) {
			delete(e.interactions, k)
		}
	}
}

// signInAccount records a password sign-in in the request's browser
// session, creating the session if there is none. The session gets a new
// cookie value each time (so a cookie planted before the sign-in is not
// the one that ends up signed in), keeps its other accounts and its sid,
// and lives RefreshTokenTTL from now. A browser that signs in again and
// again still holds one session.
func (e *Emulator) signInAccount(w http.ResponseWriter, r *http.Request, username string) (key string, s browserSession) {
	now := e.now()
	key = randomString(32)
	e.mu.Lock()
	e.purgeLocked(now)
	var old *browserSession
	if c, err := r.Cookie(sessionCookie); err == nil {
		if o := e.sessions[c.Value]; o != nil && !now.After(o.expires) {
			old = o
		}
		delete(e.sessions, c.Value)
	}
	ns := &browserSession{sid: newGUID()}
	if old != nil {
		ns.sid = old.sid
		ns.apps = old.apps
		for _, a := range old.accounts {
			if !strings.EqualFold(a.username, username) {
				ns.accounts = append(ns.accounts, a)
			}
		}
	}
	ns.accounts = slices.Insert(ns.accounts, 0, sessionAccount{username: username, authTime: now})
	ns.expires = now.Add(e.refreshTTL)
	e.sessions[key] = ns
	s = ns.clone()
	e.mu.Unlock()
	http.SetCookie(w, &http.Cookie{
		Name:  sessionCookie,
		Value: key,
		Path:  "/" + e.tenant + "/",
		// Max-Age rather than Expires: Config.Now may be a test clock far
		// from the browser's.
		MaxAge:   int(e.refreshTTL / time.Second),
		Secure:   true,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	})
	return key, s
}

func (s *browserSession) clone() browserSession {
	cp := *s
	cp.accounts = slices.Clone(s.accounts)
	cp.apps = slices.Clone(s.apps)
	return cp
}

// recordAppSignIn notes in the browser session under key that clientID
// was signed into with username, once per app and account.
func (e *Emulator) recordAppSignIn(key, clientID, username string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.sessions[key]
	if s == nil {
		return
	}
	for _, a := range s.apps {
		if strings.EqualFold(a.clientID, clientID) && strings.EqualFold(a.username, username) {
			return
		}
	}
	s.apps = append(s.apps, appSignIn{clientID: clientID, username: username})
}

// session returns the request's live emulator session and its cookie
// value, keeping only accounts that still exist in the tenant.
func (e *Emulator) session(r *http.Request) (key string, s browserSession, ok bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return "", browserSession{}, false
	}
	now := e.now()
	e.mu.Lock()
	live := e.sessions[c.Value]
	if live != nil && !now.After(live.expires) {
		s, ok = live.clone(), true
	}
	e.mu.Unlock()
	if !ok {
		return "", browserSession{}, false
	}
	s.accounts = slices.DeleteFunc(s.accounts, func(a sessionAccount) bool { return e.user(a.username) == nil })
	return c.Value, s, len(s.accounts) > 0
}

// account returns the session's account for username, if it is signed in.
func (s browserSession) account(username string) (sessionAccount, bool) {
	for _, a := range s.accounts {
		if strings.EqualFold(a.username, username) {
			return a, true
		}
	}
	return sessionAccount{}, false
}

// clearSessionCookie tells the browser to drop its session cookie.
func (e *Emulator) clearSessionCookie(w http.ResponseWriter) {
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

// saveInteraction stores in (waiting on step) and returns its id for the
// page's form.
func (e *Emulator) saveInteraction(in *interaction, step string) string {
	now := e.now()
	in.step = step
	in.expires = now.Add(e.codeTTL)
	id := randomString(32)
	e.mu.Lock()
	e.purgeLocked(now)
	e.interactions[id] = in
	e.mu.Unlock()
	return id
}

// takeInteraction removes and returns the interaction a form names, if it
// belongs to this browser session and authorization request and is still
// live. It is taken, not read: each page's form can be submitted once, and
// a page shown again gets a fresh id.
func (e *Emulator) takeInteraction(r *http.Request, id string) (*interaction, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || id == "" {
		return nil, false
	}
	now := e.now()
	e.mu.Lock()
	defer e.mu.Unlock()
	in := e.interactions[id]
	if in == nil || now.After(in.expires) || in.sessionKey != c.Value || in.query != r.URL.RawQuery {
		return nil, false
	}
	delete(e.interactions, id)
	return in, true
}
