// Hostile input end to end: open redirects in every spelling, replayed and
// injected sign-in responses, oversized requests, HTML in every claim and in
// Graph's answer, and the security headers and cookie attributes of every
// route.

package e2e

import (
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"ms-identity-go-webapp/emulator"
)

// Whatever next holds, the browser lands on this site after sign-in, and
// on the very path next names when it is one of this site's.
func TestOpenRedirectsEncoded(t *testing.T) {
	env := newTestEnv(t)
	app, _ := url.Parse(env.appURL)
	for _, next := range []string{
		"//evil.example", "///evil.example", "////evil.example/x",
		"https://evil.example", "https:evil.example", "https:/evil.example", "HTTPS://evil.example",
		"/\\evil.example", "\\\\evil.example", "/\\/evil.example", "\\/evil.example",
		"%2F%2Fevil.example", "/%2F%2Fevil.example", "/%2F/evil.example", "%2F%5Cevil.example", "/%5Cevil.example",
		"/%09/evil.example", "/%0A/evil.example", "/\x00/evil.example", "/\u3000/evil.example",
		"/.//evil.example", "/..//evil.example", "/./../..//evil.example",
		"//evil.example@" + app.Host, "/@evil.example", "//" + app.Host + "@evil.example",
		"javascript:alert(1)", "data:text/html,<script>alert(1)</script>", "/x\r\nLocation: https://evil.example",
		" //evil.example", "\t//evil.example", "/" + strings.Repeat("a", 3000),
	} {
		t.Run(fmt.Sprintf("%q", next), func(t *testing.T) {
			b := env.newBrowser()
			login := b.get("/login?next=" + url.QueryEscape(next))
			assertStatus(t, login, http.StatusOK)
			back := b.submitSignIn(authURLFrom(t, login), "alice@demo.test", "alice-password", "signin")
			landed := b.follow(back)
			assertStatus(t, landed, http.StatusSeeOther)
			for _, raw := range landed.header.Values("Location") {
				if strings.ContainsAny(raw, "\\\r\n\t") || strings.HasPrefix(raw, "//") {
					t.Errorf("Location header %q", raw)
				}
			}
			u, err := url.Parse(landed.location)
			if err != nil || u.Scheme != "https" || u.Host != app.Host || u.User != nil {
				t.Fatalf("next=%q sent the browser to %q", next, landed.location)
			}
		})
	}
	// A path on this site is honoured, to the letter.
	b := env.newBrowser()
	login := b.get("/login?next=" + url.QueryEscape("/token_details"))
	landed := b.follow(b.submitSignIn(authURLFrom(t, login), "alice@demo.test", "alice-password", "signin"))
	if landed.location != env.appURL+"/token_details" {
		t.Errorf("next=/token_details sent the browser to %q", landed.location)
	}
}

// Sign-in responses that belong to another browser, or come back twice,
// sign nobody in.
func TestSignInResponseInjection(t *testing.T) {
	env := newTestEnv(t)

	t.Run("attacker's response in the victim's browser (login CSRF)", func(t *testing.T) {
		attacker := env.newBrowser()
		back := attacker.submitSignIn(authURLFrom(t, attacker.get("/login")), "admin@demo.test", "admin-password", "signin")
		victim := env.newBrowser()
		victim.get("/login") // a flow of the victim's own, with another state
		p := victim.get(back.location)
		assertStatus(t, p, http.StatusBadRequest)
		assertContains(t, p, "state_mismatch")
		assertStatus(t, victim.get("/token_details"), http.StatusFound)
		// It was refused before its code was redeemed: it still works in
		// the browser that started the sign-in, and only there.
		assertStatus(t, attacker.follow(back), http.StatusSeeOther)
	})

	t.Run("planted session cookie (session fixation)", func(t *testing.T) {
		// Only a signed-in browser has a session: the attacker signs in
		// with an account of their own to get a genuine session cookie.
		attacker := env.newBrowser()
		attacker.signIn("admin@demo.test", "admin-password")
		planted := attacker.sessionCookie()
		victim := env.newBrowser()
		u, _ := url.Parse(env.appURL)
		victim.client.Jar.SetCookies(u, []*http.Cookie{planted})
		victim.signIn("alice@demo.test", "alice-password")
		assertContains(t, victim.get("/token_details"), "alice@demo.test")
		if victim.sessionCookie().Value == planted.Value {
			t.Fatal("the session id was not renewed at sign-in")
		}
		p := attacker.get("/token_details")
		assertStatus(t, p, http.StatusFound)
		assertNotContains(t, attacker.get("/"), "alice")
	})

	t.Run("state replayed after sign-out", func(t *testing.T) {
		b := env.newBrowser()
		back := b.submitSignIn(authURLFrom(t, b.get("/login")), "alice@demo.test", "alice-password", "signin")
		assertStatus(t, b.follow(back), http.StatusSeeOther)
		b.follow(b.signOut())
		p := b.follow(back)
		assertStatus(t, p, http.StatusBadRequest)
		assertStatus(t, b.get("/token_details"), http.StatusFound)
	})

	t.Run("code from one flow with the state of another of the same browser", func(t *testing.T) {
		b := env.newBrowser()
		first := authURLFrom(t, b.get("/login"))
		second := authURLFrom(t, b.get("/login"))
		back := b.submitSignIn(first, "alice@demo.test", "alice-password", "signin")
		code := mustQuery(t, back.location).Get("code")
		state := mustQuery(t, second).Get("state")
		p := b.get("/auth/redirect?code=" + url.QueryEscape(code) + "&state=" + url.QueryEscape(state))
		// The code was issued for the first flow's PKCE challenge and nonce:
		// redeeming it with the second flow's verifier fails.
		assertStatus(t, p, http.StatusBadRequest)
		assertContains(t, p, "AADSTS501481")
		assertStatus(t, b.get("/token_details"), http.StatusFound)
	})
}

// Oversized requests, served with the production server's settings
// (MaxHeaderBytes 64 KB): too large is refused by the server; large but
// allowed gets a normal page; nothing answers 500.
func TestOversizedRequests(t *testing.T) {
	c := newCluster(t, clusterOptions{instances: 1})
	env := c.instances[0]

	get := func(b *browser, path string, header http.Header) *page {
		b.t.Helper()
		req, err := http.NewRequest(http.MethodGet, env.appURL+path, nil)
		if err != nil {
			b.t.Fatal(err)
		}
		for k, v := range header {
			req.Header[k] = v
		}
		return b.do(req)
	}
	big := func(n int) string { return strings.Repeat("A", n) }
	cookies := func(n, size int) http.Header {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = fmt.Sprintf("c%d=%s", i, big(size))
		}
		return http.Header{"Cookie": {strings.Join(parts, "; ")}}
	}

	b := env.newBrowser()
	for _, tt := range []struct {
		name   string
		path   string
		header http.Header
		want   int
		text   string
	}{
		{"query over the limit", "/auth/redirect?code=" + big(100<<10) + "&state=x", nil, http.StatusRequestHeaderFieldsTooLarge, ""},
		{"path over the limit", "/" + big(100<<10), nil, http.StatusRequestHeaderFieldsTooLarge, ""},
		{"cookie over the limit", "/", http.Header{"Cookie": {"__Host-session=" + big(100<<10)}}, http.StatusRequestHeaderFieldsTooLarge, ""},
		{"large query", "/auth/redirect?code=" + big(30<<10) + "&state=" + big(10<<10), nil, http.StatusBadRequest, "state_mismatch"},
		{"many parameters", "/auth/redirect?" + strings.Repeat("state=x&", 5000), nil, http.StatusBadRequest, "state_mismatch"},
		{"large error description", "/auth/redirect?error=x&error_description=" + big(40<<10), nil, http.StatusBadRequest, "Sign-in failed"},
		{"large path", "/" + big(20<<10), nil, http.StatusNotFound, "Page not found"},
		{"large next", "/login?next=/" + big(40<<10), nil, http.StatusOK, "Sign in with Microsoft"},
		{"large session cookie", "/", http.Header{"Cookie": {"__Host-session=" + big(30<<10)}}, http.StatusOK, "You're not signed in."},
		{"many cookies", "/", cookies(100, 400), http.StatusOK, "You're not signed in."},
		{"many session cookies", "/", http.Header{"Cookie": {strings.Repeat("__Host-session=x; ", 2000)}}, http.StatusOK, "You're not signed in."},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b.t = t
			p := get(b, tt.path, tt.header)
			assertStatus(t, p, tt.want)
			if tt.text != "" {
				assertContains(t, p, tt.text)
			}
		})
	}

	// A signed-in browser with 40 KB of other cookies stays signed in.
	b.t = t
	b.signIn("alice@demo.test", "alice-password")
	h := cookies(100, 400)
	h["Cookie"][0] += "; __Host-session=" + b.sessionCookie().Value
	p := get(env.newBrowser(), "/token_details", h)
	assertStatus(t, p, http.StatusOK)
	assertContains(t, p, "alice@demo.test")
	if strings.Contains(c.logs.String(), "panic") {
		t.Error("a request panicked")
	}
}

// HTML and script in every claim the pages show, and in Graph's answer, are
// shown as text: escaped on every page, never run.
func TestHostileClaimsAreEscaped(t *testing.T) {
	hostile := emulator.User{
		Username:  `<b>mallory</b>@demo.test`,
		Password:  "mallory-password",
		Name:      `<script>alert("name")</script>`,
		GivenName: `<img src=x onerror=alert("given")>`,
		Surname:   `"><svg onload=alert('family')>`,
		JobTitle:  `</code></pre><script>alert("job")</script>`,
		Roles:     []string{"admin", `<script>alert("role")</script>`, `<a href="javascript:alert(1)">role</a>`},
	}
	payloads := []string{hostile.Username, hostile.Name, hostile.GivenName, hostile.Surname, hostile.JobTitle, hostile.Roles[1], hostile.Roles[2]}
	// given_name and family_name are in the ID token only with Entra-sized
	// (padded) tokens.
	env := newTestEnv(t, withUsers(hostile), withEmulator(func(c *emulator.Config) { c.TokenPadding = true }))
	b := env.newBrowser()
	b.signIn(hostile.Username, hostile.Password)

	for _, path := range []string{"/", "/graph", "/token_details", "/admin"} {
		p := b.get(path)
		assertStatus(t, p, http.StatusOK)
		for _, raw := range payloads {
			assertNotContains(t, p, raw)
		}
		if strings.Contains(strings.ToLower(p.body), "<script") {
			t.Errorf("%s holds a script element", path)
		}
		assertContains(t, p, template.HTMLEscapeString(hostile.Name)) // "Hello <name>!" in every page's header
	}
	for _, path := range []string{"/token_details", "/admin"} {
		p := b.get(path)
		for _, raw := range []string{hostile.Username, hostile.Name, hostile.GivenName, hostile.Surname, hostile.Roles[1], hostile.Roles[2]} {
			assertContains(t, p, template.HTMLEscapeString(raw))
		}
		for _, claim := range []string{"name", "preferred_username", "given_name", "family_name", "roles"} {
			assertContains(t, p, "<code>"+claim+"</code>")
		}
	}
	assertContains(t, b.get("/"), "Signed in as "+template.HTMLEscapeString(hostile.Username))
}

// Graph's JSON is shown as text even when it holds raw HTML (the emulator
// escapes < and > in JSON; real APIs need not).
func TestHostileGraphAnswerIsEscaped(t *testing.T) {
	const answer = `{"displayName":"</code></pre><script>alert(1)</script>","note":"<img src=x onerror=alert(2)>"}`
	graph := newTLSTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(answer))
	}))
	env := newTestEnv(t, withAppEnv("GRAPH_ENDPOINT", graph.URL+"/v1.0/me"))
	b := env.newBrowser()
	b.signIn("alice@demo.test", "alice-password")
	p := b.get("/graph")
	assertStatus(t, p, http.StatusOK)
	assertNotContains(t, p, "<script>")
	assertNotContains(t, p, "<img src=x")
	assertContains(t, p, "&lt;/code&gt;&lt;/pre&gt;&lt;script&gt;alert(1)&lt;/script&gt;")
}

// Every route, signed in or not, in every outcome (200, 302, 303, 400, 403,
// 404, 405, 500, 502, 503, static files): the security headers, a request
// id, no-store on pages, and only the session cookie and the sign-in
// cookies, always with their attributes.
func TestSecurityHeadersAndCookiesOnEveryRoute(t *testing.T) {
	c := newCluster(t, clusterOptions{instances: 1, opts: []envOption{withAppEnv("GRAPH_TIMEOUT", "500ms")},
		extraRoutes: func(r chi.Router) {
			r.Get("/test/panic", func(http.ResponseWriter, *http.Request) { panic("test panic") })
		}})
	env := c.instances[0]
	type hit struct {
		name string
		p    *page
	}
	var hits []hit
	record := func(name string, p *page) *page {
		hits = append(hits, hit{name, p})
		return p
	}
	method := func(b *browser, m, path string) *page {
		req, _ := http.NewRequest(m, env.appURL+path, nil)
		return b.do(req)
	}

	anon := env.newBrowser()
	for _, path := range []string{"/", "/login", "/graph", "/token_details", "/admin", "/logout",
		"/auth/redirect", "/auth/redirect?error=access_denied&error_description=AADSTS65004", "/auth/redirect?code=x&state=y",
		"/nope", "/static/style.css", "/static/favicon.svg", "/static/", "/static/missing.css", "/test/panic"} {
		record("signed out "+path, anon.get(path))
	}
	record("signed out POST /", method(anon, http.MethodPost, "/"))
	record("signed out POST /logout", method(anon, http.MethodPost, "/logout"))

	for _, user := range []struct{ name, password string }{{"alice@demo.test", "alice-password"}, {"admin@demo.test", "admin-password"}} {
		b := env.newBrowser()
		login := record(user.name+" /login", b.get("/login"))
		back := b.submitSignIn(authURLFrom(t, login), user.name, user.password, "signin")
		record(user.name+" /auth/redirect", b.follow(back))
		for _, path := range []string{"/", "/graph", "/token_details", "/admin", "/nope", "/test/panic"} {
			record(user.name+" "+path, b.get(path))
		}
		c.emu.InjectFault(emulator.Fault{Endpoint: emulator.EndpointGraph, Status: http.StatusServiceUnavailable, Times: 1})
		record(user.name+" /graph, Graph 503", b.get("/graph"))
		c.emu.InjectFault(emulator.Fault{Endpoint: emulator.EndpointGraph, Delay: 2 * time.Second, Times: 1})
		record(user.name+" /graph, Graph hangs", b.get("/graph"))
		record(user.name+" /logout", b.signOut())
	}
	late := env.newBrowser()
	authURL := authURLFrom(t, late.get("/login"))
	c.emu.InjectFault(emulator.Fault{Endpoint: emulator.EndpointToken, Status: http.StatusServiceUnavailable, Times: 1})
	record("token endpoint down /auth/redirect", late.follow(late.submitSignIn(authURL, "alice@demo.test", "alice-password", "signin")))

	statuses := map[int]bool{}
	for _, h := range hits {
		p := h.p
		statuses[p.status] = true
		for header, want := range map[string]string{
			"Content-Security-Policy":    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self' " + env.emuURL + "; frame-ancestors 'none'; base-uri 'none'",
			"Strict-Transport-Security":  "max-age=31536000",
			"X-Content-Type-Options":     "nosniff",
			"X-Frame-Options":            "DENY",
			"Referrer-Policy":            "no-referrer",
			"Cross-Origin-Opener-Policy": "same-origin",
		} {
			if got := p.header.Get(header); got != want {
				t.Errorf("%s (%d): %s = %q, want %q", h.name, p.status, header, got, want)
			}
		}
		if len(p.header.Get("X-Request-Id")) != 16 {
			t.Errorf("%s: X-Request-Id = %q", h.name, p.header.Get("X-Request-Id"))
		}
		static := strings.Contains(h.name, "/static/") && p.status == http.StatusOK
		if cc := p.header.Get("Cache-Control"); static != (cc == "public, max-age=3600") || (!static && cc != "no-store") {
			t.Errorf("%s (%d): Cache-Control = %q", h.name, p.status, cc)
		}
		if p.status >= 400 || (p.status == http.StatusOK && !static) {
			if ct := p.header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("%s (%d): Content-Type = %q", h.name, p.status, ct)
			}
		}
		if strings.Contains(p.body, "goroutine ") || strings.Contains(p.body, "test panic") {
			t.Errorf("%s: the page shows internals", h.name)
		}
		for _, line := range p.header.Values("Set-Cookie") {
			if !strings.HasPrefix(line, "__Host-session=") && !strings.HasPrefix(line, "__Host-signin-") {
				t.Errorf("%s sets a cookie other than the session's or a sign-in's: %s", h.name, line)
			}
			for _, attr := range []string{"; Path=/", "; Secure", "; HttpOnly", "; SameSite=Lax"} {
				if !strings.Contains(line, attr) {
					t.Errorf("%s: session cookie lacks %s: %s", h.name, attr, line)
				}
			}
			if strings.Contains(line, "Domain=") {
				t.Errorf("%s: session cookie has a Domain: %s", h.name, line)
			}
		}
	}
	for _, h := range hits {
		if strings.HasSuffix(h.name, " /nope") {
			assertStatus(t, h.p, http.StatusNotFound)
			assertContains(t, h.p, "Page not found")
			assertContains(t, h.p, `<link rel="stylesheet" href="/static/style.css">`) // a page in the layout
		}
	}
	for _, want := range []int{200, 302, 303, 400, 403, 404, 405, 500, 502, 503, 504} {
		if !statuses[want] {
			t.Errorf("no route answered %d: the test no longer covers it", want)
		}
	}
	// Sign-in sets the cookie, and sign-out expires it, both with the
	// attributes checked above.
	for _, h := range hits {
		if strings.HasSuffix(h.name, "/logout") && strings.HasPrefix(h.name, "alice") {
			if line := strings.Join(h.p.header.Values("Set-Cookie"), "\n"); !strings.Contains(line, "Max-Age=0") {
				t.Errorf("sign-out did not expire the cookie: %q", line)
			}
		}
	}
}

// anotherUsersIDToken is an identity provider that, once armed, answers
// every refresh with the ID token it issued at the first sign-in (another
// user's), as a confused or compromised provider, or a cache mix-up in
// front of it, would. The token is genuine: signed, for this app, unexpired.
type anotherUsersIDToken struct {
	mu    sync.Mutex
	first string // the first authorization-code grant's ID token
	armed bool
	swaps int
}

func (a *anotherUsersIDToken) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/oauth2/v2.0/token") {
			next.ServeHTTP(w, r)
			return
		}
		r.ParseForm()
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		var answer map[string]any
		body := rec.Body.Bytes()
		if rec.Code == http.StatusOK && json.Unmarshal(body, &answer) == nil {
			a.mu.Lock()
			switch grant := r.PostForm.Get("grant_type"); {
			case grant == "authorization_code" && a.first == "":
				a.first, _ = answer["id_token"].(string)
			case grant == "refresh_token" && a.armed && answer["id_token"] != nil:
				answer["id_token"] = a.first
				body, _ = json.Marshal(answer)
				a.swaps++
			}
			a.mu.Unlock()
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.Header().Del("Content-Length")
		w.WriteHeader(rec.Code)
		w.Write(body)
	})
}

// A refreshed ID token that names another user (OpenID Connect Core 12.2
// requires the same sub) signs the user out; it never puts the other
// user's name and claims into this user's session.
func TestRefreshedIDTokenForAnotherUserSignsOut(t *testing.T) {
	idp := &anotherUsersIDToken{}
	c := newCluster(t, clusterOptions{instances: 1, emulatorMiddleware: idp.middleware, opts: []envOption{
		// Access tokens inside MSAL's five-minute margin: every /graph
		// page refreshes, and the refresh brings a new ID token.
		withEmulator(func(c *emulator.Config) { c.AccessTokenTTL = 2 * time.Minute }),
	}})
	env := c.instances[0]
	admin := env.newBrowser()
	admin.signIn("admin@demo.test", "admin-password") // the ID token the provider will hand out
	alice := env.newBrowser()
	alice.signIn("alice@demo.test", "alice-password")
	assertContains(t, alice.get("/graph"), "Hello Alice Smith!")

	idp.mu.Lock()
	idp.armed = true
	idp.mu.Unlock()
	p := alice.get("/graph")
	idp.mu.Lock()
	swaps := idp.swaps
	idp.mu.Unlock()
	if swaps == 0 {
		t.Fatal("no refresh reached the identity provider: the test proves nothing")
	}
	for _, other := range []string{"Ada Admin", "admin@demo.test"} {
		assertNotContains(t, p, other)
	}
	// Signed out: the protected page sends her to sign in, and her
	// session shows nobody.
	if p.status != http.StatusFound || !strings.HasPrefix(p.location, env.emuURL+"/") {
		t.Errorf("/graph after the refresh named another user: %d, Location %q; want the sign-in", p.status, p.location)
	}
	details := alice.get("/token_details")
	assertStatus(t, details, http.StatusFound)
	home := alice.get("/")
	assertContains(t, home, "You're not signed in.")
	assertNotContains(t, home, "Ada Admin")
	// The admin's own session is untouched.
	assertContains(t, admin.get("/token_details"), "admin@demo.test")
}

// A panic in a page gets the app's own 500 page, in its layout, with the
// message and the request id a person can quote, and nothing of the panic.
func TestPanicPageWithTheAppsTemplates(t *testing.T) {
	c := newCluster(t, clusterOptions{instances: 1, extraRoutes: func(r chi.Router) {
		r.Get("/test/panic", func(http.ResponseWriter, *http.Request) { panic("test panic: internal detail") })
	}})
	p := c.instances[0].newBrowser().get("/test/panic")
	assertStatus(t, p, http.StatusInternalServerError)
	assertContains(t, p, `<p class="status-code">Error 500</p>`)
	assertContains(t, p, "<h1>Something went wrong</h1>")
	assertContains(t, p, "The app hit an unexpected error. It has been logged; please try again.")
	assertContains(t, p, "Request ID: "+p.header.Get("X-Request-Id"))
	assertContains(t, p, `<header class="site-header">`)
	assertNotContains(t, p, "internal detail")
	if !strings.Contains(c.logs.String(), "test panic: internal detail") {
		t.Error("the panic is not in the log")
	}
}
