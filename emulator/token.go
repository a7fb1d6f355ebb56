// The token endpoint: authorization_code and refresh_token grants.

package emulator

import (
	"net/http"
	"net/url"
	"strings"
	"time"
)

func (e *Emulator) handleToken(w http.ResponseWriter, r *http.Request) {
	if !e.begin(w, r, StatToken, EndpointToken) {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		e.writeAADError(w, r, errMalformedRequest("The request body could not be read as a form."))
		return
	}
	form := r.PostForm // Entra reads the body only, never the query
	gt := form.Get("grant_type")
	switch gt {
	case "":
		e.writeAADError(w, r, errMissingParam("grant_type"))
		return
	case "authorization_code":
		e.count(StatTokenAuthorizationCode)
	case "refresh_token":
		e.count(StatTokenRefreshToken)
	case deviceCodeGrant, "device_code":
		e.count(StatTokenDeviceCode)
	}
	client, a := e.authenticateClient(r, form)
	if a != nil {
		e.writeAADError(w, r, *a)
		return
	}
	e.recordTokenRequest(TokenRequest{ClientID: client.clientID, GrantType: gt, Scope: form.Get("scope"), Claims: form.Get("claims")})
	var resp tokenResponse
	switch gt {
	case "authorization_code":
		resp, a = e.redeemCode(r, form, client)
	case "refresh_token":
		resp, a = e.redeemRefreshToken(r, form, client)
	case deviceCodeGrant, "device_code": // MSAL Go sends the short name, which Entra takes too
		resp, a = e.redeemDeviceCode(r, form, client) // devicecode.go
	default:
		u := errUnsupportedGrant(gt)
		a = &u
	}
	if a != nil {
		e.writeAADError(w, r, *a)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// handleTokenGet answers a GET like Entra: the endpoint takes POST only.
func (e *Emulator) handleTokenGet(w http.ResponseWriter, r *http.Request) {
	e.writeAADError(w, r, aadError{http.StatusBadRequest, "invalid_request", 900561,
		"The endpoint only accepts POST requests. Received a GET request."})
}

// authenticateClient checks the confidential client's credentials, sent in
// the body (client_secret_post, as MSAL does) or as HTTP Basic, and
// returns the app they belong to.
func (e *Emulator) authenticateClient(r *http.Request, form url.Values) (*app, *aadError) {
	fail := func(a aadError) (*app, *aadError) { return nil, &a }
	id, secret, basic := r.BasicAuth()
	if basic {
		// RFC 6749 2.3.1: both halves are form-encoded before Basic encoding.
		var err1, err2 error
		id, err1 = url.QueryUnescape(id)
		secret, err2 = url.QueryUnescape(secret)
		if err1 != nil || err2 != nil {
			return fail(errMalformedRequest("The Authorization header could not be decoded."))
		}
		if fid := form.Get("client_id"); fid != "" && !strings.EqualFold(fid, id) {
			return fail(errMalformedRequest("The client_id in the body differs from the one in the Authorization header."))
		}
	} else {
		id, secret = form.Get("client_id"), form.Get("client_secret")
	}
	if id == "" {
		return fail(errMissingParam("client_id"))
	}
	client := e.lookupApp(id)
	switch {
	case client == nil:
		return fail(errUnknownClient(id, e.tenant))
	case form.Has("client_assertion") || form.Has("client_assertion_type"):
		if a := e.authenticateAssertion(r, client, form, secret); a != nil { // clientauth.go
			return nil, a
		}
		return client, nil
	case secret == "" && client.public:
		// A public client (a CLI, a device) has no credential to send.
		return client, nil
	case secret == "":
		return fail(errMissingClientSecret())
	case !e.secretMatches(client, secret): // directory.go
		// An app registered with certificates or federated credentials
		// alone has no secret that could match.
		return fail(errInvalidClientSecret(client.clientID))
	}
	return client, nil
}

// redeemCode implements the authorization_code grant for the authenticated
// client. The code is checked and marked redeemed in one critical section,
// so of two concurrent redemptions exactly one succeeds; a code issued to
// another app is refused and stays unredeemed for its own app.
func (e *Emulator) redeemCode(r *http.Request, form url.Values, client *app) (tokenResponse, *aadError) {
	fail := func(a aadError) (tokenResponse, *aadError) { return tokenResponse{}, &a }
	code := form.Get("code")
	redirectURI := form.Get("redirect_uri")
	verifier := form.Get("code_verifier")
	switch {
	case code == "":
		return fail(errMissingParam("code"))
	case redirectURI == "":
		return fail(errMissingParam("redirect_uri"))
	}
	now := e.now()
	e.mu.Lock()
	c := e.codes[code]
	var a *aadError
	switch {
	case c == nil:
		x := errBadGrant("The authorization code is not one this emulator issued, or it was purged long after it expired.")
		a = &x
	case now.After(c.expires):
		x := errCodeExpired()
		a = &x
	case !strings.EqualFold(c.clientID, client.clientID):
		x := errGrantOtherClient("authorization code")
		a = &x
	case c.redeemed:
		x := errCodeRedeemed()
		a = &x
	case redirectURI != c.redirectURI:
		x := errRedirectChanged(redirectURI, c.redirectURI)
		a = &x
	case !pkceMatches(c, verifier):
		x := errVerifierMismatch()
		a = &x
	default:
		c.redeemed = true
	}
	var issued authCode
	if c != nil {
		issued = *c
	}
	e.mu.Unlock()
	if a != nil {
		return tokenResponse{}, a
	}

	u := e.user(issued.username)
	if u == nil {
		return fail(errUserGone(issued.username, e.tenant))
	}
	// The token request's scope decides the access token, as in Entra (MSAL
	// sends the app's scopes plus openid offline_access profile); the
	// authorize request's scope decides whether there is an ID token and
	// whether the nonce applies. A refresh token is issued if either asked
	// for offline_access, since the app needs one for silent refresh.
	authGrant, _ := parseScope(issued.scope, e.tenant, client.graphDefaults) // validated at authorize time
	g := authGrant
	if s := form.Get("scope"); strings.TrimSpace(s) != "" {
		var perr *aadError
		if g, perr = parseScope(s, e.tenant, client.graphDefaults); perr != nil {
			return tokenResponse{}, perr
		}
	}
	g.openid = g.openid || authGrant.openid
	g.profile = g.profile || authGrant.profile
	if a := e.consentGrantError(u.Username, client, g); a != nil {
		return tokenResponse{}, a
	}
	claims, ca := tokenRequestClaims(form.Get("claims"), issued.acrs)
	if ca != nil {
		return tokenResponse{}, ca
	}
	resp, err := e.mint(issue{
		app:         client,
		issuer:      e.issuer(r),
		user:        u,
		grant:       g,
		nonce:       issued.nonce,
		sid:         issued.sid,
		authTime:    issued.authTime,
		acrs:        issued.acrs,
		cp1:         issued.cp1 || claims.cp1,
		withID:      authGrant.openid,
		withRefresh: g.offline || authGrant.offline,
	})
	if err != nil {
		x := errFault(http.StatusInternalServerError)
		return tokenResponse{}, &x
	}
	return resp, nil
}

// redeemRefreshToken implements the refresh_token grant for the
// authenticated client, which must be the app the token was issued to. Like Entra, each
// use returns a new refresh token and the old one stays valid until it
// expires; an ID token comes back too, without a nonce.
func (e *Emulator) redeemRefreshToken(r *http.Request, form url.Values, client *app) (tokenResponse, *aadError) {
	fail := func(a aadError) (tokenResponse, *aadError) { return tokenResponse{}, &a }
	raw := form.Get("refresh_token")
	if raw == "" {
		return fail(errMissingParam("refresh_token"))
	}
	st, err := e.openRefreshToken(raw)
	if err != nil {
		return fail(errBadGrant("The refresh token is malformed or was issued by another instance of the emulator."))
	}
	if !strings.EqualFold(st.ClientID, client.clientID) {
		return fail(errGrantOtherClient("refresh token"))
	}
	now := e.now()
	issuedAt := time.Unix(st.IssuedAt, 0)
	if now.After(time.Unix(st.Expires, 0)) {
		return fail(errRefreshExpired(issuedAt, now.Sub(issuedAt)))
	}
	e.mu.Lock()
	rev := e.revoked[strings.ToLower(st.Username)]
	e.mu.Unlock()
	if st.Generation != rev.generation {
		return fail(errRefreshRevoked(issuedAt, rev.at))
	}
	u := e.user(st.Username)
	if u == nil {
		return fail(errUserGone(st.Username, e.tenant))
	}
	orig, _ := parseScope(st.Scope, e.tenant, client.graphDefaults)
	g := orig
	if s := form.Get("scope"); strings.TrimSpace(s) != "" {
		var perr *aadError
		if g, perr = parseScope(s, e.tenant, client.graphDefaults); perr != nil {
			return tokenResponse{}, perr
		}
	}
	if a := e.consentGrantError(u.Username, client, g); a != nil {
		return tokenResponse{}, a
	}
	claims, ca := tokenRequestClaims(form.Get("claims"), st.Acrs)
	if ca != nil {
		return tokenResponse{}, ca
	}
	resp, err := e.mint(issue{
		app:         client,
		issuer:      e.issuer(r),
		user:        u,
		grant:       g,
		sid:         st.Sid,
		authTime:    time.Unix(st.AuthTime, 0),
		acrs:        st.Acrs,
		cp1:         claims.cp1,
		withID:      g.openid || orig.openid,
		withRefresh: true,
	})
	if err != nil {
		return fail(errFault(http.StatusInternalServerError))
	}
	return resp, nil
}
