// Package identity signs users in with Microsoft Entra ID through MSAL Go: the
// Go twin of the Python samples' identity library. It has no HTTP routing; the
// handlers call it with the request's context and the user's session.
package identity

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
)

// Config configures a Client.
type Config struct {
	// Authority is https://login.microsoftonline.com/{tenant} (Entra ID),
	// an External ID tenant's https://{sub}.ciamlogin.com/{sub}.onmicrosoft.com,
	// https://{tenant-id}.ciamlogin.com/{tenant-id} or https://{sub}.ciamlogin.com,
	// or the emulator's. See ParseAuthority.
	Authority string
	// OIDCAuthority is instead an External ID tenant's authority on a
	// custom URL domain, https://login.contoso.com/{tenant-id}/v2.0, as the
	// identity library's oidc_authority. Set Authority or OIDCAuthority.
	OIDCAuthority string
	ClientID      string // the app registration's Application (client) ID
	// Credential proves the app's identity to Entra ID: a client secret
	// (confidential.NewCredFromSecret), a certificate (Certificate.Credential)
	// or a federated token (TokenFile.Credential).
	Credential confidential.Credential
	// SendX5C sends the certificate chain with each client assertion, for
	// subject name and issuer authentication (certificates only).
	SendX5C     bool
	RedirectURI string   // absolute URI of the app's redirect handler, registered in Entra ID
	Scopes      []string // resource scopes for the downstream API, e.g. ["User.Read"]
	// ClientCapabilities are declared to Entra ID on every sign-in and
	// token request, e.g. ["cp1"]: the app can answer claims challenges,
	// so Entra issues it access tokens that Continuous Access Evaluation
	// can revoke (and that live longer). Empty declares none.
	ClientCapabilities []string
	// HTTPClient is used for every call to the identity provider. Its
	// transport is wrapped to cache discovery documents. Nil uses a client
	// with a 30 s timeout over http.DefaultTransport.
	HTTPClient *http.Client
	ClockSkew  time.Duration    // allowed difference between this machine's clock and Entra's; default 5 min
	Now        func() time.Time // nil = time.Now
}

// Client signs users in and gets tokens for them. It is safe for concurrent
// use: it holds no per-user state, and it builds a fresh MSAL client for each
// operation over one shared HTTP client (see msal).
type Client struct {
	auth              Authority
	clientID          string
	redirectURI       string
	scopes            []string
	cred              confidential.Credential
	sendX5C           bool
	capabilities      []string
	http              *http.Client
	transport         *cachingTransport // http's transport
	instanceDiscovery bool
	skew              time.Duration
	now               func() time.Time
	tokens            *tokenMemo
}

// New checks cfg and returns a Client. It makes no network request, so an
// identity provider that is down at start-up does not stop the app.
func New(cfg Config) (*Client, error) {
	if cfg.ClientID == "" || reflect.ValueOf(cfg.Credential).IsZero() {
		return nil, errors.New("identity: client ID and credential are required")
	}
	auth, err := ParseAuthority(cfg.Authority, cfg.OIDCAuthority)
	if err != nil {
		return nil, err
	}
	u, _ := url.Parse(auth.URL)
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	skew := cfg.ClockSkew
	if skew == 0 {
		skew = 5 * time.Minute
	}
	base := cfg.HTTPClient
	if base == nil {
		base = &http.Client{Timeout: 30 * time.Second}
	}
	shared := *base
	transport := newCachingTransport(base.Transport, now)
	shared.Transport = transport
	return &Client{
		auth:              auth,
		clientID:          cfg.ClientID,
		redirectURI:       cfg.RedirectURI,
		scopes:            slices.Clip(slices.Clone(cfg.Scopes)),
		cred:              cfg.Credential,
		sendX5C:           cfg.SendX5C,
		capabilities:      append([]string(nil), cfg.ClientCapabilities...),
		http:              &shared,
		transport:         transport,
		instanceDiscovery: microsoftHost(u.Hostname()),
		skew:              skew,
		now:               now,
		tokens:            &tokenMemo{},
	}, nil
}

// microsoftHosts are Entra ID's own sign-in hosts, for which MSAL validates
// the authority with Microsoft's instance discovery. Any other host (External
// ID's *.ciamlogin.com, the local emulator) publishes its metadata itself, and
// instance discovery would send an offline emulator's sign-in to the internet.
var microsoftHosts = map[string]bool{
	"login.microsoftonline.com":        true,
	"login.microsoft.com":              true,
	"login.windows.net":                true,
	"sts.windows.net":                  true,
	"login.microsoftonline.us":         true,
	"login.partner.microsoftonline.cn": true,
	"login.chinacloudapi.cn":           true,
}

func microsoftHost(host string) bool { return microsoftHosts[strings.ToLower(host)] }

// msal builds an MSAL confidential client bound to one user's session.
//
// One client per operation, not one for the app: MSAL's cache accessor has
// no notion of "the current user", so a shared client whose accessor reads the
// request's session mixes users' caches under concurrency. New makes no
// network call, and the shared transport caches the tenant metadata each new
// client would otherwise fetch. For External ID, the authority MSAL gets
// comes from that metadata (msalAuthority).
func (c *Client) msal(ctx context.Context, s *UserSession) (confidential.Client, error) {
	authority, err := c.msalAuthority(ctx)
	if err != nil {
		return confidential.Client{}, err
	}
	opts := []confidential.Option{
		confidential.WithCache(&sessionCache{s: s}),
		confidential.WithHTTPClient(c.http),
		confidential.WithInstanceDiscovery(c.instanceDiscovery),
		// MSAL reads MSAL_FORCE_REGION from the environment and would send
		// the sign-in to a regional host; a web app's sign-in is never regional.
		confidential.WithAzureRegion("DisableMsalForceRegion"),
	}
	if c.sendX5C {
		opts = append(opts, confidential.WithX5C())
	}
	if len(c.capabilities) > 0 {
		// MSAL sends them as the claims request
		// {"access_token":{"xms_cc":{"values":["cp1"]}}}, merged with any
		// claims a sign-in carries (REFERENCE §4.3).
		opts = append(opts, confidential.WithClientCapabilities(c.capabilities))
	}
	return confidential.New(authority, c.clientID, c.cred, opts...)
}

// Authority returns the configured authority, checked (ParseAuthority).
func (c *Client) Authority() Authority { return c.auth }

// ExternalID reports whether the authority is an External ID tenant's,
// whose user flows offer sign-up (SignIn.Prompt "create").
func (c *Client) ExternalID() bool { return c.auth.ExternalID() }

// Scopes returns the resource scopes the app asks for.
func (c *Client) Scopes() []string { return slices.Clone(c.scopes) }
