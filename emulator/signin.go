// The interactive steps of an authorization request, in Entra's order:
// which account (single sign-on, the account picker or the password form),
// a fresh password when a claims request needs one, the second factor for
// an authentication context, then consent, then the code back to the app.

package emulator

import (
	"crypto/sha256"
	"net/http"
	"net/url"
	"strings"
)

// startSignIn answers GET /authorize. prompt and login_hint decide between
// the sign-in form, the account picker and single sign-on with an account
// the browser session already holds, as Entra does (REFERENCE §4.5).
func (e *Emulator) startSignIn(w http.ResponseWriter, r *http.Request, req *authorizeRequest) {
	silent := req.prompt == "none"
	if req.prompt == "create" {
		// External ID's self-service sign-up: the create-account form,
		// whatever the browser session holds.
		e.renderSignUp(w, r, req, "", "", "")
		return
	}
	if req.prompt == "login" {
		// prompt=login asks for the password whatever the session holds.
		e.renderSignIn(w, r, req, e.hintedUsername(req.loginHint), nil, "")
		return
	}
	key, s, signedIn := e.session(r)
	if req.prompt == "select_account" && signedIn {
		e.renderPicker(w, r, req, s)
		return
	}
	if req.loginHint != "" {
		// login_hint names the account: single sign-on when it is signed
		// in here, else the form with the name filled in.
		if acct, ok := s.account(e.hintedUsername(req.loginHint)); ok && signedIn {
			e.proceed(w, r, req, e.ssoInteraction(r, key, s, acct))
			return
		}
		if silent {
			e.redirectError(w, r, req, errLoginHintNotSignedIn(), nil)
			return
		}
		e.renderSignIn(w, r, req, e.hintedUsername(req.loginHint), nil, "")
		return
	}
	switch {
	case !signedIn && silent:
		e.redirectError(w, r, req, errLoginRequired(), nil)
	case !signedIn:
		e.renderSignIn(w, r, req, "", nil, "")
	case len(s.accounts) == 1:
		e.proceed(w, r, req, e.ssoInteraction(r, key, s, s.accounts[0]))
	case silent:
		e.redirectError(w, r, req, errAccountChoiceRequired(), nil)
	default:
		e.renderPicker(w, r, req, s)
	}
}

// ssoInteraction continues an authorization with an account the browser
// session holds, without its password.
func (e *Emulator) ssoInteraction(r *http.Request, key string, s browserSession, acct sessionAccount) *interaction {
	return &interaction{
		sessionKey: key,
		query:      r.URL.RawQuery,
		sid:        s.sid,
		username:   acct.username,
		authTime:   acct.authTime,
	}
}

// pickAccount handles the account picker's form: a signed-in account
// continues with single sign-on; "Use another account" (an empty value),
// or a name this browser is not signed in with, shows the password form.
func (e *Emulator) pickAccount(w http.ResponseWriter, r *http.Request, req *authorizeRequest) {
	chosen := strings.TrimSpace(r.PostForm.Get("account"))
	key, s, signedIn := e.session(r)
	if acct, ok := s.account(chosen); ok && signedIn && chosen != "" {
		e.proceed(w, r, req, e.ssoInteraction(r, key, s, acct))
		return
	}
	e.renderSignIn(w, r, req, chosen, nil, "")
}

// proceedWithPassword signs username in to the browser, as one who has
// just given their password (the sign-in form, or a new account), and goes
// on with the authorize request.
func (e *Emulator) proceedWithPassword(w http.ResponseWriter, r *http.Request, req *authorizeRequest, username string) {
	key, s := e.signInAccount(w, r, username)
	acct, _ := s.account(username)
	e.proceed(w, r, req, &interaction{
		sessionKey: key,
		query:      r.URL.RawQuery,
		sid:        s.sid,
		username:   username,
		authTime:   acct.authTime,
		password:   true,
	})
}

// proceed takes an authorization whose account is known through the steps
// that remain, showing the first page still needed, or sends the code.
// prompt=none gets an error back instead of a page.
func (e *Emulator) proceed(w http.ResponseWriter, r *http.Request, req *authorizeRequest, in *interaction) {
	silent := req.prompt == "none"
	if req.prompt == "login" && !in.password {
		e.renderSignIn(w, r, req, in.username, nil, "")
		return
	}
	// A claims request for nbf after a critical event cannot be answered
	// from the session: the user types the password again.
	if !e.freshEnough(req.claims, in.username, in.authTime) {
		if silent {
			e.redirectError(w, r, req, errSignInAgainRequired(), nil)
			return
		}
		e.renderSignIn(w, r, req, in.username, nil, "The app needs you to sign in again: your organization requires a fresh sign-in for this account.")
		return
	}
	// An authentication context (step-up) asks for the second factor,
	// after the password or single sign-on.
	if len(req.claims.acrs) > 0 && !in.secondDone {
		if silent {
			e.redirectError(w, r, req, errStepUpRequired(), nil)
			return
		}
		e.renderSecondFactor(w, r, req, in, false)
		return
	}
	if !in.consented {
		missing := e.missingConsent(in.username, req.app, req.grant)
		switch {
		case silent && len(missing) > 0:
			e.redirectError(w, r, req, errConsentRequired(req.app, "consent_required"), nil)
			return
		case req.prompt == "consent":
			// prompt=consent shows everything the app asks for.
			e.renderConsent(w, r, req, in, append(append([]string(nil), req.grant.scp...), grantOIDC(req.grant)...))
			return
		case len(missing) > 0:
			e.renderConsent(w, r, req, in, missing)
			return
		}
	}
	e.issueCode(w, r, req, in)
}

// continueSignIn handles the consent and second-factor pages' forms: the
// interaction it names
// must belong to this browser and this authorization request.
func (e *Emulator) continueSignIn(w http.ResponseWriter, r *http.Request, req *authorizeRequest) {
	in, ok := e.takeInteraction(r, r.PostForm.Get("flow"))
	if !ok {
		e.renderError(w, r, http.StatusBadRequest, errFlowExpired())
		return
	}
	action := r.PostForm.Get("action")
	switch in.step {
	case stepConsent:
		if action != "accept" {
			e.redirectError(w, r, req, errUserDeclined(), url.Values{"error_subcode": {"cancel"}})
			return
		}
		// Consent covers what the app asked for in this request.
		e.recordConsent(in.username, req.app, req.grant.scp)
		e.count(StatConsents)
		in.consented = true
	case stepSecondFactor:
		if action == "cancel" {
			e.redirectError(w, r, req, errSecondFactorFailed("The user cancelled the verification."), url.Values{"error_subcode": {"cancel"}})
			return
		}
		u := e.user(in.username)
		if u == nil || !checkOTC(u, r.PostForm.Get("otc")) {
			in.attempts++
			if in.attempts >= maxOTCAttempts {
				e.redirectError(w, r, req, errSecondFactorFailed("Too many wrong codes."), nil)
				return
			}
			e.renderSecondFactor(w, r, req, in, true)
			return
		}
		e.count(StatSecondFactors)
		in.secondDone = true
	default:
		e.renderError(w, r, http.StatusBadRequest, errFlowExpired())
		return
	}
	e.proceed(w, r, req, in)
}

// maxOTCAttempts bounds guessing: after this many wrong codes the sign-in
// goes back to the app with access_denied.
const maxOTCAttempts = 5

// satisfiedContexts are the authentication contexts the ID token may
// claim: those the request asked for, once the second factor was passed.
func (in *interaction) satisfiedContexts(req *authorizeRequest) []string {
	if !in.secondDone {
		return nil
	}
	return req.claims.acrs
}

// hintedUsername maps a login_hint to a username: either the username
// itself or the opaque login_hint claim of one of the emulator's ID tokens,
// which Entra also accepts as login_hint and logout_hint.
func (e *Emulator) hintedUsername(hint string) string {
	hint = strings.TrimSpace(hint)
	if u := e.user(hint); u != nil {
		return u.Username
	}
	for _, u := range e.allUsers() {
		if e.loginHintClaim(u) == hint {
			return u.Username
		}
	}
	return hint
}

// loginHintClaim is the ID token's login_hint: opaque to apps, stable per
// user and tenant, and recognised by the emulator when an app sends it
// back as login_hint or logout_hint.
func (e *Emulator) loginHintClaim(u *User) string {
	sum := sha256.Sum256([]byte("entra-emulator/login_hint/" + e.tenant + "/" + u.OID))
	return "O.C" + b64.EncodeToString(sum[:])
}
