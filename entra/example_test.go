package entra_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"html"
	"log"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing/fstest"
	"time"

	"ms-identity-go-webapp/emulator"
	"ms-identity-go-webapp/emulator/emulatortest"
	"ms-identity-go-webapp/entra"
	"ms-identity-go-webapp/session"
)

// An app protects its pages with the gates, inside Middleware, which
// answers /login, the redirect URI, /logout and the front-channel logout
// itself. Here it runs offline against the emulator (emulatortest), as its
// tests can: a browser that opens the page is sent to sign in, and comes
// back to it signed in.
func Example() {
	app := startOffline(func(auth *entra.Auth, mux *http.ServeMux) {
		mux.Handle("GET /{$}", auth.LoginRequired(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			user, _ := entra.UserFrom(r.Context())
			fmt.Fprintf(w, "Hello, %s!", user.Name())
		})))
	})
	defer app.Close()

	browser := app.signIn("alice@demo.test", "alice-password")
	fmt.Println(browser.get("/"))
	// Output: 200 Hello, Alice Smith!
}

// A page that calls an API asks for the scopes its token needs; CallAPI
// sends the token, and turns a claims challenge of the API into the sign-in
// that answers it. A user who has not consented to the scopes yet is asked
// for them (incremental consent) and comes back to the page.
func ExampleAuth_ScopesRequired() {
	app := startOffline(func(auth *entra.Auth, mux *http.ServeMux) {
		graph := entra.API{Name: "Microsoft Graph", BaseURL: os.Getenv("EXAMPLE_GRAPH"), Scopes: []string{"User.Read"}}
		mux.Handle("GET /me", auth.ScopesRequired(graph.Scopes...)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, err := auth.CallAPI(r, graph, "/me")
			if err != nil {
				auth.ServeError(w, r, err)
				return
			}
			var me struct{ DisplayName string }
			json.Unmarshal(body, &me)
			fmt.Fprintf(w, "Graph says you are %s.", me.DisplayName)
		})))
	})
	defer app.Close()

	browser := app.signIn("alice@demo.test", "alice-password")
	fmt.Println(browser.get("/me"))
	// Output: 200 Graph says you are Alice Smith.
}

// A page for an app role: users without it get the 403 page.
func ExampleAuth_RolesRequired() {
	app := startOffline(func(auth *entra.Auth, mux *http.ServeMux) {
		mux.Handle("GET /admin", auth.RolesRequired("admin")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, "Only for the admin app role.")
		})))
	})
	defer app.Close()

	fmt.Println(app.signIn("alice@demo.test", "alice-password").status("/admin"))
	fmt.Println(app.signIn("admin@demo.test", "admin-password").get("/admin"))
	// Output:
	// 403
	// 200 Only for the admin app role.
}

// Step-up: a page that needs an authentication context (a policy in
// Conditional Access, such as a second factor) sends users whose ID token
// lacks it through a sign-in that asks for it. Gates compose; the role is
// checked after the step-up.
func ExampleAuth_AuthContextRequired() {
	var auth *entra.Auth // from entra.New
	admin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "admin") })
	mux := http.NewServeMux()
	mux.Handle("GET /admin", auth.AuthContextRequired("c1")(auth.RolesRequired("admin")(admin)))
}

// Signing out is a POST to LogoutPath from the app's own page (another
// site's is refused): the session ends here first, then the browser goes to
// the identity provider's end-session endpoint and back to the app.
func ExampleAuth_Middleware_signOut() {
	app := startOffline(func(auth *entra.Auth, mux *http.ServeMux) {
		mux.Handle("GET /{$}", auth.LoginRequired(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, "home")
		})))
	})
	defer app.Close()

	browser := app.signIn("alice@demo.test", "alice-password")
	fmt.Println(browser.status("/"))
	fmt.Println(browser.post("/logout"))
	fmt.Println(browser.status("/")) // signed out: sent to sign in
	// Output:
	// 200
	// 303 to the identity provider's end-session endpoint
	// 302
}

// ConfigFromEnv reads the Python samples' settings and names every one
// that is missing or malformed in one error.
func ExampleConfigFromEnv() {
	os.Clearenv()
	os.Setenv("CLIENT_ID", "11111111-2222-3333-4444-555555555555")
	os.Setenv("AUTHORITY", "https://login.microsoftonline.com/contoso.onmicrosoft.com")
	os.Setenv("SESSION_TYPE", "memcached")
	_, err := entra.ConfigFromEnv()
	for _, line := range strings.Split(err.Error(), "; ") {
		fmt.Println(line)
	}
	// Output:
	// sign-in settings: SESSION_TYPE must be filesystem or redis, not "memcached"
	// CLIENT_SECRET is not set: create a client secret under Certificates & secrets (or, in production, use a certificate with CLIENT_CERTIFICATE_PATH or a federated token with CLIENT_ASSERTION_FILE).
	// SESSION_SECRET is missing or shorter than 32 characters: generate one with `openssl rand -hex 32`.
}

// Several instances of an app share their users' sessions in Redis, so
// that a sign-in started on one completes on another.
func ExampleConfig_redis() {
	cfg := entra.Config{
		Authority:     "https://login.microsoftonline.com/contoso.onmicrosoft.com",
		ClientID:      "11111111-2222-3333-4444-555555555555",
		ClientSecret:  os.Getenv("CLIENT_SECRET"),
		RedirectURI:   "https://app.contoso.com/auth/redirect",
		SessionType:   "redis",
		RedisURL:      "rediss://:password@contoso.redis.cache.windows.net:6380/0",
		SessionSecret: os.Getenv("SESSION_SECRET"),
	}
	auth, err := entra.New(cfg) // Redis must answer
	if err != nil {
		log.Fatal(err)
	}
	defer auth.Close()
}

// A session store of the app's own (one that passes session/sessiontest)
// keeps the sessions instead of files or Redis.
func ExampleConfig_sessionBackend() {
	dir, err := os.MkdirTemp("", "sessions")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	files, err := session.NewFileBackend(dir)
	if err != nil {
		log.Fatal(err)
	}
	store := &countingBackend{Backend: files}
	app := startOffline(func(auth *entra.Auth, mux *http.ServeMux) {
		mux.Handle("GET /{$}", auth.LoginRequired(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
	}, func(cfg *entra.Config) { cfg.SessionBackend = store })
	defer app.Close()

	app.signIn("alice@demo.test", "alice-password")
	fmt.Println("sessions saved in the app's own store:", store.saves.Load())
	// Output: sessions saved in the app's own store: 1
}

// countingBackend is a session.Backend that counts the sessions it saves.
type countingBackend struct {
	session.Backend
	saves atomic.Int64
}

func (b *countingBackend) Save(ctx context.Context, id string, record []byte, expiry time.Time) error {
	b.saves.Add(1)
	return b.Backend.Save(ctx, id, record, expiry)
}

// An app gives the package's pages its own look: its layout as base.html,
// and its versions of any page under identity/, as Python apps override
// templates/identity/*.html. Pages it does not give are the package's own,
// in its layout.
func ExampleConfig_templates() {
	pages := fstest.MapFS{
		"base.html": {Data: []byte(`{{define "base"}}<body class="contoso">{{template "main" .}}</body>{{end}}`)},
		"identity/login.html": {Data: []byte(`{{define "title"}}Sign in{{end}}` +
			`{{define "main"}}<a href="{{.AuthURL}}">Sign in to Contoso</a>{{end}}`)},
	}
	app := startOffline(func(auth *entra.Auth, mux *http.ServeMux) {}, func(cfg *entra.Config) { cfg.Templates = pages })
	defer app.Close()

	page := app.newBrowser().get("/login")
	fmt.Println(strings.Contains(page, `<body class="contoso"><a href="https://127.0.0.1:`), strings.Contains(page, `">Sign in to Contoso</a></body>`))
	// Output: true true
}

// offlineApp is an app on entra and the emulator, both on loopback.
type offlineApp struct {
	emu  *emulatortest.Server
	app  *httptest.Server
	auth *entra.Auth
	dir  string // its sessions
}

// startOffline serves the pages routes adds on the emulator's tenant, with
// the emulator's demo app registration.
func startOffline(routes func(*entra.Auth, *http.ServeMux), change ...func(*entra.Config)) *offlineApp {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	origin := "https://" + ln.Addr().String()
	emu, err := emulatortest.Start(emulator.Config{RedirectURIs: []string{origin + "/auth/redirect"}})
	if err != nil {
		log.Fatal(err)
	}
	os.Setenv("EXAMPLE_GRAPH", emu.URL+"/v1.0")
	dir, err := os.MkdirTemp("", "sessions")
	if err != nil {
		log.Fatal(err)
	}
	cfg := entra.Config{
		Authority:     emu.Authority(),
		ClientID:      emulator.DemoClientID,
		ClientSecret:  emulator.DemoClientSecret,
		RedirectURI:   origin + "/auth/redirect",
		SessionSecret: strings.Repeat("s", 32),
		SessionDir:    dir,
		HTTPClient:    emu.Client(), // trusts the emulator's certificate
	}
	for _, c := range change {
		c(&cfg)
	}
	auth, err := entra.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	routes(auth, mux)
	app := httptest.NewUnstartedServer(auth.Middleware(mux))
	app.Listener.Close()
	app.Listener = ln
	app.TLS = &tls.Config{Certificates: []tls.Certificate{emu.Cert.TLS}}
	app.StartTLS()
	return &offlineApp{emu: emu, app: app, auth: auth, dir: dir}
}

func (a *offlineApp) Close() {
	a.app.Close()
	a.auth.Close()
	a.emu.Close()
	os.RemoveAll(a.dir)
}

// browser is a client with cookies that follows no redirect by itself.
type browser struct {
	app *offlineApp
	c   *http.Client
}

func (a *offlineApp) newBrowser() *browser {
	jar, _ := cookiejar.New(nil)
	c := a.emu.Client()
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &browser{app: a, c: c}
}

// signIn opens the sign-in page and signs in on the emulator's pages, as a
// person would.
func (a *offlineApp) signIn(username, password string) *browser {
	b := a.newBrowser()
	ctx := context.Background()
	login, err := emulatortest.Get(ctx, b.c, a.app.URL+"/login")
	if err != nil {
		log.Fatal(err)
	}
	authURL := login.Body[strings.Index(login.Body, `href="https://`)+6:]
	authURL = html.UnescapeString(authURL[:strings.Index(authURL, `"`)])
	back, err := emulatortest.SignIn(ctx, b.c, authURL, username, password)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := emulatortest.Get(ctx, b.c, back.Location); err != nil {
		log.Fatal(err)
	}
	return b
}

func (b *browser) page(method, path string) *emulatortest.Page {
	req, _ := http.NewRequest(method, b.app.app.URL+path, nil)
	req.Header.Set("Origin", b.app.app.URL) // as a form of the app's own page
	p, err := emulatortest.Do(b.c, req)
	if err != nil {
		log.Fatal(err)
	}
	return p
}

func (b *browser) get(path string) string {
	p := b.page(http.MethodGet, path)
	return fmt.Sprint(p.Status, " ", p.Body)
}

func (b *browser) status(path string) int { return b.page(http.MethodGet, path).Status }

func (b *browser) post(path string) string {
	p := b.page(http.MethodPost, path)
	if strings.HasPrefix(p.Location, b.app.emu.URL) && strings.Contains(p.Location, "/logout") {
		return fmt.Sprint(p.Status, " to the identity provider's end-session endpoint")
	}
	return fmt.Sprint(p.Status, " ", p.Location)
}
