// End-to-end test harness: the app and the emulator over real TLS, driven by
// a cookie-jar client that follows redirects one step at a time, as a browser
// would, so each test can look at every hop.

package e2e

import (
	"crypto/tls"
	"html"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"

	"ms-identity-go-webapp/emulator"
	"ms-identity-go-webapp/emulator/emulatortest"
	"ms-identity-go-webapp/entra"
	"ms-identity-go-webapp/identity"
	"ms-identity-go-webapp/internal/testutil"
	"ms-identity-go-webapp/session"
)

// storedUser decodes the user of a stored session, as entra does: for the
// tests that read the session store from outside the app.
func storedUser(values session.Values) (*identity.UserSession, error) {
	return identity.UnmarshalUserSession(values[entra.UserSessionKey])
}

// files are the app's templates and static files, read from the source tree:
// the same files main embeds (embed cannot reach the parent directory).
var files = os.DirFS("..")

// testEnv is one emulator and one app instance talking to it.
type testEnv struct {
	t      *testing.T
	emu    *emulator.Emulator
	emuURL string
	appURL string
	cfg    appConfig
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
	p, err := emulatortest.Do(b.client, req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	return fromEmulatortest(p)
}

func fromEmulatortest(p *emulatortest.Page) *page {
	return &page{status: p.Status, url: p.URL, location: p.Location, header: p.Header, body: p.Body}
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

// submitSignIn walks the emulator's sign-in pages at authorizeURL as a
// person would (emulatortest.SignIn): single sign-on, the account picker,
// the password form, consent. action "cancel" presses Cancel on the form
// instead. It returns the emulator's last answer, normally the redirect back
// to the app.
func (b *browser) submitSignIn(authorizeURL, username, password, action string) *page {
	b.t.Helper()
	var p *emulatortest.Page
	var err error
	if action == "cancel" {
		p, err = emulatortest.Cancel(b.t.Context(), b.client, authorizeURL)
	} else {
		p, err = emulatortest.SignIn(b.t.Context(), b.client, authorizeURL, username, password)
	}
	if err != nil {
		b.t.Fatalf("signing in at %s: %v", authorizeURL, err)
	}
	return fromEmulatortest(p)
}

// postSignInForm posts one of the emulator's sign-in pages back to its
// authorize URL, as their forms do: one hop, for a test that fills in a page
// itself (a password typed again, a second factor).
func (b *browser) postSignInForm(authorizeURL string, form url.Values) *page {
	b.t.Helper()
	p, err := emulatortest.PostForm(b.t.Context(), b.client, authorizeURL, form)
	if err != nil {
		b.t.Fatalf("POST %s: %v", authorizeURL, err)
	}
	return fromEmulatortest(p)
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

// newTLSTestServer serves h over TLS on loopback, with the certificate the
// app and the emulator serve (which the app's outbound client trusts), until
// the test ends. ln, when given, is the listener to serve on.
func newTLSTestServer(t *testing.T, h http.Handler, ln ...net.Listener) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	if len(ln) > 0 {
		srv.Listener.Close()
		srv.Listener = ln[0]
	}
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{testutil.SharedCert().TLS}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// appServer is one app served by serveApp.
type appServer struct {
	URL  string
	cert testutil.Cert
}

// Client returns a client that trusts the app's certificate.
func (s *appServer) Client() *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.cert.Pool}}}
}

// listen reserves a loopback port for an app, so that its configuration can
// name its own origin before it starts.
func listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// newUnconfiguredApp serves the app with no CLIENT_ID or CLIENT_SECRET, as
// after a fresh clone, over TLS on loopback until the test ends.
func newUnconfiguredApp(t *testing.T) *appServer {
	t.Helper()
	ln := listen(t)
	// The default REDIRECT_URI names port 5000; the app's own origin keeps
	// the one-origin redirect out of the way.
	origin := "https://" + ln.Addr().String()
	cfg, err := loadAppConfigMap(map[string]string{
		"SESSION_SECRET": strings.Repeat("x", 32),
		"REDIRECT_URI":   origin + "/auth/redirect",
	})
	if err != nil {
		t.Fatal(err)
	}
	_, stop := serveApp(t, ln, cfg, appOptions{Outbound: http.DefaultClient})
	t.Cleanup(stop)
	return &appServer{URL: origin, cert: testutil.SharedCert()}
}
