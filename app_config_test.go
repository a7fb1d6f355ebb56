// Tests of the app's settings: loadConfig reads every one, names each malformed one, and tells missing sign-in settings (the configuration page) from malformed ones (a start-up error).

package main

import (
	"strings"
	"testing"
	"time"
)

// env reads a map as an environment where an empty value is unset, as the
// settings were read from getenv before lookups told them apart.
func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v := m[k]; return v, v != "" }
}

// lookupEnv is os.LookupEnv over a map: a key present with "" is set but
// empty.
func lookupEnv(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func validEnv() map[string]string {
	return map[string]string{
		"CLIENT_ID":      "11111111-2222-3333-4444-555555555555",
		"CLIENT_SECRET":  "a-secret",
		"AUTHORITY":      "https://login.microsoftonline.com/contoso.onmicrosoft.com",
		"SESSION_SECRET": strings.Repeat("s", 32),
	}
}

func TestLoadConfigDefaults(t *testing.T) {
	cfg, err := loadConfig(env(validEnv()))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Missing) != 0 {
		t.Fatalf("missing: %v", cfg.Missing)
	}
	checks := []struct{ name, got, want string }{
		{"RedirectURI", cfg.Entra.RedirectURI, "https://localhost:5000/auth/redirect"},
		{"RedirectPath", cfg.Entra.RedirectPath(), "/auth/redirect"},
		{"Origin", cfg.Entra.Origin(), "https://localhost:5000"},
		{"GraphEndpoint", cfg.Pages.Graph.URL(cfg.Pages.MeEndpoint), "https://graph.microsoft.com/v1.0/me"},
		{"CalendarEndpoint", cfg.Pages.Graph.URL(cfg.Pages.CalendarEndpoint), "https://graph.microsoft.com/v1.0/me/events"},
		{"AdminRole", cfg.Pages.AdminRole, "admin"},
		{"Scopes", strings.Join(cfg.Entra.Scopes, " "), "User.Read"},
		{"Graph scopes", strings.Join(cfg.Pages.Graph.Scopes, " "), "User.Read"},
		{"CalendarScopes", strings.Join(cfg.Pages.CalendarScopes, " "), "Calendars.Read"},
		{"TLSCert", cfg.Server.TLSCert, "ssl/localhost.crt"},
		{"SessionType", cfg.Entra.SessionType, "filesystem"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if cfg.Server.Port != 5000 || cfg.Server.ListenAddr() != "127.0.0.1:5000" {
		t.Errorf("Port = %d, ListenAddr = %q", cfg.Server.Port, cfg.Server.ListenAddr())
	}
	if !cfg.Server.TLS || !cfg.Server.TrustedProxies.Empty() || cfg.Server.LogFormat != "text" || cfg.Server.DrainPeriod != 5*time.Second {
		t.Errorf("TLS %v, TrustedProxies %s, LogFormat %q, DrainPeriod %s", cfg.Server.TLS, cfg.Server.TrustedProxies, cfg.Server.LogFormat, cfg.Server.DrainPeriod)
	}
	if cfg.Pages.Graph.Timeout != 10*time.Second {
		t.Errorf("Graph.Timeout = %s", cfg.Pages.Graph.Timeout)
	}
}

// Behind a proxy: plain HTTP on all interfaces, the proxy's addresses trusted.
func TestLoadConfigBehindProxy(t *testing.T) {
	e := validEnv()
	e["HOST"], e["PORT"], e["TLS"] = "0.0.0.0", "8000", "OFF"
	e["TRUSTED_PROXIES"] = "10.0.0.0/8, 192.0.2.7"
	e["REDIRECT_URI"] = "https://app.example.com/auth/redirect"
	e["LOG_FORMAT"], e["DRAIN_PERIOD"] = "json", "0s"
	cfg, err := loadConfig(env(e))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.TLS || cfg.Server.ListenAddr() != "0.0.0.0:8000" || cfg.Server.TrustedProxies.String() != "10.0.0.0/8, 192.0.2.7" ||
		cfg.Server.LogFormat != "json" || cfg.Server.DrainPeriod != 0 || cfg.Entra.Origin() != "https://app.example.com" {
		t.Errorf("config: TLS %v, listen %s, proxies %s, log %s, drain %s, origin %s",
			cfg.Server.TLS, cfg.Server.ListenAddr(), cfg.Server.TrustedProxies, cfg.Server.LogFormat, cfg.Server.DrainPeriod, cfg.Entra.Origin())
	}
	e["HOST"] = "::"
	if cfg, err := loadConfig(env(e)); err != nil || cfg.Server.ListenAddr() != "[::]:8000" {
		t.Errorf("HOST=:: gives %q, %v", cfg.Server.ListenAddr(), err)
	}
}

func TestLoadConfigAuthorities(t *testing.T) {
	tests := []struct {
		name string
		set  map[string]string
		want string
	}{
		{"tenant id", map[string]string{"AUTHORITY": "", "TENANT_ID": "contoso.onmicrosoft.com"}, "https://login.microsoftonline.com/contoso.onmicrosoft.com"},
		{"external id", map[string]string{"AUTHORITY": "https://contoso.ciamlogin.com/contoso.onmicrosoft.com/"}, "https://contoso.ciamlogin.com/contoso.onmicrosoft.com"},
		{"explicit common", map[string]string{"AUTHORITY": "https://login.microsoftonline.com/common"}, "https://login.microsoftonline.com/common"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := validEnv()
			for k, v := range tt.set {
				e[k] = v
			}
			cfg, err := loadConfig(env(e))
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Entra.Authority != tt.want {
				t.Errorf("Authority = %q, want %q", cfg.Entra.Authority, tt.want)
			}
		})
	}
}

// A malformed value stops start-up with an error naming the variable.
func TestLoadConfigRejectsMalformed(t *testing.T) {
	tests := []struct {
		name, key, value, mention string
	}{
		{"placeholder authority", "AUTHORITY", "https://login.microsoftonline.com/Enter_the_Tenant_Name_Here", "AUTHORITY"},
		{"http authority", "AUTHORITY", "http://login.microsoftonline.com/contoso", "AUTHORITY"},
		{"authority without tenant", "AUTHORITY", "https://login.microsoftonline.com/", "AUTHORITY"},
		{"relative redirect", "REDIRECT_URI", "/auth/redirect", "REDIRECT_URI"},
		{"http redirect", "REDIRECT_URI", "http://localhost:5000/auth/redirect", "REDIRECT_URI"},
		{"redirect on root", "REDIRECT_URI", "https://localhost:5000/", "REDIRECT_URI"},
		{"port", "PORT", "http", "PORT"},
		{"graph timeout", "GRAPH_TIMEOUT", "soon", "GRAPH_TIMEOUT"},
		{"session type", "SESSION_TYPE", "memcached", "SESSION_TYPE"},
		{"redis without url", "SESSION_TYPE", "redis", "REDIS_URL"},
		{"graph endpoint", "GRAPH_ENDPOINT", "graph.microsoft.com/v1.0/me", "GRAPH_ENDPOINT"},
		{"http graph endpoint", "GRAPH_ENDPOINT", "http://graph.microsoft.com/v1.0/me", "GRAPH_ENDPOINT"},
		{"http graph base url", "GRAPH_BASE_URL", "http://graph.microsoft.com/v1.0", "GRAPH_BASE_URL"},
		{"http calendar endpoint", "CALENDAR_ENDPOINT", "http://graph.microsoft.com/v1.0/me/events", "CALENDAR_ENDPOINT"},
		{"plain http without a trusted proxy", "TLS", "off", "TLS=off needs TRUSTED_PROXIES"},
		{"tls", "TLS", "maybe", "TLS"},
		{"trusted proxy by name", "TRUSTED_PROXIES", "nginx.internal", "TRUSTED_PROXIES"},
		{"trusted proxy range", "TRUSTED_PROXIES", "10.0.0.0/40", "TRUSTED_PROXIES"},
		{"host", "HOST", "0.0.0.0:8000", "HOST"},
		{"log format", "LOG_FORMAT", "xml", "LOG_FORMAT"},
		{"drain period", "DRAIN_PERIOD", "-1s", "DRAIN_PERIOD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := validEnv()
			e[tt.key] = tt.value
			_, err := loadConfig(env(e))
			if err == nil {
				t.Fatalf("%s=%q accepted", tt.key, tt.value)
			}
			if !strings.Contains(err.Error(), tt.mention) {
				t.Errorf("error %q does not name %s", err, tt.mention)
			}
		})
	}
}

// Missing credentials are shown on every page, not start-up errors.
func TestLoadConfigMissing(t *testing.T) {
	tests := []struct {
		name string
		set  map[string]string
		want []string
	}{
		{"no client id", map[string]string{"CLIENT_ID": ""}, []string{"CLIENT_ID"}},
		{"placeholder id and secret", map[string]string{"CLIENT_ID": "<client id>", "CLIENT_SECRET": "<client secret>"}, []string{"CLIENT_ID", "CLIENT_SECRET"}},
		{"short session secret", map[string]string{"SESSION_SECRET": "short"}, []string{"SESSION_SECRET"}},
		{"no tenant", map[string]string{"AUTHORITY": ""}, []string{"AUTHORITY"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := validEnv()
			for k, v := range tt.set {
				e[k] = v
			}
			cfg, err := loadConfig(env(e))
			if err != nil {
				t.Fatal(err)
			}
			if len(cfg.Missing) != len(tt.want) {
				t.Fatalf("missing %q, want ones naming %v", cfg.Missing, tt.want)
			}
			for i, name := range tt.want {
				if !strings.HasPrefix(cfg.Missing[i], name) {
					t.Errorf("missing %q does not start with %s", cfg.Missing[i], name)
				}
			}
		})
	}
}

func TestClientCapabilitiesSetting(t *testing.T) {
	for _, tc := range []struct {
		name  string
		value *string
		want  string
	}{
		{"unset: cp1", nil, "cp1"},
		{"set but empty: none", ptr(""), ""},
		{"spaces only: none", ptr("  "), ""},
		{"one", ptr("cp1"), "cp1"},
		{"a list", ptr("cp1, cp2 cp3"), "cp1 cp2 cp3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := validEnv()
			if tc.value != nil {
				e["CLIENT_CAPABILITIES"] = *tc.value
			}
			cfg, err := loadConfig(lookupEnv(e))
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(cfg.Entra.ClientCapabilities, " "); got != tc.want {
				t.Errorf("ClientCapabilities = %q, want %q", got, tc.want)
			}
		})
	}
	// A lookup that cannot tell empty from unset: the default applies.
	e := validEnv()
	e["CLIENT_CAPABILITIES"] = ""
	if cfg, err := loadConfig(env(e)); err != nil || strings.Join(cfg.Entra.ClientCapabilities, " ") != "cp1" {
		t.Errorf("an empty CLIENT_CAPABILITIES read as unset: %v, %v", cfg.Entra.ClientCapabilities, err)
	}
}

func ptr(s string) *string { return &s }

func TestConditionalAccessSettingsRejected(t *testing.T) {
	for _, tc := range []struct{ key, value, want string }{
		{"CLIENT_CAPABILITIES", `cp1,{"x":1}`, "CLIENT_CAPABILITIES must list capabilities such as cp1"},
		{"ADMIN_AUTH_CONTEXT", "c100", "ADMIN_AUTH_CONTEXT must be an authentication context ID from c1 to c99"},
		{"ADMIN_AUTH_CONTEXT", "acrs=c1", "ADMIN_AUTH_CONTEXT must be"},
		{"ADMIN_AUTH_CONTEXT", "C1", "ADMIN_AUTH_CONTEXT must be"},
		{"ADMIN_AUTH_CONTEXT", "c0", "ADMIN_AUTH_CONTEXT must be"},
	} {
		e := validEnv()
		e[tc.key] = tc.value
		_, err := loadConfig(lookupEnv(e))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s=%q: error %v, want %q", tc.key, tc.value, err, tc.want)
		}
	}
	for _, ok := range []string{"c1", "c9", "c42", "c99", " c7 "} {
		e := validEnv()
		e["ADMIN_AUTH_CONTEXT"] = ok
		if cfg, err := loadConfig(lookupEnv(e)); err != nil || cfg.Pages.AdminAuthContext != strings.TrimSpace(ok) {
			t.Errorf("ADMIN_AUTH_CONTEXT=%q: %q, %v", ok, cfg.Pages.AdminAuthContext, err)
		}
	}
	if cfg, _ := loadConfig(lookupEnv(validEnv())); cfg.Pages.AdminAuthContext != "" {
		t.Errorf("ADMIN_AUTH_CONTEXT defaults to %q, want none", cfg.Pages.AdminAuthContext)
	}
}
