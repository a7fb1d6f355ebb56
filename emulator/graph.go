// Microsoft Graph's GET /v1.0/me, with Graph's JSON shapes.

package emulator

import (
	"errors"
	"net/http"
	"strings"
)

// graphUser is Graph's user resource as /me returns it by default.
type graphUser struct {
	ODataContext      string   `json:"@odata.context"`
	BusinessPhones    []string `json:"businessPhones"`
	DisplayName       string   `json:"displayName"`
	GivenName         *string  `json:"givenName"`
	JobTitle          *string  `json:"jobTitle"`
	Mail              string   `json:"mail"`
	MobilePhone       *string  `json:"mobilePhone"`
	OfficeLocation    *string  `json:"officeLocation"`
	PreferredLanguage *string  `json:"preferredLanguage"`
	Surname           *string  `json:"surname"`
	UserPrincipalName string   `json:"userPrincipalName"`
	ID                string   `json:"id"`
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func (e *Emulator) handleGraphMe(w http.ResponseWriter, r *http.Request) {
	if !e.begin(w, r, StatGraphMe, EndpointGraph) {
		return
	}
	u, c, ok := e.graphCaller(w, r)
	if !ok {
		return
	}
	if !allowsMe(c.Scp) {
		// A valid token without a permission that covers /me: Graph
		// answers 403, not 401.
		e.graphError(w, r, http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
		return
	}
	e.graphHeaders(w, r)
	w.Header().Set("Content-Type", graphContentType)
	writeJSON(w, http.StatusOK, graphUser{
		ODataContext:      "https://graph.microsoft.com/v1.0/$metadata#users/$entity",
		BusinessPhones:    []string{},
		DisplayName:       u.Name,
		GivenName:         nullable(u.GivenName),
		JobTitle:          nullable(u.JobTitle),
		Mail:              u.Username,
		Surname:           nullable(u.Surname),
		UserPrincipalName: u.Username,
		ID:                u.OID,
	})
}

const graphContentType = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"

// graphCaller checks the bearer token of a Graph request as Graph does and
// returns its user and claims, or answers 401 with Graph's error JSON.
func (e *Emulator) graphCaller(w http.ResponseWriter, r *http.Request) (*User, accessTokenClaims, bool) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	token = strings.TrimSpace(token)
	if !ok || token == "" {
		e.graphError(w, r, http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token is empty.")
		return nil, accessTokenClaims{}, false
	}
	var c accessTokenClaims
	switch err := e.signer.verify(token, &c); {
	case errors.Is(err, errMalformed):
		e.graphError(w, r, http.StatusUnauthorized, "InvalidAuthenticationToken", "IDX14100: JWT is not well formed, there are no dots (.) or it could not be decoded.")
		return nil, c, false
	case err != nil:
		e.graphError(w, r, http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token validation failure. Invalid signature.")
		return nil, c, false
	}
	now := e.now().Unix()
	u := e.userByOID(c.Oid)
	switch {
	case c.Aud != GraphResourceID && c.Aud != "https://graph.microsoft.com":
		e.graphError(w, r, http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience.")
	case now >= c.Exp:
		e.graphError(w, r, http.StatusUnauthorized, "InvalidAuthenticationToken", "Lifetime validation failed, the token is expired.")
	case now < c.Nbf:
		e.graphError(w, r, http.StatusUnauthorized, "InvalidAuthenticationToken", "Lifetime validation failed, the token is not yet valid.")
	case c.Tid != e.tenant:
		e.graphError(w, r, http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token validation failure. Invalid issuer.")
	case u == nil:
		e.graphError(w, r, http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token validation failure. The user does not exist in the tenant.")
	case e.caeChallenge(w, r, u, &c):
		// A critical event revoked this token: answered with the
		// claims challenge.
	default:
		return u, c, true
	}
	return nil, c, false
}

// graphHeaders sets the request-id headers Graph sends on every answer.
func (e *Emulator) graphHeaders(w http.ResponseWriter, r *http.Request) (requestID, clientRequestID string) {
	requestID = newGUID()
	clientRequestID = r.Header.Get("client-request-id")
	if !guidPattern.MatchString(clientRequestID) {
		clientRequestID = requestID
	}
	w.Header().Set("request-id", requestID)
	w.Header().Set("client-request-id", clientRequestID)
	return requestID, clientRequestID
}

// graphError answers with Graph's error JSON.
func (e *Emulator) graphError(w http.ResponseWriter, r *http.Request, status int, code, message string) {
	reqID, clientReqID := e.graphHeaders(w, r)
	if status == http.StatusUnauthorized && w.Header().Get("WWW-Authenticate") == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="", authorization_uri="`+baseURL(r)+"/"+e.tenant+`/oauth2/v2.0/authorize", client_id="`+GraphResourceID+`"`)
	}
	if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	type innerError struct {
		Date            string `json:"date"`
		RequestID       string `json:"request-id"`
		ClientRequestID string `json:"client-request-id"`
	}
	type graphErr struct {
		Code       string     `json:"code"`
		Message    string     `json:"message"`
		InnerError innerError `json:"innerError"`
	}
	writeJSON(w, status, struct {
		Error graphErr `json:"error"`
	}{graphErr{code, message, innerError{e.now().UTC().Format("2006-01-02T15:04:05"), reqID, clientReqID}}})
}

// graphFault maps an injected status to Graph's error code and message.
func graphFault(status int) (code, message string) {
	const note = " (This fault was injected by the Entra ID emulator.)"
	switch {
	case status == http.StatusServiceUnavailable:
		return "serviceNotAvailable", "The service is temporarily unavailable. Please retry later." + note
	case status == http.StatusTooManyRequests:
		return "TooManyRequests", "Too many requests." + note
	case status == http.StatusGatewayTimeout:
		return "gatewayTimeout", "The gateway timed out." + note
	case status >= 500:
		return "generalException", "An unspecified error has occurred." + note
	case status == http.StatusUnauthorized:
		return "InvalidAuthenticationToken", "Access token validation failure." + note
	case status == http.StatusForbidden:
		return "Authorization_RequestDenied", "Insufficient privileges to complete the operation." + note
	case status == http.StatusNotFound:
		return "Request_ResourceNotFound", "Resource not found." + note
	default:
		return "BadRequest", "The request is invalid." + note
	}
}
