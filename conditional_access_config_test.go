// Tests of CLIENT_CAPABILITIES and ADMIN_AUTH_CONTEXT.

package main

import (
	"strings"
	"testing"
)

// lookupEnv is os.LookupEnv over a map: a key present with "" is set but empty.
func lookupEnv(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
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
			cfg, err := LoadConfigEnv(lookupEnv(e))
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(cfg.ClientCapabilities, " "); got != tc.want {
				t.Errorf("ClientCapabilities = %q, want %q", got, tc.want)
			}
		})
	}
	// LoadConfig cannot tell empty from unset: the default applies.
	e := validEnv()
	e["CLIENT_CAPABILITIES"] = ""
	if cfg, err := LoadConfig(env(e)); err != nil || strings.Join(cfg.ClientCapabilities, " ") != "cp1" {
		t.Errorf("LoadConfig with an empty CLIENT_CAPABILITIES: %v, %v", cfg.ClientCapabilities, err)
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
		_, err := LoadConfigEnv(lookupEnv(e))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s=%q: error %v, want %q", tc.key, tc.value, err, tc.want)
		}
	}
	for _, ok := range []string{"c1", "c9", "c42", "c99", " c7 "} {
		e := validEnv()
		e["ADMIN_AUTH_CONTEXT"] = ok
		if cfg, err := LoadConfigEnv(lookupEnv(e)); err != nil || cfg.AdminAuthContext != strings.TrimSpace(ok) {
			t.Errorf("ADMIN_AUTH_CONTEXT=%q: %q, %v", ok, cfg.AdminAuthContext, err)
		}
	}
	if cfg, _ := LoadConfigEnv(lookupEnv(validEnv())); cfg.AdminAuthContext != "" {
		t.Errorf("ADMIN_AUTH_CONTEXT defaults to %q, want none", cfg.AdminAuthContext)
	}
}

// The demo keeps an empty CLIENT_CAPABILITIES from the environment.
func TestDemoEnvKeepsEmptySettings(t *testing.T) {
	lookup := demoEnv(lookupEnv(map[string]string{"CLIENT_CAPABILITIES": "", "ADMIN_AUTH_CONTEXT": "c1"}), "127.0.0.1:5001")
	if v, ok := lookup("CLIENT_CAPABILITIES"); !ok || v != "" {
		t.Errorf("CLIENT_CAPABILITIES in the demo: %q, %v", v, ok)
	}
	if v, _ := lookup("ADMIN_AUTH_CONTEXT"); v != "c1" {
		t.Errorf("ADMIN_AUTH_CONTEXT in the demo: %q", v)
	}
	if _, ok := lookup("TENANT_ID"); ok {
		t.Error("the demo passes TENANT_ID on")
	}
}
