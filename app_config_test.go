package main

import (
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
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
	cfg, err := LoadConfig(env(validEnv()))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Problems) != 0 {
		t.Fatalf("problems: %v", cfg.Problems)
	}
	checks := []struct{ name, got, want string }{
		{"RedirectURI", cfg.RedirectURI, "https://localhost:5000/auth/redirect"},
		{"RedirectPath", cfg.RedirectPath(), "/auth/redirect"},
		{"Origin", cfg.Origin(), "https://localhost:5000"},
		{"GraphEndpoint", cfg.GraphEndpoint, "https://graph.microsoft.com/v1.0/me"},
		{"AdminRole", cfg.AdminRole, "admin"},
		{"Scopes", strings.Join(cfg.Scopes, " "), "User.Read"},
		{"TLSCert", cfg.TLSCert, "ssl/localhost.crt"},
		{"SessionType", cfg.SessionType, "filesystem"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if cfg.Port != 5000 || cfg.ListenAddr() != "127.0.0.1:5000" {
		t.Errorf("Port = %d, ListenAddr = %q", cfg.Port, cfg.ListenAddr())
	}
	if !cfg.TLS || !cfg.TrustedProxies.Empty() || cfg.LogFormat != "text" || cfg.DrainPeriod != 5*time.Second {
		t.Errorf("TLS %v, TrustedProxies %s, LogFormat %q, DrainPeriod %s", cfg.TLS, cfg.TrustedProxies, cfg.LogFormat, cfg.DrainPeriod)
	}
}

// Behind a proxy: plain HTTP on all interfaces, the proxy's addresses trusted.
func TestLoadConfigBehindProxy(t *testing.T) {
	e := validEnv()
	e["HOST"], e["PORT"], e["TLS"] = "0.0.0.0", "8000", "OFF"
	e["TRUSTED_PROXIES"] = "10.0.0.0/8, 192.0.2.7"
	e["REDIRECT_URI"] = "https://app.example.com/auth/redirect"
	e["LOG_FORMAT"], e["DRAIN_PERIOD"] = "json", "0s"
	cfg, err := LoadConfig(env(e))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.TLS || cfg.ListenAddr() != "0.0.0.0:8000" || cfg.TrustedProxies.String() != "10.0.0.0/8, 192.0.2.7" ||
		cfg.LogFormat != "json" || cfg.DrainPeriod != 0 || cfg.Origin() != "https://app.example.com" {
		t.Errorf("config: TLS %v, listen %s, proxies %s, log %s, drain %s, origin %s",
			cfg.TLS, cfg.ListenAddr(), cfg.TrustedProxies, cfg.LogFormat, cfg.DrainPeriod, cfg.Origin())
	}
	e["HOST"] = "::"
	if cfg, err := LoadConfig(env(e)); err != nil || cfg.ListenAddr() != "[::]:8000" {
		t.Errorf("HOST=:: gives %q, %v", cfg.ListenAddr(), err)
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
			cfg, err := LoadConfig(env(e))
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Authority != tt.want {
				t.Errorf("Authority = %q, want %q", cfg.Authority, tt.want)
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
			_, err := LoadConfig(env(e))
			if err == nil {
				t.Fatalf("%s=%q accepted", tt.key, tt.value)
			}
			if !strings.Contains(err.Error(), tt.mention) {
				t.Errorf("error %q does not name %s", err, tt.mention)
			}
		})
	}
}

// Missing credentials are problems shown on every page, not start-up errors.
func TestLoadConfigProblems(t *testing.T) {
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
			cfg, err := LoadConfig(env(e))
			if err != nil {
				t.Fatal(err)
			}
			if len(cfg.Problems) != len(tt.want) {
				t.Fatalf("problems %q, want ones naming %v", cfg.Problems, tt.want)
			}
			for i, name := range tt.want {
				if !strings.HasPrefix(cfg.Problems[i], name) {
					t.Errorf("problem %q does not start with %s", cfg.Problems[i], name)
				}
			}
		})
	}
}
