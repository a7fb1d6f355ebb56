// The token endpoint: client authentication, the authorization_code grant
// with PKCE, the refresh_token grant, and the response body.

package emulator

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestTokenResponseShape(t *testing.T) {
	env := newEnv(t, nil)
	body := env.tokens("alice@demo.test", "alice-password")
	if body["token_type"] != "Bearer" || body["expires_in"] != float64(3600) || body["ext_expires_in"] != float64(3600) {
		t.Errorf("body = %v", body)
	}
	if body["scope"] != "User.Read profile openid email" {
		t.Errorf("scope = %q, want Entra's echo without offline_access", body["scope"])
	}
	for _, k := range []string{"access_token", "refresh_token", "id_token"} {
		if str(body, k) == "" {
			t.Errorf("%s missing", k)
		}
	}
	ci := str(body, "client_info")
	if strings.ContainsAny(ci, "=+/") {
		t.Errorf("client_info %q is not unpadded base64url", ci)
	}
	raw, err := b64.DecodeString(ci)
	var info map[string]string
	if err != nil || json.Unmarshal(raw, &info) != nil {
		t.Fatalf("client_info does not decode: %v", err)
	}
	alice := env.em.Users()[0]
	if info["uid"] != alice.OID || info["utid"] != DefaultTenant {
		t.Errorf("client_info = %v", info)
	}

	at := jwtClaims(t, str(body, "access_token"))
	if at["aud"] != GraphResourceID || at["scp"] != "User.Read profile openid email" || at["oid"] != alice.OID || at["appid"] != DemoClientID {
		t.Errorf("access token claims = %v", at)
	}
	id := jwtClaims(t, str(body, "id_token"))
	if id["aud"] != DemoClientID || id["ver"] != "2.0" || id["tid"] != DefaultTenant || id["nonce"] != "nonce-456" {
		t.Errorf("ID token claims = %v", id)
	}
	if exp, iat := id["exp"].(float64), id["iat"].(float64); exp-iat != 3600 {
		t.Errorf("ID token lifetime %vs, want 3600", exp-iat)
	}
	if resp := env.tokenRaw(codeForm("x", "")); resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control = %q", resp.Header.Get("Cache-Control"))
	}
}

func (env *testEnv) tokenRaw(form url.Values) *http.Response {
	env.t.Helper()
	resp, err := env.srv.Client().PostForm(env.tenantPath("/oauth2/v2.0/token"), form)
	if err != nil {
		env.t.Fatal(err)
	}
	readBody(env.t, resp)
	return resp
}

func TestTokenScopes(t *testing.T) {
	env := newEnv(t, nil)
	tests := []struct {
		name, authScope, tokenScope string
		wantScope, wantScp          string
		wantID, wantRefresh         bool
	}{
		{"qualified Graph scope echoed as sent", "openid offline_access https://graph.microsoft.com/User.Read", "https://graph.microsoft.com/User.Read openid offline_access profile",
			"https://graph.microsoft.com/User.Read profile openid email", "User.Read profile openid email", true, true},
		{".default grants the configured permissions", "openid offline_access https://graph.microsoft.com/.default", "https://graph.microsoft.com/.default openid offline_access profile",
			"https://graph.microsoft.com/.default profile openid email", "User.Read profile openid email", true, true},
		{"no openid at authorize, no ID token", "User.Read offline_access", "User.Read offline_access",
			"User.Read", "User.Read", false, true},
		{"offline_access only at token time still gives a refresh token", "openid User.Read", "User.Read openid offline_access profile",
			"User.Read profile openid email", "User.Read profile openid email", true, true},
		{"no offline_access anywhere, no refresh token", "openid User.Read", "User.Read openid",
			"User.Read openid email", "User.Read openid email", true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code := env.code(url.Values{"scope": {tc.authScope}}, "alice@demo.test", "alice-password")
			form := codeForm(code, testVerifier)
			form.Set("scope", tc.tokenScope)
			status, body := env.token(form)
			if status != http.StatusOK {
				t.Fatalf("status %d: %v", status, body)
			}
			if body["scope"] != tc.wantScope {
				t.Errorf("scope = %q, want %q", body["scope"], tc.wantScope)
			}
			if scp := jwtClaims(t, str(body, "access_token"))["scp"]; scp != tc.wantScp {
				t.Errorf("scp = %q, want %q", scp, tc.wantScp)
			}
			if _, ok := body["id_token"]; ok != tc.wantID {
				t.Errorf("id_token present = %v, want %v", ok, tc.wantID)
			}
			if _, ok := body["refresh_token"]; ok != tc.wantRefresh {
				t.Errorf("refresh_token present = %v, want %v", ok, tc.wantRefresh)
			}
		})
	}
	t.Run("unknown resource at token time", func(t *testing.T) {
		form := codeForm(env.code(nil, "alice@demo.test", "alice-password"), testVerifier)
		form.Set("scope", "api://other/read openid")
		status, body := env.token(form)
		wantAADError(t, status, body, http.StatusBadRequest, "invalid_resource", 500011)
	})
}

func TestClientAuthentication(t *testing.T) {
	env := newEnv(t, nil)
	tests := []struct {
		name       string
		edit       func(url.Values)
		wantStatus int
		wantErr    string
		wantCode   int
	}{
		{"wrong secret", func(f url.Values) { f.Set("client_secret", "guess") }, 401, "invalid_client", 7000215},
		{"missing secret", func(f url.Values) { f.Del("client_secret") }, 401, "invalid_client", 7000218},
		{"unknown client", func(f url.Values) { f.Set("client_id", "99999999-0000-4000-a000-000000000000") }, 400, "unauthorized_client", 700016},
		{"missing client_id", func(f url.Values) { f.Del("client_id") }, 400, "invalid_request", 900144},
		{"missing grant_type", func(f url.Values) { f.Del("grant_type") }, 400, "invalid_request", 900144},
		{"unsupported grant_type", func(f url.Values) { f.Set("grant_type", "password") }, 400, "unsupported_grant_type", 70003},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			form := codeForm("unused-code", testVerifier)
			tc.edit(form)
			status, body := env.token(form)
			wantAADError(t, status, body, tc.wantStatus, tc.wantErr, tc.wantCode)
		})
	}

	t.Run("HTTP Basic works", func(t *testing.T) {
		form := codeForm(env.code(nil, "alice@demo.test", "alice-password"), testVerifier)
		form.Del("client_secret")
		req, _ := http.NewRequest(http.MethodPost, env.tenantPath("/oauth2/v2.0/token"), strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(url.QueryEscape(DemoClientID), url.QueryEscape(DemoClientSecret))
		resp, err := env.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if body := decodeJSON(t, resp); resp.StatusCode != http.StatusOK {
			t.Errorf("Basic auth: %d %v", resp.StatusCode, body)
		}
	})

	t.Run("correlation_id echoes client-request-id", func(t *testing.T) {
		const id = "0a1b2c3d-0000-4000-8000-00000000abcd"
		req, _ := http.NewRequest(http.MethodPost, env.tenantPath("/oauth2/v2.0/token"), strings.NewReader("grant_type=password"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("client-request-id", id)
		resp, err := env.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if body := decodeJSON(t, resp); body["correlation_id"] != id {
			t.Errorf("correlation_id = %v, want %s", body["correlation_id"], id)
		}
	})

	t.Run("GET is refused", func(t *testing.T) {
		resp := env.get(env.tenantPath("/oauth2/v2.0/token"))
		wantAADError(t, resp.StatusCode, decodeJSON(t, resp), http.StatusBadRequest, "invalid_request", 900561)
	})
}

func TestAuthorizationCodeGrant(t *testing.T) {
	env := newEnv(t, nil)
	alice := func(over url.Values) string { return env.code(over, "alice@demo.test", "alice-password") }

	t.Run("replayed code", func(t *testing.T) {
		code := alice(nil)
		if status, body := env.token(codeForm(code, testVerifier)); status != http.StatusOK {
			t.Fatalf("first redemption: %d %v", status, body)
		}
		status, body := env.token(codeForm(code, testVerifier))
		wantAADError(t, status, body, http.StatusBadRequest, "invalid_grant", 54005)
	})
	t.Run("expired code", func(t *testing.T) {
		code := alice(nil)
		env.clock.Advance(10*time.Minute + time.Second)
		status, body := env.token(codeForm(code, testVerifier))
		wantAADError(t, status, body, http.StatusBadRequest, "invalid_grant", 70008)
	})
	t.Run("redirect_uri differs from the authorize request", func(t *testing.T) {
		form := codeForm(alice(nil), testVerifier)
		form.Set("redirect_uri", DemoRedirectURIs[1])
		status, body := env.token(form)
		wantAADError(t, status, body, http.StatusBadRequest, "invalid_grant", 500112)
	})
	t.Run("wrong verifier, then the right one", func(t *testing.T) {
		code := alice(nil)
		status, body := env.token(codeForm(code, strings.Repeat("x", 43)))
		wantAADError(t, status, body, http.StatusBadRequest, "invalid_grant", 501481)
		// A failed attempt does not use the code up.
		if status, body := env.token(codeForm(code, testVerifier)); status != http.StatusOK {
			t.Errorf("right verifier after a wrong one: %d %v", status, body)
		}
	})
	t.Run("empty verifier with a challenge", func(t *testing.T) {
		status, body := env.token(codeForm(alice(nil), ""))
		wantAADError(t, status, body, http.StatusBadRequest, "invalid_grant", 501481)
	})
	t.Run("plain challenge", func(t *testing.T) {
		plain := strings.Repeat("p", 50)
		code := alice(url.Values{"code_challenge": {plain}, "code_challenge_method": {"plain"}})
		if status, body := env.token(codeForm(code, plain)); status != http.StatusOK {
			t.Errorf("plain PKCE: %d %v", status, body)
		}
	})
	t.Run("no challenge: empty verifier accepted, any other refused", func(t *testing.T) {
		noPKCE := url.Values{"code_challenge": {""}, "code_challenge_method": {""}}
		status, body := env.token(codeForm(alice(noPKCE), testVerifier))
		wantAADError(t, status, body, http.StatusBadRequest, "invalid_grant", 501481)
		if status, body := env.token(codeForm(alice(noPKCE), "")); status != http.StatusOK {
			t.Errorf("no PKCE, empty verifier: %d %v", status, body)
		}
	})
	t.Run("unknown code", func(t *testing.T) {
		status, body := env.token(codeForm("1.AQnot-a-real-code", testVerifier))
		wantAADError(t, status, body, http.StatusBadRequest, "invalid_grant", 9002313)
	})
	t.Run("missing code", func(t *testing.T) {
		status, body := env.token(codeForm("", testVerifier))
		wantAADError(t, status, body, http.StatusBadRequest, "invalid_request", 900144)
	})
}

func TestRefreshTokenGrant(t *testing.T) {
	env := newEnv(t, func(c *Config) { c.RefreshTokenTTL = time.Hour })
	first := env.tokens("alice@demo.test", "alice-password")
	rt1 := str(first, "refresh_token")

	status, second := env.token(refreshForm(rt1))
	if status != http.StatusOK {
		t.Fatalf("refresh: %d %v", status, second)
	}
	rt2 := str(second, "refresh_token")
	if rt2 == "" || rt2 == rt1 {
		t.Error("refresh did not return a new refresh token")
	}
	if str(second, "id_token") == "" || str(second, "client_info") != str(first, "client_info") {
		t.Errorf("refresh response = %v", second)
	}
	if _, ok := jwtClaims(t, str(second, "id_token"))["nonce"]; ok {
		t.Error("refreshed ID token carries a nonce")
	}
	// The old refresh token stays valid until it expires, as in Entra.
	if status, body := env.token(refreshForm(rt1)); status != http.StatusOK {
		t.Errorf("old refresh token: %d %v", status, body)
	}

	t.Run("expired", func(t *testing.T) {
		env.clock.Advance(time.Hour + time.Second)
		status, body := env.token(refreshForm(rt2))
		wantAADError(t, status, body, http.StatusBadRequest, "invalid_grant", 700082)
	})
	t.Run("revoked via the API", func(t *testing.T) {
		rt := str(env.tokens("alice@demo.test", "alice-password"), "refresh_token")
		if err := env.em.RevokeRefreshTokens("alice@demo.test"); err != nil {
			t.Fatal(err)
		}
		status, body := env.token(refreshForm(rt))
		wantAADError(t, status, body, http.StatusBadRequest, "invalid_grant", 50173)
		// Tokens issued after the revocation work, and other users are unaffected.
		if status, body := env.token(refreshForm(str(env.tokens("alice@demo.test", "alice-password"), "refresh_token"))); status != http.StatusOK {
			t.Errorf("fresh token after revocation: %d %v", status, body)
		}
		if err := env.em.RevokeRefreshTokens("nobody@demo.test"); err == nil {
			t.Error("revoking an unknown user succeeded")
		}
	})
	t.Run("revoked via POST /emulator/faults", func(t *testing.T) {
		rt := str(env.tokens("admin@demo.test", "admin-password"), "refresh_token")
		resp, err := env.srv.Client().Post(env.url("/emulator/faults"), "application/json", strings.NewReader(`{"revoke_refresh_tokens":"admin@demo.test"}`))
		if err != nil {
			t.Fatal(err)
		}
		if readBody(t, resp); resp.StatusCode != http.StatusOK {
			t.Fatalf("POST revoke: %d", resp.StatusCode)
		}
		status, body := env.token(refreshForm(rt))
		wantAADError(t, status, body, http.StatusBadRequest, "invalid_grant", 50173)
	})
	t.Run("garbage", func(t *testing.T) {
		status, body := env.token(refreshForm("1.AQgarbage"))
		wantAADError(t, status, body, http.StatusBadRequest, "invalid_grant", 9002313)
	})
	t.Run("from another emulator", func(t *testing.T) {
		other := newEnv(t, nil)
		rt := str(other.tokens("alice@demo.test", "alice-password"), "refresh_token")
		status, body := env.token(refreshForm(rt))
		wantAADError(t, status, body, http.StatusBadRequest, "invalid_grant", 9002313)
	})
}
