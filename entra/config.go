// Configuration: every sign-in setting, read from the environment with the Python samples' names, or filled in by the program.

package entra

import (
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"ms-identity-go-webapp/identity"
	"ms-identity-go-webapp/session"
)

// Config configures sign-in. ConfigFromEnv fills it from the environment;
// a program may also fill it itself. New checks it.
type Config struct {
	// Authority is the tenant's sign-in authority:
	// https://login.microsoftonline.com/<tenant ID> for Entra ID, or
	// https://<subdomain>.ciamlogin.com/<subdomain>.onmicrosoft.com for
	// External ID (AUTHORITY, or TENANT_ID for the first form).
	Authority string
	// OIDCAuthority is an External ID tenant's authority on a custom URL
	// domain, https://login.contoso.com/<tenant ID> (OIDC_AUTHORITY, as the
	// identity library names it), instead of Authority.
	OIDCAuthority string
	// ClientID is the app registration's Application (client) ID
	// (CLIENT_ID).
	ClientID string

	// The app's credential: exactly one of a client secret
	// (CLIENT_SECRET), a certificate file (CLIENT_CERTIFICATE_PATH, with
	// CLIENT_CERTIFICATE_PASSWORD and CLIENT_CERTIFICATE_SEND_X5C) or a
	// federated token file (CLIENT_ASSERTION_FILE, or
	// AZURE_FEDERATED_TOKEN_FILE as Azure's workload identity names it).
	ClientSecret              string
	ClientCertificatePath     string
	ClientCertificatePassword string
	ClientCertificateSendX5C  bool
	ClientAssertionFile       string
	// ClientAssertionVar names the variable that set ClientAssertionFile,
	// for messages; empty means CLIENT_ASSERTION_FILE.
	ClientAssertionVar string

	// RedirectURI is the absolute URI the identity provider sends the
	// browser back to, registered in the app registration (REDIRECT_URI;
	// default https://localhost:$PORT/auth/redirect). Its path is served
	// by Middleware.
	RedirectURI string
	// Scopes are asked for at sign-in (SCOPE; default User.Read): their
	// access token is what ScopesRequired gives for them without asking
	// again.
	Scopes []string
	// ClientCapabilities are declared to Entra ID on every sign-in and
	// token request (CLIENT_CAPABILITIES; default cp1: the app answers
	// claims challenges). Empty declares none.
	ClientCapabilities []string

	// SessionType is where signed-in users' sessions live: "filesystem"
	// (SessionDir) or "redis" (RedisURL), as the Python samples'
	// SESSION_TYPE. Files suit one instance; several instances share
	// Redis.
	SessionType string
	SessionDir  string // SESSION_DIR; default .sessions
	RedisURL    string // REDIS_URL, e.g. redis://127.0.0.1:6379/0
	// SessionSecret seals the sessions and the sign-in cookies
	// (SESSION_SECRET, 32 characters or more; `openssl rand -hex 32`).
	SessionSecret string
	// SessionBackend, when set, keeps the sessions in a store of the app's
	// own (PostgreSQL, DynamoDB: a session.Backend that passes the
	// conformance suite in session/sessiontest) instead of SessionType's.
	// Close closes it.
	SessionBackend session.Backend
	// SessionSecretPrevious is the secret being rotated out
	// (SESSION_SECRET_PREVIOUS): what it sealed still opens, and is sealed
	// again with SessionSecret when next saved.
	SessionSecretPrevious string
	// SessionAbsoluteLifetime ends a session this long after the sign-in
	// that created it, however active its user, who then signs in again
	// (SESSION_ABSOLUTE_LIFETIME, a Go duration such as 12h or 90m; default
	// 12h: NIST SP 800-63B asks for reauthentication at least every 12
	// hours at AAL2, whatever the activity). Zero means the default.
	SessionAbsoluteLifetime time.Duration
	// SessionMaxPerUser is how many sessions one user keeps at once: a
	// sign-in beyond it ends the user's oldest session
	// (SESSION_MAX_PER_USER; default 10, far more than a phone, a laptop
	// and a few browsers need, far fewer than a script signing in again
	// and again through single sign-on makes). Zero means the default.
	SessionMaxPerUser int

	// LoginPath, LogoutPath and FrontChannelLogoutPath are the paths
	// Middleware answers besides RedirectURI's; empty means /login,
	// /logout and /auth/frontchannel-logout. Register the app's origin
	// plus FrontChannelLogoutPath as its front-channel logout URL.
	LoginPath, LogoutPath, FrontChannelLogoutPath string
	// PostLogoutRedirectURI is where the identity provider sends the
	// browser after sign-out; empty means RedirectURI's origin plus "/".
	PostLogoutRedirectURI string

	// Logger receives what the package logs: sign-ins, refusals, errors.
	// Nil discards it. No line holds a token, code, password or secret.
	Logger *slog.Logger
	// HTTPClient calls the identity provider and downstream APIs. Nil
	// uses a client with a 30 s timeout that trusts the system's roots.
	HTTPClient *http.Client

	// Templates, when set, holds the app's own versions of the package's
	// pages, as Python apps put theirs under templates/identity/:
	// "base.html", the layout (it defines "base", which writes the page
	// around the "title" and "main" blocks each page defines; see Layout),
	// and "identity/<page>.html" for any of login, logout, auth_error,
	// consent_declined, conditional_access, error and frontchannel_logout.
	// A page the app does not give is the package's own, in the app's
	// layout.
	Templates fs.FS
	// TemplateFuncs are functions the app's templates call.
	TemplateFuncs template.FuncMap
	// LayoutData returns what the app's layout shows of a request besides
	// the user (Layout.App): a banner, the year, a version. It must be
	// comparable: a rendered layout is kept for each value.
	LayoutData func(r *http.Request) any
}

// ConfigError names every setting that is missing or malformed, in one
// error.
type ConfigError struct {
	// Missing are settings sign-in cannot do without, each a sentence that
	// says what to set.
	Missing []string
	// Invalid are settings whose value cannot be used, each naming the
	// variable.
	Invalid []error
}

// Error lists the settings at fault, malformed first, in one line.
func (e *ConfigError) Error() string {
	var lines []string
	for _, err := range e.Invalid {
		lines = append(lines, err.Error())
	}
	lines = append(lines, e.Missing...)
	return "sign-in settings: " + strings.Join(lines, "; ")
}

// ConfigFromEnv reads the configuration from the environment, with the
// Python samples' names (see Config). The error is a *ConfigError naming
// every missing or malformed setting; the Config is filled as far as it
// could be, so that an app can still show which settings it lacks.
func ConfigFromEnv() (Config, error) { return ConfigFromLookup(os.LookupEnv) }

// minSecretLength is the shortest SESSION_SECRET accepted: the session keys
// are derived from it, and a short one can be guessed.
const minSecretLength = 32

// ConfigFromLookup is ConfigFromEnv reading through lookup, which tells a
// setting set to "" from one not set (os.LookupEnv; a test's map). An empty
// value counts as unset, but for CLIENT_CAPABILITIES, where it declares
// none.
func ConfigFromLookup(lookup func(string) (string, bool)) (Config, error) {
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
		ClientID:              get("CLIENT_ID", ""),
		ClientSecret:          get("CLIENT_SECRET", ""),
		SessionSecret:         get("SESSION_SECRET", ""),
		SessionSecretPrevious: get("SESSION_SECRET_PREVIOUS", ""),
		SessionDir:            get("SESSION_DIR", ".sessions"),
		SessionType:           strings.ToLower(get("SESSION_TYPE", "filesystem")),
		RedisURL:              get("REDIS_URL", ""),
		Scopes:                strings.Fields(get("SCOPE", "User.Read")),
	}
	e := &ConfigError{}

	// No default tenant: "common" would silently accept users, and their
	// app roles, from every tenant where someone consented to the app.
	cfg.Authority = get("AUTHORITY", "")
	cfg.OIDCAuthority = get("OIDC_AUTHORITY", "")
	if tenant := get("TENANT_ID", ""); cfg.Authority == "" && cfg.OIDCAuthority == "" && tenant != "" {
		cfg.Authority = "https://login.microsoftonline.com/" + tenant
	}
	port := get("PORT", "5000")
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		port = "5000" // the server reports a malformed PORT
	}
	cfg.RedirectURI = get("REDIRECT_URI", "https://localhost:"+port+"/auth/redirect")
	e.Invalid = append(e.Invalid, cfg.loadCredentialSettings(getenv, get)...)
	e.Invalid = append(e.Invalid, cfg.loadSessionLimits(get)...)

	capabilities := "cp1"
	if v, ok := lookup("CLIENT_CAPABILITIES"); ok {
		capabilities = v
	}
	for _, c := range strings.FieldsFunc(capabilities, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		if !capabilityPattern.MatchString(c) {
			e.Invalid = append(e.Invalid, fmt.Errorf("CLIENT_CAPABILITIES must list capabilities such as cp1 (comma-separated), or be empty for none, not %q", capabilities))
			cfg.ClientCapabilities = nil
			break
		}
		cfg.ClientCapabilities = append(cfg.ClientCapabilities, c)
	}
	if err := cfg.check(e); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// loadSessionLimits reads the sessions' absolute lifetime and how many one
// user keeps; a value that is malformed, zero or negative is an error
// naming its variable, and leaves the default.
func (c *Config) loadSessionLimits(get func(name, def string) string) []error {
	var errs []error
	c.SessionAbsoluteLifetime = session.DefaultAbsoluteLifetime
	if v := get("SESSION_ABSOLUTE_LIFETIME", ""); v != "" {
		if d, err := time.ParseDuration(v); err == nil && d > 0 {
			c.SessionAbsoluteLifetime = d
		} else {
			errs = append(errs, fmt.Errorf("SESSION_ABSOLUTE_LIFETIME must be a positive duration such as 12h or 90m, not %q", v))
		}
	}
	c.SessionMaxPerUser = session.DefaultMaxPerOwner
	if v := get("SESSION_MAX_PER_USER", ""); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			c.SessionMaxPerUser = n
		} else {
			errs = append(errs, fmt.Errorf("SESSION_MAX_PER_USER must be a whole number of sessions, 1 or more, not %q", v))
		}
	}
	return errs
}

// capabilityPattern is the shape of a client capability (Entra knows cp1).
var capabilityPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// check adds to e what is wrong with c, and returns e if anything is.
// Placeholders copied from .env.sample count as unset.
func (c *Config) check(e *ConfigError) error {
	if c.Authority != "" {
		if err := checkAuthority(c.Authority); err != nil {
			e.Invalid = append(e.Invalid, err)
		}
		c.Authority = strings.TrimSuffix(c.Authority, "/")
	}
	e.Invalid = append(e.Invalid, checkOIDCAuthority(c.Authority, c.OIDCAuthority)...)
	if err := checkRedirectURI(c.RedirectURI); err != nil {
		e.Invalid = append(e.Invalid, err)
	}
	if p := c.SessionSecretPrevious; p != "" && len(p) < minSecretLength {
		e.Invalid = append(e.Invalid, fmt.Errorf("SESSION_SECRET_PREVIOUS, when set, must be the previous SESSION_SECRET (%d characters or more)", minSecretLength))
	}
	switch c.SessionType {
	case "", "filesystem":
	case "redis":
		if err := checkRedisURL(c.RedisURL); err != nil {
			e.Invalid = append(e.Invalid, err)
		}
	default:
		e.Invalid = append(e.Invalid, fmt.Errorf("SESSION_TYPE must be filesystem or redis, not %q", c.SessionType))
	}
	if c.SessionAbsoluteLifetime < 0 {
		e.Invalid = append(e.Invalid, fmt.Errorf("SESSION_ABSOLUTE_LIFETIME must be a positive duration such as 12h, not %s", c.SessionAbsoluteLifetime))
	}
	if c.SessionMaxPerUser < 0 {
		e.Invalid = append(e.Invalid, fmt.Errorf("SESSION_MAX_PER_USER must be 1 or more, not %d", c.SessionMaxPerUser))
	}
	seen := map[string]string{}
	d := c.withDefaults()
	for _, p := range []struct{ name, path, set string }{{"REDIRECT_URI's path", d.RedirectPath(), "x"},
		{"LoginPath", d.LoginPath, c.LoginPath}, {"LogoutPath", d.LogoutPath, c.LogoutPath}, {"FrontChannelLogoutPath", d.FrontChannelLogoutPath, c.FrontChannelLogoutPath}} {
		if p.set != "" && (!strings.HasPrefix(p.path, "/") || p.path == "/") {
			e.Invalid = append(e.Invalid, fmt.Errorf("%s must be a path such as /login, not %q", p.name, p.path))
			continue
		}
		if other, ok := seen[p.path]; ok && p.path != "" {
			e.Invalid = append(e.Invalid, fmt.Errorf("%s and %s are both %q: each sign-in route needs a path of its own", other, p.name, p.path))
		}
		seen[p.path] = p.name
	}

	if c.ClientID == "" || placeholder(c.ClientID) {
		e.Missing = append(e.Missing, "CLIENT_ID is not set: use the Application (client) ID of your app registration.")
	}
	if c.Authority == "" && c.OIDCAuthority == "" {
		e.Missing = append(e.Missing, "AUTHORITY (or TENANT_ID) is not set: use https://login.microsoftonline.com/<your tenant ID>.")
	}
	if c.ClientSecret == "" && c.ClientCertificatePath == "" && c.ClientAssertionFile == "" {
		e.Missing = append(e.Missing, "CLIENT_SECRET is not set: create a client secret under Certificates & secrets "+
			"(or, in production, use a certificate with CLIENT_CERTIFICATE_PATH or a federated token with CLIENT_ASSERTION_FILE).")
	}
	if len(c.SessionSecret) < minSecretLength {
		e.Missing = append(e.Missing, fmt.Sprintf(
			"SESSION_SECRET is missing or shorter than %d characters: generate one with `openssl rand -hex 32`.", minSecretLength))
	}
	if len(e.Missing) > 0 || len(e.Invalid) > 0 {
		return e
	}
	return nil
}

// loadCredentialSettings reads the three kinds of client credential, of
// which exactly one may be set: two at once would leave it to chance which
// one Entra ID sees. A placeholder copied from .env.sample counts as unset.
// The files themselves are read by New.
func (c *Config) loadCredentialSettings(getenv func(string) string, get func(name, def string) string) []error {
	var errs []error
	if placeholder(c.ClientSecret) {
		c.ClientSecret = ""
	}
	c.ClientCertificatePath = get("CLIENT_CERTIFICATE_PATH", "")
	// The password is taken as it is: spaces may be part of it.
	c.ClientCertificatePassword = getenv("CLIENT_CERTIFICATE_PASSWORD")
	if v := get("CLIENT_CERTIFICATE_SEND_X5C", ""); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("CLIENT_CERTIFICATE_SEND_X5C must be true or false, not %q", v))
		}
		c.ClientCertificateSendX5C = b
	}
	for _, name := range []string{"CLIENT_ASSERTION_FILE", "AZURE_FEDERATED_TOKEN_FILE"} {
		if v := get(name, ""); v != "" {
			c.ClientAssertionFile, c.ClientAssertionVar = v, name
			break
		}
	}
	return append(errs, c.checkCredential()...)
}

// checkCredential checks that at most one credential is set, and the
// certificate's settings only with a certificate.
func (c *Config) checkCredential() []error {
	var errs []error
	var set []string
	if c.ClientSecret != "" {
		set = append(set, "CLIENT_SECRET")
	}
	if c.ClientCertificatePath != "" {
		set = append(set, "CLIENT_CERTIFICATE_PATH")
	}
	if c.ClientAssertionFile != "" {
		set = append(set, c.assertionVar())
	}
	if len(set) > 1 {
		both := "both"
		if len(set) > 2 {
			both = "all"
		}
		errs = append(errs, fmt.Errorf("%s are %s set, but the app takes exactly one credential: keep one of them (a secret, a certificate or a federated token) and unset the others",
			strings.Join(set, " and "), both))
	}
	if c.ClientCertificatePath == "" {
		if c.ClientCertificatePassword != "" {
			errs = append(errs, errors.New("CLIENT_CERTIFICATE_PASSWORD is set but CLIENT_CERTIFICATE_PATH is not: set the path of the certificate it unlocks"))
		}
		if c.ClientCertificateSendX5C {
			errs = append(errs, errors.New("CLIENT_CERTIFICATE_SEND_X5C is set but CLIENT_CERTIFICATE_PATH is not: it applies to a certificate only"))
		}
	}
	return errs
}

func (c *Config) assertionVar() string {
	if c.ClientAssertionVar != "" {
		return c.ClientAssertionVar
	}
	return "CLIENT_ASSERTION_FILE"
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

// checkRedirectURI requires an absolute https URI whose path is not "/":
// Middleware serves the sign-in callback on that path.
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

// Origin returns the scheme and host of the redirect URI: where the app is
// reached, and where the browser returns after sign-out.
func (c Config) Origin() string {
	u, err := url.Parse(c.RedirectURI)
	if err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// RedirectPath returns the path the sign-in callback is served on.
func (c Config) RedirectPath() string {
	u, err := url.Parse(c.RedirectURI)
	if err != nil {
		return ""
	}
	return u.Path
}

// withDefaults returns c with the defaults of the paths and the session
// settings filled in.
func (c Config) withDefaults() Config {
	if c.LoginPath == "" {
		c.LoginPath = "/login"
	}
	if c.LogoutPath == "" {
		c.LogoutPath = "/logout"
	}
	if c.FrontChannelLogoutPath == "" {
		c.FrontChannelLogoutPath = DefaultFrontChannelLogoutPath
	}
	if c.PostLogoutRedirectURI == "" {
		c.PostLogoutRedirectURI = c.Origin() + "/"
	}
	if c.SessionType == "" {
		c.SessionType = "filesystem"
	}
	if c.SessionDir == "" {
		c.SessionDir = ".sessions"
	}
	if c.SessionAbsoluteLifetime == 0 {
		c.SessionAbsoluteLifetime = session.DefaultAbsoluteLifetime
	}
	if c.SessionMaxPerUser == 0 {
		c.SessionMaxPerUser = session.DefaultMaxPerOwner
	}
	if c.Scopes == nil {
		c.Scopes = []string{"User.Read"}
	}
	return c
}

// DefaultFrontChannelLogoutPath is the path of the app's front-channel
// logout URL unless Config.FrontChannelLogoutPath says otherwise.
const DefaultFrontChannelLogoutPath = "/auth/frontchannel-logout"
