// The end-session endpoint: signing accounts out of the browser session and
// front-channel logout of every app they were signed into.

package emulator

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// frontChannelWait is how long, in seconds, the signed-out page waits
// before it moves on to post_logout_redirect_uri, so the front-channel
// logout iframes have loaded. The page runs no script, so a meta refresh
// does the moving on; the browser starts counting once the page, iframes
// included, has loaded.
const frontChannelWait = 2

// handleLogout answers GET /{tenant}/oauth2/v2.0/logout, Entra's
// end_session_endpoint, in the order Entra works:
//
//  1. Sign out the account logout_hint names (the ID token's login_hint
//     claim), without asking which; with no hint, or one for an account not
//     signed in here, every account of the browser session. Entra would
//     show an account picker when several accounts are signed in and no
//     hint says which; the emulator signs them all out instead.
//  2. Render the signed-out page, which loads in hidden iframes the
//     front-channel logout URL (with ?sid=) of every app those accounts
//     were signed into in this browser session.
//  3. Return to post_logout_redirect_uri, with state, if it is registered:
//     at once when there is no iframe to load, else after frontChannelWait
//     seconds (meta refresh, plus a link). An unregistered address gets an
//     error page and no redirect, but the sign-out still happens.
func (e *Emulator) handleLogout(w http.ResponseWriter, r *http.Request) {
	if !e.begin(w, r, StatLogout, EndpointLogout) {
		return
	}
	q := r.URL.Query()
	target := q.Get("post_logout_redirect_uri")
	var hinted string
	if hint := q.Get("logout_hint"); hint != "" {
		hinted = e.hintedUsername(hint)
	}
	out := e.signOut(w, r, hinted)

	var frames, origins []string
	for _, id := range out.clientIDs {
		a := e.lookupApp(id)
		if a == nil || a.logoutURL == "" {
			continue
		}
		frames = append(frames, a.frontChannelURL(out.sid))
		u, _ := url.Parse(a.logoutURL) // validated at New
		if o := u.Scheme + "://" + u.Host; !slices.Contains(origins, o) {
			origins = append(origins, o)
		}
	}

	allowed := target != "" && e.logoutTargetAllowed(target)
	if allowed {
		target = withState(target, q.Get("state"))
	}
	if allowed && len(frames) == 0 {
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, target, http.StatusFound)
		return
	}
	data := signedOutPage{
		page:      page{Title: "Signed out", Tenant: e.tenant},
		SignedOut: out.usernames,
		Frames:    frames,
		Wait:      frontChannelWait,
	}
	status := http.StatusOK
	switch {
	case allowed:
		data.Return = target
	case target != "":
		data.Rejected = target
		data.Title = "Sign-out: return address not registered"
		status = http.StatusBadRequest
	}
	for range frames {
		e.count(StatFrontChannelLogouts)
	}
	e.renderFramed(w, status, "signed_out", data, origins)
}

// signOutResult is what ending (part of) a browser session did.
type signOutResult struct {
	sid       string   // the browser session's sid; "" when there was none
	usernames []string // the accounts signed out
	clientIDs []string // the apps they were signed into here, first sign-in first
}

// signOut removes from the request's browser session the account username
// names, or every account when username is "" or not signed in here, so
// single sign-on no longer answers for them. The session and its cookie
// end when no account is left.
func (e *Emulator) signOut(w http.ResponseWriter, r *http.Request, username string) signOutResult {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		e.clearSessionCookie(w)
		return signOutResult{}
	}
	now := e.now()
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.sessions[c.Value]
	if s == nil || now.After(s.expires) {
		delete(e.sessions, c.Value)
		e.clearSessionCookie(w)
		return signOutResult{}
	}
	leaving := func(name string) bool { return true }
	if username != "" && slices.ContainsFunc(s.accounts, func(a sessionAccount) bool { return strings.EqualFold(a.username, username) }) {
		leaving = func(name string) bool { return strings.EqualFold(name, username) }
	}
	out := signOutResult{sid: s.sid}
	for _, a := range s.accounts {
		if leaving(a.username) {
			out.usernames = append(out.usernames, a.username)
		}
	}
	for _, a := range s.apps {
		if leaving(a.username) && !slices.ContainsFunc(out.clientIDs, func(id string) bool { return strings.EqualFold(id, a.clientID) }) {
			out.clientIDs = append(out.clientIDs, a.clientID)
		}
	}
	s.accounts = slices.DeleteFunc(s.accounts, func(a sessionAccount) bool { return leaving(a.username) })
	s.apps = slices.DeleteFunc(s.apps, func(a appSignIn) bool { return leaving(a.username) })
	if len(s.accounts) == 0 {
		delete(e.sessions, c.Value)
		e.clearSessionCookie(w)
	}
	return out
}

// withState adds the logout request's state to the return address, as
// Entra echoes it.
func withState(target, state string) string {
	if state == "" {
		return target
	}
	u, err := url.Parse(target)
	if err != nil {
		return target
	}
	q := u.Query()
	q.Set("state", state)
	u.RawQuery = q.Encode()
	return u.String()
}

// logoutTargetAllowed accepts a redirect URI registered for any of the
// tenant's apps, or any URL on the same origin (scheme, host and port) as
// one, so an app can return the user to its home page.
func (e *Emulator) logoutTargetAllowed(target string) bool {
	t, err := url.Parse(target)
	if err != nil || !t.IsAbs() || t.Host == "" || (t.Scheme != "https" && t.Scheme != "http") {
		return false
	}
	e.redirectMu.RLock()
	defer e.redirectMu.RUnlock()
	for _, a := range append(slices.Clone(e.apps), e.directoryApps()...) {
		for _, reg := range a.redirectURIs {
			if reg == target {
				return true
			}
			ru, err := url.Parse(reg)
			if err == nil && ru.Scheme == t.Scheme && strings.EqualFold(ru.Host, t.Host) {
				return true
			}
		}
	}
	return false
}
