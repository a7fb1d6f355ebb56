// Configuration: every setting of the app, read from the environment and .env with the Python samples' names.

package app

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"ms-identity-go-webapp/identity"
	"ms-identity-go-webapp/internal/forwarded"
)

// Config is the app's configuration. Load it with LoadConfig.
type Config struct {
	ClientID string

	// The app's credential: exactly one of a client secret, a certificate
	// file or a federated token file (see credential.go).
	ClientSecret              string
	ClientCertificatePath     string
	ClientCertificatePassword string
	ClientCertificateSendX5C  bool
	ClientAssertionFile       string
	ClientAssertionVar        string // CLIENT_ASSERTION_FILE or AZURE_FEDERATED_TOKEN_FILE, whichever set ClientAssertionFile

	Authority string
	// OIDCAuthority is an External ID tenant's authority on a custom URL
	// domain (OIDC_AUTHORITY, as the identity library names it), instead
	// of Authority.
	OIDCAuthority string
	RedirectURI   string
	Scopes        []string
	GraphEndpoint string
	GraphTimeout  time.Duration
	// CalendarScopes are what /calendar asks consent for when first
	// opened, and CalendarEndpoint the Graph API it calls with them.
	CalendarScopes   []string
	CalendarEndpoint string
	AdminRole        string
	SessionSecret    string
	SessionDir       string
	SessionType      string // "filesystem" or "redis"
	RedisURL         string
	Port             int
	TLSCert          string
	TLSKey           string

	// Host is the address the app listens on: 127.0.0.1 on a developer's
	// machine, 0.0.0.0 in a container behind the platform's proxy.
	Host string
	// TLS is false when a proxy in front of the app terminates HTTPS and
	// the app serves plain HTTP (TLS=off, allowed only with TrustedProxies).
	TLS bool
	// TrustedProxies are the peers whose X-Forwarded-* and Forwarded
	// headers the app believes.
	TrustedProxies *forwarded.Proxies
	// LogFormat is "text" or "json".
	LogFormat string
	// DrainPeriod is how long the app keeps serving after SIGTERM while
	// /readyz answers 503, so that the load balancer stops sending it
	// requests before it stops accepting them.
	DrainPeriod time.Duration
	// SessionSecretPrevious is the secret being rotated out: what it sealed
	// still opens, and is sealed again with SessionSecret when next saved.
	SessionSecretPrevious string

	// ClientCapabilities are declared to Entra ID (CLIENT_CAPABILITIES,
	// default cp1: the app answers claims challenges).
	ClientCapabilities []string
	// AdminAuthContext is the authentication context /admin requires in
	// the ID token's acrs claim (ADMIN_AUTH_CONTEXT, e.g. c1); "" = none.
	AdminAuthContext string

	// Problems are settings the app can start without but cannot sign anyone
	// in without. Every page shows them on the configuration page.
	Problems []string
}

// minSecretLength is the shortest SESSION_SECRET accepted: the session keys
// are derived from it, and a short one can be guessed.
const minSecretLength = 32

// LoadConfig reads the configuration through getenv. An empty value counts
// as unset, so CLIENT_CAPABILITIES keeps its default; LoadConfigEnv tells
// the two apart.
func LoadConfig(getenv func(string) string) (Config, error) {
	return LoadConfigEnv(func(name string) (string, bool) {
		v := getenv(name)
		return v, v != ""
	})
}

// LoadConfigEnv reads the configuration through lookup (os.LookupEnv in the
// app), which tells a setting that is set but empty from one that is not
// set. A missing client ID, secret or session secret is a Problem, shown on
// every page. A malformed value stops start-up: the error names the variable.
func LoadConfigEnv(lookup func(string) (string, bool)) (Config, error) {
	getenv := func(name string) string {
		v, _ := lookup(name)
		return v
	}
	get := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	cfg := Config{
		ClientID:         get("CLIENT_ID", ""),
		ClientSecret:     get("CLIENT_SECRET", ""),
		GraphEndpoint:    get("GRAPH_ENDPOINT", "https://graph.microsoft.com/v1.0/me"),
		AdminRole:        get("ADMIN_ROLE", "admin"),
		SessionSecret:    get("SESSION_SECRET", ""),
		SessionDir:       get("SESSION_DIR", ".sessions"),
		SessionType:      strings.ToLower(get("SESSION_TYPE", "filesystem")),
		RedisURL:         get("REDIS_URL", ""),
		TLSCert:          get("TLS_CERT", "ssl/localhost.crt"),
		TLSKey:           get("TLS_KEY", "ssl/localhost.key"),
		Scopes:           strings.Fields(get("SCOPE", "User.Read")),
		CalendarScopes:   strings.Fields(get("CALENDAR_SCOPE", "Calendars.Read")),
		CalendarEndpoint: get("CALENDAR_ENDPOINT", "https://graph.microsoft.com/v1.0/me/events"),
		Host:             get("HOST", "127.0.0.1"),
		LogFormat:        strings.ToLower(get("LOG_FORMAT", "text")),
	}

	cfg.SessionSecretPrevious = get("SESSION_SECRET_PREVIOUS", "")

	var errs []error
	var err error
	if cfg.Port, err = strconv.Atoi(get("PORT", "5000")); err != nil || cfg.Port < 1 || cfg.Port > 65535 {
		errs = append(errs, fmt.Errorf("PORT must be a number from 1 to 65535, not %q", getenv("PORT")))
	}
	if cfg.GraphTimeout, err = time.ParseDuration(get("GRAPH_TIMEOUT", "10s")); err != nil || cfg.GraphTimeout <= 0 {
		errs = append(errs, fmt.Errorf("GRAPH_TIMEOUT must be a duration such as 10s, not %q", getenv("GRAPH_TIMEOUT")))
	}

	errs = append(errs, loadServing(&cfg, get)...)

	// No default tenant: "common" would silently accept users, and their
	// app roles, from every tenant where someone consented to the app.
	cfg.Authority = get("AUTHORITY", "")
	cfg.OIDCAuthority = get("OIDC_AUTHORITY", "")
	if tenant := get("TENANT_ID", ""); cfg.Authority == "" && cfg.OIDCAuthority == "" && tenant != "" {
		cfg.Authority = "https://login.microsoftonline.com/" + tenant
	}
	if cfg.Authority != "" {
		if err := checkAuthority(cfg.Authority); err != nil {
			errs = append(errs, err)
		}
		cfg.Authority = strings.TrimSuffix(cfg.Authority, "/")
	}
	errs = append(errs, checkOIDCAuthority(cfg.Authority, cfg.OIDCAuthority)...)

	cfg.RedirectURI = get("REDIRECT_URI", fmt.Sprintf("https://localhost:%d/auth/redirect", cfg.Port))
	if err := checkRedirectURI(cfg.RedirectURI); err != nil {
		errs = append(errs, err)
	}
	if err := checkURL("GRAPH_ENDPOINT", cfg.GraphEndpoint); err != nil {
		errs = append(errs, err)
	}
	if err := checkURL("CALENDAR_ENDPOINT", cfg.CalendarEndpoint); err != nil {
		errs = append(errs, err)
	}
	if p := cfg.SessionSecretPrevious; p != "" && len(p) < minSecretLength {
		errs = append(errs, fmt.Errorf("SESSION_SECRET_PREVIOUS, when set, must be the previous SESSION_SECRET (%d characters or more)", minSecretLength))
	}
	switch cfg.SessionType {
	case "filesystem":
	case "redis":
		if err := checkRedisURL(cfg.RedisURL); err != nil {
			errs = append(errs, err)
		}
	default:
		errs = append(errs, fmt.Errorf("SESSION_TYPE must be filesystem or redis, not %q", cfg.SessionType))
	}
	errs = append(errs, cfg.loadCredentialSettings(getenv, get)...)
	errs = append(errs, cfg.loadConditionalAccess(lookup, get)...)
	if err := errors.Join(errs...); err != nil {
		return cfg, err
	}

	if cfg.ClientID == "" || placeholder(cfg.ClientID) {
		cfg.Problems = append(cfg.Problems, "CLIENT_ID is not set: use the Application (client) ID of your app registration.")
	}
	if cfg.Authority == "" && cfg.OIDCAuthority == "" {
		cfg.Problems = append(cfg.Problems, "AUTHORITY (or TENANT_ID) is not set: use https://login.microsoftonline.com/<your tenant ID>.")
	}
	if cfg.ClientSecret == "" && cfg.ClientCertificatePath == "" && cfg.ClientAssertionFile == "" {
		cfg.Problems = append(cfg.Problems, "CLIENT_SECRET is not set: create a client secret under Certificates & secrets "+
			"(or, in production, use a certificate with CLIENT_CERTIFICATE_PATH or a federated token with CLIENT_ASSERTION_FILE).")
	}
	if len(cfg.SessionSecret) < minSecretLength {
		cfg.Problems = append(cfg.Problems, fmt.Sprintf(
			"SESSION_SECRET is missing or shorter than %d characters: generate one with `openssl rand -hex 32`.", minSecretLength))
	}
	return cfg, nil
}

// loadServing reads the settings of where and how the app serves: HOST,
// TLS, TRUSTED_PROXIES, LOG_FORMAT and DRAIN_PERIOD.
func loadServing(cfg *Config, get func(name, def string) string) []error {
	var errs []error
	if err := checkHost(cfg.Host); err != nil {
		errs = append(errs, err)
	}
	switch tls := strings.ToLower(get("TLS", "on")); tls {
	case "on":
		cfg.TLS = true
	case "off":
	default:
		errs = append(errs, fmt.Errorf("TLS must be on or off, not %q", tls))
	}
	proxies, err := forwarded.ParseProxies(get("TRUSTED_PROXIES", ""))
	if err != nil {
		errs = append(errs, fmt.Errorf("TRUSTED_PROXIES: %v", err))
	}
	cfg.TrustedProxies = proxies
	// Plain HTTP is only for the hop from a TLS-terminating proxy. Without
	// a trusted proxy the app could not tell that the browser used HTTPS,
	// and nothing would protect the session cookie on the wire.
	if !cfg.TLS && err == nil && proxies.Empty() {
		errs = append(errs, errors.New("TLS=off needs TRUSTED_PROXIES: the addresses of the proxy that terminates HTTPS in front of the app"))
	}
	switch cfg.LogFormat {
	case "text", "json":
	default:
		errs = append(errs, fmt.Errorf("LOG_FORMAT must be text or json, not %q", cfg.LogFormat))
	}
	if cfg.DrainPeriod, err = time.ParseDuration(get("DRAIN_PERIOD", "5s")); err != nil || cfg.DrainPeriod < 0 {
		errs = append(errs, fmt.Errorf("DRAIN_PERIOD must be a duration such as 5s (or 0s), not %q", get("DRAIN_PERIOD", "")))
	}
	return errs
}

// loadCredentialSettings reads the three kinds of client credential, of
// which exactly one may be set: two at once would leave it to chance which
// one Entra ID sees. A placeholder copied from .env.sample counts as unset.
// The files themselves are read later, by loadCredential.
func (cfg *Config) loadCredentialSettings(getenv func(string) string, get func(name, def string) string) []error {
	var errs []error
	if placeholder(cfg.ClientSecret) {
		cfg.ClientSecret = ""
	}
	cfg.ClientCertificatePath = get("CLIENT_CERTIFICATE_PATH", "")
	// The password is taken as it is: spaces may be part of it.
	cfg.ClientCertificatePassword = getenv("CLIENT_CERTIFICATE_PASSWORD")
	if v := get("CLIENT_CERTIFICATE_SEND_X5C", ""); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("CLIENT_CERTIFICATE_SEND_X5C must be true or false, not %q", v))
		}
		cfg.ClientCertificateSendX5C = b
	}
	for _, name := range []string{"CLIENT_ASSERTION_FILE", "AZURE_FEDERATED_TOKEN_FILE"} {
		if v := get(name, ""); v != "" {
			cfg.ClientAssertionFile, cfg.ClientAssertionVar = v, name
			break
		}
	}

	var set []string
	if cfg.ClientSecret != "" {
		set = append(set, "CLIENT_SECRET")
	}
	if cfg.ClientCertificatePath != "" {
		set = append(set, "CLIENT_CERTIFICATE_PATH")
	}
	if cfg.ClientAssertionFile != "" {
		set = append(set, cfg.ClientAssertionVar)
	}
	if len(set) > 1 {
		both := "both"
		if len(set) > 2 {
			both = "all"
		}
		errs = append(errs, fmt.Errorf("%s are %s set, but the app takes exactly one credential: keep one of them (a secret, a certificate or a federated token) and unset the others",
			strings.Join(set, " and "), both))
	}
	if cfg.ClientCertificatePath == "" {
		if cfg.ClientCertificatePassword != "" {
			errs = append(errs, errors.New("CLIENT_CERTIFICATE_PASSWORD is set but CLIENT_CERTIFICATE_PATH is not: set the path of the certificate it unlocks"))
		}
		if cfg.ClientCertificateSendX5C {
			errs = append(errs, errors.New("CLIENT_CERTIFICATE_SEND_X5C is set but CLIENT_CERTIFICATE_PATH is not: it applies to a certificate only"))
		}
	}
	return errs
}

// checkHost accepts an IP address or a host name to listen on.
func checkHost(h string) error {
	if _, err := netip.ParseAddr(h); err == nil {
		return nil
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || strings.Trim(label, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != "" {
			return fmt.Errorf("HOST must be an IP address such as 127.0.0.1 or 0.0.0.0, or a host name, not %q", h)
		}
	}
	return nil
}

// ListenAddr is where the app listens: HOST and PORT.
func (c Config) ListenAddr() string {
	return net.JoinHostPort(c.Host, strconv.Itoa(c.Port))
}

// placeholder reports whether v is an unfilled value copied from a sample
// file, such as "Enter_the_Tenant_Name_Here" or "<client id>".
func placeholder(v string) bool {
	return strings.Contains(v, "Enter_") || strings.ContainsAny(v, "<>{}")
}

// checkAuthority rejects authorities that MSAL cannot use, with the
// variable's name: a malformed authority used to crash the Python samples at
// their first request.
func checkAuthority(a string) error {
	if placeholder(a) {
		return fmt.Errorf("AUTHORITY (or TENANT_ID) still holds a placeholder: %q", a)
	}
	u, err := url.Parse(a)
	if err != nil || u.Host == "" {
		return fmt.Errorf("AUTHORITY must be an absolute URL such as https://login.microsoftonline.com/<tenant>, not %q", a)
	}
	if u.Scheme != "https" {
		return fmt.Errorf("AUTHORITY must use https, not %q", u.Scheme)
	}
	// An External ID tenant's bare https://<sub>.ciamlogin.com names its
	// tenant by its subdomain (identity.ParseAuthority).
	bareCIAM := strings.HasSuffix(strings.ToLower(u.Hostname()), ".ciamlogin.com") && strings.Trim(u.Path, "/") == ""
	if !bareCIAM && (strings.Trim(u.Path, "/") == "" || strings.Count(strings.Trim(u.Path, "/"), "/") > 0) {
		return fmt.Errorf("AUTHORITY must be https://<host>/<tenant> with the tenant as its only path segment, not %q", a)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("AUTHORITY must not have a query or fragment: %q", a)
	}
	if _, err := identity.ParseAuthority(a, ""); err != nil {
		return fmt.Errorf("AUTHORITY: %w", err)
	}
	return nil
}

// checkOIDCAuthority checks OIDC_AUTHORITY, an External ID tenant's
// authority on a custom URL domain, which replaces AUTHORITY.
func checkOIDCAuthority(authority, oidcAuthority string) []error {
	switch {
	case oidcAuthority == "":
		return nil
	case authority != "":
		return []error{errors.New("AUTHORITY and OIDC_AUTHORITY are both set: keep AUTHORITY for Entra ID or an External ID tenant on ciamlogin.com, or OIDC_AUTHORITY for an External ID tenant on a custom URL domain")}
	case placeholder(oidcAuthority):
		return []error{fmt.Errorf("OIDC_AUTHORITY still holds a placeholder: %q", oidcAuthority)}
	}
	if _, err := identity.ParseAuthority("", oidcAuthority); err != nil {
		return []error{fmt.Errorf("OIDC_AUTHORITY: %w", err)}
	}
	return nil
}

// checkRedirectURI requires an absolute https URI whose path is not "/": the
// app mounts its sign-in callback on that path.
func checkRedirectURI(r string) error {
	u, err := url.Parse(r)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return fmt.Errorf("REDIRECT_URI must be an absolute URL such as https://localhost:5000/auth/redirect, not %q", r)
	}
	if u.Scheme != "https" {
		return fmt.Errorf("REDIRECT_URI must use https (Entra ID requires it except for localhost, and browsers reach the app over HTTPS, behind a proxy too), not %q", r)
	}
	if u.Path == "" || u.Path == "/" {
		return fmt.Errorf("REDIRECT_URI needs a path of its own, such as /auth/redirect, not %q", r)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("REDIRECT_URI must not have a query or fragment: %q", r)
	}
	return nil
}

// checkRedisURL requires a URL go-redis can dial. The message never repeats
// the URL's password.
func checkRedisURL(v string) error {
	if v == "" {
		return errors.New("REDIS_URL is required when SESSION_TYPE is redis, e.g. redis://127.0.0.1:6379/0")
	}
	u, err := url.Parse(v)
	if err != nil {
		return errors.New("REDIS_URL is not a URL; want one such as redis://127.0.0.1:6379/0 or rediss://:password@host:6380/0")
	}
	switch u.Scheme {
	case "redis", "rediss":
		if u.Host == "" {
			return fmt.Errorf("REDIS_URL needs a host, such as redis://127.0.0.1:6379/0, not %q", u.Redacted())
		}
	case "unix":
		if u.Path == "" {
			return fmt.Errorf("REDIS_URL needs a socket path, such as unix:///run/redis/redis.sock, not %q", u.Redacted())
		}
	default:
		return fmt.Errorf("REDIS_URL must start with redis://, rediss:// or unix://, not %q", u.Redacted())
	}
	return nil
}

func checkURL(name, v string) error {
	u, err := url.Parse(v)
	if err != nil || u.Host == "" || u.Scheme != "https" {
		return fmt.Errorf("%s must be an absolute https URL, not %q", name, v)
	}
	return nil
}

// Origin returns the scheme and host of the redirect URI: where the app is
// reached, and where the browser returns after sign-out.
func (c Config) Origin() string {
	u, _ := url.Parse(c.RedirectURI)
	return u.Scheme + "://" + u.Host
}

// RedirectPath returns the path the sign-in callback is served on.
func (c Config) RedirectPath() string {
	u, _ := url.Parse(c.RedirectURI)
	return u.Path
}
