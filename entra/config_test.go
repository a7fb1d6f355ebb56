// Tests of the configuration: ConfigFromLookup tells the settings sign-in lacks from the ones it cannot use, and New checks a Config it is given.

package entra

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// validEnv is a complete configuration with a client secret.
func validEnv() map[string]string {
	return map[string]string{
		"CLIENT_ID":      "11111111-2222-3333-4444-555555555555",
		"CLIENT_SECRET":  "a-secret",
		"AUTHORITY":      "https://login.microsoftonline.com/contoso.onmicrosoft.com",
		"SESSION_SECRET": strings.Repeat("s", 32),
	}
}

// lookupEnv is os.LookupEnv over a map: a key present with "" is set but
// empty.
func lookupEnv(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// A missing setting is in Missing, a malformed one in Invalid, each naming
// its variable, all of them in one *ConfigError; the Config is filled as far
// as it could be.
func TestConfigFromLookupError(t *testing.T) {
	cfg, err := ConfigFromLookup(lookupEnv(validEnv()))
	if err != nil {
		t.Fatalf("a complete configuration: %v", err)
	}
	if cfg.RedirectURI != "https://localhost:5000/auth/redirect" || strings.Join(cfg.Scopes, " ") != "User.Read" ||
		strings.Join(cfg.ClientCapabilities, " ") != "cp1" || cfg.SessionType != "filesystem" {
		t.Errorf("defaults: %+v", cfg)
	}

	e := validEnv()
	delete(e, "CLIENT_ID")
	e["SESSION_SECRET"] = "short"
	e["REDIRECT_URI"] = "http://localhost:5000/auth/redirect"
	e["SESSION_TYPE"] = "memcached"
	cfg, err = ConfigFromLookup(lookupEnv(e))
	var cerr *ConfigError
	if !errors.As(err, &cerr) {
		t.Fatalf("error %v is not a *ConfigError", err)
	}
	if len(cerr.Missing) != 2 || !strings.HasPrefix(cerr.Missing[0], "CLIENT_ID") || !strings.HasPrefix(cerr.Missing[1], "SESSION_SECRET") {
		t.Errorf("Missing = %q, want CLIENT_ID's and SESSION_SECRET's", cerr.Missing)
	}
	if len(cerr.Invalid) != 2 || !strings.HasPrefix(cerr.Invalid[0].Error(), "REDIRECT_URI") || !strings.HasPrefix(cerr.Invalid[1].Error(), "SESSION_TYPE") {
		t.Errorf("Invalid = %q, want REDIRECT_URI's and SESSION_TYPE's", cerr.Invalid)
	}
	for _, name := range []string{"CLIENT_ID", "SESSION_SECRET", "REDIRECT_URI", "SESSION_TYPE"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not name %s", err, name)
		}
	}
	if cfg.Authority != "https://login.microsoftonline.com/contoso.onmicrosoft.com" || cfg.ClientSecret != "a-secret" {
		t.Errorf("the settings that were fine are not kept: %+v", cfg)
	}

	// New checks a Config a program filled in itself the same way.
	cfg, _ = ConfigFromLookup(lookupEnv(validEnv()))
	cfg.SessionDir = t.TempDir()
	cfg.ClientID, cfg.LoginPath = "", "login"
	if _, err := New(cfg); !errors.As(err, &cerr) || len(cerr.Missing) != 1 || len(cerr.Invalid) != 1 ||
		!strings.HasPrefix(cerr.Missing[0], "CLIENT_ID") || !strings.HasPrefix(cerr.Invalid[0].Error(), "LoginPath") {
		t.Errorf("New with no client id and a relative LoginPath: %v", err)
	}
}

// The sessions' absolute lifetime and their number per user: 12h and 10
// unless set; a malformed, zero or negative value is an error naming its
// variable, and New passes the values to the session store.
func TestConfigSessionLimits(t *testing.T) {
	cfg, err := ConfigFromLookup(lookupEnv(validEnv()))
	if err != nil || cfg.SessionAbsoluteLifetime != 12*time.Hour || cfg.SessionMaxPerUser != 10 {
		t.Fatalf("defaults: %s, %d (%v)", cfg.SessionAbsoluteLifetime, cfg.SessionMaxPerUser, err)
	}
	e := validEnv()
	e["SESSION_ABSOLUTE_LIFETIME"], e["SESSION_MAX_PER_USER"] = "90m", "3"
	if cfg, err = ConfigFromLookup(lookupEnv(e)); err != nil || cfg.SessionAbsoluteLifetime != 90*time.Minute || cfg.SessionMaxPerUser != 3 {
		t.Fatalf("set: %s, %d (%v)", cfg.SessionAbsoluteLifetime, cfg.SessionMaxPerUser, err)
	}
	for _, tt := range []struct{ name, value string }{
		{"SESSION_ABSOLUTE_LIFETIME", "12"}, {"SESSION_ABSOLUTE_LIFETIME", "0s"}, {"SESSION_ABSOLUTE_LIFETIME", "-1h"},
		{"SESSION_MAX_PER_USER", "ten"}, {"SESSION_MAX_PER_USER", "0"}, {"SESSION_MAX_PER_USER", "-2"},
	} {
		e := validEnv()
		e[tt.name] = tt.value
		_, err := ConfigFromLookup(lookupEnv(e))
		var cerr *ConfigError
		if !errors.As(err, &cerr) || len(cerr.Invalid) != 1 || !strings.HasPrefix(cerr.Invalid[0].Error(), tt.name) {
			t.Errorf("%s=%s: %v, want a ConfigError naming %s", tt.name, tt.value, err, tt.name)
		}
	}

	cfg, _ = ConfigFromLookup(lookupEnv(validEnv()))
	cfg.SessionDir = t.TempDir()
	cfg.SessionAbsoluteLifetime, cfg.SessionMaxPerUser = 2*time.Hour, 4
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if a.sessions.AbsoluteLifetime != 2*time.Hour || a.sessions.MaxPerOwner != 4 {
		t.Errorf("the store got %s and %d", a.sessions.AbsoluteLifetime, a.sessions.MaxPerOwner)
	}
}
