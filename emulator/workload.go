// Federated credentials: the emulator plays an external token issuer (as AKS's service account issuer does) and trusts it.

package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	// workloadIssuerPath is where the emulator's external issuer lives,
	// under the emulator's own origin.
	workloadIssuerPath = "/workload-identity"
	// FederatedAudience is the audience Entra requires in a federated
	// token, and the one the emulator's issuer writes by default.
	FederatedAudience = "api://AzureADTokenExchange"
	// defaultWorkloadTTL is the lifetime of a workload token without ttl,
	// the default of a Kubernetes projected service account token.
	defaultWorkloadTTL = time.Hour
	maxWorkloadTTL     = 24 * time.Hour
)

// workloadRoutes adds the external issuer's endpoints: its discovery
// document and keys, as a relying party finds them from the issuer URL, and
// the endpoint that hands out tokens (the part a platform would do by
// projecting them into a pod).
func (e *Emulator) workloadRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET "+workloadIssuerPath+"/.well-known/openid-configuration", e.handleWorkloadConfiguration)
	mux.HandleFunc("GET "+workloadIssuerPath+"/openid/v1/jwks", e.handleWorkloadKeys)
	mux.Handle("POST /emulator/workload-token", sameOrigin(e.handleWorkloadToken))
}

// workloadIssuer is the external issuer's URL as the client reached the
// emulator.
func workloadIssuer(r *http.Request) string { return baseURL(r) + workloadIssuerPath }

func (e *Emulator) handleWorkloadConfiguration(w http.ResponseWriter, r *http.Request) {
	iss := workloadIssuer(r)
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                iss,
		"jwks_uri":                              iss + "/openid/v1/jwks",
		"response_types_supported":              []string{"id_token"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
	})
}

func (e *Emulator) handleWorkloadKeys(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, e.signer.jwks(workloadIssuer(r)))
}

// workloadClaims are the claims of a workload token, as a Kubernetes
// service account token carries them (less the kubernetes.io details).
type workloadClaims struct {
	Aud []string `json:"aud"`
	Exp int64    `json:"exp"`
	Iat int64    `json:"iat"`
	Iss string   `json:"iss"`
	Jti string   `json:"jti"`
	Nbf int64    `json:"nbf"`
	Sub string   `json:"sub"`
}

// handleWorkloadToken issues a token from the external issuer: form
// subject (required), ttl (a duration such as 10m, or seconds; default 1h,
// at most 24h) and audience (default api://AzureADTokenExchange).
func (e *Emulator) handleWorkloadToken(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	bad := func(msg string) {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": msg})
	}
	if err := r.ParseForm(); err != nil {
		bad("The request body could not be read as a form.")
		return
	}
	subject := strings.TrimSpace(r.PostForm.Get("subject"))
	if subject == "" {
		bad("The form needs a subject, e.g. system:serviceaccount:default:my-app.")
		return
	}
	ttl := defaultWorkloadTTL
	if v := r.PostForm.Get("ttl"); v != "" {
		d, err := time.ParseDuration(v)
		if secs, serr := strconv.Atoi(v); serr == nil {
			d, err = time.Duration(secs)*time.Second, nil
		}
		if err != nil || d < time.Second || d > maxWorkloadTTL {
			bad(fmt.Sprintf("ttl must be a duration from 1s to 24h, such as 10m or 600, not %q.", v))
			return
		}
		ttl = d
	}
	aud := FederatedAudience
	if v := strings.TrimSpace(r.PostForm.Get("audience")); v != "" {
		aud = v
	}
	now := e.now()
	payload, _ := json.Marshal(workloadClaims{
		Aud: []string{aud},
		Exp: now.Add(ttl).Unix(),
		Iat: now.Unix(),
		Iss: workloadIssuer(r),
		Jti: newGUID(),
		Nbf: now.Unix(),
		Sub: subject,
	})
	token, err := e.signer.sign(payload)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "server_error"})
		return
	}
	e.recordIssued(token)
	writeJSON(w, http.StatusOK, map[string]string{"token": token})
}

// checkFederatedAssertion checks a token from an external issuer against
// the client's federated credentials, which all trust the emulator's own
// issuer: the issuer, the signature with that issuer's key, the audience and
// the subject, then the token's times. A token may be presented again and
// again until it expires, as with Entra, which keeps no record of them.
func (e *Emulator) checkFederatedAssertion(r *http.Request, client *app, h jose, c assertionClaims) *aadError {
	const noMatch = "No matching federated identity record found for presented assertion %s '%s'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion. https://learn.microsoft.com/entra/workload-id/workload-identity-federation (With the emulator: -federated-subject or Config.FederatedSubjects.)"
	if iss := workloadIssuer(r); len(client.creds.federatedSubjects) == 0 || c.Iss != iss {
		return &aadError{http.StatusUnauthorized, "invalid_client", 700211, fmt.Sprintf(noMatch, "issuer", c.Iss)}
	}
	if h.Alg != "RS256" || h.Kid != e.signer.kid || !verifyRSA(&e.signer.key.PublicKey, h) {
		a := errInvalidAssertion("The federated token's signature does not verify with a key of its issuer's JWKS.")
		return &a
	}
	if !slices.Contains(c.Aud, FederatedAudience) {
		return &aadError{http.StatusUnauthorized, "invalid_client", 700212, fmt.Sprintf(noMatch, "audience", strings.Join(c.Aud, " "))}
	}
	if !slices.Contains(client.creds.federatedSubjects, c.Sub) {
		return &aadError{http.StatusUnauthorized, "invalid_client", 700213, fmt.Sprintf(noMatch, "subject", c.Sub)}
	}
	return e.checkAssertionTimes(c, false)
}
