// Scopes per page: ScopesRequired, the Go twin of the identity library's login_required(scopes=…), and incremental consent with its loop guard and its "you declined" page.

package entra

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"ms-identity-go-webapp/identity"
	"ms-identity-go-webapp/internal/reqstate"
	"ms-identity-go-webapp/session"
)

// ScopesRequired returns a gate that lets a signed-in user through to a
// page once the token cache gives an access token for scopes, which the
// page then finds with TokenFrom (and CallAPI sends). Anyone else signs in
// first, as with LoginRequired.
//
// For the scopes asked at sign-in (Config.Scopes), no token means the
// sign-in itself is gone (its refresh token expired or was revoked): the
// user signs in again and comes back to the page. For other scopes it means
// the user has not consented to them yet (Entra's AADSTS65001, suberror
// consent_required), or the cache holds none: the user goes to Entra ID to
// be asked for just these scopes (incremental consent, with login_hint and
// domain_hint and no prompt) and back to the page, staying signed in
// meanwhile; Entra shows its consent page only for what is new. If the user
// has just come back from doing that and there is still no token, the gate
// stops with a page instead of asking again: a loop of redirects would
// otherwise never end.
func (a *Auth) ScopesRequired(scopes ...string) func(http.Handler) http.Handler {
	scopes = slices.Clone(scopes)
	signInScopes := len(scopes) == 0 || subset(scopes, a.cfg.Scopes)
	return func(next http.Handler) http.Handler {
		return a.LoginRequired(a.handle(func(w http.ResponseWriter, r *http.Request) error {
			st := reqstate.From(r.Context())
			user := userOf(r.Context())
			if st == nil || st.User == nil {
				return errNoUser
			}
			asked := scopes
			if signInScopes {
				asked = nil // the sign-in's scopes, as its token was cached
			}
			token, err := a.identity.AcquireToken(r.Context(), user, asked)
			if signInScopes {
				if errors.Is(err, identity.ErrInteractionRequired) {
					// The refresh token is gone or was rejected: sign in
					// again and come back here.
					user.SignOut()
					return a.startSignIn(w, r, r.URL.RequestURI())
				}
				if err != nil {
					return err
				}
				st.AccessToken, st.TokenExpiresOn, st.HasToken = token.AccessToken, token.ExpiresOn, true
				next.ServeHTTP(w, r)
				return nil
			}
			justAsked := a.takeConsentSignIn(r, scopes)
			if err == nil {
				st.AccessToken, st.TokenExpiresOn, st.HasToken = token.AccessToken, token.ExpiresOn, true
				next.ServeHTTP(w, r)
				return nil
			}
			if !errors.Is(err, identity.ErrInteractionRequired) {
				return err
			}
			reason := "no token in the cache"
			if identity.ConsentRequired(err) {
				reason = "consent required"
			}
			if justAsked {
				a.logger.Warn("still no token right after asking for consent; not asking again",
					"request_id", reqstate.ID(r.Context()), "scopes", strings.Join(scopes, " "), "reason", reason,
					"oid", user.Claims.String("oid"))
				return errConsentLoop(scopes)
			}
			a.logger.Info("asking for consent", "request_id", reqstate.ID(r.Context()),
				"scopes", strings.Join(scopes, " "), "reason", reason, "oid", user.Claims.String("oid"))
			return a.redirectToSignIn(w, r, identity.ConsentSignIn(user, SafeNext(r.URL.RequestURI()), scopes))
		}))
	}
}

// subset reports whether every scope of some is in all, ignoring case.
func subset(some, all []string) bool {
	for _, s := range some {
		if !slices.ContainsFunc(all, func(a string) bool { return strings.EqualFold(a, s) }) {
			return false
		}
	}
	return true
}

// consentSignInKey is the session value that records a sign-in for more
// scopes that has just completed: "<unix seconds> <scopes>".
const consentSignInKey = "consent_sign_in"

// consentLoopWindow is how long after a completed consent sign-in a page
// that still gets no token for its scopes counts as a loop. The callback
// redirects to the page at once; the window only keeps a record that a
// closed tab left behind from stopping a sign-in days later.
const consentLoopWindow = 5 * time.Minute

// noteConsentSignIn records, after a successful callback, that the sign-in
// asked for scopes of its own: the page it returns to must find a token for
// them now. The session keeps the record, so it works on every instance.
func (a *Auth) noteConsentSignIn(r *http.Request, flow *identity.Flow) {
	if flow == nil || len(flow.Scopes) == 0 {
		return
	}
	gs := session.FromContext(r.Context())
	gs.Values[consentSignInKey] = []byte(strconv.FormatInt(a.now().Unix(), 10) + " " + strings.Join(flow.Scopes, " "))
}

// takeConsentSignIn reports whether a consent sign-in for exactly scopes
// completed within consentLoopWindow, and forgets the record: it answers
// once, so that a person who tries again gets asked again.
func (a *Auth) takeConsentSignIn(r *http.Request, scopes []string) bool {
	gs := session.FromContext(r.Context())
	raw, ok := gs.Values[consentSignInKey].([]byte)
	if !ok {
		return false
	}
	delete(gs.Values, consentSignInKey)
	at, asked, _ := strings.Cut(string(raw), " ")
	sec, err := strconv.ParseInt(at, 10, 64)
	if err != nil || a.now().Sub(time.Unix(sec, 0)) > consentLoopWindow {
		return false
	}
	return slices.Equal(strings.Fields(asked), scopes)
}

// errConsentLoop is the page for a consent sign-in that brought no token.
func errConsentLoop(scopes []string) error {
	return &HTTPError{Status: http.StatusForbidden, Heading: "The app still lacks a permission",
		Message: "You went through Microsoft Entra ID to give this app the permission " + strings.Join(scopes, ", ") +
			", but the app still cannot get a token for it, so it stopped instead of sending you there again. " +
			"Your organization may allow only an administrator to grant it. Open the page again to retry."}
}

// permissionWords says in words what the scopes this app asks for allow,
// as Entra's consent page does.
var permissionWords = map[string]string{
	"user.read":           "Sign you in and read your profile",
	"calendars.read":      "Read your calendars",
	"calendars.readbasic": "Read basic details of your calendars",
	"calendars.readwrite": "Have full access to your calendars",
	"mail.read":           "Read your mail",
}

// DescribeScopes says in words what scopes allow, for a page, as Entra's
// consent page does.
func DescribeScopes(scopes []string) []Permission {
	out := make([]Permission, 0, len(scopes))
	for _, s := range scopes {
		words := permissionWords[strings.ToLower(s[strings.LastIndex(s, "/")+1:])]
		out = append(out, Permission{Scope: s, Words: words})
	}
	return out
}

// consentDeclined answers a failed callback. When a signed-in user started
// it to give more permissions (ScopesRequired) and came back without them,
// because they pressed Cancel on the consent page (access_denied,
// AADSTS65004) or consent could not be asked for (consent_required), it
// shows a page that says so and leaves them signed in: nothing of their
// session was touched. Any other failure is returned for ServeError.
func (a *Auth) consentDeclined(w http.ResponseWriter, r *http.Request, flow *identity.Flow, err error) error {
	user := userOf(r.Context())
	if flow == nil || len(flow.Scopes) == 0 || !user.SignedIn() || r.URL.Query().Get("state") != flow.State ||
		!identity.ConsentDeclined(err) {
		return err
	}
	var authErr *identity.AuthError
	errors.As(err, &authErr)
	a.logger.Info("consent declined", "request_id", reqstate.ID(r.Context()),
		"scopes", strings.Join(flow.Scopes, " "), "error", authErr.Code, "oid", user.Claims.String("oid"))
	data := a.Page(r)
	data.AuthError = authErr
	data.Permissions = DescribeScopes(flow.Scopes)
	data.Next = SafeNext(flow.Next)
	return a.render(w, http.StatusForbidden, "consent_declined", &data)
}
