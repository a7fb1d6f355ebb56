// Microsoft Graph's /v1.0/me: the profile and Graph's 401/403 errors.

package emulator

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestGraphMe(t *testing.T) {
	env := newEnv(t, func(c *Config) { c.AccessTokenTTL = time.Minute })
	admin := env.em.Users()[1]
	body := env.tokens(admin.Username, admin.Password)

	status, me := env.graphMe(str(body, "access_token"))
	if status != http.StatusOK {
		t.Fatalf("status %d: %v", status, me)
	}
	want := map[string]any{
		"@odata.context":    "https://graph.microsoft.com/v1.0/$metadata#users/$entity",
		"displayName":       "Ada Admin",
		"givenName":         "Ada",
		"surname":           "Admin",
		"jobTitle":          "IT Administrator",
		"mail":              "admin@demo.test",
		"userPrincipalName": "admin@demo.test",
		"id":                admin.OID,
		"mobilePhone":       nil,
		"officeLocation":    nil,
		"preferredLanguage": nil,
	}
	for k, v := range want {
		got, ok := me[k]
		if !ok || got != v {
			t.Errorf("%s = %v (present %v), want %v", k, got, ok, v)
		}
	}
	if phones, ok := me["businessPhones"].([]any); !ok || len(phones) != 0 {
		t.Errorf("businessPhones = %v, want []", me["businessPhones"])
	}

	t.Run("jobTitle is null when unset", func(t *testing.T) {
		e2 := newEnv(t, func(c *Config) { c.Users = []User{{Username: "bob@x.test", Password: "pw", Name: "Bob"}} })
		_, me := e2.graphMe(str(e2.tokens("bob@x.test", "pw"), "access_token"))
		if v, ok := me["jobTitle"]; !ok || v != nil {
			t.Errorf("jobTitle = %v (present %v), want null", v, ok)
		}
	})

	otherKey := newEnv(t, func(c *Config) { c.SigningKey = nil }) // a fresh key
	forged := str(otherKey.tokens("alice@demo.test", "alice-password"), "access_token")
	idToken := str(body, "id_token")
	accessToken := str(body, "access_token")

	tests := []struct {
		name, token, message string
	}{
		{"missing token", "", "empty"},
		{"garbage", "not-a-jwt", "not well formed"},
		{"signed by another key", forged, "signature"},
		{"ID token (wrong audience)", idToken, "audience"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantGraph401(t, env, tc.token, tc.message)
		})
	}
	t.Run("expired", func(t *testing.T) {
		env.clock.Advance(time.Minute)
		wantGraph401(t, env, accessToken, "expired")
	})
	t.Run("no User.Read", func(t *testing.T) {
		env.em.recordConsent("alice@demo.test", env.em.apps[0], []string{"Mail.Read"})
		form := codeForm(env.code(nil, "alice@demo.test", "alice-password"), testVerifier)
		form.Set("scope", "Mail.Read openid offline_access profile")
		status, tok := env.token(form)
		if status != http.StatusOK {
			t.Fatalf("token: %d %v", status, tok)
		}
		status, me := env.graphMe(str(tok, "access_token"))
		errObj, _ := me["error"].(map[string]any)
		if status != http.StatusForbidden || errObj["code"] != "Authorization_RequestDenied" {
			t.Errorf("/me = %d %v, want 403 Authorization_RequestDenied", status, me)
		}
	})
}

func wantGraph401(t *testing.T, env *testEnv, token, message string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, env.url("/v1.0/me"), nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := env.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body := decodeJSON(t, resp)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("status = %d, want 401", resp.StatusCode)
	}
	errObj, _ := body["error"].(map[string]any)
	if errObj["code"] != "InvalidAuthenticationToken" || !strings.Contains(strings.ToLower(str(errObj, "message")), message) {
		t.Errorf("error = %v, want InvalidAuthenticationToken mentioning %q", errObj, message)
	}
	inner, _ := errObj["innerError"].(map[string]any)
	for _, k := range []string{"date", "request-id", "client-request-id"} {
		if str(inner, k) == "" {
			t.Errorf("innerError.%s missing: %v", k, inner)
		}
	}
	if !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer ") {
		t.Errorf("WWW-Authenticate = %q", resp.Header.Get("WWW-Authenticate"))
	}
}
