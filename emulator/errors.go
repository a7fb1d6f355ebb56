// Entra-shaped errors: AADSTS codes as JSON, as redirects and as pages.

package emulator

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// aadError is one AADSTS error. The same value is sent as JSON by the token
// endpoint, as error/error_description query parameters to a redirect URI,
// or shown on an error page, depending on where it happens.
type aadError struct {
	status int    // HTTP status when answered directly (JSON or page)
	err    string // OAuth 2.0 error code, e.g. invalid_grant
	code   int    // the AADSTS number
	msg    string // the message after "AADSTSnnnn: "
}

func (a aadError) description() string { return fmt.Sprintf("AADSTS%d: %s", a.code, a.msg) }

// The AADSTS errors the emulator produces. Messages follow Entra's wording
// closely enough that people searching for them find Entra's documentation.

func errMissingParam(name string) aadError {
	return aadError{http.StatusBadRequest, "invalid_request", 900144,
		fmt.Sprintf("The request body must contain the following parameter: '%s'.", name)}
}

func errMalformedRequest(detail string) aadError {
	return aadError{http.StatusBadRequest, "invalid_request", 9002313,
		"Invalid request. Request is malformed or invalid. " + detail}
}

func errTenantNotFound(tenant string) aadError {
	return aadError{http.StatusBadRequest, "invalid_tenant", 90002,
		fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. (This emulator serves only its own tenant; see its start-up output.)", tenant)}
}

func errUnknownClient(clientID, tenant string) aadError {
	return aadError{http.StatusBadRequest, "unauthorized_client", 700016,
		fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.", clientID, tenant)}
}

func errRedirectMismatch(redirectURI, clientID string) aadError {
	return aadError{http.StatusBadRequest, "invalid_request", 50011,
		fmt.Sprintf("The redirect URI '%s' specified in the request does not match the redirect URIs configured for the application '%s'. Make sure the redirect URI sent in the request matches one registered for the application (with the emulator: -redirect-uri, the redirect_uris of the -apps file, or Emulator.AddRedirectURI in tests).", redirectURI, clientID)}
}

func errNoReplyAddress() aadError {
	return aadError{http.StatusBadRequest, "invalid_request", 900971, "No reply address provided."}
}

func errUnsupportedResponseType(rt string) aadError {
	return aadError{http.StatusBadRequest, "unsupported_response_type", 700051,
		fmt.Sprintf("response_type '%s' is not enabled for the application. The emulator supports only 'code'.", rt)}
}

func errInvalidScope(scope string) aadError {
	return aadError{http.StatusBadRequest, "invalid_scope", 70011,
		fmt.Sprintf("The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid. The scope %s is not valid.", scope)}
}

func errResourceNotFound(resource, tenant string) aadError {
	return aadError{http.StatusBadRequest, "invalid_resource", 500011,
		fmt.Sprintf("The resource principal named %s was not found in the tenant named %s. The emulator knows only Microsoft Graph (https://graph.microsoft.com).", resource, tenant)}
}

func errCodeChallengeSize() aadError {
	return aadError{http.StatusBadRequest, "invalid_request", 501491, "Invalid size of Code_Challenge parameter."}
}

func errCodeChallengeMethod(method string) aadError {
	if method == "" {
		return errMalformedRequest("The code_challenge_method parameter is required with code_challenge; use 'S256' (or 'plain').")
	}
	return errMalformedRequest(fmt.Sprintf("The code_challenge_method '%s' is not supported; use 'S256' (or 'plain').", method))
}

func errMissingCodeChallenge() aadError {
	return aadError{http.StatusBadRequest, "invalid_request", 50147,
		"The code_challenge parameter is missing or its size is not valid, but code_challenge_method was sent."}
}

func errLoginRequired() aadError {
	return aadError{http.StatusBadRequest, "login_required", 50058,
		"A silent sign-in request was sent but no user is signed in. The cookies used to represent the user's session were not sent in the request to the emulator."}
}

func errUnsupportedPrompt() aadError {
	return aadError{http.StatusBadRequest, "invalid_request", 90023,
		"Unsupported 'prompt' value. Use one of login, none, consent or select_account, and only one."}
}

// errAccountChoiceRequired answers prompt=none when the browser holds
// several accounts and no login_hint says which one.
func errAccountChoiceRequired() aadError {
	return aadError{http.StatusBadRequest, "interaction_required", 16000,
		"Either multiple user identities are available for the current request or selected account is not supported for the scenario."}
}

// errLoginHintNotSignedIn answers prompt=none with a login_hint for an
// account the browser session does not hold.
func errLoginHintNotSignedIn() aadError {
	return aadError{http.StatusBadRequest, "login_required", 50058,
		"A silent sign-in request was sent but the user named by login_hint is not signed in to the emulator in this browser."}
}

// errFlowExpired is shown when a consent or second-factor form is sent
// after its sign-in ended, twice, or from another browser.
func errFlowExpired() aadError {
	return aadError{http.StatusBadRequest, "invalid_request", 50089,
		"Authentication failed due to flow token expired. This sign-in page is no longer valid: start the sign-in again from the app."}
}

func errUserDeclined() aadError {
	return aadError{http.StatusBadRequest, "access_denied", 65004, "User declined to consent to access the app."}
}

func errWrongPassword() aadError {
	return aadError{http.StatusOK, "invalid_grant", 50126, "Error validating credentials due to invalid username or password."}
}

func errNoSuchUser(username, tenant string) aadError {
	return aadError{http.StatusOK, "invalid_grant", 50034,
		fmt.Sprintf("The user account %s does not exist in the %s directory. To sign into this application, the account must be added to the directory.", username, tenant)}
}

func errMissingClientSecret() aadError {
	return aadError{http.StatusUnauthorized, "invalid_client", 7000218,
		"The request body must contain the following parameter: 'client_assertion' or 'client_secret'."}
}

func errInvalidClientSecret(clientID string) aadError {
	return aadError{http.StatusUnauthorized, "invalid_client", 7000215,
		fmt.Sprintf("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", clientID)}
}

func errUnsupportedGrant(gt string) aadError {
	return aadError{http.StatusBadRequest, "unsupported_grant_type", 70003,
		fmt.Sprintf("The app requested an unsupported grant type '%s'. The emulator supports 'authorization_code', 'refresh_token' and 'urn:ietf:params:oauth:grant-type:device_code'.", gt)}
}

func errBadGrant(detail string) aadError {
	return aadError{http.StatusBadRequest, "invalid_grant", 9002313, "Invalid request. Request is malformed or invalid. " + detail}
}

func errGrantOtherClient(what string) aadError {
	return aadError{http.StatusBadRequest, "invalid_grant", 70000,
		fmt.Sprintf("Provided grant is invalid or malformed. The %s was issued to a different client.", what)}
}

func errCodeRedeemed() aadError {
	return aadError{http.StatusBadRequest, "invalid_grant", 54005,
		"OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token."}
}

func errCodeExpired() aadError {
	return aadError{http.StatusBadRequest, "invalid_grant", 70008,
		"The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource."}
}

func errRedirectChanged(got, want string) aadError {
	return aadError{http.StatusBadRequest, "invalid_grant", 500112,
		fmt.Sprintf("The reply address '%s' does not match the reply address '%s' provided when requesting Authorization code.", got, want)}
}

func errVerifierMismatch() aadError {
	return aadError{http.StatusBadRequest, "invalid_grant", 501481,
		"The Code_Verifier does not match the code_challenge supplied in the authorization request."}
}

func errRefreshExpired(issued time.Time, inactive time.Duration) aadError {
	return aadError{http.StatusBadRequest, "invalid_grant", 700082,
		fmt.Sprintf("The refresh token has expired due to inactivity. The token was issued on %s and was inactive for %s.",
			issued.UTC().Format(time.RFC3339Nano), inactive.Round(time.Second))}
}

func errRefreshRevoked(issued, validFrom time.Time) aadError {
	return aadError{http.StatusBadRequest, "invalid_grant", 50173,
		fmt.Sprintf("The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password. The grant was issued on '%s' and the TokensValidFrom date (before which tokens are not valid) for this user is '%s'.",
			issued.UTC().Format(time.RFC3339Nano), validFrom.UTC().Format(time.RFC3339Nano))}
}

func errUserGone(username, tenant string) aadError {
	a := errNoSuchUser(username, tenant)
	a.status = http.StatusBadRequest
	return a
}

// errFault is the error an injected fault answers with, shaped by status.
func errFault(status int) aadError {
	const note = " (This fault was injected by the Entra ID emulator.)"
	switch {
	case status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout:
		return aadError{status, "temporarily_unavailable", 90033, "A transient error has occurred. Please try again." + note}
	case status == http.StatusTooManyRequests:
		return aadError{status, "temporarily_unavailable", 90055, "There are too many incoming requests. Please try again later." + note}
	case status >= 500:
		return aadError{status, "server_error", 50000, "There was an error issuing a token or an issue with our sign-in service." + note}
	case status == http.StatusUnauthorized:
		return aadError{status, "invalid_client", 7000215, "Invalid client secret provided." + note}
	default:
		return aadError{status, "invalid_request", 9002313, "Invalid request. Request is malformed or invalid." + note}
	}
}

// trace identifies one error answer, as Entra's trace and correlation IDs do.
type trace struct {
	TraceID       string
	CorrelationID string
	Timestamp     string // "2006-01-02 15:04:05Z", as Entra writes it
}

func (e *Emulator) newTrace(r *http.Request) trace {
	// Entra echoes the client's client-request-id (MSAL sends one) as the
	// correlation ID, so a client can match its logs to the error.
	corr := r.Header.Get("client-request-id")
	if !guidPattern.MatchString(corr) {
		corr = newGUID()
	}
	return trace{TraceID: newGUID(), CorrelationID: corr, Timestamp: e.now().UTC().Format("2006-01-02 15:04:05Z")}
}

// writeAADError answers with Entra's JSON error body.
func (e *Emulator) writeAADError(w http.ResponseWriter, r *http.Request, a aadError) {
	t := e.newTrace(r)
	body := struct {
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description"`
		ErrorCodes       []int  `json:"error_codes"`
		Timestamp        string `json:"timestamp"`
		TraceID          string `json:"trace_id"`
		CorrelationID    string `json:"correlation_id"`
		Suberror         string `json:"suberror,omitempty"`
	}{
		Error:            a.err,
		ErrorDescription: fmt.Sprintf("%s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s", a.description(), t.TraceID, t.CorrelationID, t.Timestamp),
		ErrorCodes:       []int{a.code},
		Timestamp:        t.Timestamp,
		TraceID:          t.TraceID,
		CorrelationID:    t.CorrelationID,
		Suberror:         suberrors[a.code],
	}
	if a.status == http.StatusTooManyRequests || a.status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, a.status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "internal error encoding JSON", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	if h.Get("Content-Type") == "" {
		h.Set("Content-Type", "application/json; charset=utf-8")
	}
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	w.Write(data)
}

// newGUID returns a random (version 4) GUID.
func newGUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// randomString returns n random bytes, base64url-encoded.
func randomString(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return b64.EncodeToString(b)
}
