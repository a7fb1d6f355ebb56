// Sign-in and sign-out: the login page, the redirect handler and logout.

package entra

import (
	"net/http"
	"net/url"
	"strings"
	"unicode"

	"ms-identity-go-webapp/identity"
	"ms-identity-go-webapp/internal/reqstate"
	"ms-identity-go-webapp/session"
)

// login shows the sign-in page with a link to the authorize URL. It starts a
// flow on every visit; next (a local path) is where the user lands after.
// The link asks for prompt=select_account, as the identity library's
// sample does: someone who chose to sign in may want another account than
// the one their browser is signed in with, so Entra shows its account
// picker instead of signing them straight back in.
//
// With an External ID authority the page also offers "Create an account":
// the same page with prompt=create, which sends the browser straight to
// the user flow's sign-up (External ID signs the new user in after).
func (a *Auth) login(w http.ResponseWriter, r *http.Request) error {
	next := SafeNext(r.URL.Query().Get("next"))
	if a.identity.ExternalID() && r.URL.Query().Get("prompt") == "create" {
		authURL, err := a.beginSignIn(w, r, identity.SignIn{Next: next, Prompt: "create"})
		if err != nil {
			return err
		}
		http.Redirect(w, r, authURL, http.StatusFound)
		return nil
	}
	authURL, err := a.beginSignIn(w, r, identity.SignIn{Next: next, Prompt: "select_account"})
	if err != nil {
		return err
	}
	data := a.Page(r)
	data.AuthURL = authURL
	if a.identity.ExternalID() {
		data.SignUpURL = r.URL.Path + "?" + url.Values{"prompt": {"create"}, "next": {next}}.Encode()
	}
	return a.render(w, http.StatusOK, "login", &data)
}

// startSignIn sends the browser straight to the authorize URL, remembering
// next: what a protected page does for a visitor who is not signed in. It
// sends no prompt: a browser already signed in to Entra ID with one account
// comes straight back (single sign-on).
func (a *Auth) startSignIn(w http.ResponseWriter, r *http.Request, next string) error {
	return a.redirectToSignIn(w, r, identity.SignIn{Next: SafeNext(next)})
}

// redirectToSignIn starts a sign-in for a page and sends the browser to
// it. A request made by a script gets errSignInRequired (401) instead, and
// no sign-in starts: it could not follow the redirect, and its sign-in
// cookie would push out the browser's real ones.
func (a *Auth) redirectToSignIn(w http.ResponseWriter, r *http.Request, req identity.SignIn) error {
	if fromScript(r) {
		return errSignInRequired
	}
	authURL, err := a.beginSignIn(w, r, req)
	if err != nil {
		return err
	}
	http.Redirect(w, r, authURL, http.StatusFound)
	return nil
}

// beginSignIn starts a flow and keeps it in its sign-in cookie. It stores
// nothing on the server: a visitor is not a session. req.Next must be local
// (SafeNext).
func (a *Auth) beginSignIn(w http.ResponseWriter, r *http.Request, req identity.SignIn) (string, error) {
	authURL, flow, err := a.identity.StartSignIn(r.Context(), req)
	if err != nil {
		return "", err
	}
	if err := a.keepSignIn(w, r, flow); err != nil {
		return "", err
	}
	return authURL, nil
}

// authRedirect completes the sign-in when Entra ID sends the browser back
// (the redirect URI). The flow's cookie is deleted whatever happens, then
// identity.CompleteSignIn checks the provider's error, the state, the code
// and the ID token, in that order. Only a completed sign-in creates a
// server-side session, under a new id.
func (a *Auth) authRedirect(w http.ResponseWriter, r *http.Request) error {
	flow := a.takeSignIn(w, r, r.URL.Query().Get("state"))
	user := userOf(r.Context())
	next, err := a.identity.CompleteSignIn(r.Context(), user, flow, r.URL.Query())
	if err != nil {
		// A signed-in user who declined more permissions stays signed in
		// (scopes.go).
		return a.consentDeclined(w, r, flow, err)
	}
	a.noteConsentSignIn(r, flow)
	gs := session.FromContext(r.Context())
	session.Renew(gs)
	// Filed under the identity provider's session id, so that its
	// front-channel logout can end this session without the cookie.
	session.SetIndex(gs, sidIndex(user.Claims.String("sid")))
	session.SetOwner(gs, userOwner(user)) // at most SessionMaxPerUser sessions of this user are kept
	a.logger.Info("signed in", "request_id", reqstate.ID(r.Context()),
		"oid", user.Claims.String("oid"), "tid", user.Claims.String("tid"))
	http.Redirect(w, r, SafeNext(next), http.StatusSeeOther)
	return nil
}

// logoutPage asks "Sign out?" with the sign-out button: what an old link
// to GET /logout gets. A GET signs nobody out, so no other site can sign a
// user out with a link, an image or a redirect.
func (a *Auth) logoutPage(w http.ResponseWriter, r *http.Request) error {
	data := a.Page(r)
	return a.render(w, http.StatusOK, "logout", &data)
}

// logout (POST /logout, the sign-out button's form; another site's is
// refused by a.crossOrigin) ends the local session first, then sends the
// browser to the tenant's end-session endpoint with the ID token's
// login_hint as logout_hint, which brings it back to the home page. If the
// browser never comes back, the user is signed out of the app anyway.
func (a *Auth) logout(w http.ResponseWriter, r *http.Request) error {
	user := userOf(r.Context())
	hint := user.Claims.String("login_hint")
	user.SignOut()
	session.Destroy(session.FromContext(r.Context()))
	target, err := a.identity.LogoutURL(r.Context(), a.cfg.PostLogoutRedirectURI, hint)
	if err != nil {
		// Signed out locally; Entra's own session ends when it is reachable.
		a.logger.Warn("end-session endpoint unknown; signed out locally only",
			"request_id", reqstate.ID(r.Context()), "err", err)
		target = "/"
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
	return nil
}

// maxSIDLength bounds the sid looked up; Entra's are GUIDs.
const maxSIDLength = 256

// sidIndex is the session index key of an identity provider's session id,
// "" for none.
func sidIndex(sid string) string {
	if sid == "" {
		return ""
	}
	return "sid:" + sid
}

// frontChannelLogout answers GET /auth/frontchannel-logout?sid=..., which
// the identity provider's signed-out page loads in a hidden iframe when the
// user signs out of it, here or in another app. The browser sends no
// SameSite=Lax cookie into that cross-site frame, so the sessions to end are
// found on the server, by the sid they signed in with (session.SetIndex in
// authRedirect). Whether or not a session ended, and for a missing or
// unknown sid, the answer is the same 200 page: it tells nobody whether a
// sid is in use. Only the identity provider may frame it.
//
// Entra sends no iss, and the sid alone is enough (OpenID Connect
// Front-Channel Logout 1.0). When an iss is there, though, it must be the
// tenant's issuer: a sid of another issuer's session ends nothing here.
func (a *Auth) frontChannelLogout(w http.ResponseWriter, r *http.Request) error {
	h := w.Header()
	h.Set("Content-Security-Policy", a.frontChannelCSP)
	// X-Frame-Options cannot allow one origin; frame-ancestors does, and
	// browsers that know it ignore X-Frame-Options anyway.
	h.Del("X-Frame-Options")
	q := r.URL.Query()
	if sid := q.Get("sid"); sid != "" && len(sid) <= maxSIDLength && a.ourIssuer(r, q) {
		n, err := a.sessions.DeleteIndexed(r.Context(), sidIndex(sid))
		if err != nil {
			return err
		}
		if n > 0 {
			a.logger.Info("front-channel sign-out", "sessions", n, "request_id", reqstate.ID(r.Context()))
		}
	}
	data := a.Page(r)
	return a.render(w, http.StatusOK, "frontchannel_logout", &data)
}

// ourIssuer reports whether a front-channel logout's iss, if it has one,
// is the tenant's issuer.
func (a *Auth) ourIssuer(r *http.Request, q url.Values) bool {
	if !q.Has("iss") {
		return true
	}
	md, err := a.identity.Metadata(r.Context())
	if err != nil {
		a.logger.Warn("front-channel sign-out with iss, and the tenant's issuer unknown: nothing ended",
			"request_id", reqstate.ID(r.Context()), "err", err)
		return false
	}
	if q.Get("iss") != md.Issuer {
		a.logger.Warn("front-channel sign-out for another issuer: nothing ended", "request_id", reqstate.ID(r.Context()))
		return false
	}
	return true
}

// SafeNext returns next if it is a path on this site, and "/" otherwise. It
// refuses everything a browser could read as another site: "//host",
// "/\host" (browsers treat \ as /), schemes, and control characters or
// spaces, which browsers strip from URLs ("/\t/host" becomes "//host").
func SafeNext(next string) string {
	if next == "" || len(next) > 2048 || next[0] != '/' {
		return "/"
	}
	for _, c := range next {
		if c == '\\' || unicode.IsControl(c) || unicode.IsSpace(c) {
			return "/"
		}
	}
	if strings.HasPrefix(next, "//") {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return "/"
	}
	return next
}
