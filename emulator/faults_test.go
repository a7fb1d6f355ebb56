// Fault injection (API and HTTP), request statistics and logout.

package emulator

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
)

func TestFaultsFromTheAPI(t *testing.T) {
	env := newEnv(t, nil)

	t.Run("token answers 500 once", func(t *testing.T) {
		if err := env.em.InjectFault(Fault{Endpoint: EndpointToken, Status: 500, Times: 1}); err != nil {
			t.Fatal(err)
		}
		status, body := env.token(codeForm(env.code(nil, "alice@demo.test", "alice-password"), testVerifier))
		wantAADError(t, status, body, http.StatusInternalServerError, "server_error", 50000)
		if status, body := env.token(codeForm(env.code(nil, "alice@demo.test", "alice-password"), testVerifier)); status != http.StatusOK {
			t.Errorf("after the fault: %d %v", status, body)
		}
	})

	t.Run("graph answers 503 in Graph's shape", func(t *testing.T) {
		at := str(env.tokens("alice@demo.test", "alice-password"), "access_token")
		env.em.InjectFault(Fault{Endpoint: EndpointGraph, Status: 503, Times: 1})
		req, _ := http.NewRequest(http.MethodGet, env.url("/v1.0/me"), nil)
		req.Header.Set("Authorization", "Bearer "+at)
		resp, err := env.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body := decodeJSON(t, resp)
		errObj, _ := body["error"].(map[string]any)
		if resp.StatusCode != 503 || errObj["code"] != "serviceNotAvailable" || resp.Header.Get("Retry-After") == "" {
			t.Errorf("status %d, body %v, Retry-After %q", resp.StatusCode, body, resp.Header.Get("Retry-After"))
		}
	})

	t.Run("times counts down and faults apply in order", func(t *testing.T) {
		env.em.InjectFault(Fault{Endpoint: EndpointKeys, Status: 500, Times: 2})
		env.em.InjectFault(Fault{Endpoint: EndpointKeys, Status: 429, Times: 1})
		if f := env.em.Faults(); len(f) != 2 || f[0].Times != 2 {
			t.Fatalf("Faults() = %+v", f)
		}
		var got []int
		for range 4 {
			resp := env.get(env.tenantPath("/discovery/v2.0/keys"))
			readBody(t, resp)
			got = append(got, resp.StatusCode)
		}
		if want := []int{500, 500, 429, 200}; !equalInts(got, want) {
			t.Errorf("statuses = %v, want %v", got, want)
		}
		if f := env.em.Faults(); len(f) != 0 {
			t.Errorf("used-up faults remain: %+v", f)
		}
	})

	t.Run("times 0 applies until cleared", func(t *testing.T) {
		env.em.InjectFault(Fault{Endpoint: EndpointOpenIDConfiguration, Status: 500})
		for range 3 {
			resp := env.get(env.tenantPath("/v2.0/.well-known/openid-configuration"))
			if readBody(t, resp); resp.StatusCode != 500 {
				t.Errorf("status %d, want 500", resp.StatusCode)
			}
		}
		// MSAL cannot start without the discovery document.
		app := env.msal()
		if _, err := app.AuthCodeURL(context.Background(), DemoClientID, DemoRedirectURIs[0], []string{"User.Read"}); err == nil {
			t.Error("MSAL built an auth URL without a discovery document")
		}
		env.em.ClearFaults()
		resp := env.get(env.tenantPath("/v2.0/.well-known/openid-configuration"))
		if readBody(t, resp); resp.StatusCode != 200 {
			t.Errorf("after ClearFaults: %d", resp.StatusCode)
		}
	})

	t.Run("authorize and logout faults are pages", func(t *testing.T) {
		env.em.InjectFault(Fault{Endpoint: EndpointAuthorize, Status: 500, Times: 1})
		env.em.InjectFault(Fault{Endpoint: EndpointLogout, Status: 503, Times: 1})
		resp := env.get(env.authorizeURL(nil))
		if body := readBody(t, resp); resp.StatusCode != 500 || !strings.Contains(body, "AADSTS50000") || !strings.Contains(body, "injected") {
			t.Errorf("authorize fault: %d %.300s", resp.StatusCode, body)
		}
		resp = env.get(env.tenantPath("/oauth2/v2.0/logout"))
		if body := readBody(t, resp); resp.StatusCode != 503 || !strings.Contains(body, "AADSTS90033") {
			t.Errorf("logout fault: %d %.300s", resp.StatusCode, body)
		}
	})

	t.Run("delay is honoured", func(t *testing.T) {
		env.em.InjectFault(Fault{Endpoint: EndpointKeys, Delay: 200 * time.Millisecond, Times: 1})
		start := time.Now()
		resp := env.get(env.tenantPath("/discovery/v2.0/keys"))
		readBody(t, resp)
		if d := time.Since(start); resp.StatusCode != 200 || d < 200*time.Millisecond {
			t.Errorf("status %d after %v, want 200 after at least 200ms", resp.StatusCode, d)
		}
	})

	t.Run("delay stops when the client goes away", func(t *testing.T) {
		env.em.InjectFault(Fault{Endpoint: EndpointGraph, Delay: 5 * time.Second, Times: 1})
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, env.url("/v1.0/me"), nil)
		start := time.Now()
		if _, err := env.srv.Client().Do(req); err == nil {
			t.Fatal("request succeeded, want the client's timeout")
		}
		// The handler gives up too: its log line (status 499) appears well
		// before the 5s delay would have ended.
		for !strings.Contains(env.logs.String(), "path=/v1.0/me status=499") {
			if time.Since(start) > 2*time.Second {
				t.Fatalf("handler still waiting after the client left; log:\n%s", env.logs.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
	})

	t.Run("invalid faults are refused", func(t *testing.T) {
		for _, f := range []Fault{
			{Endpoint: "userinfo", Status: 500},
			{Endpoint: EndpointToken, Status: 200},
			{Endpoint: EndpointToken},
			{Endpoint: EndpointToken, Status: 500, Times: -1},
			{Endpoint: EndpointToken, Delay: -time.Second},
		} {
			if err := env.em.InjectFault(f); err == nil {
				t.Errorf("InjectFault(%+v) succeeded", f)
			}
		}
	})
}

func TestFaultsOverHTTP(t *testing.T) {
	env := newEnv(t, nil)
	post := func(body string) (int, map[string]any) {
		resp, err := env.srv.Client().Post(env.url("/emulator/faults"), "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, decodeJSON(t, resp)
	}

	status, body := post(`{"endpoint":"graph","status":503,"delay":"50ms","times":1}`)
	if status != http.StatusCreated {
		t.Fatalf("POST: %d %v", status, body)
	}
	resp := env.get(env.url("/emulator/faults"))
	var list struct {
		Faults []Fault `json:"faults"`
	}
	json.Unmarshal([]byte(readBody(t, resp)), &list)
	if len(list.Faults) != 1 || list.Faults[0] != (Fault{Endpoint: "graph", Status: 503, Delay: 50 * time.Millisecond, Times: 1}) {
		t.Errorf("GET /emulator/faults = %+v", list.Faults)
	}
	start := time.Now()
	if status, _ := env.graphMe("x"); status != 503 || time.Since(start) < 50*time.Millisecond {
		t.Errorf("graph: %d after %v", status, time.Since(start))
	}

	// A number is nanoseconds, as encoding/json writes time.Duration.
	if status, body := post(`{"endpoint":"token","status":500,"delay":1000}`); status != http.StatusCreated {
		t.Errorf("numeric delay: %d %v", status, body)
	}
	req, _ := http.NewRequest(http.MethodDelete, env.url("/emulator/faults"), nil)
	resp, err := env.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if readBody(t, resp); resp.StatusCode != http.StatusNoContent || len(env.em.Faults()) != 0 {
		t.Errorf("DELETE: %d, %d faults left", resp.StatusCode, len(env.em.Faults()))
	}

	for _, bad := range []string{
		`{"endpoint":"nowhere","status":500}`,
		`{"endpoint":"token","status":500,"delay":"soon"}`,
		`{"endpoint":"token","statuss":500}`,
		`{"endpoint":"token"}`,
		`not json`,
		`{"revoke_refresh_tokens":"nobody@demo.test"}`,
	} {
		if status, body := post(bad); status != http.StatusBadRequest || str(body, "error") == "" {
			t.Errorf("POST %s: %d %v, want 400 with an error", bad, status, body)
		}
	}
}

func TestStats(t *testing.T) {
	env := newEnv(t, nil)
	ctx := context.Background()
	app := env.msal()
	code := env.msalSignIn(ctx, app, []string{"openid", "profile", "offline_access", "User.Read"}, "alice@demo.test", "alice-password", true)
	res, err := app.AcquireTokenByAuthCode(ctx, code, DemoRedirectURIs[0], []string{"User.Read"})
	if err == nil {
		t.Fatal("redeemed a PKCE code without the verifier")
	}
	res, err = app.AcquireTokenByAuthCode(ctx, env.code(nil, "alice@demo.test", "alice-password"), DemoRedirectURIs[0], []string{"User.Read"}, confidential.WithChallenge(testVerifier))
	if err != nil {
		t.Fatal(err)
	}
	env.token(refreshForm("garbage"))
	env.graphMe(res.AccessToken)
	readBody(t, env.get(env.tenantPath("/discovery/v2.0/keys")))
	readBody(t, env.get(env.tenantPath("/oauth2/v2.0/logout")))

	want := map[string]int64{
		StatOpenIDConfiguration:    1, // MSAL caches it per client
		StatKeys:                   1,
		StatAuthorize:              3, // GET page, POST form, POST form
		StatToken:                  3,
		StatTokenAuthorizationCode: 2,
		StatTokenRefreshToken:      1,
		StatLogout:                 1,
		StatGraphMe:                1,
		StatSignIns:                2,
		StatCodesIssued:            2,
		StatFaults:                 0,
	}
	got := env.em.Stats()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("Stats()[%s] = %d, want %d", k, got[k], v)
		}
	}
	resp := env.get(env.url("/emulator/stats"))
	if body := decodeJSON(t, resp); body[StatToken] != float64(3) {
		t.Errorf("GET /emulator/stats = %v", body)
	}
	env.em.ResetStats()
	for k, v := range env.em.Stats() {
		if v != 0 {
			t.Errorf("after ResetStats %s = %d", k, v)
		}
	}
}

func TestLogout(t *testing.T) {
	tests := []struct {
		name     string
		query    url.Values
		wantTo   string // "" = the signed-out page
		rejected bool
	}{
		{"registered redirect URI", url.Values{"post_logout_redirect_uri": {DemoRedirectURIs[0]}}, DemoRedirectURIs[0], false},
		{"same origin as a registered URI", url.Values{"post_logout_redirect_uri": {"https://127.0.0.1:5000/"}}, "https://127.0.0.1:5000/", false},
		{"state is passed back", url.Values{"post_logout_redirect_uri": {"https://localhost:5000/"}, "state": {"bye"}}, "https://localhost:5000/?state=bye", false},
		{"other port", url.Values{"post_logout_redirect_uri": {"https://localhost:5001/"}}, "", true},
		{"foreign origin", url.Values{"post_logout_redirect_uri": {"https://evil.example/"}}, "", true},
		{"no return address", nil, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := newEnv(t, nil)
			env.code(nil, "alice@demo.test", "alice-password") // signed in to the emulator
			resp := env.get(env.tenantPath("/oauth2/v2.0/logout") + "?" + tc.query.Encode())
			body := readBody(t, resp)
			if tc.wantTo != "" {
				if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != tc.wantTo {
					t.Errorf("status %d, Location %q, want 302 to %s", resp.StatusCode, resp.Header.Get("Location"), tc.wantTo)
				}
			} else {
				wantStatus := http.StatusOK
				if tc.rejected {
					wantStatus = http.StatusBadRequest // an error page, not a redirect
				}
				if resp.StatusCode != wantStatus || !strings.Contains(body, "You signed out of the emulator") {
					t.Errorf("status %d, want %d; body %.300s", resp.StatusCode, wantStatus, body)
				}
				if got := strings.Contains(body, "did not go there"); got != tc.rejected {
					t.Errorf("rejection notice shown = %v, want %v", got, tc.rejected)
				}
			}
			// The emulator session is over: silent sign-in needs the form again.
			wantRedirectError(t, env.get(env.authorizeURL(url.Values{"prompt": {"none"}})), "login_required", 50058, "state-123")
			if n := env.em.Stats()[StatLogout]; n != 1 {
				t.Errorf("logout count = %d", n)
			}
		})
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// The control endpoints change what the emulator does for everyone using
// it: a page on another site, opened in the developer's browser, must not
// be able to post to them. A request the browser marks as coming from
// another origin is refused and changes nothing; the emulator's own origin,
// curl and Go clients (no Sec-Fetch-Site, no Origin) are served.
func TestControlsRefuseCrossOriginRequests(t *testing.T) {
	env := newEnv(t, func(c *Config) { c.FederatedSubjects = []string{"system:serviceaccount:web:app"} })
	const alice = "alice@demo.test"
	send := func(method, path, contentType, body string, header ...string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, env.url(path), strings.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := env.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode == http.StatusNoContent {
			resp.Body.Close()
			return resp.StatusCode, nil
		}
		return resp.StatusCode, decodeJSON(t, resp)
	}
	const asJSON, asForm = "application/json", "application/x-www-form-urlencoded"
	if err := env.em.InjectFault(Fault{Endpoint: EndpointGraph, Status: 503}); err != nil {
		t.Fatal(err)
	}
	issued := len(env.em.IssuedValues())

	for _, from := range [][]string{
		{"Sec-Fetch-Site", "cross-site"},
		{"Sec-Fetch-Site", "same-site"}, // a sibling subdomain is another origin too
		{"Origin", "https://attacker.example"},
		{"Origin", "null"},
	} {
		for _, c := range []struct{ method, path, contentType, body string }{
			{http.MethodPost, "/emulator/faults", "text/plain", `{"endpoint":"token","status":500}`},
			{http.MethodPost, "/emulator/faults", asJSON, `{"revoke_refresh_tokens":"` + alice + `"}`},
			{http.MethodPost, "/emulator/faults", asJSON, `{"cae_event":"` + alice + `"}`},
			{http.MethodDelete, "/emulator/faults", asJSON, ""},
			{http.MethodPost, "/emulator/workload-token", asForm, "subject=system:serviceaccount:web:app"},
		} {
			if status, body := send(c.method, c.path, c.contentType, c.body, from...); status != http.StatusForbidden || !strings.Contains(str(body, "error"), "cross-origin") {
				t.Errorf("%s %s %s with %v: %d %v, want 403", c.method, c.path, c.body, from, status, body)
			}
		}
	}
	// Nothing changed: the one fault is still there, alice's refresh
	// tokens were not revoked, no critical event was recorded, no token
	// was handed out.
	if f := env.em.Faults(); len(f) != 1 || f[0].Endpoint != EndpointGraph {
		t.Errorf("faults after the refused requests: %+v", f)
	}
	env.em.mu.Lock()
	revoked := env.em.revoked[alice]
	env.em.mu.Unlock()
	if revoked.generation != 0 {
		t.Error("a refused request revoked alice's refresh tokens")
	}
	if _, ok := env.em.caeEventAt(alice); ok {
		t.Error("a refused request recorded a critical event for alice")
	}
	if n := len(env.em.IssuedValues()); n != issued {
		t.Errorf("refused requests had %d values issued", n-issued)
	}

	// The emulator's own origin, as a browser on its pages marks it, and a
	// client that sends neither header, are served.
	host := strings.TrimPrefix(env.srv.URL, "https://")
	for _, from := range [][]string{{"Sec-Fetch-Site", "same-origin"}, {"Origin", "https://" + host}, nil} {
		if status, body := send(http.MethodPost, "/emulator/faults", asJSON, `{"endpoint":"token","status":500,"times":1}`, from...); status != http.StatusCreated {
			t.Errorf("a fault from %v: %d %v", from, status, body)
		}
		if status, body := send(http.MethodPost, "/emulator/workload-token", asForm, "subject=system:serviceaccount:web:app", from...); status != http.StatusOK || str(body, "token") == "" {
			t.Errorf("a workload token from %v: %d %v", from, status, body)
		}
		if status, _ := send(http.MethodDelete, "/emulator/faults", asJSON, "", from...); status != http.StatusNoContent {
			t.Errorf("DELETE from %v: %d", from, status)
		}
	}
	if status, body := send(http.MethodPost, "/emulator/faults", asJSON, `{"cae_event":"`+alice+`"}`, "Sec-Fetch-Site", "same-origin"); status != http.StatusOK {
		t.Errorf("a critical event from the emulator's origin: %d %v", status, body)
	}
}
