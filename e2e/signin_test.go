// End-to-end tests of the sign-in walk: sign-in, Graph, the admin page,
// token refresh, sign-out, the sign-in errors a person can meet, missing
// configuration and the lifetimes of the cookies.

package e2e

import (
	"html"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"ms-identity-go-webapp/emulator"
)

// The walk of the issue: signed-out index, a protected page that starts the
// sign-in, the emulator's form, back on the page with Graph's answer, the
// claims, the admin page refused, and sign-out through the end-session
// endpoint.
func TestSignInWalk(t *testing.T) {
	env := newTestEnv(t)
	b := env.newBrowser()

	home := b.get("/")
	assertStatus(t, home, http.StatusOK)
	assertContains(t, home, "You're not signed in.")
	if b.sessionCookie() != nil {
		t.Fatal("a visitor who only looked got a session cookie")
	}

	// A protected page starts the authorization code flow.
	start := b.get("/graph")
	assertStatus(t, start, http.StatusFound)
	authURL, _ := url.Parse(start.location)
	if !strings.HasPrefix(start.location, env.emuURL+"/"+emulator.DefaultTenant+"/oauth2/v2.0/authorize?") {
		t.Fatalf("sign-in went to %s", start.location)
	}
	q := authURL.Query()
	for _, p := range []string{"state", "nonce", "code_challenge"} {
		if len(q.Get(p)) < 43 {
			t.Errorf("authorize URL %s = %q: want 32 random bytes", p, q.Get(p))
		}
	}
	if q.Get("code_challenge_method") != "S256" || q.Get("response_type") != "code" || q.Get("client_id") != emulator.DemoClientID {
		t.Errorf("authorize URL parameters: %v", q)
	}
	if scopes := strings.Fields(q.Get("scope")); strings.Join(scopes, " ") != "User.Read openid profile offline_access" {
		t.Errorf("scope = %q", q.Get("scope"))
	}
	// The sign-in in progress lives in the browser, in a cookie of its own:
	// nothing is stored on the server before someone has signed in.
	if b.sessionCookie() != nil || len(b.signInCookies()) != 1 {
		t.Fatalf("starting the sign-in: session cookie %v, %d sign-in cookies, want none and one", b.sessionCookie(), len(b.signInCookies()))
	}
	if files, _ := os.ReadDir(env.cfg.SessionDir); len(files) != 0 {
		t.Fatalf("starting the sign-in stored %d session files", len(files))
	}

	back := b.submitSignIn(start.location, "alice@demo.test", "alice-password", "signin")
	assertStatus(t, back, http.StatusFound)
	if !strings.HasPrefix(back.location, env.appURL+"/auth/redirect?") {
		t.Fatalf("emulator redirected to %s", back.location)
	}
	landed := b.follow(back)
	assertStatus(t, landed, http.StatusSeeOther)
	if landed.location != env.appURL+"/graph" {
		t.Fatalf("after sign-in went to %q, want the page first asked for", landed.location)
	}
	checkSessionCookie(t, landed)
	after := b.sessionCookie()
	if after == nil || len(b.signInCookies()) != 0 {
		t.Fatalf("signed in: session cookie %v, %d sign-in cookies left, want one and none", after, len(b.signInCookies()))
	}
	if files, _ := filepath.Glob(filepath.Join(env.cfg.SessionDir, "session_*")); len(files) != 1 {
		t.Fatalf("signed in: %d session files, want 1", len(files))
	}

	graph := b.follow(landed)
	assertStatus(t, graph, http.StatusOK)
	assertContains(t, graph, `&#34;displayName&#34;: &#34;Alice Smith&#34;`)
	assertContains(t, graph, "The cached access token stays valid for another")
	assertContains(t, graph, "Hello Alice Smith!")
	if cc := graph.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control on a signed-in page = %q", cc)
	}

	claims := b.get("/token_details")
	assertStatus(t, claims, http.StatusOK)
	assertContains(t, claims, "alice@demo.test")
	assertContains(t, claims, "<code>preferred_username</code>")
	for _, hidden := range []string{"iat", "exp", "nbf", "uti", "aio"} {
		assertNotContains(t, claims, "<code>"+hidden+"</code></th>")
	}

	admin := b.get("/admin")
	assertStatus(t, admin, http.StatusForbidden)
	assertContains(t, admin, "User is missing a required role.")

	stats := env.emu.Stats()
	if stats[emulator.StatTokenAuthorizationCode] != 1 || stats[emulator.StatTokenRefreshToken] != 0 {
		t.Errorf("token requests: %v", stats)
	}

	// Sign-out clears the local session first, then visits the tenant's
	// end-session endpoint, which returns the browser home. The ID token's
	// login_hint goes along as logout_hint, so that Entra signs out this
	// account without asking which.
	hint := regexp.MustCompile(`<code>login_hint</code></th><td>([^<]+)</td>`).FindStringSubmatch(claims.body)
	if hint == nil {
		t.Fatalf("the claims page shows no login_hint:\n%s", excerpt(claims.body))
	}
	out := b.signOut()
	assertStatus(t, out, http.StatusSeeOther)
	wantLogout := env.emuURL + "/" + emulator.DefaultTenant + "/oauth2/v2.0/logout?" + url.Values{
		"post_logout_redirect_uri": {env.appURL + "/"}, "logout_hint": {html.UnescapeString(hint[1])},
	}.Encode()
	if out.location != wantLogout {
		t.Fatalf("logout went to %s, want %s", out.location, wantLogout)
	}
	home2 := b.follow(b.follow(out))
	assertStatus(t, home2, http.StatusOK)
	assertContains(t, home2, "You're not signed in.")
	if env.emu.Stats()[emulator.StatLogout] != 1 {
		t.Error("the emulator's end-session endpoint was not reached")
	}
	if files, _ := os.ReadDir(env.cfg.SessionDir); len(files) != 0 {
		t.Errorf("%d session files left after sign-out", len(files))
	}

	// The old cookie, replayed, is worth nothing.
	replay := env.newBrowser()
	u, _ := url.Parse(env.appURL)
	replay.client.Jar.SetCookies(u, []*http.Cookie{{Name: "__Host-session", Value: after.Value}})
	again := replay.get("/token_details")
	assertStatus(t, again, http.StatusFound)
}

// checkSessionCookie checks the attributes of the session cookie a response sets.
func checkSessionCookie(t *testing.T, p *page) {
	t.Helper()
	for _, line := range p.header.Values("Set-Cookie") {
		if !strings.HasPrefix(line, "__Host-session=") {
			continue
		}
		for _, attr := range []string{"; Secure", "; HttpOnly", "; SameSite=Lax", "; Path=/"} {
			if !strings.Contains(line, attr) {
				t.Errorf("session cookie lacks %s: %s", attr, line)
			}
		}
		return
	}
	t.Fatalf("%s set no session cookie", p.url)
}

func TestAdminSignIn(t *testing.T) {
	env := newTestEnv(t)
	b := env.newBrowser()
	b.signIn("admin@demo.test", "admin-password")
	admin := b.get("/admin")
	assertStatus(t, admin, http.StatusOK)
	assertContains(t, admin, "You have the admin app role.")
	assertContains(t, admin, "Ada Admin")
}

// A user with another app role than the page's is refused like one with
// none: the role is the page's, not any role.
func TestAnotherRoleIsNotTheAdminRole(t *testing.T) {
	users := append(emulator.DefaultUsers(), emulator.User{Username: "rita@demo.test", Password: "rita-password",
		Name: "Rita Reader", Roles: []string{"reader", "Admin", "admins"}, OID: emulator.DeriveOID("rita@demo.test")})
	env := newTestEnv(t, withUsers(users...))
	b := env.newBrowser()
	b.signIn("rita@demo.test", "rita-password")
	assertContains(t, b.get("/token_details"), "reader")
	p := b.get("/admin")
	assertStatus(t, p, http.StatusForbidden)
	assertContains(t, p, "User is missing a required role.")
	assertNotContains(t, p, "You have the admin app role.")
}

// With access tokens that live less than MSAL's five-minute refresh margin,
// every /graph page redeems the refresh token, and the user stays signed in.
func TestRefreshAfterShortAccessTokenLifetime(t *testing.T) {
	env := newTestEnv(t, withEmulator(func(c *emulator.Config) { c.AccessTokenTTL = 2 * time.Minute }))
	b := env.newBrowser()
	b.signIn("alice@demo.test", "alice-password")
	for i := 1; i <= 3; i++ {
		p := b.get("/graph")
		assertStatus(t, p, http.StatusOK)
		assertContains(t, p, "Alice Smith")
		if got := env.emu.Stats()[emulator.StatTokenRefreshToken]; got != int64(i) {
			t.Fatalf("after %d pages, %d refresh grants", i, got)
		}
	}
	stats := env.emu.Stats()
	if stats[emulator.StatOpenIDConfiguration] != 1 {
		t.Errorf("openid-configuration fetched %d times, want once per process", stats[emulator.StatOpenIDConfiguration])
	}
	if stats[emulator.StatTokenAuthorizationCode] != 1 {
		t.Errorf("%d code redemptions, want 1", stats[emulator.StatTokenAuthorizationCode])
	}
}

// A cached token serves /graph without any request to the identity provider.
func TestGraphFromCachedToken(t *testing.T) {
	env := newTestEnv(t)
	b := env.newBrowser()
	b.signIn("alice@demo.test", "alice-password")
	env.emu.ResetStats()
	for range 3 {
		assertStatus(t, b.get("/graph"), http.StatusOK)
	}
	stats := env.emu.Stats()
	if stats[emulator.StatToken] != 0 || stats[emulator.StatOpenIDConfiguration] != 0 || stats[emulator.StatGraphMe] != 3 {
		t.Errorf("identity provider requests for 3 cached /graph pages: %v", stats)
	}
}

// The refresh token revoked: the user is sent through sign-in and lands
// back on the page.
func TestRevokedRefreshTokenSignsInAgain(t *testing.T) {
	env := newTestEnv(t, withEmulator(func(c *emulator.Config) { c.AccessTokenTTL = 2 * time.Minute }))
	b := env.newBrowser()
	b.signIn("alice@demo.test", "alice-password")
	if err := env.emu.RevokeRefreshTokens("alice@demo.test"); err != nil {
		t.Fatal(err)
	}
	p := b.get("/graph")
	assertStatus(t, p, http.StatusFound)
	if !strings.Contains(p.location, "/oauth2/v2.0/authorize?") {
		t.Fatalf("revoked refresh token led to %s", p.location)
	}
	back := b.submitSignIn(p.location, "alice@demo.test", "alice-password", "signin")
	landed := b.follow(back)
	if landed.location != env.appURL+"/graph" {
		t.Fatalf("after signing in again went to %q", landed.location)
	}
	assertContains(t, b.follow(landed), "Alice Smith")
}

func TestSignInErrors(t *testing.T) {
	env := newTestEnv(t)

	t.Run("cancel shows the provider's error", func(t *testing.T) {
		b := env.newBrowser()
		login := b.get("/login")
		back := b.submitSignIn(authURLFrom(t, login), "", "", "cancel")
		assertStatus(t, back, http.StatusFound)
		p := b.follow(back)
		assertStatus(t, p, http.StatusBadRequest)
		assertContains(t, p, "Sign-in failed")
		assertContains(t, p, "access_denied")
		assertContains(t, p, "AADSTS65004")
	})

	t.Run("provider error is escaped", func(t *testing.T) {
		b := env.newBrowser()
		// The provider's text is shown only for a sign-in this browser
		// started (see TestProviderErrorNeedsItsSignIn), so start one.
		state := mustQuery(t, authURLFrom(t, b.get("/login"))).Get("state")
		p := b.get("/auth/redirect?error=%3Cscript%3Ealert(1)%3C/script%3E&error_description=%3Cb%3Ebold%3C/b%3E&state=" + url.QueryEscape(state))
		assertStatus(t, p, http.StatusBadRequest)
		assertNotContains(t, p, "<script>alert(1)</script>")
		assertNotContains(t, p, "<b>bold</b>")
		assertContains(t, p, "&lt;script&gt;alert(1)&lt;/script&gt;")
	})

	t.Run("forged state", func(t *testing.T) {
		b := env.newBrowser()
		b.get("/login") // a real flow exists, with another state
		before := env.emu.Stats()[emulator.StatToken]
		p := b.get("/auth/redirect?code=stolen&state=forged")
		assertStatus(t, p, http.StatusBadRequest)
		assertContains(t, p, "state_mismatch")
		if env.emu.Stats()[emulator.StatToken] != before {
			t.Error("a code with a forged state was sent to the token endpoint")
		}
	})

	t.Run("missing flow", func(t *testing.T) {
		b := env.newBrowser()
		p := b.get("/auth/redirect?code=x&state=y")
		assertStatus(t, p, http.StatusBadRequest)
		assertContains(t, p, "state_mismatch")
		p = b.get("/auth/redirect")
		assertStatus(t, p, http.StatusBadRequest)
	})

	t.Run("replayed callback", func(t *testing.T) {
		b := env.newBrowser()
		login := b.get("/login")
		back := b.submitSignIn(authURLFrom(t, login), "alice@demo.test", "alice-password", "signin")
		assertStatus(t, b.follow(back), http.StatusSeeOther)
		again := b.follow(back)
		assertStatus(t, again, http.StatusBadRequest)
		assertContains(t, again, "state_mismatch")
	})

	t.Run("replayed code with a fresh state", func(t *testing.T) {
		victim := env.newBrowser()
		back := victim.submitSignIn(authURLFrom(t, victim.get("/login")), "alice@demo.test", "alice-password", "signin")
		assertStatus(t, victim.follow(back), http.StatusSeeOther)
		code := mustQuery(t, back.location).Get("code")

		attacker := env.newBrowser()
		state := mustQuery(t, authURLFrom(t, attacker.get("/login"))).Get("state")
		p := attacker.get("/auth/redirect?code=" + url.QueryEscape(code) + "&state=" + url.QueryEscape(state))
		assertStatus(t, p, http.StatusBadRequest)
		assertContains(t, p, "invalid_grant")
		assertContains(t, p, "AADSTS54005") // already redeemed, whatever else is wrong
		assertNotContains(t, p, "Hello Alice")
	})

	t.Run("wrong nonce", func(t *testing.T) {
		b := env.newBrowser()
		authURL, _ := url.Parse(authURLFrom(t, b.get("/login")))
		q := authURL.Query()
		q.Set("nonce", "a-nonce-the-app-never-made")
		authURL.RawQuery = q.Encode()
		back := b.submitSignIn(authURL.String(), "alice@demo.test", "alice-password", "signin")
		p := b.follow(back)
		assertStatus(t, p, http.StatusBadRequest)
		assertContains(t, p, "invalid_id_token")
		assertContains(t, p, "nonce")
		assertStatus(t, b.get("/token_details"), http.StatusFound) // not signed in
	})

	t.Run("tampered session cookie", func(t *testing.T) {
		b := env.newBrowser()
		b.signIn("alice@demo.test", "alice-password")
		c := b.sessionCookie()
		u, _ := url.Parse(env.appURL)
		tampered := []byte(c.Value)
		tampered[len(tampered)/2] ^= 1
		b.client.Jar.SetCookies(u, []*http.Cookie{{Name: "__Host-session", Value: string(tampered)}})
		home := b.get("/")
		assertStatus(t, home, http.StatusOK)
		assertContains(t, home, "You're not signed in.")
		assertStatus(t, b.get("/token_details"), http.StatusFound)
	})
}

func mustQuery(t *testing.T, raw string) url.Values {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

// Without a client ID or secret every page explains what to set.
func TestMissingConfiguration(t *testing.T) {
	srv := newUnconfiguredApp(t)
	b := &browser{t: t, client: srv.Client()}
	b.client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for _, path := range []string{"/", "/login", "/graph", "/admin", "/auth/redirect?code=x&state=y", "/logout"} {
		p := b.get(srv.URL + path)
		assertStatus(t, p, http.StatusServiceUnavailable)
		assertContains(t, p, "Configuration needed")
		assertContains(t, p, "CLIENT_ID is not set")
		assertContains(t, p, "CLIENT_SECRET is not set")
		assertContains(t, p, "AUTHORITY (or TENANT_ID) is not set")
		assertContains(t, p, "./run.dev.sh --demo")
		// The three kinds of credential, explained.
		assertContains(t, p, "ssl/generate-client-cert.sh")
		assertContains(t, p, "<code>CLIENT_CERTIFICATE_PATH</code>")
		assertContains(t, p, "<code>AZURE_FEDERATED_TOKEN_FILE</code>")
	}
	assertStatus(t, b.get(srv.URL+"/static/style.css"), http.StatusOK)
}

// A sign-in in progress lives 15 minutes, in its cookie; a signed-in
// session a week.
func TestSessionLifetimes(t *testing.T) {
	env := newTestEnv(t)
	b := env.newBrowser()
	start := b.get("/login")
	if c := setCookie(start, "__Host-signin-"); !strings.Contains(c, "Max-Age=900") {
		t.Errorf("sign-in in progress: %q", c)
	}
	if c := setCookie(start, "__Host-session="); c != "" {
		t.Errorf("starting a sign-in set the session cookie: %s", c)
	}
	done := b.signIn("alice@demo.test", "alice-password")
	if c := setCookie(done, "__Host-session="); !strings.Contains(c, "Max-Age=604800") {
		t.Errorf("signed in: %q", c)
	}
}

// setCookie returns the first Set-Cookie line of a page that starts with
// prefix, "" for none.
func setCookie(p *page, prefix string) string {
	for _, line := range p.header.Values("Set-Cookie") {
		if strings.HasPrefix(line, prefix) {
			return line
		}
	}
	return ""
}

// HEAD answers as GET does, without the body: the home page and the probes
// with 200 and the page's length, a protected page with the sign-in's
// redirect. It used to answer 405.
func TestHeadAnswersAsGet(t *testing.T) {
	env := newTestEnv(t)
	b := env.newBrowser()
	head := func(path string) *page {
		t.Helper()
		req, err := http.NewRequest(http.MethodHead, env.appURL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		return b.do(req)
	}
	for _, path := range []string{"/", "/login", "/healthz"} {
		got, want := head(path), b.get(path)
		assertStatus(t, got, http.StatusOK)
		if got.body != "" || got.header.Get("Content-Length") != want.header.Get("Content-Length") || got.header.Get("Content-Type") != want.header.Get("Content-Type") {
			t.Errorf("HEAD %s: body %d bytes, Content-Length %q and Content-Type %q; GET: %q and %q", path, len(got.body),
				got.header.Get("Content-Length"), got.header.Get("Content-Type"), want.header.Get("Content-Length"), want.header.Get("Content-Type"))
		}
	}
	if p := head("/graph"); p.status != http.StatusFound || !strings.Contains(p.location, "/oauth2/v2.0/authorize?") {
		t.Errorf("HEAD /graph: %d %q, want the sign-in's redirect", p.status, p.location)
	}
	if p := head("/no-such-page"); p.status != http.StatusNotFound {
		t.Errorf("HEAD /no-such-page: %d, want 404", p.status)
	}
}

// A protected page asked for by a script gets 401, not a redirect to a
// sign-in page the script cannot follow: fetch() sends Sec-Fetch-Mode cors,
// an API client asks for JSON. A page navigation, and a request with no such
// sign (curl, Go's client), still starts the sign-in. The 401 starts no
// sign-in: it sets no sign-in cookie.
func TestScriptGets401(t *testing.T) {
	env := newTestEnv(t)
	for _, tt := range []struct {
		name   string
		header map[string]string
		want   int
	}{
		{"fetch", map[string]string{"Sec-Fetch-Mode": "cors", "Sec-Fetch-Site": "same-origin"}, http.StatusUnauthorized},
		{"JSON client", map[string]string{"Accept": "application/json"}, http.StatusUnauthorized},
		{"navigation", map[string]string{"Sec-Fetch-Mode": "navigate", "Accept": "text/html,application/json;q=0.9"}, http.StatusFound},
		{"no sign", nil, http.StatusFound},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := env.newBrowser()
			for _, path := range []string{"/graph", "/admin", "/token_details", "/calendar"} {
				req, _ := http.NewRequest(http.MethodGet, env.appURL+path, nil)
				for k, v := range tt.header {
					req.Header.Set(k, v)
				}
				p := b.do(req)
				assertStatus(t, p, tt.want)
				setsSignIn := strings.Contains(strings.Join(p.header.Values("Set-Cookie"), "\n"), "__Host-signin-")
				if tt.want == http.StatusUnauthorized && (p.location != "" || setsSignIn) {
					t.Errorf("%s: 401 with Location %q, sign-in cookie set %v", path, p.location, setsSignIn)
				}
				if tt.want == http.StatusUnauthorized {
					assertContains(t, p, "Sign-in required")
				}
			}
		})
	}
}
