// Flow: the authorization code flow with state, nonce and PKCE, which MSAL Go leaves to the app.

package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
)

// oidcScopes are added to the authorize URL so that Entra returns an ID token
// (openid), the user's name (profile) and a refresh token (offline_access).
// MSAL's AuthCodeURL sends only the scopes it is given. They are never passed
// to the token calls: MSAL adds them there itself, and Entra does not echo
// them back, which MSAL would report as declined scopes.
var oidcScopes = []string{"openid", "profile", "offline_access"}

// randomString returns n random bytes, base64url-encoded without padding.
func randomString(n int) string {
	b := make([]byte, n)
	rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b)
}

// Flow is one sign-in in progress: what the callback must match. It lives
// in the browser, in a sealed cookie the handlers set (one per sign-in, so
// that several tabs can sign in at once), never on the server.
type Flow struct {
	State    string    // sent to Entra ID, which returns it with the code
	Nonce    string    // sent to Entra ID, which puts it in the ID token
	Verifier string    // PKCE code_verifier; only its S256 hash went to the browser
	Next     string    // local path to return to after sign-in
	Created  time.Time // when the sign-in started
	// Scopes are the resource scopes this sign-in asked for; the code is
	// redeemed for them. Empty means the app's scopes.
	Scopes []string
	// Claims is the claims request (JSON) the sign-in carried, for a
	// claims challenge or a step-up; the code is redeemed with it too.
	Claims string
}

// SignIn says what a new sign-in asks the identity provider for.
type SignIn struct {
	// Next is the local path to return to afterwards; the caller has
	// checked that it is local.
	Next string
	// Scopes are the resource scopes to ask consent for; nil means the
	// app's scopes (SCOPE).
	Scopes []string
	// Claims is a claims request (JSON), e.g. from a claims challenge.
	Claims string
	// Prompt is Entra's prompt parameter: "", "login", "none", "consent"
	// or "select_account"; "create" (sign-up) for an External ID
	// authority's user flows.
	Prompt string
	// LoginHint and DomainHint pre-select the account, so Entra can skip
	// its account picker (incremental consent for a signed-in user).
	LoginHint  string
	DomainHint string
}

// FlowTTL is how long a started sign-in may take. Entra's own codes last
// 10 minutes; the user may first have to type a password and pass MFA.
const FlowTTL = 15 * time.Minute

// flowVersion starts an encoded Flow.
const flowVersion = 2

// MarshalBinary encodes the flow compactly for its cookie: a version byte,
// the creation time in Unix seconds, then each string with its length (the
// scopes as one, space-separated).
func (f Flow) MarshalBinary() ([]byte, error) {
	out := []byte{flowVersion}
	out = binary.AppendVarint(out, f.Created.Unix())
	for _, v := range []string{f.State, f.Nonce, f.Verifier, f.Next, strings.Join(f.Scopes, " "), f.Claims} {
		out = binary.AppendUvarint(out, uint64(len(v)))
		out = append(out, v...)
	}
	return out, nil
}

// UnmarshalFlow decodes what MarshalBinary encoded.
func UnmarshalFlow(data []byte) (Flow, error) {
	bad := errors.New("identity: malformed sign-in flow")
	if len(data) == 0 || data[0] != flowVersion {
		return Flow{}, bad
	}
	data = data[1:]
	created, n := binary.Varint(data)
	if n <= 0 {
		return Flow{}, bad
	}
	data = data[n:]
	var fields [6]string
	for i := range fields {
		l, n := binary.Uvarint(data)
		if n <= 0 || l > uint64(len(data)-n) {
			return Flow{}, bad
		}
		fields[i] = string(data[n : n+int(l)])
		data = data[n+int(l):]
	}
	if len(data) != 0 {
		return Flow{}, bad
	}
	return Flow{State: fields[0], Nonce: fields[1], Verifier: fields[2], Next: fields[3], Created: time.Unix(created, 0),
		Scopes: strings.Fields(fields[4]), Claims: fields[5]}, nil
}

// StartSignIn begins the authorization code flow (step 1 of the flow): it
// makes a state, a nonce and a PKCE verifier, and returns the authorize URL
// to send the browser to, and the flow for the caller to keep until the
// callback.
func (c *Client) StartSignIn(ctx context.Context, req SignIn) (string, Flow, error) {
	app, err := c.msal(ctx, &UserSession{})
	if err != nil {
		return "", Flow{}, err
	}
	resource := req.Scopes
	if len(resource) == 0 {
		resource = c.Scopes()
	}
	scopes := append(slices.Clone(resource), oidcScopes...)
	var opts []confidential.AuthCodeURLOption
	if req.Claims != "" {
		opts = append(opts, confidential.WithClaims(req.Claims))
	}
	authURL, err := app.AuthCodeURL(ctx, c.clientID, c.redirectURI, scopes, opts...)
	if err != nil {
		// AuthCodeURL fetches the tenant's metadata to learn the authorize
		// endpoint: this is where an unreachable identity provider shows.
		return "", Flow{}, classify("starting sign-in", err)
	}
	u, err := url.Parse(authURL)
	if err != nil {
		return "", Flow{}, fmt.Errorf("identity: MSAL returned an unparsable authorize URL: %w", err)
	}

	flow := Flow{
		State:    randomString(32),
		Nonce:    randomString(32),
		Verifier: randomString(32), // 43 characters, the minimum RFC 7636 allows
		Next:     req.Next,
		Created:  c.now(),
		Claims:   req.Claims,
	}
	if len(req.Scopes) > 0 {
		flow.Scopes = slices.Clone(req.Scopes)
	}
	challenge := sha256.Sum256([]byte(flow.Verifier))

	q := u.Query()
	q.Set("state", flow.State)
	q.Set("nonce", flow.Nonce)
	q.Set("code_challenge", base64.RawURLEncoding.EncodeToString(challenge[:]))
	q.Set("code_challenge_method", "S256")
	q.Set("response_mode", "query")
	// MSAL's own options for these take an internal type or are missing
	// (domain_hint on the confidential client): set them as the
	// parameters Entra reads.
	for name, v := range map[string]string{"prompt": req.Prompt, "login_hint": req.LoginHint, "domain_hint": req.DomainHint} {
		if v != "" {
			q.Set(name, v)
		}
	}
	u.RawQuery = q.Encode()
	return u.String(), flow, nil
}

// CompleteSignIn finishes the flow when the browser comes back to the
// redirect URI with query. flow is the sign-in this browser started with the
// state the query names, nil when it has none. It returns the local path to
// go to next.
//
// The order is the one OpenID Connect asks for: the state (an answer to no
// sign-in of this browser, error or not, is refused), then the provider's
// error, then the code redeemed with the PKCE verifier, then the ID token
// checked. Only then is the user stored in the session. The caller
// discards the flow whatever the outcome: it is single-use.
func (c *Client) CompleteSignIn(ctx context.Context, s *UserSession, flow *Flow, query url.Values) (string, error) {
	state := query.Get("state")
	ours := state != "" && flow != nil && subtle.ConstantTimeCompare([]byte(state), []byte(flow.State)) == 1
	if code := query.Get("error"); code != "" && ours {
		return "", &AuthError{
			Code:          code,
			Description:   query.Get("error_description"),
			CorrelationID: query.Get("correlation_id"),
			Hint:          hintFor(query.Get("error_description")),
		}
	}

	if !ours {
		// An error response that answers no sign-in of this browser is
		// refused like any other: its text is anyone's to write (a link
		// to /auth/redirect?error=...&error_description=...), and the
		// app's own page must not lend it credibility.
		return "", &AuthError{
			Code:        "state_mismatch",
			Description: "This sign-in response does not belong to a sign-in started in this browser, or it was already used.",
			Hint:        "Start the sign-in again from this app, in the same browser.",
		}
	}
	if age := c.now().Sub(flow.Created); age > FlowTTL || age < -c.skew {
		return "", &AuthError{
			Code:        "flow_expired",
			Description: "The sign-in took longer than 15 minutes.",
			Hint:        "Start the sign-in again.",
		}
	}
	code := query.Get("code")
	if code == "" {
		return "", &AuthError{Code: "invalid_request", Description: "The sign-in response has no authorization code."}
	}

	// The code is redeemed into a new, empty session: the tokens of whoever
	// was signed in in this browser before must not end up in the cache of
	// the user who signs in, and a redemption that fails (the token
	// endpoint down, a replayed code, a rejected ID token) must leave the
	// session as it was, so that a signed-in user who was sent to step up
	// or consent is still signed in. Only a sign-in that passed every check
	// replaces the session.
	fresh := &UserSession{}
	app, err := c.msal(ctx, fresh)
	if err != nil {
		return "", err
	}
	scopes := flow.Scopes
	if len(scopes) == 0 {
		scopes = c.Scopes()
	}
	redeem := []confidential.AcquireByAuthCodeOption{confidential.WithChallenge(flow.Verifier)}
	if flow.Claims != "" {
		redeem = append(redeem, confidential.WithClaims(flow.Claims))
	}
	result, err := app.AcquireTokenByAuthCode(ctx, code, c.redirectURI, scopes, redeem...)
	if err != nil {
		return "", classify("redeeming the authorization code", err)
	}

	claims, err := c.checkIDToken(ctx, result.IDToken.RawToken, flow.Nonce)
	if err != nil {
		// The tokens MSAL just cached in fresh are dropped with it.
		return "", err
	}
	// The claims requests this user's sign-ins answered (claims.go): kept
	// for the same user, and this one's added.
	fresh.Answered = answeredBefore(s.Answered, s.Claims, claims)
	fresh.Claims = claims
	fresh.HomeAccountID = result.Account.HomeAccountID
	*s = *fresh
	if flow.Claims != "" {
		s.RememberAnswered(flow.Claims, c.now())
	}
	return flow.Next, nil
}

// checkIDToken decodes and checks an ID token from the token endpoint. nonce
// is the flow's nonce for a sign-in, "" for a token from a refresh (Entra does
// not repeat the nonce then).
func (c *Client) checkIDToken(ctx context.Context, raw, nonce string) (Claims, error) {
	if raw == "" {
		return nil, &AuthError{Code: "invalid_id_token", Description: "The token response has no ID token."}
	}
	claims, err := DecodeClaims(raw)
	if err != nil {
		return nil, &AuthError{Code: "invalid_id_token", Description: err.Error()}
	}
	meta, err := c.Metadata(ctx)
	if err != nil {
		return nil, err
	}
	if err := validateClaims(claims, meta.Issuer, c.clientID, nonce, c.now(), c.skew); err != nil {
		return nil, &AuthError{Code: "invalid_id_token", Description: err.Error()}
	}
	return claims, nil
}

// Token is an access token for the app's scopes.
type Token struct {
	AccessToken string
	ExpiresOn   time.Time
	FromCache   bool // true when no request to the identity provider was made
}

// AcquireToken gets an access token for scopes (the app's scopes when nil)
// from the user's token cache, redeeming the refresh token when the cached
// access token is missing or within five minutes of expiry. Any new ID token
// in the result refreshes the user's claims. It returns ErrInteractionRequired
// when only a new sign-in can help. A token MSAL already found in this very
// cache is answered from memory (see tokenMemo).
func (c *Client) AcquireToken(ctx context.Context, s *UserSession, scopes []string) (Token, error) {
	if !s.SignedIn() {
		return Token{}, ErrInteractionRequired
	}
	if scopes == nil {
		// Read only, and full (cap == len): an append anywhere copies it.
		scopes = c.scopes
	}
	if len(scopes) == 0 {
		return Token{}, errors.New("identity: no scopes configured to acquire a token for")
	}
	if t, ok := c.tokens.get(newMemoKey(s, scopes)); ok {
		return t, nil
	}
	app, err := c.msal(ctx, s)
	if err != nil {
		return Token{}, err
	}
	account, err := app.Account(ctx, s.HomeAccountID)
	if ctxErr := ctx.Err(); ctxErr != nil {
		// The request was cancelled or timed out (the browser went away):
		// that says nothing about the user's tokens, so keep them.
		return Token{}, &UnavailableError{Op: "reading the token cache", Err: ctxErr}
	}
	if err != nil {
		// The stored cache cannot be read (corrupted, or written by an
		// incompatible MSAL version): only a new sign-in can replace it.
		return Token{}, fmt.Errorf("%w: reading the token cache: %v", ErrInteractionRequired, err)
	}
	if account.HomeAccountID == "" {
		return Token{}, ErrInteractionRequired
	}
	result, err := app.AcquireTokenSilent(ctx, scopes, confidential.WithSilentAccount(account))
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return Token{}, &UnavailableError{Op: "refreshing the access token", Err: ctxErr}
		}
		err = classify("refreshing the access token", err)
		var unavailable *UnavailableError
		if errors.As(err, &unavailable) {
			return Token{}, err
		}
		// Entra rejected the refresh token (expired, revoked, consent
		// withdrawn or never given for these scopes), or the cache holds
		// none: sign in again. The provider's *AuthError stays reachable,
		// so that ConsentRequired can tell which.
		return Token{}, fmt.Errorf("%w: %w", ErrInteractionRequired, err)
	}
	if raw := result.IDToken.RawToken; raw != "" && result.Metadata.TokenSource == confidential.TokenSourceIdentityProvider {
		claims, err := c.checkIDToken(ctx, raw, "")
		if err == nil && !sameUser(claims, s.Claims) {
			// OpenID Connect Core 12.2: a refreshed ID token names the
			// same user, or something is badly wrong. Sign out.
			s.SignOut()
			return Token{}, fmt.Errorf("%w: the refreshed ID token names another user", ErrInteractionRequired)
		}
		if err == nil {
			s.Claims = claims
		}
	}
	t := Token{
		AccessToken: result.AccessToken,
		ExpiresOn:   result.ExpiresOn,
		FromCache:   result.Metadata.TokenSource == confidential.TokenSourceCache,
	}
	// The key is taken now: a refresh has just changed the cache.
	k, f := newMemoKey(s, scopes)
	c.tokens.put(k, f, t, result.Metadata.RefreshOn)
	return t, nil
}

// EnsureFresh keeps a signed-in user signed in past the ID token's expiry.
// While the ID token is valid it does nothing. After, it asks for a token
// silently: that succeeds from the cache or with the refresh token (which
// also brings a new ID token), and fails with ErrInteractionRequired once the
// refresh token is gone, when the user is signed out.
func (c *Client) EnsureFresh(ctx context.Context, s *UserSession) error {
	if !s.SignedIn() {
		return ErrInteractionRequired
	}
	if !s.Claims.Expired(c.now(), c.skew) {
		return nil
	}
	if len(c.scopes) == 0 {
		s.SignOut()
		return ErrInteractionRequired
	}
	if _, err := c.AcquireToken(ctx, s, nil); err != nil {
		if errors.Is(err, ErrInteractionRequired) {
			s.SignOut()
		}
		return err
	}
	return nil
}

// LogoutURL returns the tenant's end-session URL that brings the browser back
// to postLogoutRedirectURI. logoutHint is the signed-in user's ID token
// login_hint claim ("" for none): with it Entra signs out that account
// without asking which. The caller clears the local session first: the
// browser may never come back.
func (c *Client) LogoutURL(ctx context.Context, postLogoutRedirectURI, logoutHint string) (string, error) {
	meta, err := c.Metadata(ctx)
	if err != nil {
		return "", err
	}
	if meta.EndSessionEndpoint == "" {
		return postLogoutRedirectURI, nil
	}
	u, err := url.Parse(meta.EndSessionEndpoint)
	if err != nil {
		return "", fmt.Errorf("identity: end_session_endpoint: %w", err)
	}
	q := u.Query()
	q.Set("post_logout_redirect_uri", postLogoutRedirectURI)
	if logoutHint != "" {
		q.Set("logout_hint", logoutHint)
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// sameUser reports whether two sets of ID token claims name the same user in
// the same tenant.
func sameUser(a, b Claims) bool {
	return a.String("oid") == b.String("oid") && a.String("tid") == b.String("tid") &&
		a.String("sub") == b.String("sub")
}
