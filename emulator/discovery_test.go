// Discovery document, JWKS, independent ID token verification (go-oidc),
// and the unknown-tenant error on every tenant endpoint.

package emulator

import (
	"context"
	"encoding/json"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"

	"ms-identity-go-webapp/internal/testutil"
)

func TestOpenIDConfiguration(t *testing.T) {
	env := newEnv(t, nil)
	resp := env.get(env.tenantPath("/v2.0/.well-known/openid-configuration"))
	doc := decodeJSON(t, resp)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	base := env.srv.URL + "/" + DefaultTenant
	for k, want := range map[string]string{
		"issuer":                 base + "/v2.0",
		"authorization_endpoint": base + "/oauth2/v2.0/authorize",
		"token_endpoint":         base + "/oauth2/v2.0/token",
		"end_session_endpoint":   base + "/oauth2/v2.0/logout",
		"jwks_uri":               base + "/discovery/v2.0/keys",
	} {
		if doc[k] != want {
			t.Errorf("%s = %v, want %s", k, doc[k], want)
		}
	}
	for k, want := range map[string]string{
		"response_types_supported":              "code",
		"id_token_signing_alg_values_supported": "RS256",
		"subject_types_supported":               "pairwise",
		"scopes_supported":                      "offline_access",
		"claims_supported":                      "nonce",
		"code_challenge_methods_supported":      "S256",
		"response_modes_supported":              "query",
		"token_endpoint_auth_methods_supported": "client_secret_post",
	} {
		list, _ := doc[k].([]any)
		found := false
		for _, v := range list {
			found = found || v == want
		}
		if !found {
			t.Errorf("%s = %v, want it to include %s", k, doc[k], want)
		}
	}
}

func TestIssuerFollowsRequestHost(t *testing.T) {
	// MSAL requires the issuer's host to be the authority's: a client that
	// calls the emulator "localhost" gets localhost URLs.
	env := newEnv(t, nil)
	req, _ := http.NewRequest(http.MethodGet, env.tenantPath("/v2.0/.well-known/openid-configuration"), nil)
	req.Host = "localhost:5001"
	resp, err := env.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	doc := decodeJSON(t, resp)
	if want := "https://localhost:5001/" + DefaultTenant + "/v2.0"; doc["issuer"] != want {
		t.Errorf("issuer = %v, want %s", doc["issuer"], want)
	}
	if !strings.HasPrefix(str(doc, "token_endpoint"), "https://localhost:5001/") {
		t.Errorf("token_endpoint = %v", doc["token_endpoint"])
	}
}

func TestJWKSPublishesTheSigningKey(t *testing.T) {
	env := newEnv(t, nil)
	resp := env.get(env.tenantPath("/discovery/v2.0/keys"))
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal([]byte(readBody(t, resp)), &set); err != nil || len(set.Keys) != 1 {
		t.Fatalf("JWKS: %v, %d keys", err, len(set.Keys))
	}
	k := set.Keys[0]
	if k["kty"] != "RSA" || k["use"] != "sig" || str(k, "kid") == "" || k["kid"] != k["x5t"] {
		t.Errorf("key = %v", k)
	}
	n, _ := b64.DecodeString(str(k, "n"))
	if new(big.Int).SetBytes(n).Cmp(testutil.SigningKey().N) != 0 {
		t.Error("JWKS modulus is not the signing key's")
	}
	if x5c, _ := k["x5c"].([]any); len(x5c) != 1 {
		t.Errorf("x5c = %v, want one certificate", k["x5c"])
	}

	// Tokens name that key.
	body := env.tokens("alice@demo.test", "alice-password")
	hdr, _ := b64.DecodeString(strings.Split(str(body, "id_token"), ".")[0])
	var h map[string]string
	json.Unmarshal(hdr, &h)
	if h["alg"] != "RS256" || h["kid"] != k["kid"] || h["typ"] != "JWT" {
		t.Errorf("ID token header = %v", h)
	}
}

func TestIDTokenVerifiesWithGoOIDC(t *testing.T) {
	env := newEnv(t, nil)
	ctx := oidc.ClientContext(context.Background(), env.srv.Client())
	issuer := env.em.Authority(env.srv.URL) + "/v2.0"
	provider, err := oidc.NewProvider(ctx, issuer)
	if err != nil {
		t.Fatalf("NewProvider: %v", err)
	}
	verifier := provider.Verifier(&oidc.Config{ClientID: DemoClientID, Now: env.clock.Now})
	users := env.em.Users()

	tests := []struct {
		name      string
		user      User
		nonce     string
		wantRoles []string
	}{
		{"alice has no roles claim", users[0], "nonce-alice", nil},
		{"admin has the admin role", users[1], "nonce-admin", []string{"admin"}},
		{"no nonce sent, none returned", users[0], "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code := env.code(url.Values{"nonce": {tc.nonce}}, tc.user.Username, tc.user.Password)
			status, body := env.token(codeForm(code, testVerifier))
			if status != http.StatusOK {
				t.Fatalf("token: %d %v", status, body)
			}
			idt, err := verifier.Verify(ctx, str(body, "id_token"))
			if err != nil {
				t.Fatalf("go-oidc Verify: %v", err)
			}
			if idt.Issuer != issuer || idt.Nonce != tc.nonce {
				t.Errorf("iss = %s, nonce = %q", idt.Issuer, idt.Nonce)
			}
			var c struct {
				Oid               string   `json:"oid"`
				Tid               string   `json:"tid"`
				Name              string   `json:"name"`
				PreferredUsername string   `json:"preferred_username"`
				Ver               string   `json:"ver"`
				Roles             []string `json:"roles"`
			}
			if err := idt.Claims(&c); err != nil {
				t.Fatal(err)
			}
			if c.Oid != tc.user.OID || c.Tid != DefaultTenant || c.Name != tc.user.Name || c.PreferredUsername != tc.user.Username || c.Ver != "2.0" {
				t.Errorf("claims = %+v", c)
			}
			if strings.Join(c.Roles, ",") != strings.Join(tc.wantRoles, ",") {
				t.Errorf("roles = %v, want %v", c.Roles, tc.wantRoles)
			}
			raw := jwtClaims(t, str(body, "id_token"))
			if _, has := raw["roles"]; has != (tc.wantRoles != nil) {
				t.Errorf("roles claim present = %v, want %v", has, tc.wantRoles != nil)
			}
			if _, has := raw["nonce"]; has != (tc.nonce != "") {
				t.Errorf("nonce claim present = %v, want %v", has, tc.nonce != "")
			}
			for _, k := range []string{"aud", "iss", "iat", "nbf", "exp", "sub", "uti", "rh", "aio"} {
				if _, ok := raw[k]; !ok {
					t.Errorf("claim %s missing", k)
				}
			}

			// The refreshed ID token verifies too, and carries no nonce.
			status, refreshed := env.token(refreshForm(str(body, "refresh_token")))
			if status != http.StatusOK {
				t.Fatalf("refresh: %d %v", status, refreshed)
			}
			idt2, err := verifier.Verify(ctx, str(refreshed, "id_token"))
			if err != nil {
				t.Fatalf("go-oidc Verify refreshed: %v", err)
			}
			if idt2.Nonce != "" || idt2.Subject != idt.Subject {
				t.Errorf("refreshed: nonce %q, sub %q (want empty, %q)", idt2.Nonce, idt2.Subject, idt.Subject)
			}
		})
	}

	t.Run("tampered token is rejected", func(t *testing.T) {
		body := env.tokens("alice@demo.test", "alice-password")
		parts := strings.Split(str(body, "id_token"), ".")
		claims := jwtClaims(t, str(body, "id_token"))
		claims["name"] = "Mallory"
		payload, _ := json.Marshal(claims)
		forged := parts[0] + "." + b64.EncodeToString(payload) + "." + parts[2]
		if _, err := verifier.Verify(ctx, forged); err == nil {
			t.Error("go-oidc accepted a tampered token")
		}
	})
}

func TestUnknownTenant(t *testing.T) {
	env := newEnv(t, nil)
	const other = "11111111-2222-3333-4444-555555555555"
	for _, path := range []string{"/v2.0/.well-known/openid-configuration", "/discovery/v2.0/keys"} {
		resp := env.get(env.url("/" + other + path))
		body := decodeJSON(t, resp)
		wantAADError(t, resp.StatusCode, body, http.StatusBadRequest, "invalid_tenant", 90002)
	}
	resp, err := env.srv.Client().PostForm(env.url("/"+other+"/oauth2/v2.0/token"), codeForm("x", ""))
	if err != nil {
		t.Fatal(err)
	}
	wantAADError(t, resp.StatusCode, decodeJSON(t, resp), http.StatusBadRequest, "invalid_tenant", 90002)

	for _, path := range []string{"/oauth2/v2.0/authorize", "/oauth2/v2.0/logout"} {
		resp := env.get(env.url("/" + other + path))
		body := readBody(t, resp)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "AADSTS90002") {
			t.Errorf("%s: status %d, body %.200s", path, resp.StatusCode, body)
		}
	}

	// The tenant ID matches case-insensitively, as MSAL lower-cases it.
	resp = env.get(env.url("/" + strings.ToUpper(DefaultTenant) + "/discovery/v2.0/keys"))
	if readBody(t, resp); resp.StatusCode != http.StatusOK {
		t.Errorf("upper-case tenant: %d", resp.StatusCode)
	}
}
