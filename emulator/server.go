// Routes, middleware and the metadata endpoints (discovery document, JWKS).

package emulator

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

func (e *Emulator) routes() http.Handler {
	mux := http.NewServeMux()
	// The paths are Entra's v2.0 endpoint paths, so an authority of
	// https://{emulator}/{tenant} works unchanged with MSAL and OIDC libraries.
	mux.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", e.handleOpenIDConfiguration)
	mux.HandleFunc("GET /{tenant}/discovery/v2.0/keys", e.handleKeys)
	mux.HandleFunc("GET /{tenant}/oauth2/v2.0/authorize", e.handleAuthorize)
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/authorize", e.handleAuthorize)
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/token", e.handleToken)
	mux.HandleFunc("GET /{tenant}/oauth2/v2.0/token", e.handleTokenGet)
	mux.HandleFunc("GET /{tenant}/oauth2/v2.0/logout", e.handleLogout)
	e.deviceCodeRoutes(mux) // devicecode.go
	// Microsoft Graph, served from the same host.
	mux.HandleFunc("GET /v1.0/me", e.handleGraphMe)
	mux.HandleFunc("GET /v1.0/me/events", e.handleGraphEvents)
	e.directoryRoutes(mux) // graph_directory.go
	// The emulator's own pages and controls.
	mux.HandleFunc("GET /{$}", e.handleIndex)
	mux.HandleFunc("GET /emulator/static/emulator.css", handleCSS)
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("GET /emulator/stats", e.handleStats)
	mux.HandleFunc("GET /emulator/faults", e.handleListFaults)
	mux.Handle("POST /emulator/faults", sameOrigin(e.handlePostFault))
	mux.Handle("DELETE /emulator/faults", sameOrigin(e.handleClearFaults))
	e.workloadRoutes(mux)
	return e.logRequests(e.recoverPanic(mux))
}

// sameOrigin guards a control endpoint that changes the emulator's state
// (faults, revocations, critical events) or hands out tokens: a page on
// another origin that the developer happens to open must not be able to
// post to it from their browser. http.CrossOriginProtection refuses a
// request that the browser marks as cross-origin (Sec-Fetch-Site, or an
// Origin that is not the emulator's host), as the app's sign-out does.
// curl, scripts and Go clients send neither header and pass.
func sameOrigin(h http.HandlerFunc) http.Handler {
	return controlProtection.Handler(h)
}

var controlProtection = func() *http.CrossOriginProtection {
	p := http.NewCrossOriginProtection()
	p.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		controlError(w, http.StatusForbidden, "cross-origin request refused: the emulator's controls take requests from its own pages, curl or a test, not from another site")
	}))
	return p
}()

// statusWriter remembers the status code for the request log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// logRequests writes one line per request: method, path, status, duration.
// The path is logged without its query string, and nothing else about the
// request is, so codes, tokens, passwords and secrets never reach the log.
func (e *Emulator) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		// Logged in a defer, so that a response aborted with
		// http.ErrAbortHandler (the client left during an injected delay)
		// still gets its line.
		defer func() {
			status := sw.status
			if status == 0 {
				status = http.StatusOK
				if r.Context().Err() != nil {
					// The client went away before an answer; 499 is
					// nginx's "client closed request".
					status = 499
				}
			}
			e.log.LogAttrs(context.Background(), slog.LevelInfo, "request",
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.Int("status", status),
				slog.Duration("duration", time.Since(start)))
		}()
		next.ServeHTTP(sw, r)
	})
}

// recoverPanic turns a panic in a handler into a logged 500.
func (e *Emulator) recoverPanic(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				e.log.Error("handler panic", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v))
				w.Header().Set("Connection", "close")
				http.Error(w, "internal error in the Entra ID emulator", http.StatusInternalServerError)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// begin counts a request to an endpoint, applies any injected fault and, for
// the endpoints under /{tenant}/, checks the tenant. It returns false when it
// has answered: the fault, or AADSTS90002 for an unknown tenant (a page for
// the browser's endpoints, JSON for the others).
func (e *Emulator) begin(w http.ResponseWriter, r *http.Request, stat, endpoint string) bool {
	e.count(stat)
	if !e.applyFault(w, r, endpoint) {
		return false
	}
	if endpoint == EndpointGraph || e.tenantOK(r) {
		return true
	}
	unknown := errTenantNotFound(r.PathValue("tenant"))
	if endpoint == EndpointAuthorize || endpoint == EndpointLogout {
		e.renderError(w, r, http.StatusBadRequest, unknown)
	} else {
		e.writeAADError(w, r, unknown)
	}
	return false
}

func (e *Emulator) tenantOK(r *http.Request) bool {
	if e.externalID {
		return e.externalIDTenantOK(r)
	}
	return strings.EqualFold(r.PathValue("tenant"), e.tenant)
}

// baseURL is the emulator's origin as the client reached it. Every URL the
// emulator hands out uses it, because MSAL requires the issuer's host to be
// the authority's host. An External ID tenant's issuer is the exception,
// as External ID's own is (externalIDIssuer).
func baseURL(r *http.Request) string {
	scheme := "https"
	if r.TLS == nil {
		scheme = "http"
	}
	return scheme + "://" + r.Host
}

func (e *Emulator) issuer(r *http.Request) string {
	if e.externalID {
		return e.externalIDIssuer(r)
	}
	return baseURL(r) + "/" + e.tenant + "/v2.0"
}

// openIDConfiguration is the discovery document, with the members Entra
// publishes that apply to the emulator.
type openIDConfiguration struct {
	TokenEndpoint                     string   `json:"token_endpoint"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	JWKSURI                           string   `json:"jwks_uri"`
	ResponseModesSupported            []string `json:"response_modes_supported"`
	SubjectTypesSupported             []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported  []string `json:"id_token_signing_alg_values_supported"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	ScopesSupported                   []string `json:"scopes_supported"`
	Issuer                            string   `json:"issuer"`
	RequestURIParameterSupported      bool     `json:"request_uri_parameter_supported"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint"`
	DeviceAuthorizationEndpoint       string   `json:"device_authorization_endpoint"`
	HTTPLogoutSupported               bool     `json:"http_logout_supported"`
	FrontchannelLogoutSupported       bool     `json:"frontchannel_logout_supported"`
	EndSessionEndpoint                string   `json:"end_session_endpoint"`
	ClaimsSupported                   []string `json:"claims_supported"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	CodeChallengeMethodsSupported     []string `json:"code_challenge_methods_supported"`
	TenantRegionScope                 string   `json:"tenant_region_scope"`
	CloudInstanceName                 string   `json:"cloud_instance_name"`
	MSGraphHost                       string   `json:"msgraph_host"`
}

func (e *Emulator) handleOpenIDConfiguration(w http.ResponseWriter, r *http.Request) {
	if !e.begin(w, r, StatOpenIDConfiguration, EndpointOpenIDConfiguration) {
		return
	}
	base := baseURL(r) + "/" + e.tenant
	cloud := "entra-emulator.local"
	if e.externalID {
		cloud = "ciamlogin.com"
	}
	writeJSON(w, http.StatusOK, openIDConfiguration{
		TokenEndpoint:                     base + "/oauth2/v2.0/token",
		TokenEndpointAuthMethodsSupported: []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		JWKSURI:                           base + "/discovery/v2.0/keys",
		ResponseModesSupported:            []string{"query", "fragment", "form_post"},
		SubjectTypesSupported:             []string{"pairwise"},
		IDTokenSigningAlgValuesSupported:  []string{"RS256"},
		ResponseTypesSupported:            []string{"code"},
		ScopesSupported:                   []string{"openid", "profile", "email", "offline_access"},
		Issuer:                            e.issuer(r),
		AuthorizationEndpoint:             base + "/oauth2/v2.0/authorize",
		DeviceAuthorizationEndpoint:       base + "/oauth2/v2.0/devicecode",
		HTTPLogoutSupported:               true,
		FrontchannelLogoutSupported:       true,
		EndSessionEndpoint:                base + "/oauth2/v2.0/logout",
		ClaimsSupported: []string{"sub", "iss", "aud", "exp", "iat", "nbf", "auth_time", "nonce",
			"preferred_username", "name", "tid", "ver", "oid", "roles", "sid", "email", "acrs", "login_hint"},
		GrantTypesSupported:           []string{"authorization_code", "refresh_token", deviceCodeGrant},
		CodeChallengeMethodsSupported: []string{"S256", "plain"},
		TenantRegionScope:             "EU",
		CloudInstanceName:             cloud,
		MSGraphHost:                   r.Host,
	})
}

func (e *Emulator) handleKeys(w http.ResponseWriter, r *http.Request) {
	if !e.begin(w, r, StatKeys, EndpointKeys) {
		return
	}
	writeJSON(w, http.StatusOK, e.signer.jwks(e.issuer(r)))
}
