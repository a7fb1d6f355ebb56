// Gates: LoginRequired, RolesRequired, and the user and token a gate puts in the request's context.

package entra

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"ms-identity-go-webapp/identity"
	"ms-identity-go-webapp/internal/reqstate"
)

// LoginRequired lets signed-in users through, with the user in the
// request's context (UserFrom). Anyone else starts the sign-in and comes
// back to the page afterwards; a request made by a script (Sec-Fetch-Mode
// present and not navigate, or an Accept that asks for JSON and not HTML)
// gets 401 instead, since a script cannot follow a redirect to a sign-in
// page. A request with no such sign, as curl and Go's client send, counts as
// a page navigation. A user whose ID token expired stays signed in while a
// token can still be had silently. It must run inside Middleware.
func (a *Auth) LoginRequired(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if st := reqstate.From(r.Context()); st == nil || st.User == nil {
			a.ServeError(w, r, errNoUser)
			return
		}
		err := a.identity.EnsureFresh(r.Context(), userOf(r.Context()))
		switch {
		case errors.Is(err, identity.ErrInteractionRequired):
			err = a.startSignIn(w, r, r.URL.RequestURI())
		case err == nil:
			next.ServeHTTP(w, r)
		}
		if err != nil {
			a.ServeError(w, r, err)
		}
	})
}

// errSignInRequired answers a script's request for a page that needs a
// signed-in user.
var errSignInRequired = &HTTPError{Status: http.StatusUnauthorized, Heading: "Sign-in required",
	Message: "This page needs a signed-in user. Sign in, then try again."}

// fromScript reports whether r was sent by a script rather than by a
// person following a link: fetch() and XMLHttpRequest send Sec-Fetch-Mode
// cors or same-origin, and an API client asks for JSON.
func fromScript(r *http.Request) bool {
	if mode := r.Header.Get("Sec-Fetch-Mode"); mode != "" {
		return mode != "navigate"
	}
	accept := r.Header.Get("Accept")
	return strings.Contains(accept, "json") && !strings.Contains(accept, "html")
}

// RolesRequired returns a gate that lets through signed-in users whose ID
// token's roles claim holds any of roles (app roles, assigned in the
// Microsoft Entra admin center); others get the 403 page that says how an
// administrator assigns one. Anyone not signed in signs in first, as with
// LoginRequired. It panics without a role, as http.ServeMux does for a bad
// pattern: a gate nobody can pass is a mistake in the program.
func (a *Auth) RolesRequired(roles ...string) func(http.Handler) http.Handler {
	if len(roles) == 0 || slices.Contains(roles, "") {
		panic("entra: RolesRequired needs one or more role names")
	}
	roles = slices.Clone(roles)
	quoted := make([]string, len(roles))
	for i, r := range roles {
		quoted[i] = fmt.Sprintf("%q", r)
	}
	which := strings.Join(quoted, " or ")
	forbidden := &HTTPError{Status: http.StatusForbidden, Heading: "User is missing a required role.",
		Message: fmt.Sprintf("This page needs the %s app role. An administrator assigns it in the Microsoft Entra admin center: "+
			"Enterprise applications → this app → Users and groups → Add user/group, then the user and the %s role. "+
			"Sign out and in again afterwards: roles arrive in a new ID token.", which, which)}
	return func(next http.Handler) http.Handler {
		return a.LoginRequired(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			claims := userOf(r.Context()).Claims
			if !slices.ContainsFunc(roles, claims.HasRole) {
				a.ServeError(w, r, forbidden)
				return
			}
			next.ServeHTTP(w, r)
		}))
	}
}

// User is the signed-in user of a request, from their ID token.
type User struct {
	s *identity.UserSession
}

// UserFrom returns the signed-in user of the request, and false when
// nobody is signed in (or outside Middleware).
func UserFrom(ctx context.Context) (*User, bool) {
	s := userOf(ctx)
	if !s.SignedIn() {
		return nil, false
	}
	return &User{s: s}, true
}

// Name is the user's display name (the name claim), else their username.
func (u *User) Name() string {
	if n := u.s.Claims.String("name"); n != "" {
		return n
	}
	return u.Username()
}

// Username is the preferred_username claim: the user's sign-in name, such
// as alice@contoso.com.
func (u *User) Username() string { return u.s.Claims.String("preferred_username") }

// ObjectID is the user's object id in the tenant (the oid claim).
func (u *User) ObjectID() string { return u.s.Claims.String("oid") }

// TenantID is the id of the tenant the user signed in to (the tid claim).
func (u *User) TenantID() string { return u.s.Claims.String("tid") }

// Roles are the user's app roles in this app (the roles claim).
func (u *User) Roles() []string { return u.s.Claims.Strings("roles") }

// HasRole reports whether the user has the app role.
func (u *User) HasRole(role string) bool { return u.s.Claims.HasRole(role) }

// Claims returns a copy of the claims of the user's ID token, as it
// decoded them: strings, numbers (float64), booleans and lists and objects
// of them. Changing the copy changes nothing of the user's.
func (u *User) Claims() map[string]any {
	return deepCopy(map[string]any(u.s.Claims)).(map[string]any)
}

// deepCopy copies decoded JSON: maps and lists are new, the rest are
// values.
func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		c := make(map[string]any, len(v))
		for k, e := range v {
			c[k] = deepCopy(e)
		}
		return c
	case []any:
		c := make([]any, len(v))
		for i, e := range v {
			c[i] = deepCopy(e)
		}
		return c
	}
	return v
}

// Token is an access token a gate got for a page. The refresh token stays
// in the user's session: no page ever sees it.
type Token struct {
	AccessToken string
	ExpiresOn   time.Time
}

// TokenFrom returns the access token ScopesRequired got for the request.
func TokenFrom(ctx context.Context) (Token, bool) {
	st := reqstate.From(ctx)
	if st == nil || !st.HasToken {
		return Token{}, false
	}
	return Token{AccessToken: st.AccessToken, ExpiresOn: st.TokenExpiresOn}, true
}
