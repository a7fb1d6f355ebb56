// The real MSAL Go confidential client against the emulator: code flow,
// silent acquisition from the cache, and refresh.

package emulator

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/cache"
	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
)

// memCache is a minimal MSAL cache accessor. Replace always calls
// Unmarshal, as MSAL requires.
type memCache struct {
	mu   sync.Mutex
	data []byte
}

func (c *memCache) Replace(_ context.Context, u cache.Unmarshaler, _ cache.ReplaceHints) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return u.Unmarshal(c.data)
}

func (c *memCache) Export(_ context.Context, m cache.Marshaler, _ cache.ExportHints) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	data, err := m.Marshal()
	c.data = data
	return err
}

func (env *testEnv) msal() confidential.Client {
	env.t.Helper()
	cred, err := confidential.NewCredFromSecret(DemoClientSecret)
	if err != nil {
		env.t.Fatal(err)
	}
	app, err := confidential.New(env.em.Authority(env.srv.URL), DemoClientID, cred,
		confidential.WithInstanceDiscovery(false),
		confidential.WithHTTPClient(env.srv.Client()),
		confidential.WithAzureRegion("DisableMsalForceRegion"),
		confidential.WithCache(&memCache{}))
	if err != nil {
		env.t.Fatalf("confidential.New: %v", err)
	}
	return app
}

// msalSignIn runs the browser half of the flow from MSAL's AuthCodeURL,
// adding state, nonce and PKCE as the web app must, and returns the code.
func (env *testEnv) msalSignIn(ctx context.Context, app confidential.Client, scopes []string, username, password string, withNonce bool) string {
	env.t.Helper()
	redirect := DemoRedirectURIs[0]
	authURL, err := app.AuthCodeURL(ctx, DemoClientID, redirect, scopes)
	if err != nil {
		env.t.Fatalf("AuthCodeURL: %v", err)
	}
	u, _ := url.Parse(authURL)
	if !strings.HasPrefix(authURL, env.tenantPath("/oauth2/v2.0/authorize?")) {
		env.t.Fatalf("AuthCodeURL = %s, want the emulator's authorize endpoint", authURL)
	}
	q := u.Query()
	q.Set("state", "msal-state")
	if withNonce {
		q.Set("nonce", "msal-nonce")
	}
	q.Set("code_challenge", testChallenge)
	q.Set("code_challenge_method", "S256")
	u.RawQuery = q.Encode()

	page := env.get(u.String())
	if body := readBody(env.t, page); page.StatusCode != http.StatusOK || !strings.Contains(body, `name="loginfmt"`) {
		env.t.Fatalf("sign-in page: status %d, body %.300s", page.StatusCode, body)
	}
	p := redirectParams(env.t, env.signIn(u.String(), username, password), redirect)
	if p.Get("state") != "msal-state" || p.Get("session_state") == "" {
		env.t.Fatalf("redirect params = %v, want state and session_state", p)
	}
	return p.Get("code")
}

func (env *testEnv) graphMe(accessToken string) (int, map[string]any) {
	env.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, env.url("/v1.0/me"), nil)
	if accessToken != "" {
		req.Header.Set("Authorization", "Bearer "+accessToken)
	}
	resp, err := env.srv.Client().Do(req)
	if err != nil {
		env.t.Fatalf("GET /v1.0/me: %v", err)
	}
	return resp.StatusCode, decodeJSON(env.t, resp)
}

func TestMSALCodeFlowSilentFromCache(t *testing.T) {
	env := newEnv(t, nil)
	ctx := context.Background()
	app := env.msal()
	code := env.msalSignIn(ctx, app, []string{"openid", "profile", "offline_access", "User.Read"}, "admin@demo.test", "admin-password", true)

	res, err := app.AcquireTokenByAuthCode(ctx, code, DemoRedirectURIs[0], []string{"User.Read"}, confidential.WithChallenge(testVerifier))
	if err != nil {
		t.Fatalf("AcquireTokenByAuthCode: %v", err)
	}
	admin := env.em.Users()[1]
	if want := admin.OID + "." + env.em.Tenant(); res.Account.HomeAccountID != want {
		t.Errorf("HomeAccountID = %q, want %q (from client_info)", res.Account.HomeAccountID, want)
	}
	if res.IDToken.Name != "Ada Admin" || res.IDToken.PreferredUsername != "admin@demo.test" || res.IDToken.Oid != admin.OID {
		t.Errorf("ID token = %+v", res.IDToken)
	}
	if !slices.Contains(res.GrantedScopes, "User.Read") {
		t.Errorf("GrantedScopes = %v, want User.Read", res.GrantedScopes)
	}
	if d := time.Until(res.ExpiresOn); d < 59*time.Minute || d > 61*time.Minute {
		t.Errorf("ExpiresOn in %v, want about 1h", d)
	}
	claims := jwtClaims(t, res.IDToken.RawToken)
	if claims["nonce"] != "msal-nonce" {
		t.Errorf("nonce = %v, want msal-nonce", claims["nonce"])
	}
	if roles, _ := claims["roles"].([]any); len(roles) != 1 || roles[0] != "admin" {
		t.Errorf("roles = %v, want [admin]", claims["roles"])
	}

	status, me := env.graphMe(res.AccessToken)
	if status != http.StatusOK || me["displayName"] != "Ada Admin" || me["id"] != admin.OID {
		t.Fatalf("/me = %d %v", status, me)
	}

	// Silent acquisition is served from MSAL's cache: no token request.
	before := env.em.Stats()
	acct, err := app.Account(ctx, res.Account.HomeAccountID)
	if err != nil {
		t.Fatalf("Account: %v", err)
	}
	silent, err := app.AcquireTokenSilent(ctx, []string{"User.Read"}, confidential.WithSilentAccount(acct))
	if err != nil {
		t.Fatalf("AcquireTokenSilent: %v", err)
	}
	if silent.AccessToken != res.AccessToken {
		t.Error("silent call returned a different access token, want the cached one")
	}
	if after := env.em.Stats(); after[StatToken] != before[StatToken] {
		t.Errorf("token requests went from %d to %d, want none", before[StatToken], after[StatToken])
	}
}

func TestMSALSilentRefreshAfterShortAccessTokenTTL(t *testing.T) {
	// MSAL treats an access token within 5 minutes of expiry as expired, so
	// with a 2s lifetime the next silent call redeems the refresh token.
	env := newEnv(t, func(c *Config) { c.AccessTokenTTL = 2 * time.Second })
	ctx := context.Background()
	app := env.msal()
	code := env.msalSignIn(ctx, app, []string{"openid", "profile", "offline_access", "User.Read"}, "alice@demo.test", "alice-password", true)
	res, err := app.AcquireTokenByAuthCode(ctx, code, DemoRedirectURIs[0], []string{"User.Read"}, confidential.WithChallenge(testVerifier))
	if err != nil {
		t.Fatalf("AcquireTokenByAuthCode: %v", err)
	}
	acct, err := app.Account(ctx, res.Account.HomeAccountID)
	if err != nil {
		t.Fatalf("Account: %v", err)
	}
	for i := 1; i <= 2; i++ {
		silent, err := app.AcquireTokenSilent(ctx, []string{"User.Read"}, confidential.WithSilentAccount(acct))
		if err != nil {
			t.Fatalf("AcquireTokenSilent #%d: %v", i, err)
		}
		if silent.AccessToken == res.AccessToken {
			t.Errorf("silent #%d returned the cached access token, want a refreshed one", i)
		}
		if got := env.em.Stats()[StatTokenRefreshToken]; got != int64(i) {
			t.Errorf("after silent #%d: %d refresh grants, want %d", i, got, i)
		}
		if silent.IDToken.IsZero() {
			t.Fatalf("refresh response carried no ID token")
		}
		claims := jwtClaims(t, silent.IDToken.RawToken)
		if _, ok := claims["nonce"]; ok {
			t.Errorf("refreshed ID token has a nonce: %v", claims["nonce"])
		}
		if claims["oid"] != res.IDToken.Oid {
			t.Errorf("refreshed ID token oid = %v, want %s", claims["oid"], res.IDToken.Oid)
		}
		if status, _ := env.graphMe(silent.AccessToken); status != http.StatusOK {
			t.Errorf("/me with refreshed token: %d", status)
		}
		res = silent
	}
}

func TestMSALAcceptsResponseWithoutResourceScopes(t *testing.T) {
	env := newEnv(t, nil)
	ctx := context.Background()
	app := env.msal()
	code := env.msalSignIn(ctx, app, []string{"openid", "profile", "offline_access"}, "alice@demo.test", "alice-password", false)
	// MSAL refuses an empty scope list client-side ("empty
	// AuthParams.Scopes"), so an app that wants no API passes openid and
	// profile, which Entra (and the emulator) echo back.
	if _, err := app.AcquireTokenByAuthCode(ctx, code, DemoRedirectURIs[0], nil, confidential.WithChallenge(testVerifier)); err == nil {
		t.Fatal("MSAL accepted an empty scope list; this test's premise changed")
	}
	res, err := app.AcquireTokenByAuthCode(ctx, code, DemoRedirectURIs[0], []string{"openid", "profile"}, confidential.WithChallenge(testVerifier))
	if err != nil {
		t.Fatalf("AcquireTokenByAuthCode with openid profile: %v", err)
	}
	if res.IDToken.Name != "Alice Smith" {
		t.Errorf("ID token name = %q", res.IDToken.Name)
	}
	if _, ok := jwtClaims(t, res.IDToken.RawToken)["nonce"]; ok {
		t.Error("ID token has a nonce although the request sent none")
	}
	// Such a token has no Graph permission for /me.
	if status, body := env.graphMe(res.AccessToken); status != http.StatusForbidden {
		t.Errorf("/me = %d %v, want 403", status, body)
	}
}

func TestMSALDeclinesOfflineAccessAsEntraDoes(t *testing.T) {
	// Entra never echoes offline_access, so MSAL reports it "declined" when
	// an app passes it to AcquireTokenByAuthCode: the emulator reproduces
	// this so the app cannot come to depend on a friendlier server.
	env := newEnv(t, nil)
	ctx := context.Background()
	app := env.msal()
	code := env.msalSignIn(ctx, app, []string{"openid", "profile", "offline_access", "User.Read"}, "alice@demo.test", "alice-password", true)
	_, err := app.AcquireTokenByAuthCode(ctx, code, DemoRedirectURIs[0], []string{"User.Read", "offline_access"}, confidential.WithChallenge(testVerifier))
	if err == nil || !strings.Contains(err.Error(), "declined scopes") {
		t.Fatalf("err = %v, want MSAL's declined scopes error", err)
	}
}
