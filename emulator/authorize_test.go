// The authorization endpoint: the sign-in page, its errors, cancel,
// prompt=none, response modes and the session cookie.

package emulator

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

func TestAuthorizeErrorsShownAsPage(t *testing.T) {
	// Until client_id and redirect_uri are trusted, nothing is sent to the
	// redirect URI: the error is a page.
	env := newEnv(t, nil)
	tests := []struct {
		name string
		over url.Values
		code string
	}{
		{"unknown client_id", url.Values{"client_id": {"99999999-0000-4000-a000-000000000000"}}, "AADSTS700016"},
		{"missing client_id", url.Values{"client_id": {""}}, "AADSTS900144"},
		{"unregistered redirect_uri", url.Values{"redirect_uri": {"https://evil.example/auth/redirect"}}, "AADSTS50011"},
		{"http variant of a registered redirect_uri", url.Values{"redirect_uri": {"http://localhost:5000/auth/redirect"}}, "AADSTS50011"},
		{"missing redirect_uri", url.Values{"redirect_uri": {""}}, "AADSTS900971"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, method := range []string{http.MethodGet, http.MethodPost} {
				var resp *http.Response
				if method == http.MethodGet {
					resp = env.get(env.authorizeURL(tc.over))
				} else {
					resp = env.signIn(env.authorizeURL(tc.over), "alice@demo.test", "alice-password")
				}
				body := readBody(t, resp)
				if resp.StatusCode != http.StatusBadRequest {
					t.Errorf("%s: status = %d, want 400", method, resp.StatusCode)
				}
				if loc := resp.Header.Get("Location"); loc != "" {
					t.Errorf("%s: redirected to %s", method, loc)
				}
				if !strings.Contains(body, tc.code+": ") || !strings.Contains(body, "not Microsoft") {
					t.Errorf("%s: page lacks %s or the emulator notice: %.400s", method, tc.code, body)
				}
			}
		})
	}
}

func TestAuthorizeErrorsRedirectedToApp(t *testing.T) {
	env := newEnv(t, nil)
	tests := []struct {
		name    string
		over    url.Values
		wantErr string
		code    int
	}{
		{"response_type token", url.Values{"response_type": {"token"}}, "unsupported_response_type", 700051},
		{"missing response_type", url.Values{"response_type": {""}}, "invalid_request", 900144},
		{"missing code_challenge_method", url.Values{"code_challenge_method": {""}}, "invalid_request", 9002313},
		{"unsupported code_challenge_method", url.Values{"code_challenge_method": {"S512"}}, "invalid_request", 9002313},
		{"method without challenge", url.Values{"code_challenge": {""}}, "invalid_request", 50147},
		{"S256 challenge of the wrong size", url.Values{"code_challenge": {"too-short"}}, "invalid_request", 501491},
		{"unknown resource", url.Values{"scope": {"openid api://other-app/read"}}, "invalid_resource", 500011},
		{"malformed scope", url.Values{"scope": {"openid User.Read!"}}, "invalid_scope", 70011},
		{"missing scope", url.Values{"scope": {""}}, "invalid_request", 900144},
		{"unsupported response_mode", url.Values{"response_mode": {"web_message"}}, "invalid_request", 9002313},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantRedirectError(t, env.get(env.authorizeURL(tc.over)), tc.wantErr, tc.code, "state-123")
		})
	}
}

func TestSignInPage(t *testing.T) {
	env := newEnv(t, nil)
	authURL := env.authorizeURL(url.Values{"login_hint": {"admin@demo.test"}})
	resp := env.get(authURL)
	body := readBody(t, resp)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	u, _ := url.Parse(authURL)
	for _, want := range []string{
		`<html lang="en">`,
		`name="loginfmt"`,
		`name="passwd"`,
		`<label for="loginfmt">`,
		`<label for="passwd">`,
		`value="admin@demo.test"`, // pre-filled from login_hint
		`<button type="submit" name="action" value="signin"`,
		`<button type="submit" name="action" value="cancel"`,
		"not Microsoft",
		"alice-password", // demo accounts are listed
		`<meta name="viewport"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if strings.Contains(body, "<script") {
		t.Error("page has a script")
	}
	// The form posts back to the same URL, query string included.
	m := regexp.MustCompile(`<form method="post" action="([^"]*)"`).FindStringSubmatch(body)
	if m == nil || html.UnescapeString(m[1]) != u.RequestURI() {
		t.Errorf("form action = %v, want %s", m, u.RequestURI())
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP = %q", csp)
	}

	// Values are escaped.
	resp = env.get(env.authorizeURL(url.Values{"login_hint": {`"><script>alert(1)</script>`}}))
	if body := readBody(t, resp); strings.Contains(body, "<script>alert") {
		t.Error("login_hint is not escaped")
	}

	// A users file's passwords are not shown.
	custom := newEnv(t, func(c *Config) { c.Users = []User{{Username: "bob@x.test", Password: "bob-secret-pw"}} })
	resp = custom.get(custom.authorizeURL(nil))
	if body := readBody(t, resp); strings.Contains(body, "bob-secret-pw") || strings.Contains(body, "alice") {
		t.Error("sign-in page lists accounts of a users file")
	}
}

func TestSignInFailuresRerenderTheForm(t *testing.T) {
	env := newEnv(t, nil)
	tests := []struct {
		name, username, password, code string
	}{
		{"wrong password", "alice@demo.test", "wrong-password-123", "AADSTS50126"},
		{"empty password", "alice@demo.test", "", "AADSTS50126"},
		{"unknown user", "mallory@demo.test", "mallory-password-456", "AADSTS50034"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := env.signIn(env.authorizeURL(nil), tc.username, tc.password)
			body := readBody(t, resp)
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Location") != "" {
				t.Fatalf("status %d, Location %q; want the form again", resp.StatusCode, resp.Header.Get("Location"))
			}
			for _, want := range []string{tc.code + ": ", `role="alert"`, `name="passwd"`, `value="` + tc.username + `"`, `aria-invalid="true"`} {
				if !strings.Contains(body, want) {
					t.Errorf("page lacks %s", want)
				}
			}
			if tc.password != "" && strings.Contains(body, tc.password) {
				t.Error("page echoes the password")
			}
		})
	}

	// The username matches case-insensitively; a missing action means sign in.
	resp := env.postForm(env.authorizeURL(nil), url.Values{"loginfmt": {"ALICE@demo.test"}, "passwd": {"alice-password"}})
	if p := redirectParams(t, resp, DemoRedirectURIs[0]); p.Get("code") == "" {
		t.Errorf("no code: %v", p)
	}
}

func TestCancelRedirectsAccessDenied(t *testing.T) {
	env := newEnv(t, nil)
	resp := env.postForm(env.authorizeURL(nil), url.Values{"action": {"cancel"}})
	p := wantRedirectError(t, resp, "access_denied", 65004, "state-123")
	if p.Get("error_subcode") != "cancel" {
		t.Errorf("error_subcode = %q, want cancel", p.Get("error_subcode"))
	}
	if env.em.Stats()[StatCodesIssued] != 0 {
		t.Error("cancel issued a code")
	}
}

func TestSuccessfulSignIn(t *testing.T) {
	env := newEnv(t, nil)
	resp := env.signIn(env.authorizeURL(nil), "alice@demo.test", "alice-password")
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == sessionCookie {
			cookie = c
		}
	}
	p := redirectParams(t, resp, DemoRedirectURIs[0])
	if p.Get("code") == "" || p.Get("state") != "state-123" || p.Get("session_state") == "" {
		t.Errorf("redirect params = %v", p)
	}
	if cookie == nil {
		t.Fatal("no session cookie")
	}
	if !cookie.Secure || !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode || cookie.Path != "/"+DefaultTenant+"/" {
		t.Errorf("cookie = %+v, want Secure, HttpOnly, SameSite=Lax, Path=/tenant/", cookie)
	}

	// With a session holding one account, the next authorization is
	// answered at once (single sign-on), in the same session.
	p = redirectParams(t, env.get(env.authorizeURL(nil)), DemoRedirectURIs[0])
	if p.Get("code") == "" || p.Get("session_state") != redirectParamsSessionState(t, resp) {
		t.Errorf("second authorize = %v, want a code at once with the same session_state", p)
	}
}

func redirectParamsSessionState(t *testing.T, resp *http.Response) string {
	t.Helper()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return loc.Query().Get("session_state")
}

func TestPromptNone(t *testing.T) {
	env := newEnv(t, nil)
	silent := url.Values{"prompt": {"none"}}

	wantRedirectError(t, env.get(env.authorizeURL(silent)), "login_required", 50058, "state-123")

	env.code(nil, "admin@demo.test", "admin-password") // starts a session
	p := redirectParams(t, env.get(env.authorizeURL(silent)), DemoRedirectURIs[0])
	if p.Get("code") == "" {
		t.Fatalf("prompt=none with a session: %v", p)
	}
	status, body := env.token(codeForm(p.Get("code"), testVerifier))
	if status != http.StatusOK || jwtClaims(t, str(body, "id_token"))["preferred_username"] != "admin@demo.test" {
		t.Errorf("silent code redeemed: %d %v", status, body)
	}

	// Another browser has no session.
	env.browser = env.newBrowser()
	wantRedirectError(t, env.get(env.authorizeURL(silent)), "login_required", 50058, "state-123")
}

func TestResponseModes(t *testing.T) {
	env := newEnv(t, nil)
	t.Run("fragment", func(t *testing.T) {
		resp := env.signIn(env.authorizeURL(url.Values{"response_mode": {"fragment"}}), "alice@demo.test", "alice-password")
		readBody(t, resp)
		loc, _ := url.Parse(resp.Header.Get("Location"))
		frag, _ := url.ParseQuery(loc.Fragment)
		if resp.StatusCode != http.StatusFound || frag.Get("code") == "" || loc.RawQuery != "" {
			t.Errorf("status %d, Location %s", resp.StatusCode, resp.Header.Get("Location"))
		}
	})
	t.Run("form_post", func(t *testing.T) {
		resp := env.signIn(env.authorizeURL(url.Values{"response_mode": {"form_post"}}), "alice@demo.test", "alice-password")
		body := readBody(t, resp)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, `action="`+DemoRedirectURIs[0]+`"`) ||
			!strings.Contains(body, `name="code"`) || !strings.Contains(body, `name="state" value="state-123"`) {
			t.Errorf("status %d, body %.500s", resp.StatusCode, body)
		}
	})
	t.Run("redirect URI with a query keeps it", func(t *testing.T) {
		withQuery := "https://localhost:5000/auth/redirect?tenant=demo"
		env.em.AddRedirectURI(withQuery)
		resp := env.signIn(env.authorizeURL(url.Values{"redirect_uri": {withQuery}}), "alice@demo.test", "alice-password")
		p := redirectParams(t, resp, DemoRedirectURIs[0])
		if p.Get("tenant") != "demo" || p.Get("code") == "" {
			t.Errorf("params = %v", p)
		}
	})
}

func TestAddRedirectURI(t *testing.T) {
	env := newEnv(t, nil)
	const app = "http://127.0.0.1:40123/auth/redirect"
	resp := env.get(env.authorizeURL(url.Values{"redirect_uri": {app}}))
	if readBody(t, resp); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("unregistered: %d", resp.StatusCode)
	}
	env.em.AddRedirectURI(app)
	resp = env.signIn(env.authorizeURL(url.Values{"redirect_uri": {app}}), "alice@demo.test", "alice-password")
	if p := redirectParams(t, resp, app); p.Get("code") == "" {
		t.Errorf("params = %v", p)
	}
	defer func() {
		if recover() == nil {
			t.Error("AddRedirectURI accepted a plain-http public URL")
		}
	}()
	env.em.AddRedirectURI("http://example.com/cb")
}

func TestIndexPageAndStylesheet(t *testing.T) {
	env := newEnv(t, nil)
	resp := env.get(env.url("/"))
	body := readBody(t, resp)
	for _, want := range []string{"not Microsoft", DefaultTenant, env.em.Authority(env.srv.URL), DemoClientID,
		DemoRedirectURIs[0], "alice@demo.test", "admin-password", "/emulator/stats"} {
		if !strings.Contains(body, want) {
			t.Errorf("index page lacks %q", want)
		}
	}
	resp = env.get(env.url("/emulator/static/emulator.css"))
	if css := readBody(t, resp); resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/css") || !strings.Contains(css, ".banner") {
		t.Errorf("stylesheet: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	resp = env.get(env.url("/no/such/page"))
	if readBody(t, resp); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown path: %d", resp.StatusCode)
	}
}
