// Helpers the package's tests share: an Auth signing in against an emulator, one with no identity provider for the pages, and the sample's templates.

package entra

import (
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"testing/fstest"
	"time"

	"ms-identity-go-webapp/emulator"
	"ms-identity-go-webapp/emulator/emulatortest"
	"ms-identity-go-webapp/identity"
	"ms-identity-go-webapp/internal/testutil"
)

const (
	testRedirectURI = "https://app.test/auth/redirect"
	testSecret      = "test-session-secret-0123456789abcdef"
)

// testLayout is what the sample's layout shows besides the user, as
// handlers.layout: its templates read .App.Demo, .App.Year and the
// versions.
type testLayout struct {
	Demo                    bool
	Year                    int
	AppVersion, MSALVersion string
}

func testLayoutData(*http.Request) any {
	return testLayout{Year: 2031, AppVersion: "devel", MSALVersion: "v1.10.1"}
}

// sampleTemplates are the sample app's templates (base.html and
// identity/*.html), as main gives them in Config.Templates: the real ones,
// so that escaping is tested too.
func sampleTemplates() fs.FS { return os.DirFS("../templates") }

// testFiles are minimal templates: a layout without the layout parts and
// every page of the package, each writing its name.
func testFiles() fstest.MapFS {
	files := fstest.MapFS{
		"base.html": {Data: []byte(`{{define "base"}}<main>{{template "main" .}}</main>{{end}}`)},
	}
	for _, name := range pageNames {
		files["identity/"+name+".html"] = &fstest.MapFile{Data: []byte(`{{define "title"}}t{{end}}{{define "main"}}` + name + `{{end}}`)}
	}
	files["identity/error.html"] = &fstest.MapFile{Data: []byte(`{{define "title"}}t{{end}}{{define "main"}}{{.Status}} {{.Heading}} {{.RequestID}}{{end}}`)}
	return files
}

// newSignInApp is the package with the sample's templates, an emulator over
// TLS as its identity provider and file sessions. now, when not nil, is the
// identity client's clock.
func newSignInApp(tb testing.TB, now func() time.Time) (a *Auth, sessionDir string) {
	tb.Helper()
	sessionDir = tb.TempDir()
	idp := emulatortest.NewServer(tb, emulator.Config{RedirectURIs: []string{testRedirectURI}})
	a, err := New(Config{
		Authority:     idp.Authority(),
		ClientID:      emulator.DemoClientID,
		ClientSecret:  emulator.DemoClientSecret,
		RedirectURI:   testRedirectURI,
		Scopes:        []string{"User.Read"},
		SessionDir:    sessionDir,
		SessionSecret: testSecret,
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
		HTTPClient:    idp.Client(),
		Templates:     sampleTemplates(),
		LayoutData:    testLayoutData,
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { a.Close() })
	if now != nil {
		// The same client as New's, on the test's clock.
		id, err := identity.New(identity.Config{
			Authority:          a.cfg.Authority,
			ClientID:           a.cfg.ClientID,
			Credential:         testutil.SecretCredential(emulator.DemoClientSecret),
			RedirectURI:        a.cfg.RedirectURI,
			Scopes:             a.cfg.Scopes,
			HTTPClient:         idp.Client(),
			ClientCapabilities: a.cfg.ClientCapabilities,
			Now:                now,
		})
		if err != nil {
			tb.Fatal(err)
		}
		a.identity = id
	}
	return a, sessionDir
}

// newPageApp is the package with no identity provider that answers (New
// makes no request): enough to render every page. files nil means the
// sample's templates. The log is returned.
func newPageApp(t *testing.T, files fs.FS) (*Auth, *testutil.SyncBuffer) {
	t.Helper()
	var logs testutil.SyncBuffer
	if files == nil {
		files = sampleTemplates()
	}
	a, err := New(Config{
		Authority:     "https://login.example.test/contoso.onmicrosoft.com",
		ClientID:      "11111111-2222-3333-4444-555555555555",
		ClientSecret:  "a-secret",
		RedirectURI:   testRedirectURI,
		SessionDir:    t.TempDir(),
		SessionSecret: testSecret,
		Logger:        slog.New(slog.NewTextHandler(&logs, nil)),
		Templates:     files,
		LayoutData:    testLayoutData,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a, &logs
}

// testRoutes are pages behind the package's gates, as the sample has them,
// inside Middleware: /graph needs the sign-in's token, /token_details a
// signed-in user; anything else is the 404 page.
func testRoutes(a *Auth) http.Handler {
	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "the page") })
	mux := http.NewServeMux()
	mux.Handle("GET /graph", a.ScopesRequired(a.cfg.Scopes...)(page))
	mux.Handle("GET /token_details", a.LoginRequired(page))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { a.ServeError(w, r, ErrNotFound) })
	return a.Middleware(mux)
}

// get serves one request with cookies.
func get(h http.Handler, target string, cookies []*http.Cookie) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, target, nil)
	for _, c := range cookies {
		r.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}
