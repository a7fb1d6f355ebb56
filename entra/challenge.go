// Claims challenges: a downstream API that rejects a still-valid access token (Continuous Access Evaluation) is answered with a new sign-in that carries its claims, once; a challenge that repeats right after gets a page that explains it.

package entra

import (
	"errors"
	"net/http"
	"time"

	"ms-identity-go-webapp/identity"
	"ms-identity-go-webapp/internal/reqstate"
)

// claimsChallenge is a 401 from the downstream API with an
// insufficient_claims challenge: Conditional Access wants a new sign-in
// that satisfies claims before it accepts the user's tokens again. ServeError
// answers it (answerChallenge), so that every page calling the API does.
type claimsChallenge struct {
	claims  string // the decoded claims request, compact JSON; never logged
	details Blocked
}

func (e *claimsChallenge) Error() string { return "claims challenge from " + e.details.Resource }

// Blocked is what the page about a blocked call shows (conditional_access),
// for the user to pass on to their administrator: the API's own correlation
// ids, or, for a step-up, what the ID token lacked. Nothing in it is a
// secret.
type Blocked struct {
	Resource        string // "Microsoft Graph", "This page"
	Endpoint        string // the URL called, without its query
	Status          string // the API's status line, e.g. "401 Unauthorized"
	ErrorCode       string // the API's error code, e.g. InvalidAuthenticationToken
	ErrorMessage    string
	RequestID       string // the API's request-id header
	ClientRequestID string // its client-request-id header
	Date            string // its Date header
	AuthContext     string // for a step-up: the authentication context asked for
	// AnsweredAt is when the sign-in that should have satisfied the
	// request finished.
	AnsweredAt string
}

// challengeFrom looks at a 401 answer of the downstream API for a claims
// challenge. It returns nil when there is none (an ordinary 401, which
// CallAPI reports as a failed call); a challenge whose claims cannot be
// read is a failed call too, since no sign-in could answer it.
func challengeFrom(resp *http.Response, api, endpoint string, body apiErrorBody) error {
	claims, found, err := identity.ClaimsChallenge(resp.Header.Values("WWW-Authenticate"))
	if !found {
		return nil
	}
	if err != nil {
		return &APIError{API: api, Status: http.StatusBadGateway, Upstream: resp.StatusCode,
			Detail: api + " asked for a new sign-in with claims the app cannot read (a malformed claims challenge)."}
	}
	return &claimsChallenge{claims: claims, details: Blocked{
		Resource:        api,
		Endpoint:        endpoint,
		Status:          resp.Status,
		ErrorCode:       body.Code,
		ErrorMessage:    body.Message,
		RequestID:       resp.Header.Get("request-id"),
		ClientRequestID: resp.Header.Get("client-request-id"),
		Date:            resp.Header.Get("Date"),
	}}
}

// maxClaimsSignIns is how many sign-ins for claims a user goes through
// within identity.ChallengeRepeatWindow before the page explains instead:
// enough for a critical event, a step-up and one more, whatever the claims.
const maxClaimsSignIns = 3

// answerChallenge answers a claims challenge: the user signs in again with
// the challenge's claims and comes back to the page they were on, where the
// call now succeeds with the new tokens. If a sign-in of this user answered
// the same claims moments ago, signing in again would only go round the
// same loop (the sign-in cannot satisfy the policy, or the API keeps
// rejecting what it gets): the user sees what happened instead.
func (a *Auth) answerChallenge(w http.ResponseWriter, r *http.Request, ch *claimsChallenge) {
	user := userOf(r.Context())
	id := reqstate.ID(r.Context())
	if n := user.AnsweredSince(a.now()); n >= maxClaimsSignIns {
		a.logger.Warn("claims challenges keep coming, with other claims each time; not signing in again",
			"request_id", id, "path", r.URL.Path, "resource", ch.details.Resource, "sign_ins", n,
			"resource_request_id", ch.details.RequestID, "resource_client_request_id", ch.details.ClientRequestID)
		ch.details.AnsweredAt = latestAnswer(user)
		a.blockedPage(w, r, ch.details)
		return
	}
	if user.AnsweredRecently(ch.claims, a.now()) {
		a.logger.Warn("claims challenge repeated right after the sign-in that answered it; not signing in again",
			"request_id", id, "path", r.URL.Path, "resource", ch.details.Resource,
			"resource_request_id", ch.details.RequestID, "resource_client_request_id", ch.details.ClientRequestID)
		ch.details.AnsweredAt = answeredAt(user, ch.claims)
		a.blockedPage(w, r, ch.details)
		return
	}
	a.logger.Info("claims challenge: signing in again with the claims it asks for",
		"request_id", id, "path", r.URL.Path, "resource", ch.details.Resource,
		"resource_request_id", ch.details.RequestID)
	if err := a.signInWithClaims(w, r, ch.claims); err != nil {
		a.ServeError(w, r, err)
	}
}

// signInWithClaims sends a signed-in user through a new sign-in that
// carries claims, back to the page of this request. The user stays signed
// in meanwhile: the callback replaces the session only if the sign-in
// succeeds. login_hint names the account, so Entra does not ask which one;
// no prompt is set, and Entra decides what to ask (the password again after
// a critical event, a second factor for an authentication context).
func (a *Auth) signInWithClaims(w http.ResponseWriter, r *http.Request, claims string) error {
	return a.redirectToSignIn(w, r, identity.SignIn{
		Next:      SafeNext(r.URL.RequestURI()),
		Claims:    claims,
		LoginHint: reauthHint(userOf(r.Context())),
	})
}

// reauthHint is the login_hint for signing the current user in again: the
// ID token's own login_hint claim when Entra sent one (it is meant for
// this), else the username.
func reauthHint(user *identity.UserSession) string {
	if h := user.Claims.String("login_hint"); h != "" {
		return h
	}
	return user.Claims.String("preferred_username")
}

// answeredAt is when the user's sign-in answered claims, for the page.
func answeredAt(user *identity.UserSession, claims string) string {
	at, ok := user.AnsweredAt(claims)
	if !ok {
		return ""
	}
	return at.UTC().Format(time.RFC1123)
}

// latestAnswer is when the user's latest sign-in for claims finished, for
// the page.
func latestAnswer(user *identity.UserSession) string {
	if len(user.Answered) == 0 {
		return ""
	}
	return time.Unix(user.Answered[len(user.Answered)-1].At, 0).UTC().Format(time.RFC1123)
}

// blockedPage explains that Conditional Access blocked what the user asked
// for even after a sign-in that should have satisfied it.
func (a *Auth) blockedPage(w http.ResponseWriter, r *http.Request, d Blocked) {
	data := a.Page(r)
	data.Blocked = &d
	a.renderPage(w, r, http.StatusForbidden, "conditional_access", &data)
}

// asChallenge reports whether err is a claims challenge.
func asChallenge(err error) (*claimsChallenge, bool) {
	var ch *claimsChallenge
	return ch, errors.As(err, &ch)
}
