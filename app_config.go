// Configuration: every setting of the app, read from the environment and .env with the Python samples' names.

package main

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Config is the app's configuration. Load it with LoadConfig.
type Config struct {
	ClientID      string
	ClientSecret  string
	Authority     string
	RedirectURI   string
	Scopes        []string
	GraphEndpoint string
	GraphTimeout  time.Duration
	AdminRole     string
	SessionSecret string
	SessionDir    string
	SessionType   string // "filesystem" or "redis"
	RedisURL      string
	Port          int
	TLSCert       string
	TLSKey        string

	// SessionSecretPrevious is the secret being rotated out: what it sealed
	// still opens, and is sealed again with SessionSecret when next saved.
	SessionSecretPrevious string

	// Problems are settings the app can start without but cannot sign anyone
	// in without. Every page shows them on the configuration page.
	Problems []string
}

// minSecretLength is the shortest SESSION_SECRET accepted: the session keys
// are derived from it, and a short one can be guessed.
const minSecretLength = 32

// LoadConfig reads the configuration through getenv (os.Getenv in the app).
// A missing client ID, secret or session secret is a Problem, shown on every
// page. A malformed value stops start-up: the error names the variable.
func LoadConfig(getenv func(string) string) (Config, error) {
	get := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	cfg := Config{
		ClientID:      get("CLIENT_ID", ""),
		ClientSecret:  get("CLIENT_SECRET", ""),
		GraphEndpoint: get("GRAPH_ENDPOINT", "https://graph.microsoft.com/v1.0/me"),
		AdminRole:     get("ADMIN_ROLE", "admin"),
		SessionSecret: get("SESSION_SECRET", ""),
		SessionDir:    get("SESSION_DIR", ".sessions"),
		SessionType:   strings.ToLower(get("SESSION_TYPE", "filesystem")),
		RedisURL:      get("REDIS_URL", ""),
		TLSCert:       get("TLS_CERT", "ssl/localhost.crt"),
		TLSKey:        get("TLS_KEY", "ssl/localhost.key"),
		Scopes:        strings.Fields(get("SCOPE", "User.Read")),
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

	// No default tenant: "common" would silently accept users, and their
	// app roles, from every tenant where someone consented to the app.
	cfg.Authority = get("AUTHORITY", "")
	if tenant := get("TENANT_ID", ""); cfg.Authority == "" && tenant != "" {
		cfg.Authority = "https://login.microsoftonline.com/" + tenant
	}
	if cfg.Authority != "" {
		if err := checkAuthority(cfg.Authority); err != nil {
			errs = append(errs, err)
		}
		cfg.Authority = strings.TrimSuffix(cfg.Authority, "/")
	}

	cfg.RedirectURI = get("REDIRECT_URI", fmt.Sprintf("https://localhost:%d/auth/redirect", cfg.Port))
	if err := checkRedirectURI(cfg.RedirectURI); err != nil {
		errs = append(errs, err)
	}
	if err := checkURL("GRAPH_ENDPOINT", cfg.GraphEndpoint); err != nil {
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
	if err := errors.Join(errs...); err != nil {
		return cfg, err
	}

	if cfg.ClientID == "" || placeholder(cfg.ClientID) {
		cfg.Problems = append(cfg.Problems, "CLIENT_ID is not set: use the Application (client) ID of your app registration.")
	}
	if cfg.Authority == "" {
		cfg.Problems = append(cfg.Problems, "AUTHORITY (or TENANT_ID) is not set: use https://login.microsoftonline.com/<your tenant ID>.")
	}
	if cfg.ClientSecret == "" || placeholder(cfg.ClientSecret) {
		cfg.Problems = append(cfg.Problems, "CLIENT_SECRET is not set: create a client secret under Certificates & secrets.")
	}
	if len(cfg.SessionSecret) < minSecretLength {
		cfg.Problems = append(cfg.Problems, fmt.Sprintf(
			"SESSION_SECRET is missing or shorter than %d characters: generate one with `openssl rand -hex 32`.", minSecretLength))
	}
	return cfg, nil
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
	if strings.Trim(u.Path, "/") == "" || strings.Count(strings.Trim(u.Path, "/"), "/") > 0 {
		return fmt.Errorf("AUTHORITY must be https://<host>/<tenant> with the tenant as its only path segment, not %q", a)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("AUTHORITY must not have a query or fragment: %q", a)
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
		return fmt.Errorf("REDIRECT_URI must use https (Entra ID requires it except for localhost, and this app serves only https), not %q", r)
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
