// Sign-in and sign-out: the login page, the redirect handler and logout.

package handlers

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"unicode"

	"ms-identity-go-webapp/identity"
)

// login shows the sign-in page with a link to the authorize URL. It starts a
// flow on every visit; next (a local path) is where the user lands after.
func (app *Application) login(w http.ResponseWriter, r *http.Request) {
	s := sessionFrom(r.Context())
	authURL, err := app.Identity.StartSignIn(r.Context(), s.user, SafeNext(r.URL.Query().Get("next")))
	if err != nil {
		app.identityError(w, r, err)
		return
	}
	if !app.saveSession(w, r) {
		return
	}
	data := app.newTemplateData(r)
	data.AuthURL = authURL
	app.render(w, r, http.StatusOK, "login", data)
}

// startSignIn sends the browser straight to the authorize URL, remembering
// next: what a protected page does for a visitor who is not signed in.
func (app *Application) startSignIn(w http.ResponseWriter, r *http.Request, next string) {
	s := sessionFrom(r.Context())
	authURL, err := app.Identity.StartSignIn(r.Context(), s.user, SafeNext(next))
	if err != nil {
		app.identityError(w, r, err)
		return
	}
	if !app.saveSession(w, r) {
		return
	}
	http.Redirect(w, r, authURL, http.StatusFound)
}

// authRedirect completes the sign-in when Entra ID sends the browser back
// (the redirect URI). identity.CompleteSignIn checks the provider's error,
// the state, the code and the ID token, in that order.
func (app *Application) authRedirect(w http.ResponseWriter, r *http.Request) {
	s := sessionFrom(r.Context())
	next, err := app.Identity.CompleteSignIn(r.Context(), s.user, r.URL.Query())
	if err != nil {
		// The flow is used up whatever went wrong: store that, so the same
		// response cannot be replayed.
		if !app.saveSession(w, r) {
			return
		}
		app.identityError(w, r, err)
		return
	}
	if err := app.Sessions.renew(w, r, s); err != nil {
		app.sessionError(w, r, err)
		return
	}
	app.logger.Info("signed in", "request_id", requestIDFrom(r.Context()),
		"oid", s.user.Claims.String("oid"), "tid", s.user.Claims.String("tid"))
	http.Redirect(w, r, SafeNext(next), http.StatusSeeOther)
}

// identityError shows a sign-in error: the identity provider's message, a
// failed check, or an identity provider that cannot be reached.
func (app *Application) identityError(w http.ResponseWriter, r *http.Request, err error) {
	var authErr *identity.AuthError
	var unavailable *identity.UnavailableError
	switch {
	case errors.As(err, &authErr):
		app.logger.Warn("sign-in failed", "request_id", requestIDFrom(r.Context()),
			"error", authErr.Code, "description", authErr.Description, "correlation_id", authErr.CorrelationID)
		data := app.newTemplateData(r)
		data.AuthError = authErr
		app.render(w, r, http.StatusBadRequest, "auth_error", data)
	case errors.As(err, &unavailable):
		app.unavailable(w, r, err)
	default:
		app.serverError(w, r, err)
	}
}

// logout clears the local session first, then sends the browser to the
// tenant's end-session endpoint, which brings it back to the home page. If
// the browser never comes back, the user is signed out of the app anyway.
func (app *Application) logout(w http.ResponseWriter, r *http.Request) {
	s := sessionFrom(r.Context())
	if err := app.Sessions.destroy(w, r, s); err != nil {
		app.sessionError(w, r, err)
		return
	}
	target, err := app.Identity.LogoutURL(r.Context(), app.PostLogoutRedirectURI)
	if err != nil {
		// Signed out locally; Entra's own session ends when it is reachable.
		app.logger.Warn("end-session endpoint unknown; signed out locally only",
			"request_id", requestIDFrom(r.Context()), "err", err)
		target = "/"
	}
	http.Redirect(w, r, target, http.StatusFound)
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
