// Step-up: a page that needs an authentication context (ADMIN_AUTH_CONTEXT) sends a user whose ID token lacks it through a sign-in that asks for it.

package entra

import (
	"fmt"
	"net/http"
	"regexp"

	"ms-identity-go-webapp/identity"
	"ms-identity-go-webapp/internal/reqstate"
)

// authContextPattern is Entra ID's authentication context ids: c1 to c99.
var authContextPattern = regexp.MustCompile(`^c[1-9][0-9]?$`)

// AuthContextRequired returns a step-up gate: it lets through signed-in
// users whose ID token's acrs claim holds the authentication context id
// (c1 to c99): Conditional Access made them pass the policies an
// administrator tied to it (a second factor, a compliant device). A signed-in
// user without it signs in again with the claims request
// {"id_token":{"acrs":{"essential":true,"value":id}}} and comes back to the
// page; if that sign-in still brings no acrs, the Conditional Access page
// explains it instead of asking again. Anyone else signs in first, as with
// LoginRequired. An empty id requires only the sign-in. Put it before the
// page's own checks (RolesRequired), which the user must still pass after
// stepping up. It panics for an id that is not c1 to c99, as http.ServeMux
// does for a bad pattern.
func (a *Auth) AuthContextRequired(id string) func(http.Handler) http.Handler {
	if id == "" {
		return a.LoginRequired
	}
	if !authContextPattern.MatchString(id) {
		panic(fmt.Sprintf("entra: AuthContextRequired(%q): an authentication context id is c1 to c99", id))
	}
	claims := identity.AuthContextClaims(id)
	return func(next http.Handler) http.Handler {
		return a.LoginRequired(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			user := userOf(r.Context())
			if user.Claims.HasAuthContext(id) {
				next.ServeHTTP(w, r)
				return
			}
			if user.AnsweredRecently(claims, a.now()) {
				// The step-up sign-in has just finished, and its ID
				// token still lacks the context: the tenant did not
				// grant it (no policy uses it, or the user cannot
				// satisfy one). Asking again would loop.
				a.logger.Warn("step-up sign-in did not give the authentication context; not signing in again",
					"request_id", reqstate.ID(r.Context()), "path", r.URL.Path, "auth_context", id)
				a.blockedPage(w, r, Blocked{
					Resource:    "This page",
					AuthContext: id,
					AnsweredAt:  answeredAt(user, claims),
				})
				return
			}
			a.logger.Info("step-up: signing in again for the authentication context",
				"request_id", reqstate.ID(r.Context()), "path", r.URL.Path, "auth_context", id)
			if err := a.signInWithClaims(w, r, claims); err != nil {
				a.ServeError(w, r, err)
			}
		}))
	}
}
