// Error mapping: every kind of error a handler returns becomes the right page, and no internal detail reaches the browser.

package entra

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"ms-identity-go-webapp/identity"
	"ms-identity-go-webapp/internal/webserver"
	"ms-identity-go-webapp/session"
)

// An internal error carries what only the operator may see: a private
// address, a dial error, a file path. The page says what happened in words
// for people, with the request id; the log keeps the detail.
func TestServeErrorMapsEveryErrorToItsPage(t *testing.T) {
	// A dial error as the net package makes it, with the address in it.
	refused := &net.OpError{Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: net.IPv4(10, 20, 30, 40), Port: 8443},
		Err: errors.New("connect: connection refused")}
	internals := []string{"10.20.30.40", "8443", "connection refused", "dial tcp", "/var/lib/app", "i/o timeout"}

	for _, tt := range []struct {
		name     string
		err      error
		status   int
		heading  string
		logged   string // what the log must hold
		shown    string // what the page must show besides the heading
		internal bool   // the error carries internals the page must not show
	}{
		{"not found", ErrNotFound, http.StatusNotFound, "Page not found", "", "There is no page at this address.", false},
		{"identity provider unreachable",
			&identity.UnavailableError{Op: "fetching the openid-configuration", Err: refused},
			http.StatusServiceUnavailable, "Cannot reach the identity provider", "10.20.30.40:8443", "try again in a moment", true},
		{"identity provider unreachable, wrapped",
			fmt.Errorf("starting the sign-in: %w", &identity.UnavailableError{Op: "redeeming the authorization code", Err: refused}),
			http.StatusServiceUnavailable, "Cannot reach the identity provider", "connection refused", "try again in a moment", true},
		{"sign-in failed", &identity.AuthError{Code: "invalid_grant", Description: "AADSTS54005: OAuth2 Authorization code was already redeemed.", CorrelationID: "c-1"},
			http.StatusBadRequest, "Sign-in failed", "AADSTS54005", "AADSTS54005", false},
		{"session store unavailable", fmt.Errorf("%w: dial tcp 10.20.30.40:8443: i/o timeout", session.ErrUnavailable),
			http.StatusServiceUnavailable, "Session storage unavailable", "i/o timeout", "try again in a moment", true},
		{"graph unreachable", &APIError{API: "Microsoft Graph", Status: http.StatusBadGateway, Detail: "Microsoft Graph could not be reached.", Err: refused},
			http.StatusBadGateway, "Microsoft Graph call failed", "connection refused", "Microsoft Graph could not be reached.", true},
		{"unexpected", fmt.Errorf("opening /var/lib/app/state: %w", refused),
			http.StatusInternalServerError, "Something went wrong", "/var/lib/app/state", "It has been logged", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			app, logs := newPageApp(t, nil)
			// The server gives the request its id, as in the app.
			h := webserver.New(webserver.Options{}).Handler(app.handle(func(http.ResponseWriter, *http.Request) error { return tt.err }))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/graph", nil))
			body := rec.Body.String()
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d", rec.Code, tt.status)
			}
			if !strings.Contains(body, "<h1>"+tt.heading+"</h1>") || !strings.Contains(body, tt.shown) {
				t.Errorf("the page lacks %q or %q:\n%s", tt.heading, tt.shown, body)
			}
			// People quote the request id, or for a failed sign-in the
			// identity provider's correlation id, when they ask for help.
			if id := rec.Header().Get("X-Request-Id"); id == "" || !strings.Contains(body, id) && !strings.Contains(body, "c-1") {
				t.Errorf("the page shows neither the request id %q nor the correlation id", id)
			}
			if !strings.Contains(body, `<link rel="stylesheet" href="/static/style.css">`) {
				t.Error("the error page is not in the site's layout")
			}
			if tt.internal {
				for _, s := range internals {
					if strings.Contains(body, s) {
						t.Errorf("the page shows %q, an internal detail of %q", s, tt.err)
					}
				}
			}
			if tt.logged != "" && !strings.Contains(logs.String(), tt.logged) {
				t.Errorf("the log lacks %q:\n%s", tt.logged, logs)
			}
		})
	}
}

// A page whose template fails half-way is a clean answer with the status,
// never half a page: render executes into a buffer first, and an error page
// that cannot render falls back to plain text.
func TestRenderFailureIsACleanError(t *testing.T) {
	files := testFiles()
	// A template that cannot render at all stops New.
	files["identity/error.html"] = &fstest.MapFile{Data: []byte(
		`{{define "title"}}t{{end}}{{define "main"}}half a page {{.NoSuchField}}{{end}}`)}
	if _, err := New(Config{Authority: "https://login.example.test/contoso.onmicrosoft.com", ClientID: "c", ClientSecret: "s",
		RedirectURI: testRedirectURI, SessionDir: t.TempDir(), SessionSecret: testSecret, Templates: files, LayoutData: testLayoutData}); err == nil ||
		!strings.Contains(err.Error(), "error page does not render") {
		t.Fatalf("New with an error page that cannot render: %v", err)
	}
	// One that fails only for some answers (here the 404) fails at the
	// request.
	files["identity/error.html"] = &fstest.MapFile{Data: []byte(
		`{{define "title"}}t{{end}}{{define "main"}}half a page {{if eq .Status 404}}{{.NoSuchField}}{{end}}{{end}}`)}
	app, logs := newPageApp(t, files)
	rec := httptest.NewRecorder()
	testRoutes(app).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/no-such-page", nil))
	if rec.Code != http.StatusNotFound || strings.Contains(rec.Body.String(), "half a page") {
		t.Fatalf("status %d, want 404 without half a page:\n%s", rec.Code, rec.Body)
	}
	if got := strings.TrimSpace(rec.Body.String()); got != "Not Found" {
		t.Errorf("the fallback answer is %q, want the plain status text", got)
	}
	if !strings.Contains(logs.String(), "rendering an error page") || !strings.Contains(logs.String(), "NoSuchField") {
		t.Errorf("the log does not say which template failed:\n%s", logs)
	}
}

func excerptOf(body string) string {
	if i := strings.Index(body, "<main"); i >= 0 {
		body = body[i:]
	}
	if len(body) > 800 {
		body = body[:800]
	}
	return body
}

// A handler that panics after signing a user in (in the request only: the
// session is never saved) gets the 500 page, and that page greets nobody.
func TestPanicPageGreetsNobody(t *testing.T) {
	app, _ := newPageApp(t, nil)
	srv := webserver.New(webserver.Options{ErrorPage: app.ServeError})
	h := srv.Handler(app.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u := userOf(r.Context())
		u.HomeAccountID = "uid.utid"
		u.Claims = identity.Claims{"name": "Mallory Not Kept", "preferred_username": "mallory@demo.test", "oid": "o", "tid": "t", "sub": "s"}
		if user, ok := UserFrom(r.Context()); !ok || user.Name() != "Mallory Not Kept" {
			t.Error("the test's user is not the request's signed-in user")
		}
		panic("handler bug")
	})))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != http.StatusInternalServerError || !strings.Contains(rec.Body.String(), "Something went wrong") {
		t.Fatalf("status %d:\n%s", rec.Code, excerptOf(rec.Body.String()))
	}
	if strings.Contains(rec.Body.String(), "Mallory") || len(rec.Result().Cookies()) != 0 {
		t.Errorf("the 500 page greets the user whose sign-in was not kept, or sets a cookie:\n%s", rec.Body)
	}
}
