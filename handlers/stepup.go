// Step-up: a page that needs an authentication context (ADMIN_AUTH_CONTEXT) sends a user whose ID token lacks it through a sign-in that asks for it.

package handlers

import (
	"net/http"

	"ms-identity-go-webapp/identity"
)

// requireAuthContext lets through users whose ID token's acrs claim holds
// the authentication context id: Conditional Access made them pass the
// policies an administrator tied to it (a second factor, a compliant
// device). Anyone else signs in again with the claims request
// {"id_token":{"acrs":{"essential":true,"value":id}}} and comes back to
// this page. An empty id requires nothing. It runs after requireLogin and
// before the page's own checks (the role of /admin), which the user must
// still pass after stepping up.
func (app *Application) requireAuthContext(id string) func(http.Handler) http.Handler {
	if id == "" {
		return func(next http.Handler) http.Handler { return next }
	}
	claims := identity.AuthContextClaims(id)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			user := userFrom(r.Context())
			if user.Claims.HasAuthContext(id) {
				next.ServeHTTP(w, r)
				return
			}
			if user.AnsweredRecently(claims, app.now()) {
				// The step-up sign-in has just finished, and its ID
				// token still lacks the context: the tenant did not
				// grant it (no policy uses it, or the user cannot
				// satisfy one). Asking again would loop.
				app.logger.Warn("step-up sign-in did not give the authentication context; not signing in again",
					"request_id", requestIDFrom(r.Context()), "path", r.URL.Path, "auth_context", id)
				app.blockedPage(w, r, blockedDetails{
					Resource:    "This page",
					AuthContext: id,
					AnsweredAt:  answeredAt(user, claims),
				})
				return
			}
			app.logger.Info("step-up: signing in again for the authentication context",
				"request_id", requestIDFrom(r.Context()), "path", r.URL.Path, "auth_context", id)
			if err := app.signInWithClaims(w, r, claims); err != nil {
				app.serveError(w, r, err)
			}
		})
	}
}
