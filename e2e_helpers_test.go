// End-to-end test harness: the app and the emulator over real TLS, driven by
// a cookie-jar client that follows redirects one step at a time, as a browser
// would, so each test can look at every hop.

package main

import (
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"ms-identity-go-webapp/emulator"
	"ms-identity-go-webapp/internal/testutil"
)

// testEnv is one emulator and one app instance talking to it.
type testEnv struct {
	t      *testing.T
	emu    *emulator.Emulator
	emuURL string
	appURL string
	cfg    Config
	logs   *testutil.SyncBuffer
	client *http.Client // trusts both servers' certificate
}

// envOption changes the emulator's or the app's configuration before start.
type envOption func(emu *emulator.Config, appEnv map[string]string)

func withUsers(users ...emulator.User) envOption {
	return func(emu *emulator.Config, _ map[string]string) { emu.Users = users }
}

func withEmulator(change func(*emulator.Config)) envOption {
	return func(emu *emulator.Config, _ map[string]string) { change(emu) }
}

func withAppEnv(key, value string) envOption {
	return func(_ *emulator.Config, env map[string]string) { env[key] = value }
}

// newTestEnv starts the emulator and one app instance on loopback (see
// newCluster). When the test ends, it checks that no log line holds a code,
// token, password or secret the emulator issued or knows.
func newTestEnv(t *testing.T, opts ...envOption) *testEnv {
	t.Helper()
	return newCluster(t, clusterOptions{instances: 1, opts: opts}).instances[0]
}

// page is one HTTP response as a browser would see it.
type page struct {
	status   int
	url      string
	location string
	header   http.Header
	body     string
}

// browser is a cookie-jar client that does not follow redirects.
type browser struct {
	t      *testing.T
	env    *testEnv
	client *http.Client
}

func (e *testEnv) newBrowser() *browser {
	jar, _ := cookiejar.New(nil)
	c := *e.client
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &browser{t: e.t, env: e, client: &c}
}

func (b *browser) do(req *http.Request) *page {
	b.t.Helper()
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	p := &page{status: resp.StatusCode, url: req.URL.String(), header: resp.Header, body: string(body)}
	if loc, err := resp.Location(); err == nil {
		p.location = loc.String()
	}
	return p
}

// get requests a URL; a path is taken relative to the app.
func (b *browser) get(target string) *page {
	b.t.Helper()
	if strings.HasPrefix(target, "/") {
		target = b.env.appURL + target
	}
	req, err := http.NewRequest(http.MethodGet, target, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

// post sends a form to a URL as a browser sends a form of the page's own
// origin: with Sec-Fetch-Site: same-origin and that Origin. A path is taken
// relative to the app.
func (b *browser) post(target string, form url.Values) *page {
	b.t.Helper()
	if strings.HasPrefix(target, "/") {
		target = b.env.appURL + target
	}
	req, err := http.NewRequest(http.MethodPost, target, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("Origin", req.URL.Scheme+"://"+req.URL.Host)
	return b.do(req)
}

// signOut presses the navigation bar's "Sign out" button: a POST to
// /logout, which answers with the redirect to the end-session endpoint.
func (b *browser) signOut() *page {
	b.t.Helper()
	return b.post("/logout", nil)
}

// follow requests the page a redirect points to.
func (b *browser) follow(p *page) *page {
	b.t.Helper()
	if p.location == "" {
		b.t.Fatalf("%s answered %d without a Location to follow:\n%s", p.url, p.status, excerpt(p.body))
	}
	return b.get(p.location)
}

// submitSignIn fills in the emulator's sign-in form at authorizeURL, as a
// person would: the form posts back to the same URL with loginfmt and passwd.
func (b *browser) submitSignIn(authorizeURL, username, password, action string) *page {
	b.t.Helper()
	form := b.get(authorizeURL)
	if form.status == http.StatusFound && action == "signin" && strings.HasPrefix(form.location, b.env.appURL+"/") {
		// The emulator's browser session still holds the account, so it
		// answers at once (single sign-on), as Entra does: nothing to type.
		return form
	}
	if form.status == http.StatusOK && strings.Contains(form.body, `name="account"`) {
		// The account picker (/login's prompt=select_account while the
		// browser is signed in): "Use another account" leads to the form.
		form = b.postSignInForm(authorizeURL, url.Values{"account": {""}})
	}
	assertStatus(b.t, form, http.StatusOK)
	assertContains(b.t, form, `name="loginfmt"`)
	return b.postSignInForm(authorizeURL, url.Values{"loginfmt": {username}, "passwd": {password}, "action": {action}})
}

// postSignInForm posts one of the emulator's sign-in pages back to its
// authorize URL, as their forms do.
func (b *browser) postSignInForm(authorizeURL string, form url.Values) *page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, authorizeURL, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

var authURLPattern = regexp.MustCompile(`href="(https://[^"]*/oauth2/v2\.0/authorize\?[^"]*)"`)

// authURLFrom reads the "Sign in with Microsoft" link from the login page.
func authURLFrom(t *testing.T, p *page) string {
	t.Helper()
	m := authURLPattern.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no authorize link on %s:\n%s", p.url, excerpt(p.body))
	}
	return html.UnescapeString(m[1])
}

// signIn signs in through /login and the emulator's form, and returns the
// page the app redirected to after the callback.
func (b *browser) signIn(username, password string) *page {
	b.t.Helper()
	login := b.get("/login")
	assertStatus(b.t, login, http.StatusOK)
	back := b.submitSignIn(authURLFrom(b.t, login), username, password, "signin")
	assertStatus(b.t, back, http.StatusFound)
	done := b.follow(back)
	assertStatus(b.t, done, http.StatusSeeOther)
	return done
}

// sessionCookie returns the app's session cookie as the jar holds it.
func (b *browser) sessionCookie() *http.Cookie {
	u, _ := url.Parse(b.env.appURL)
	for _, c := range b.client.Jar.Cookies(u) {
		if c.Name == "__Host-session" {
			return c
		}
	}
	return nil
}

// signInCookies returns the sign-in cookies (one per sign-in in progress)
// the jar holds.
func (b *browser) signInCookies() []*http.Cookie {
	u, _ := url.Parse(b.env.appURL)
	var out []*http.Cookie
	for _, c := range b.client.Jar.Cookies(u) {
		if strings.HasPrefix(c.Name, "__Host-signin-") {
			out = append(out, c)
		}
	}
	return out
}

func assertStatus(t *testing.T, p *page, want int) {
	t.Helper()
	if p.status != want {
		t.Fatalf("%s: status %d, want %d\n%s", p.url, p.status, want, excerpt(p.body))
	}
}

func assertContains(t *testing.T, p *page, want string) {
	t.Helper()
	if !strings.Contains(p.body, want) {
		t.Fatalf("%s: page lacks %q\n%s", p.url, want, excerpt(p.body))
	}
}

func assertNotContains(t *testing.T, p *page, unwanted string) {
	t.Helper()
	if strings.Contains(p.body, unwanted) {
		t.Fatalf("%s: page holds %q", p.url, unwanted)
	}
}

// excerpt keeps failure messages readable: the page's main element.
func excerpt(body string) string {
	if i := strings.Index(body, "<main"); i >= 0 {
		body = body[i:]
	}
	if len(body) > 1500 {
		body = body[:1500] + "..."
	}
	return body
}

// newTLSTestServer serves h over TLS on loopback until the test ends.
func newTLSTestServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// newUnconfiguredApp serves the app with no CLIENT_ID or CLIENT_SECRET, as
// after a fresh clone, over TLS on loopback until the test ends.
func newUnconfiguredApp(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	t.Cleanup(srv.Close)
	// The default REDIRECT_URI names port 5000; the test server's own
	// origin keeps the one-origin redirect out of the way.
	cfg, err := LoadConfig(func(k string) string {
		return map[string]string{
			"SESSION_SECRET": strings.Repeat("x", 32),
			"REDIRECT_URI":   "https://" + srv.Listener.Addr().String() + "/auth/redirect",
		}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	app, err := buildApp(t.Context(), cfg, nil, http.DefaultClient, false)
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = app.Routes()
	srv.StartTLS()
	return srv
}
