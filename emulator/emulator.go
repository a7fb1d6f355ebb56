// Package emulator is a local, offline stand-in for Microsoft Entra ID's v2.0
// endpoints and Microsoft Graph's /v1.0/me and /v1.0/me/events, so the whole
// sign-in flow of the web app (and its tests) can run against the real MSAL
// Go client over HTTPS without a Microsoft tenant.
//
// It is a development tool, not Microsoft: it signs tokens with its own key,
// keeps all state in memory and says so on every page it renders.
package emulator

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

const (
	// DefaultTenant is the tenant ID of the emulator's demo tenant.
	DefaultTenant = "c0ffee00-0000-4000-a000-000000000001"
	// DemoClientID is the application (client) ID of the app registered
	// when the configuration names none.
	DemoClientID = "c0ffee00-0000-4000-a000-000000000002"
	// DemoClientSecret is the demo app's client secret. It is public on
	// purpose: the emulator is for development only.
	DemoClientSecret = "demo-client-secret-not-for-production"
	// GraphResourceID is Microsoft Graph's application ID, the `aud` of the
	// Graph access tokens the emulator issues (Entra uses this or
	// https://graph.microsoft.com).
	GraphResourceID = "00000003-0000-0000-c000-000000000000"
)

// DemoRedirectURIs are the redirect URIs registered by default: the ones the
// web app's demo configuration uses.
var DemoRedirectURIs = []string{
	"https://localhost:5000/auth/redirect",
	"https://127.0.0.1:5000/auth/redirect",
}

// Endpoint names, used as Fault.Endpoint.
const (
	EndpointAuthorize           = "authorize"
	EndpointToken               = "token"
	EndpointLogout              = "logout"
	EndpointGraph               = "graph"
	EndpointOpenIDConfiguration = "openid_configuration"
	EndpointKeys                = "keys"
	EndpointDeviceCode          = "devicecode"
)

// Stats keys (see Emulator.Stats).
const (
	StatOpenIDConfiguration    = "openid_configuration"
	StatKeys                   = "keys"
	StatAuthorize              = "authorize"
	StatToken                  = "token"
	StatTokenAuthorizationCode = "token_authorization_code"
	StatTokenRefreshToken      = "token_refresh_token"
	StatLogout                 = "logout"
	StatGraphMe                = "graph_me"
	// StatSignIns counts successful interactive sign-ins (the form accepted
	// the password), StatCodesIssued every authorization code handed out
	// (sign-ins plus silent prompt=none answers), StatFaults every request
	// answered or delayed by an injected fault.
	StatSignIns     = "sign_ins"
	StatCodesIssued = "codes_issued"
	StatFaults      = "faults_applied"
	// StatGraphEvents counts Graph /me/events calls; StatConsents consent
	// pages accepted; StatSingleSignOns codes issued without a password
	// because the browser session already held the account.
	StatGraphEvents   = "graph_events"
	StatConsents      = "consents"
	StatSingleSignOns = "single_sign_ons"
	// StatSecondFactors counts second-factor codes accepted,
	// StatClaimsChallenges Graph calls answered with a CAE claims challenge.
	StatSecondFactors    = "second_factors"
	StatClaimsChallenges = "claims_challenges"
	// StatFrontChannelLogouts counts the front-channel logout iframes put
	// on signed-out pages (one per app and ended browser session), so tests
	// can wait for a sign-out to reach the apps.
	StatFrontChannelLogouts = "frontchannel_logouts"
	// StatSignUps counts accounts created by an External ID tenant's
	// self-service sign-up (prompt=create).
	StatSignUps = "sign_ups"
	// StatDeviceCode counts device authorization requests,
	// StatTokenDeviceCode the device_code grants polled at the token
	// endpoint, StatGraphDirectory Graph's directory calls (applications,
	// servicePrincipals).
	StatDeviceCode      = "devicecode"
	StatTokenDeviceCode = "token_device_code"
	StatGraphDirectory  = "graph_directory"
)

var statKeys = []string{
	StatOpenIDConfiguration, StatKeys, StatAuthorize, StatToken,
	StatTokenAuthorizationCode, StatTokenRefreshToken, StatLogout, StatGraphMe,
	StatSignIns, StatCodesIssued, StatFaults,
	StatGraphEvents, StatConsents, StatSingleSignOns,
	StatSecondFactors, StatClaimsChallenges, StatFrontChannelLogouts,
	StatSignUps, StatDeviceCode, StatTokenDeviceCode, StatGraphDirectory,
}

// Config configures an Emulator. The zero value is the demo configuration.
type Config struct {
	Tenant string // default DefaultTenant; stored in lower case, as MSAL lower-cases the authority
	// Apps are the tenant's app registrations. When it is empty, the four
	// single-app fields below are the shorthand for one app, and all four
	// empty mean the demo app; setting both is an error.
	Apps                  []App
	ClientID              string        // default DemoClientID
	ClientSecret          string        // default DemoClientSecret
	RedirectURIs          []string      // default DemoRedirectURIs (also when empty)
	FrontChannelLogoutURL string        // default none
	Users                 []User        // nil = DefaultUsers(); a non-nil empty list is an error
	AccessTokenTTL        time.Duration // default 1h
	IDTokenTTL            time.Duration // default 1h
	RefreshTokenTTL       time.Duration // default 24h; also the lifetime of the emulator's browser session
	CodeTTL               time.Duration // default 10m
	TokenPadding          bool          // pad access and ID tokens to 1.5-2.5 KB each, as Entra's are
	Logger                *slog.Logger  // request log; nil = discard
	// Now is the clock used for every expiry decision and token timestamp;
	// nil = time.Now. Tests move it forward to expire codes and tokens.
	Now func() time.Time
	// SigningKey is the RSA key tokens are signed with; nil = a fresh
	// 2048-bit key. Tests that start many emulators share one to save time.
	SigningKey *rsa.PrivateKey
	// AdminConsented lists the delegated Graph permissions an administrator
	// has consented to for the whole tenant: no user is asked for them.
	// nil = DefaultAdminConsented; an empty list means none. openid,
	// profile, email and offline_access never need consent.
	AdminConsented []string
	// ClientCertificates and FederatedSubjects are the single-app
	// shorthand for App.ClientCertificates and App.FederatedSubjects.
	ClientCertificates []*x509.Certificate
	FederatedSubjects  []string
	// OmitACRS leaves the acrs claim out of every ID and access token, even
	// after a sign-in that satisfied the authentication context a claims
	// request asked for, as Entra does when no Conditional Access policy
	// uses that context: for testing that an app notices a step-up that
	// did not happen.
	OmitACRS bool
	// ExternalID makes the tenant a Microsoft Entra External ID tenant
	// (externalid.go) instead of a workforce one: it answers as
	// https://{Subdomain}.ciamlogin.com/{Subdomain}.onmicrosoft.com,
	// https://{tenant-id}.ciamlogin.com/{tenant-id} and under any other
	// host name as a custom URL domain, https://{domain}/{tenant-id}; it
	// names the issuer External ID names,
	// https://{tenant-id}.ciamlogin.com/{tenant-id}/v2.0, whatever the host;
	// and prompt=create offers self-service sign-up. Tenant must be a GUID.
	ExternalID bool
	// Subdomain is an External ID tenant's name in its ciamlogin.com and
	// onmicrosoft.com host names; default DefaultSubdomain.
	Subdomain string
	// DirectoryFaults make Microsoft Graph's directory misbehave as a
	// real tenant can (directory.go); SetDirectoryFaults changes them later.
	DirectoryFaults DirectoryFaults
}

// Emulator is a running emulator's state. It is safe for concurrent use.
type Emulator struct {
	tenant     string
	externalID bool   // an External ID (CIAM) tenant: externalid.go
	subdomain  string // an External ID tenant's subdomain
	apps       []*app // in configuration order; the first is the one ClientID names
	users      []User // the configured accounts, in configuration order, OIDs filled in

	// usersMu guards the account look-ups and signUps: an External ID
	// tenant gains accounts while it runs (sign-up). A *User never
	// changes once it is in them.
	usersMu    sync.RWMutex
	byUsername map[string]*User // lower-case username -> user
	byOID      map[string]*User
	signUps    []*User // accounts created by sign-up, oldest first

	defaultUsers bool // the demo accounts are in use, so pages may list their passwords
	accessTTL    time.Duration
	idTTL        time.Duration
	refreshTTL   time.Duration
	codeTTL      time.Duration
	padding      bool
	omitACRS     bool
	log          *slog.Logger
	now          func() time.Time
	signer       *signer
	sealer       cipher.AEAD // seals refresh tokens, which carry their own state
	pages        map[string]*template.Template
	handler      http.Handler

	redirectMu sync.RWMutex // guards every app's redirectURIs

	// mu guards the sign-in state. Hold it only for map look-ups and
	// updates: tokens are signed outside it.
	mu           sync.Mutex
	codes        map[string]*authCode
	sessions     map[string]*browserSession
	interactions map[string]*interaction
	consents     map[string][]string   // consentKey(user, client) -> lower-case permissions the user granted
	revoked      map[string]revocation // lower-case username -> latest revocation
	caeEvents    map[string]time.Time  // lower-case username -> latest critical event
	lastPurge    time.Time

	adminConsented []string // lower-case Graph permission names

	faultMu sync.Mutex
	faults  []*activeFault

	statsMu sync.Mutex
	stats   map[string]int64

	dir     *directory  // app registrations and service principals made through Graph
	devices deviceFlows // device authorization grants in progress

	assertionsMu sync.Mutex
	assertions   []ClientAssertion // every client assertion received, for ClientAssertions

	issuedMu sync.Mutex
	issued   []string

	tokenRequestsMu sync.Mutex
	tokenRequests   []TokenRequest // for TokenRequests
}

// revocation records RevokeRefreshTokens for one user: refresh tokens carry
// the generation they were issued in, so older ones are refused.
type revocation struct {
	generation int
	at         time.Time
}

// New validates cfg, fills in the defaults and returns a ready emulator.
func New(cfg Config) (*Emulator, error) {
	e := &Emulator{
		tenant:       strings.ToLower(strings.TrimSpace(cfg.Tenant)),
		accessTTL:    cfg.AccessTokenTTL,
		idTTL:        cfg.IDTokenTTL,
		refreshTTL:   cfg.RefreshTokenTTL,
		codeTTL:      cfg.CodeTTL,
		padding:      cfg.TokenPadding,
		omitACRS:     cfg.OmitACRS,
		log:          cfg.Logger,
		now:          cfg.Now,
		codes:        make(map[string]*authCode),
		sessions:     make(map[string]*browserSession),
		interactions: make(map[string]*interaction),
		consents:     make(map[string][]string),
		caeEvents:    make(map[string]time.Time),
		revoked:      make(map[string]revocation),
		stats:        make(map[string]int64),
	}
	var err error
	if e.tenant == "" {
		e.tenant = DefaultTenant
	}
	if !tenantPattern.MatchString(e.tenant) {
		return nil, fmt.Errorf("emulator: tenant %q is not a GUID or domain name", cfg.Tenant)
	}
	if cfg.ExternalID {
		e.externalID = true
		if e.subdomain, err = prepareExternalID(e.tenant, cfg.Subdomain); err != nil {
			return nil, fmt.Errorf("emulator: %w", err)
		}
	} else if cfg.Subdomain != "" {
		return nil, errors.New("emulator: Subdomain is for an External ID tenant: set ExternalID too")
	}
	if e.apps, err = prepareApps(cfg); err != nil {
		return nil, fmt.Errorf("emulator: %w", err)
	}
	for _, ttl := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"AccessTokenTTL", &e.accessTTL, time.Hour},
		{"IDTokenTTL", &e.idTTL, time.Hour},
		{"RefreshTokenTTL", &e.refreshTTL, 24 * time.Hour},
		{"CodeTTL", &e.codeTTL, 10 * time.Minute},
	} {
		switch {
		case *ttl.v == 0:
			*ttl.v = ttl.def
		case *ttl.v < time.Second:
			return nil, fmt.Errorf("emulator: %s must be at least 1s, got %v", ttl.name, *ttl.v)
		}
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.now == nil {
		e.now = time.Now
	}

	if e.adminConsented, err = adminConsentedScopes(cfg.AdminConsented, e.tenant); err != nil {
		return nil, fmt.Errorf("emulator: %w", err)
	}

	users := cfg.Users
	if users == nil {
		users = DefaultUsers()
		e.defaultUsers = true
	}
	users, err = prepareUsers(users)
	if err != nil {
		return nil, fmt.Errorf("emulator: %w", err)
	}
	e.users = users
	e.byUsername = make(map[string]*User, len(users))
	e.byOID = make(map[string]*User, len(users))
	for i := range e.users {
		u := &e.users[i]
		e.byUsername[strings.ToLower(u.Username)] = u
		e.byOID[u.OID] = u
	}

	key := cfg.SigningKey
	if key == nil {
		if key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			return nil, fmt.Errorf("emulator: generate signing key: %w", err)
		}
	}
	if e.signer, err = newSigner(key, time.Now()); err != nil {
		return nil, fmt.Errorf("emulator: %w", err)
	}
	sealKey := make([]byte, 32)
	rand.Read(sealKey)
	block, err := aes.NewCipher(sealKey)
	if err != nil {
		return nil, fmt.Errorf("emulator: %w", err)
	}
	if e.sealer, err = cipher.NewGCM(block); err != nil {
		return nil, fmt.Errorf("emulator: %w", err)
	}
	if e.pages, err = parsePages(); err != nil {
		return nil, fmt.Errorf("emulator: %w", err)
	}
	e.dir = newDirectory(cfg.DirectoryFaults)
	e.handler = e.routes()
	return e, nil
}

// tenantPattern accepts a tenant ID (GUID) or a domain-like tenant name: it
// becomes a path segment and part of every URL, so nothing else is allowed.
var tenantPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{0,253}$`)

// validateRedirectURI applies Entra's rules for web redirect URIs: absolute,
// no fragment, https, except http for a loopback host during development.
func validateRedirectURI(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return fmt.Errorf("redirect URI %q is not an absolute URL", raw)
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return fmt.Errorf("redirect URI %q must not contain a fragment", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopbackHost(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("redirect URI %q uses http: only https, or http on localhost/127.0.0.1/[::1], is allowed", raw)
	default:
		return fmt.Errorf("redirect URI %q must use https (or http on a loopback host)", raw)
	}
}

func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Handler returns the emulator's HTTP handler: every endpoint, wrapped in
// the one-line-per-request log.
func (e *Emulator) Handler() http.Handler { return e.handler }

// Tenant returns the tenant ID, as it appears in every path.
func (e *Emulator) Tenant() string { return e.tenant }

// ClientID returns the first registered app's client ID: the one app's, in
// a single-app configuration.
func (e *Emulator) ClientID() string { return e.apps[0].clientID }

// Authority returns the authority URL MSAL needs for an emulator served at
// baseURL, e.g. https://localhost:5001/<tenant>.
func (e *Emulator) Authority(baseURL string) string {
	return strings.TrimRight(baseURL, "/") + "/" + e.tenant
}

// AddRedirectURI registers one more redirect URI for the first app, for
// tests whose app URL is known only once its listener exists. It panics if uri is not a valid web
// redirect URI (absolute https, or http on a loopback host), like
// regexp.MustCompile: that is a bug in the calling test.
func (e *Emulator) AddRedirectURI(uri string) {
	if err := validateRedirectURI(uri); err != nil {
		panic("emulator: AddRedirectURI: " + err.Error())
	}
	e.redirectMu.Lock()
	defer e.redirectMu.Unlock()
	if a := e.apps[0]; !slices.Contains(a.redirectURIs, uri) {
		a.redirectURIs = append(a.redirectURIs, uri)
	}
}

// RedirectURIs returns the first registered app's redirect URIs (Apps has
// every app's).
func (e *Emulator) RedirectURIs() []string {
	e.redirectMu.RLock()
	defer e.redirectMu.RUnlock()
	return slices.Clone(e.apps[0].redirectURIs)
}

// Users returns copies of the emulator's accounts, with their OIDs: the
// configured ones, then those created by sign-up, oldest first.
func (e *Emulator) Users() []User {
	all := e.allUsers()
	out := make([]User, len(all))
	for i, u := range all {
		c := *u
		c.Roles = slices.Clone(u.Roles)
		if u.Events != nil {
			c.Events = slices.Clone(u.Events)
		}
		out[i] = c
	}
	return out
}

// Stats returns request counts per endpoint. Keys: "openid_configuration",
// "keys", "authorize", "token", "token_authorization_code",
// "token_refresh_token", "logout", "graph_me", "graph_events", plus
// "sign_ins", "single_sign_ons", "codes_issued", "consents",
// "second_factors", "claims_challenges", "frontchannel_logouts",
// "sign_ups", "devicecode", "token_device_code", "graph_directory" and
// "faults_applied". Every key is present, zero or not.
func (e *Emulator) Stats() map[string]int64 {
	e.statsMu.Lock()
	defer e.statsMu.Unlock()
	out := make(map[string]int64, len(statKeys))
	for _, k := range statKeys {
		out[k] = e.stats[k]
	}
	return out
}

// ResetStats sets every count back to zero.
func (e *Emulator) ResetStats() {
	e.statsMu.Lock()
	defer e.statsMu.Unlock()
	clear(e.stats)
}

func (e *Emulator) count(key string) {
	e.statsMu.Lock()
	e.stats[key]++
	e.statsMu.Unlock()
}

// RevokeRefreshTokens makes every refresh token issued so far to username
// invalid: later refresh grants get AADSTS50173, as after a password reset
// or an admin's "revoke sessions" in Entra. Tokens issued afterwards work.
func (e *Emulator) RevokeRefreshTokens(username string) error {
	u := e.user(username)
	if u == nil {
		return fmt.Errorf("emulator: no user %q", username)
	}
	key := strings.ToLower(u.Username)
	e.mu.Lock()
	defer e.mu.Unlock()
	r := e.revoked[key]
	e.revoked[key] = revocation{generation: r.generation + 1, at: e.now()}
	return nil
}

// issuedLimit bounds IssuedValues' memory over long benchmark runs.
const issuedLimit = 10000

// IssuedValues returns every authorization code, access, ID, refresh and
// workload token issued so far, and every client assertion received (the
// most recent 10,000 on long runs), so tests can scan logs for leaked
// secrets.
func (e *Emulator) IssuedValues() []string {
	e.issuedMu.Lock()
	defer e.issuedMu.Unlock()
	if len(e.issued) > issuedLimit {
		return slices.Clone(e.issued[len(e.issued)-issuedLimit:])
	}
	return slices.Clone(e.issued)
}

func (e *Emulator) recordIssued(values ...string) {
	e.issuedMu.Lock()
	defer e.issuedMu.Unlock()
	for _, v := range values {
		if v != "" {
			e.issued = append(e.issued, v)
		}
	}
	// Trim in batches so recording stays amortised O(1).
	if len(e.issued) > 2*issuedLimit {
		e.issued = slices.Clone(e.issued[len(e.issued)-issuedLimit:])
	}
}

// TokenRequest is what the emulator remembers of one token request from an
// authenticated client: the grant and what the client asked for. Codes,
// tokens and credentials are not kept.
type TokenRequest struct {
	ClientID  string
	GrantType string // authorization_code, refresh_token, ...
	Scope     string // the scope parameter as sent
	Claims    string // the claims parameter as sent, "" for none
}

// tokenRequestLimit bounds TokenRequests' memory over long benchmark runs.
const tokenRequestLimit = 1000

// TokenRequests returns the token requests received from authenticated
// clients, oldest first (the most recent 1,000 on long runs), so that a test
// can see what a client library sent: MSAL puts its client capabilities
// ({"access_token":{"xms_cc":{"values":["cp1"]}}}) and the claims of a
// challenge or a step-up in the claims parameter, merged into one request.
func (e *Emulator) TokenRequests() []TokenRequest {
	e.tokenRequestsMu.Lock()
	defer e.tokenRequestsMu.Unlock()
	if len(e.tokenRequests) > tokenRequestLimit {
		return slices.Clone(e.tokenRequests[len(e.tokenRequests)-tokenRequestLimit:])
	}
	return slices.Clone(e.tokenRequests)
}

func (e *Emulator) recordTokenRequest(tr TokenRequest) {
	e.tokenRequestsMu.Lock()
	defer e.tokenRequestsMu.Unlock()
	e.tokenRequests = append(e.tokenRequests, tr)
	// Trim in batches so recording stays amortised O(1).
	if len(e.tokenRequests) > 2*tokenRequestLimit {
		e.tokenRequests = slices.Clone(e.tokenRequests[len(e.tokenRequests)-tokenRequestLimit:])
	}
}

// errNoUsers is returned for an explicitly empty users list.
var errNoUsers = errors.New("the users list is empty: configure at least one account")
