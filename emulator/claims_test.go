// Conditional Access with MSAL Go: client capabilities (xms_cc), a
// Continuous Access Evaluation event and its claims challenge, and step-up
// to an authentication context with a second factor.

package emulator

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
)

// msalWith is env.msal with extra options, e.g. client capabilities.
func (env *testEnv) msalWith(opts ...confidential.Option) confidential.Client {
	env.t.Helper()
	cred, err := confidential.NewCredFromSecret(DemoClientSecret)
	if err != nil {
		env.t.Fatal(err)
	}
	opts = append([]confidential.Option{
		confidential.WithInstanceDiscovery(false),
		confidential.WithHTTPClient(env.srv.Client()),
		confidential.WithAzureRegion("DisableMsalForceRegion"),
		confidential.WithCache(&memCache{}),
	}, opts...)
	app, err := confidential.New(env.em.Authority(env.srv.URL), DemoClientID, cred, opts...)
	if err != nil {
		env.t.Fatalf("confidential.New: %v", err)
	}
	return app
}

func (env *testEnv) graphGet(path, token string) (*http.Response, map[string]any) {
	env.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, env.url(path), nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := env.srv.Client().Do(req)
	if err != nil {
		env.t.Fatal(err)
	}
	return resp, decodeJSON(env.t, resp)
}

var authParam = regexp.MustCompile(`(\w+)="([^"]*)"`)

// challengeClaims parses a WWW-Authenticate claims challenge as an app
// must, and returns its decoded claims.
func challengeClaims(t *testing.T, header string) string {
	t.Helper()
	if !strings.HasPrefix(header, "Bearer ") {
		t.Fatalf("WWW-Authenticate = %q, want a Bearer challenge", header)
	}
	params := map[string]string{}
	for _, m := range authParam.FindAllStringSubmatch(header, -1) {
		params[m[1]] = m[2]
	}
	if params["error"] != "insufficient_claims" || params["client_id"] != GraphResourceID || !strings.HasSuffix(params["authorization_uri"], "/oauth2/v2.0/authorize") {
		t.Errorf("challenge parameters = %v", params)
	}
	claims, err := base64.StdEncoding.DecodeString(params["claims"])
	if err != nil {
		t.Fatalf("claims %q is not base64: %v", params["claims"], err)
	}
	return string(claims)
}

var cp1 = confidential.WithClientCapabilities([]string{"cp1"})

func TestClientCapabilityCP1InAccessTokens(t *testing.T) {
	env := newEnv(t, nil)
	for _, tc := range []struct {
		name string
		app  confidential.Client
		want bool
	}{{"cp1", env.msalWith(cp1), true}, {"no capabilities", env.msal(), false}} {
		t.Run(tc.name, func(t *testing.T) {
			env.browser = env.newBrowser()
			authURL := env.msalAuthURL(tc.app, appScopes, nil)
			if got := strings.Contains(authURL, "xms_cc"); got != tc.want {
				t.Fatalf("AuthCodeURL carries xms_cc: %v, want %v (%s)", got, tc.want, authURL)
			}
			code := codeFrom(t, env.signIn(authURL, "alice@demo.test", "alice-password"))
			res := env.redeem(tc.app, code, []string{"User.Read"})
			xms, has := jwtClaims(t, res.AccessToken)["xms_cc"]
			if has != tc.want || (tc.want && xms.([]any)[0] != "cp1") {
				t.Errorf("access token xms_cc = %v, want it: %v", xms, tc.want)
			}
			if _, ok := jwtClaims(t, res.IDToken.RawToken)["xms_cc"]; ok {
				t.Error("the ID token carries xms_cc")
			}
		})
	}
	// A token request alone can declare it too, as MSAL sends claims on
	// every token request.
	form := codeForm(env.code(nil, "alice@demo.test", "alice-password"), testVerifier)
	form.Set("claims", `{"access_token":{"xms_cc":{"values":["CP1"]}}}`)
	if _, tok := env.token(form); jwtClaims(t, str(tok, "access_token"))["xms_cc"] == nil {
		t.Error("token request's claims did not give xms_cc")
	}
}

func TestCAEEvent(t *testing.T) {
	env := newEnv(t, func(c *Config) { c.AdminConsented = []string{"User.Read", "Calendars.Read"} })
	scopes := []string{"openid", "profile", "offline_access", "User.Read", "Calendars.Read"}

	capable := env.msalWith(cp1)
	cpRes := env.redeem(capable, codeFrom(t, env.signIn(env.msalAuthURL(capable, scopes, nil), "alice@demo.test", "alice-password")), []string{"User.Read", "Calendars.Read"})
	plain := env.msal()
	plainRes := env.redeem(plain, codeFrom(t, env.get(env.msalAuthURL(plain, scopes, nil))), []string{"User.Read", "Calendars.Read"})
	_, plainTok := env.token(codeForm(codeFrom(t, env.get(env.authorizeURL(nil))), testVerifier))

	// Before the event every token works.
	for _, tok := range []string{cpRes.AccessToken, plainRes.AccessToken} {
		if resp, body := env.graphGet("/v1.0/me", tok); resp.StatusCode != http.StatusOK {
			t.Fatalf("/me before the event: %d %v", resp.StatusCode, body)
		}
	}

	env.clock.Advance(time.Second)
	resp, err := env.srv.Client().Post(env.url("/emulator/faults"), "application/json", strings.NewReader(`{"cae_event":"alice@demo.test"}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := decodeJSON(t, resp); resp.StatusCode != http.StatusOK || got["cae_event"] != "alice@demo.test" {
		t.Fatalf("POST cae_event: %d %v", resp.StatusCode, got)
	}
	eventTime := env.clock.Now().Unix()

	// The cp1 client's token is challenged on both Graph endpoints.
	var claims string
	for _, path := range []string{"/v1.0/me", "/v1.0/me/events"} {
		resp, body := env.graphGet(path, cpRes.AccessToken)
		errObj, _ := body["error"].(map[string]any)
		if resp.StatusCode != http.StatusUnauthorized || errObj["code"] != "InvalidAuthenticationToken" {
			t.Fatalf("%s with a cp1 token after the event: %d %v", path, resp.StatusCode, body)
		}
		claims = challengeClaims(t, resp.Header.Get("WWW-Authenticate"))
	}
	var parsed struct {
		AccessToken struct {
			Nbf struct {
				Essential bool   `json:"essential"`
				Value     string `json:"value"`
			} `json:"nbf"`
		} `json:"access_token"`
	}
	if err := json.Unmarshal([]byte(claims), &parsed); err != nil || !parsed.AccessToken.Nbf.Essential || parsed.AccessToken.Nbf.Value != strconv.FormatInt(eventTime, 10) {
		t.Fatalf("challenge claims = %s (%v), want nbf %d", claims, err, eventTime)
	}
	// A token without cp1 keeps working until it expires.
	if resp, body := env.graphGet("/v1.0/me/events", plainRes.AccessToken); resp.StatusCode != http.StatusOK {
		t.Errorf("non-cp1 token after the event: %d %v", resp.StatusCode, body)
	}
	// The refresh tokens from before the event are revoked.
	status, body := env.token(refreshForm(str(plainTok, "refresh_token")))
	wantAADError(t, status, body, http.StatusBadRequest, "invalid_grant", 50173)

	// Answering the challenge: prompt=none cannot, the browser session's
	// sign-in is older than the event ...
	wantRedirectError(t, env.get(env.msalAuthURL(capable, scopes, url.Values{"prompt": {"none"}}, confidential.WithClaims(claims))), "interaction_required", 50133, "msal-state")
	// ... so the sign-in asks for the password again, with the name filled in.
	before := env.em.Stats()[StatSignIns]
	authURL := env.msalAuthURL(capable, scopes, nil, confidential.WithClaims(claims))
	if !strings.Contains(authURL, "nbf") || !strings.Contains(authURL, "xms_cc") {
		t.Fatalf("AuthCodeURL does not carry the claims: %s", authURL)
	}
	page200(t, env.get(authURL), `name="passwd"`, `value="alice@demo.test"`, "sign in again")
	code := codeFrom(t, env.signIn(authURL, "alice@demo.test", "alice-password"))
	if env.em.Stats()[StatSignIns] != before+1 {
		t.Error("the challenge was answered without the password")
	}
	fresh := env.redeem(capable, code, []string{"User.Read", "Calendars.Read"}, confidential.WithClaims(claims))
	if nbf := int64(jwtClaims(t, fresh.AccessToken)["nbf"].(float64)); nbf < eventTime {
		t.Errorf("new token nbf %d, want >= %d", nbf, eventTime)
	}
	for _, path := range []string{"/v1.0/me", "/v1.0/me/events"} {
		if resp, body := env.graphGet(path, fresh.AccessToken); resp.StatusCode != http.StatusOK {
			t.Errorf("%s with the new token: %d %v", path, resp.StatusCode, body)
		}
	}
	// The session's sign-in is now fresh: the same claims need no password.
	codeFrom(t, env.get(env.msalAuthURL(capable, scopes, nil, confidential.WithClaims(claims))))
	if n := env.em.Stats()[StatClaimsChallenges]; n != 2 {
		t.Errorf("claims_challenges = %d, want 2", n)
	}
	if _, err := env.em.CAEEvent("nobody@demo.test"); err == nil {
		t.Error("CAEEvent accepted an unknown user")
	}
}

func TestCAEEventInTheSameSecond(t *testing.T) {
	// The clock does not move: a token issued an instant before the event
	// is refused and one issued an instant after it is not, although both
	// have the same iat.
	env := newEnv(t, nil)
	env.clock.t = time.Unix(env.clock.t.Unix(), 500_000_000) // mid-second, so all of it stays in one second
	app := env.msalWith(cp1)
	old := env.redeem(app, codeFrom(t, env.signIn(env.msalAuthURL(app, appScopes, nil), "alice@demo.test", "alice-password")), []string{"User.Read"})
	env.clock.Advance(time.Millisecond)
	if _, err := env.em.CAEEvent("alice@demo.test"); err != nil {
		t.Fatal(err)
	}
	env.clock.Advance(time.Millisecond)
	claims := `{"access_token":{"nbf":{"essential":true,"value":"` + strconv.FormatInt(env.clock.Now().Unix(), 10) + `"}}}`
	authURL := env.msalAuthURL(app, appScopes, nil, confidential.WithClaims(claims))
	page200(t, env.get(authURL), `name="passwd"`)
	fresh := env.redeem(app, codeFrom(t, env.signIn(authURL, "alice@demo.test", "alice-password")), []string{"User.Read"}, confidential.WithClaims(claims))
	if jwtClaims(t, old.AccessToken)["iat"] != jwtClaims(t, fresh.AccessToken)["iat"] {
		t.Fatal("the tokens' iat differ; the test's premise does not hold")
	}
	if resp, _ := env.graphGet("/v1.0/me", old.AccessToken); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("token from before the event: %d, want 401", resp.StatusCode)
	}
	if resp, _ := env.graphGet("/v1.0/me", fresh.AccessToken); resp.StatusCode != http.StatusOK {
		t.Errorf("token from after the event: %d, want 200", resp.StatusCode)
	}
}

var stepUpClaims = `{"id_token":{"acrs":{"essential":true,"value":"c1"}}}`

func TestStepUpWithSecondFactor(t *testing.T) {
	env := newEnv(t, nil)
	app := env.msal()
	authURL := env.msalAuthURL(app, appScopes, nil, confidential.WithClaims(stepUpClaims))
	second := func(resp *http.Response, wants ...string) string {
		t.Helper()
		wants = append(wants, "<h1>Verify your identity</h1>", `<label for="otc">`, `name="otc"`, `autocomplete="one-time-code"`,
			"<code>c1</code>", "<code>123456</code>", `value="verify"`, `value="cancel"`)
		return flowOf(t, page200(t, resp, wants...))
	}

	// After the password: the second factor.
	flow := second(env.signIn(authURL, "alice@demo.test", "alice-password"))
	// A wrong code: the page again, with the error.
	resp := env.postForm(authURL, url.Values{"flow": {flow}, "otc": {"654321"}, "action": {"verify"}})
	flow = second(resp, `role="alert"`, "That code didn’t work", `aria-invalid="true"`)
	// The right code: an ID token with acrs.
	code := codeFrom(t, env.postForm(authURL, url.Values{"flow": {flow}, "otc": {"123 456"}, "action": {"verify"}}))
	res := env.redeem(app, code, []string{"User.Read"}, confidential.WithClaims(stepUpClaims))
	if acrs, _ := jwtClaims(t, res.IDToken.RawToken)["acrs"].([]any); len(acrs) != 1 || acrs[0] != "c1" {
		t.Errorf("ID token acrs = %v, want [c1]", jwtClaims(t, res.IDToken.RawToken)["acrs"])
	}
	if n := env.em.Stats()[StatSecondFactors]; n != 1 {
		t.Errorf("second_factors = %d", n)
	}

	// Single sign-on still asks for the second factor, not the password.
	before := env.em.Stats()[StatSignIns]
	flow = second(env.get(authURL))
	if env.em.Stats()[StatSignIns] != before {
		t.Error("step-up after single sign-on asked for the password")
	}
	// Cancel: access_denied back to the app.
	wantRedirectError(t, env.postForm(authURL, url.Values{"flow": {flow}, "action": {"cancel"}}), "access_denied", 500121, "msal-state")
	// Silent step-up is impossible.
	wantRedirectError(t, env.get(env.msalAuthURL(app, appScopes, url.Values{"prompt": {"none"}}, confidential.WithClaims(stepUpClaims))), "interaction_required", 50076, "msal-state")

	// Five wrong codes end the sign-in.
	flow = second(env.get(authURL))
	for i := 1; i < maxOTCAttempts; i++ {
		flow = second(env.postForm(authURL, url.Values{"flow": {flow}, "otc": {"000000"}, "action": {"verify"}}), "That code didn’t work")
	}
	wantRedirectError(t, env.postForm(authURL, url.Values{"flow": {flow}, "otc": {"000000"}, "action": {"verify"}}), "access_denied", 500121, "msal-state")

	// Without the claims request there is no second factor and no acrs.
	plain := env.redeem(app, codeFrom(t, env.get(env.msalAuthURL(app, appScopes, nil))), []string{"User.Read"})
	if _, ok := jwtClaims(t, plain.IDToken.RawToken)["acrs"]; ok {
		t.Error("ID token without step-up carries acrs")
	}
	// A token request that asks for c1 on a code that did not satisfy it.
	form := codeForm(env.code(nil, "alice@demo.test", "alice-password"), testVerifier)
	form.Set("claims", stepUpClaims)
	status, body := env.token(form)
	wantAADError(t, status, body, http.StatusBadRequest, "interaction_required", 50076)
}

func TestStepUpRefreshKeepsAcrs(t *testing.T) {
	env := newEnv(t, nil)
	authURL := env.authorizeURL(url.Values{"claims": {stepUpClaims}})
	flow := flowOf(t, page200(t, env.signIn(authURL, "admin@demo.test", "admin-password")))
	p := redirectParams(t, env.postForm(authURL, url.Values{"flow": {flow}, "otc": {"123456"}, "action": {"verify"}}), DemoRedirectURIs[0])
	status, tok := env.token(codeForm(p.Get("code"), testVerifier))
	if status != http.StatusOK {
		t.Fatal(tok)
	}
	form := refreshForm(str(tok, "refresh_token"))
	form.Set("claims", stepUpClaims)
	status, tok = env.token(form)
	if status != http.StatusOK {
		t.Fatalf("refresh: %d %v", status, tok)
	}
	if acrs, _ := jwtClaims(t, str(tok, "id_token"))["acrs"].([]any); len(acrs) != 1 || acrs[0] != "c1" {
		t.Errorf("refreshed ID token acrs = %v", acrs)
	}
}

func TestStepUpCodeFromTheUsersFile(t *testing.T) {
	env := newEnv(t, func(c *Config) {
		c.Users = []User{{Username: "bob@x.test", Password: "bob-password", OTC: "918273645"}}
	})
	authURL := env.authorizeURL(url.Values{"claims": {stepUpClaims}})
	body := page200(t, env.signIn(authURL, "bob@x.test", "bob-password"), `name="otc"`)
	if strings.Contains(body, "918273645") || strings.Contains(body, "123456") {
		t.Error("the page shows a users file account's code")
	}
	flow := flowOf(t, page200(t, env.postForm(authURL, url.Values{"flow": {flowOf(t, body)}, "otc": {"123456"}, "action": {"verify"}}), "That code didn’t work"))
	codeFrom(t, env.postForm(authURL, url.Values{"flow": {flow}, "otc": {"918273645"}, "action": {"verify"}}))

	if strings.Contains(env.logs.String(), "918273645") || strings.Contains(env.logs.String(), "acrs") || strings.Contains(env.logs.String(), "c1") {
		t.Errorf("the log holds a code or a claims value:\n%s", env.logs.String())
	}
}

func TestClaimsParameterIsChecked(t *testing.T) {
	env := newEnv(t, nil)
	for _, bad := range []string{"not json", `{"id_token":{"acrs":{"essential":true,"value":"c1 c2"}}}`, `{"access_token":{"nbf":{"value":"yesterday"}}}`, `{"id_token":{"acrs":{"value":{"x":1}}}}`} {
		wantRedirectError(t, env.get(env.authorizeURL(url.Values{"claims": {bad}})), "invalid_request", 9002313, "state-123")
		form := codeForm(env.code(nil, "alice@demo.test", "alice-password"), testVerifier)
		form.Set("claims", bad)
		status, body := env.token(form)
		wantAADError(t, status, body, http.StatusBadRequest, "invalid_request", 9002313)
	}
	// Unknown claims are ignored, as Entra ignores them.
	codeFrom(t, env.get(env.authorizeURL(url.Values{"claims": {`{"id_token":{"auth_time":{"essential":true}},"userinfo":null}`}})))
	if strings.Contains(env.logs.String(), "yesterday") || strings.Contains(env.logs.String(), "essential") {
		t.Errorf("the log holds a claims value:\n%s", env.logs.String())
	}
}

// The emulator remembers what each token request asked for, so that a test
// can check what a client sent: here MSAL Go, with the cp1 capability,
// redeeming a code for a step-up sends one claims request holding both, and
// a request from an unknown client is not remembered.
func TestTokenRequestsRecordClaims(t *testing.T) {
	env := newEnv(t, nil)
	app := env.msalWith(cp1)
	authURL := env.msalAuthURL(app, appScopes, nil, confidential.WithClaims(stepUpClaims))
	flow := flowOf(t, page200(t, env.signIn(authURL, "alice@demo.test", "alice-password"), `name="otc"`))
	code := codeFrom(t, env.postForm(authURL, url.Values{"flow": {flow}, "otc": {"123456"}, "action": {"verify"}}))
	if got := env.em.TokenRequests(); len(got) != 0 {
		t.Fatalf("token requests before any: %+v", got)
	}
	env.redeem(app, code, []string{"User.Read"}, confidential.WithClaims(stepUpClaims))

	status, _ := env.token(url.Values{"grant_type": {"authorization_code"}, "client_id": {"11111111-2222-3333-4444-555555555555"},
		"client_secret": {"x"}, "code": {"x"}, "redirect_uri": {DemoRedirectURIs[0]}, "claims": {stepUpClaims}})
	if status != http.StatusBadRequest {
		t.Fatalf("a token request from an unknown client: %d", status)
	}
	got := env.em.TokenRequests()
	if len(got) != 1 || got[0].ClientID != DemoClientID || got[0].GrantType != "authorization_code" || !strings.Contains(got[0].Scope, "User.Read") {
		t.Fatalf("token requests = %+v, want MSAL's one code redemption", got)
	}
	var claims map[string]json.RawMessage
	if err := json.Unmarshal([]byte(got[0].Claims), &claims); err != nil {
		t.Fatalf("claims %q: %v", got[0].Claims, err)
	}
	if len(claims) != 2 || !strings.Contains(string(claims["access_token"]), `"cp1"`) || !strings.Contains(string(claims["id_token"]), `"c1"`) {
		t.Errorf("claims sent with the code = %s, want the cp1 capability and the c1 step-up", got[0].Claims)
	}
}

// With OmitACRS the step-up sign-in happens as before (the second factor is
// asked for) but no token says so: the ID and access tokens of the code and
// of a refresh carry no acrs, as when no Conditional Access policy uses the
// authentication context. Without it the same sign-in gives acrs.
func TestOmitACRS(t *testing.T) {
	for _, omit := range []bool{false, true} {
		t.Run(fmt.Sprintf("OmitACRS=%v", omit), func(t *testing.T) {
			env := newEnv(t, func(c *Config) { c.OmitACRS = omit })
			authURL := env.authorizeURL(url.Values{"claims": {stepUpClaims}})
			flow := flowOf(t, page200(t, env.signIn(authURL, "admin@demo.test", "admin-password"), `name="otc"`))
			p := redirectParams(t, env.postForm(authURL, url.Values{"flow": {flow}, "otc": {"123456"}, "action": {"verify"}}), DemoRedirectURIs[0])
			form := codeForm(p.Get("code"), testVerifier)
			form.Set("claims", stepUpClaims)
			status, tok := env.token(form)
			if status != http.StatusOK {
				t.Fatalf("code: %d %v", status, tok)
			}
			form = refreshForm(str(tok, "refresh_token"))
			form.Set("claims", stepUpClaims)
			status, refreshed := env.token(form)
			if status != http.StatusOK {
				t.Fatalf("refresh: %d %v", status, refreshed)
			}
			for _, tk := range []struct{ name, raw string }{
				{"ID token", str(tok, "id_token")}, {"access token", str(tok, "access_token")},
				{"refreshed ID token", str(refreshed, "id_token")}, {"refreshed access token", str(refreshed, "access_token")},
			} {
				acrs, has := jwtClaims(t, tk.raw)["acrs"]
				if has == omit {
					t.Errorf("%s acrs = %v, present: %v, want present: %v", tk.name, acrs, has, !omit)
				}
			}
		})
	}
}
