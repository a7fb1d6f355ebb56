// The authorization endpoint (sign-in page) and the logout endpoint.

package emulator

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

// authorizeRequest is a validated authorization request.
type authorizeRequest struct {
	app          *app // the registered app client_id names
	clientID     string
	redirectURI  string
	responseMode string // query, fragment or form_post
	state        string
	nonce        string
	scope        string
	grant        grant
	prompt       string
	loginHint    string // as sent: a username, or an ID token's login_hint claim
	challenge    string
	method       string
	claims       claimsRequest
}

// pkceUnreserved is RFC 7636's alphabet for verifiers and plain challenges.
// An S256 challenge is a SHA-256 hash in unpadded base64url: 43 characters.
var (
	pkceUnreserved = regexp.MustCompile(`^[A-Za-z0-9._~-]{43,128}$`)
	s256Challenge  = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)
)

// parseAuthorize validates the OAuth parameters, which always come from
// the URL query (the sign-in form posts back to the same URL). Errors
// before the redirect URI is known to be registered must not be sent to
// it (pageErr); later ones go back to the app (appErr), as Entra does.
func (e *Emulator) parseAuthorize(r *http.Request) (req *authorizeRequest, pageErr, appErr *aadError) {
	q := r.URL.Query()
	req = &authorizeRequest{
		clientID:     q.Get("client_id"),
		redirectURI:  q.Get("redirect_uri"),
		responseMode: q.Get("response_mode"),
		state:        q.Get("state"),
		nonce:        q.Get("nonce"),
		scope:        q.Get("scope"),
		prompt:       q.Get("prompt"),
		loginHint:    q.Get("login_hint"),
		challenge:    q.Get("code_challenge"),
		method:       q.Get("code_challenge_method"),
	}
	fail := func(a aadError) *aadError { return &a }
	switch {
	case req.clientID == "":
		return nil, fail(errMissingParam("client_id")), nil
	}
	if req.app = e.lookupApp(req.clientID); req.app == nil {
		return nil, fail(errUnknownClient(req.clientID, e.tenant)), nil
	}
	switch {
	case req.redirectURI == "":
		return nil, fail(errNoReplyAddress()), nil
	case !e.isRegisteredRedirect(req.app, req.redirectURI):
		return nil, fail(errRedirectMismatch(req.redirectURI, req.clientID)), nil
	}

	// From here on, errors go back to the (registered) redirect URI.
	switch req.responseMode {
	case "":
		req.responseMode = "query"
	case "query", "fragment", "form_post":
	default:
		mode := req.responseMode
		req.responseMode = "query"
		return req, nil, fail(errMalformedRequest("The response_mode '" + mode + "' is not supported; use query, fragment or form_post."))
	}
	switch rt := q.Get("response_type"); {
	case rt == "":
		return req, nil, fail(errMissingParam("response_type"))
	case rt != "code":
		return req, nil, fail(errUnsupportedResponseType(rt))
	}
	g, scopeErr := parseScope(req.scope, e.tenant, req.app.graphDefaults)
	if scopeErr != nil {
		return req, nil, scopeErr
	}
	req.grant = g
	// Entra knows five prompt values; "create" (sign-up) belongs to External
	// ID's user flows, so an Entra ID tenant refuses it like an unknown
	// value, and every tenant refuses two values.
	switch p := q["prompt"]; {
	case len(p) > 1:
		return req, nil, fail(errUnsupportedPrompt())
	case req.prompt == "", req.prompt == "login", req.prompt == "none", req.prompt == "consent", req.prompt == "select_account":
	case req.prompt == "create" && e.externalID:
	default:
		return req, nil, fail(errUnsupportedPrompt())
	}
	cr, claimsErr := parseClaims(q.Get("claims"))
	if claimsErr != nil {
		return req, nil, claimsErr
	}
	req.claims = cr
	switch {
	case req.challenge == "" && req.method != "":
		return req, nil, fail(errMissingCodeChallenge())
	case req.challenge == "":
	case req.method != "S256" && req.method != "plain":
		return req, nil, fail(errCodeChallengeMethod(req.method))
	case req.method == "S256" && !s256Challenge.MatchString(req.challenge):
		return req, nil, fail(errCodeChallengeSize())
	case req.method == "plain" && !pkceUnreserved.MatchString(req.challenge):
		return req, nil, fail(errCodeChallengeSize())
	}
	return req, nil, nil
}

// pkceMatches checks a token request's code_verifier against the stored
// challenge. A code issued without a challenge accepts only an empty
// verifier: MSAL Go always sends the field, empty when the app used no PKCE.
func pkceMatches(c *authCode, verifier string) bool {
	switch c.method {
	case "":
		return verifier == ""
	case "plain":
		return subtle.ConstantTimeCompare([]byte(verifier), []byte(c.challenge)) == 1
	default: // S256
		if !pkceUnreserved.MatchString(verifier) {
			return false
		}
		sum := sha256.Sum256([]byte(verifier))
		return subtle.ConstantTimeCompare([]byte(b64.EncodeToString(sum[:])), []byte(c.challenge)) == 1
	}
}

func (e *Emulator) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	if !e.begin(w, r, StatAuthorize, EndpointAuthorize) {
		return
	}
	req, pageErr, appErr := e.parseAuthorize(r)
	if pageErr != nil {
		e.renderError(w, r, http.StatusBadRequest, *pageErr)
		return
	}
	if appErr != nil {
		e.redirectError(w, r, req, *appErr, nil)
		return
	}

	if r.Method == http.MethodGet {
		e.startSignIn(w, r, req)
		return
	}

	// POST: one of the emulator's forms. OAuth parameters still come from
	// the query; the form says which page it was.
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		e.renderError(w, r, http.StatusBadRequest, errMalformedRequest("The sign-in form could not be read."))
		return
	}
	switch {
	case r.PostForm.Has("flow"):
		e.continueSignIn(w, r, req)
		return
	case r.PostForm.Has("account"):
		e.pickAccount(w, r, req)
		return
	case r.PostForm.Has("newpasswd") && e.externalID:
		e.signUp(w, r, req)
		return
	}
	if r.PostForm.Get("action") == "cancel" {
		e.redirectError(w, r, req, errUserDeclined(), url.Values{"error_subcode": {"cancel"}})
		return
	}
	username := strings.TrimSpace(r.PostForm.Get("loginfmt"))
	password := r.PostForm.Get("passwd")
	u := e.user(username)
	switch {
	case u == nil:
		a := errNoSuchUser(username, e.tenant)
		e.renderSignIn(w, r, req, username, &a, "")
		return
	case subtle.ConstantTimeCompare([]byte(password), []byte(u.Password)) != 1:
		a := errWrongPassword()
		e.renderSignIn(w, r, req, username, &a, "")
		return
	}
	e.count(StatSignIns)
	e.proceedWithPassword(w, r, req, u.Username)
}

// issueCode finishes a successful authorization: a code for the account
// goes back to the app with state and session_state.
func (e *Emulator) issueCode(w http.ResponseWriter, r *http.Request, req *authorizeRequest, in *interaction) {
	code := e.newCode(&authCode{
		clientID:    req.app.clientID,
		username:    in.username,
		redirectURI: req.redirectURI,
		scope:       req.scope,
		nonce:       req.nonce,
		challenge:   req.challenge,
		method:      req.method,
		sid:         in.sid,
		authTime:    in.authTime,
		acrs:        in.satisfiedContexts(req),
		cp1:         req.claims.cp1,
	})
	if !in.password {
		e.count(StatSingleSignOns)
	}
	// The browser session remembers the app, so that ending the session
	// can sign the user out of it too (front-channel logout).
	e.recordAppSignIn(in.sessionKey, req.app.clientID, in.username)
	e.respondToApp(w, r, req, url.Values{"code": {code}, "session_state": {in.sid}})
}

// redirectError sends an error back to the app's redirect URI, with
// error_description starting "AADSTSnnnn: " as Entra's do.
func (e *Emulator) redirectError(w http.ResponseWriter, r *http.Request, req *authorizeRequest, a aadError, extra url.Values) {
	t := e.newTrace(r)
	v := url.Values{
		"error":             {a.err},
		"error_description": {a.description() + " Trace ID: " + t.TraceID + " Correlation ID: " + t.CorrelationID + " Timestamp: " + t.Timestamp},
	}
	for k, vals := range extra {
		v[k] = vals
	}
	e.respondToApp(w, r, req, v)
}

// respondToApp delivers params (plus state) to the redirect URI in the
// requested response mode.
func (e *Emulator) respondToApp(w http.ResponseWriter, r *http.Request, req *authorizeRequest, params url.Values) {
	if req.state != "" {
		params.Set("state", req.state)
	}
	w.Header().Set("Cache-Control", "no-store")
	switch req.responseMode {
	case "form_post":
		e.renderFormPost(w, r, req.redirectURI, params)
	case "fragment":
		http.Redirect(w, r, req.redirectURI+"#"+params.Encode(), http.StatusFound)
	default:
		u, _ := url.Parse(req.redirectURI) // validated at registration
		q := u.Query()
		for k, vals := range params {
			q[k] = vals
		}
		u.RawQuery = q.Encode()
		http.Redirect(w, r, u.String(), http.StatusFound)
	}
}
