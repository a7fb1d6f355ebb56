// Claims requests and Conditional Access: the claims parameter (client
// capabilities, nbf after a critical event, authentication contexts), the
// Continuous Access Evaluation event and Graph's claims challenge.

package emulator

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// claimsRequest is what the emulator understands of an OIDC claims
// parameter (OpenID Connect Core 5.5). Members it does not know are
// ignored, as Entra ignores them.
type claimsRequest struct {
	// cp1: the client declared the "cp1" capability, that it can answer
	// claims challenges ({"access_token":{"xms_cc":{"values":["cp1"]}}},
	// what MSAL's WithClientCapabilities sends).
	cp1 bool
	// nbf: the tokens must come from an authentication at or after this
	// Unix time ({"access_token":{"nbf":{"essential":true,"value":"..."}}},
	// what a CAE claims challenge asks for).
	nbf int64
	// acrs: authentication contexts the user must satisfy
	// ({"id_token":{"acrs":{"essential":true,"value":"c1"}}}).
	acrs []string
}

// claimRequest is one member of a claims request: {"essential", "value"}
// or {"essential", "values"}, or null.
type claimRequest struct {
	Essential bool              `json:"essential"`
	Value     json.RawMessage   `json:"value"`
	Values    []json.RawMessage `json:"values"`
}

// authContextID is the shape of an authentication context ID (c1 to c99
// in Entra; any short word is accepted).
var authContextID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

const maxClaimsLen = 8 << 10

// parseClaims reads a claims parameter. An empty one is no request.
func parseClaims(raw string) (claimsRequest, *aadError) {
	var cr claimsRequest
	if strings.TrimSpace(raw) == "" {
		return cr, nil
	}
	fail := func(detail string) (claimsRequest, *aadError) {
		a := errMalformedRequest("The claims parameter is not a valid claims request: " + detail)
		return claimsRequest{}, &a
	}
	if len(raw) > maxClaimsLen {
		return fail("it is longer than 8 KB.")
	}
	var doc map[string]map[string]*claimRequest
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil || dec.More() {
		return fail(`it must be a JSON object such as {"id_token":{"acrs":{"essential":true,"value":"c1"}}}.`)
	}
	for target, members := range doc {
		if target != "access_token" && target != "id_token" && target != "userinfo" {
			continue
		}
		for name, req := range members {
			if req == nil {
				continue
			}
			values, ok := req.strings()
			if !ok {
				return fail(fmt.Sprintf("the values of %s.%s must be strings or numbers.", target, name))
			}
			switch {
			case name == "xms_cc" && target == "access_token":
				cr.cp1 = cr.cp1 || slices.ContainsFunc(values, func(v string) bool { return strings.EqualFold(v, "cp1") })
			case name == "nbf" && target == "access_token":
				for _, v := range values {
					n, err := strconv.ParseInt(v, 10, 64)
					if err != nil || n < 0 {
						return fail("access_token.nbf must be a Unix time.")
					}
					cr.nbf = max(cr.nbf, n)
				}
			case name == "acrs":
				for _, v := range values {
					if !authContextID.MatchString(v) {
						return fail("an acrs value must be an authentication context ID such as c1.")
					}
					if !slices.Contains(cr.acrs, v) {
						cr.acrs = append(cr.acrs, v)
					}
				}
			}
		}
	}
	return cr, nil
}

// strings returns the requested values, each a JSON string or number.
func (c *claimRequest) strings() ([]string, bool) {
	raws := slices.Clone(c.Values)
	if len(c.Value) > 0 {
		raws = append(raws, c.Value)
	}
	out := make([]string, 0, len(raws))
	for _, r := range raws {
		var s string
		if json.Unmarshal(r, &s) == nil {
			out = append(out, s)
			continue
		}
		var n json.Number
		if json.Unmarshal(r, &n) != nil {
			return nil, false
		}
		out = append(out, n.String())
	}
	return out, true
}

// freshEnough reports whether an account's sign-in satisfies a claims
// request's nbf: it happened at or after that time, and after the user's
// latest critical event (compared to the nanosecond, since both can fall
// in the same second).
func (e *Emulator) freshEnough(cr claimsRequest, username string, authTime time.Time) bool {
	if cr.nbf == 0 {
		return true
	}
	if authTime.Unix() < cr.nbf {
		return false
	}
	ev, ok := e.caeEventAt(username)
	return !ok || !authTime.Before(ev)
}

// tokenRequestClaims reads a token request's claims. Authentication
// contexts asked for there must have been satisfied when the user signed
// in (satisfied), since a token request cannot show a page.
func tokenRequestClaims(raw string, satisfied []string) (claimsRequest, *aadError) {
	cr, a := parseClaims(raw)
	if a != nil {
		return cr, a
	}
	for _, c := range cr.acrs {
		if !slices.Contains(satisfied, c) {
			x := errStepUpRequired()
			return cr, &x
		}
	}
	return cr, nil
}

func errStepUpRequired() aadError {
	return aadError{http.StatusBadRequest, "interaction_required", 50076,
		"Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access the resource. Send an interactive authorization request for this user."}
}

func errSignInAgainRequired() aadError {
	return aadError{http.StatusBadRequest, "interaction_required", 50133,
		"Session is invalid due to expiration or recent password change. The claims request asks for a sign-in after the user's latest critical event; send an interactive authorization request."}
}

func errSecondFactorFailed(detail string) aadError {
	return aadError{http.StatusBadRequest, "access_denied", 500121,
		"Authentication failed during strong authentication request. " + detail}
}

// CAEEvent records a critical event for username, as a password reset,
// a disabled account or an administrator's "revoke sessions" is for
// Continuous Access Evaluation: from now on Graph answers the user's
// access tokens issued before it with a claims challenge, if they were
// issued to a client that declared the cp1 capability (others keep working
// until they expire), the user's refresh tokens are revoked (AADSTS50173),
// and an authorization that asks for nbf after the event needs the password.
func (e *Emulator) CAEEvent(username string) (time.Time, error) {
	u := e.user(username)
	if u == nil {
		return time.Time{}, fmt.Errorf("emulator: no user %q", username)
	}
	if err := e.RevokeRefreshTokens(u.Username); err != nil {
		return time.Time{}, err
	}
	now := e.now()
	e.mu.Lock()
	e.caeEvents[strings.ToLower(u.Username)] = now
	e.mu.Unlock()
	return now, nil
}

func (e *Emulator) caeEventAt(username string) (time.Time, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	t, ok := e.caeEvents[strings.ToLower(username)]
	return t, ok
}

// newUTI returns a token's uti claim: opaque to clients (16 bytes, like
// Entra's), but it carries the issue time to the nanosecond, so that Graph
// can tell a token issued just before a critical event from one issued just
// after it in the same second.
func newUTI(now time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixNano()))
	rand.Read(b[8:])
	return b64.EncodeToString(b[:])
}

// issuedAt is when an access token was issued, from its uti.
func (c *accessTokenClaims) issuedAt() time.Time {
	if b, err := b64.DecodeString(c.Uti); err == nil && len(b) == 16 {
		return time.Unix(0, int64(binary.BigEndian.Uint64(b[:8])))
	}
	return time.Unix(c.Iat, 0)
}

// caeChallenge answers a Graph call whose token a critical event revoked,
// if the token's client can take a claims challenge (cp1). It reports
// whether it answered.
func (e *Emulator) caeChallenge(w http.ResponseWriter, r *http.Request, u *User, c *accessTokenClaims) bool {
	ev, ok := e.caeEventAt(u.Username)
	if !ok || !c.issuedAt().Before(ev) || !slices.ContainsFunc(c.XmsCC, func(v string) bool { return strings.EqualFold(v, "cp1") }) {
		return false
	}
	e.count(StatClaimsChallenges)
	// Graph's exact form: standard base64 (padded) of this JSON, with the
	// event time as a string.
	claims := fmt.Sprintf(`{"access_token":{"nbf":{"essential":true, "value":"%d"}}}`, ev.Unix())
	encoded := base64.StdEncoding.EncodeToString([]byte(claims))
	// For the log scans: a claims value must reach no log.
	e.recordIssued(encoded, claims)
	w.Header().Set("WWW-Authenticate", `Bearer realm="", authorization_uri="`+baseURL(r)+"/"+e.tenant+
		`/oauth2/v2.0/authorize", client_id="`+GraphResourceID+`", error="insufficient_claims", claims="`+
		encoded+`"`)
	e.graphError(w, r, http.StatusUnauthorized, "InvalidAuthenticationToken",
		"Continuous access evaluation resulted in challenge with result: InteractionRequired and code: TokenIssuedBeforeRevocationTimestamp")
	return true
}

// checkOTC compares a typed one-time code with the user's in constant
// time, after removing the spaces people type between digit groups.
func checkOTC(u *User, typed string) bool {
	typed = strings.ReplaceAll(strings.TrimSpace(typed), " ", "")
	return subtle.ConstantTimeCompare([]byte(typed), []byte(u.OTC)) == 1
}
