// How the tests build the app: as main's run does, entra.New for the sign-in, New for the pages and their gates, the server's middleware around them.

package handlers

import (
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"ms-identity-go-webapp/emulator"
	"ms-identity-go-webapp/entra"
	"ms-identity-go-webapp/internal/webserver"
)

const (
	testRedirectURI = "https://app.test/auth/redirect"
	testSecret      = "test-session-secret-0123456789abcdef"
)

// sampleFiles are the real templates and static files, as main embeds
// them: so escaping is tested too.
func sampleFiles() fs.FS { return os.DirFS("..") }

// testApp is the app built as run builds it.
type testApp struct {
	h     http.Handler // the whole app, in the server's middleware
	auth  *entra.Auth
	pages *Handlers
}

// appSettings are what newTestApp needs besides the pages' settings.
type appSettings struct {
	authority string       // the identity provider; New makes no request to it
	client    *http.Client // for the identity provider and Graph; nil: entra's default
	logger    *slog.Logger // nil: discard
	env       map[string]string
}

// newTestApp builds the app as run does: the sign-in with the sample's
// templates and layout, the pages, and the server's middleware around them.
func newTestApp(tb testing.TB, s appSettings) *testApp {
	tb.Helper()
	if s.logger == nil {
		s.logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if s.authority == "" {
		s.authority = "https://login.example.test/contoso.onmicrosoft.com"
	}
	scopes := []string{"User.Read"}
	cfg, errs := ConfigFromLookup(func(k string) (string, bool) { v, ok := s.env[k]; return v, ok }, scopes)
	if len(errs) > 0 {
		tb.Fatal(errs)
	}
	templates, err := fs.Sub(sampleFiles(), "templates")
	if err != nil {
		tb.Fatal(err)
	}
	auth, err := entra.New(entra.Config{
		Authority:     s.authority,
		ClientID:      emulator.DemoClientID,
		ClientSecret:  emulator.DemoClientSecret,
		RedirectURI:   testRedirectURI,
		Scopes:        scopes,
		SessionDir:    tb.TempDir(),
		SessionSecret: testSecret,
		Logger:        s.logger,
		HTTPClient:    s.client,
		Templates:     templates,
		LayoutData:    Layout(cfg),
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { auth.Close() })
	pages, err := New(auth, cfg, sampleFiles())
	if err != nil {
		tb.Fatal(err)
	}
	srv := webserver.New(webserver.Options{Logger: s.logger, ContentSecurityPolicy: entra.ContentSecurityPolicy(auth.IdentityOrigin(), "'none'"),
		ErrorPage: pages.ServeError, Ready: auth.Ready})
	return &testApp{h: srv.Handler(pages.Handler(nil)), auth: auth, pages: pages}
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
