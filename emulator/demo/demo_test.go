package demo

import "testing"

// lookupEnv is os.LookupEnv over a map: a key present with "" is set but empty.
func lookupEnv(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// The demo keeps an empty CLIENT_CAPABILITIES from the environment.
func TestDemoEnvKeepsEmptySettings(t *testing.T) {
	lookup := Env(lookupEnv(map[string]string{"CLIENT_CAPABILITIES": "", "ADMIN_AUTH_CONTEXT": "c1"}), "127.0.0.1:5001")
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
