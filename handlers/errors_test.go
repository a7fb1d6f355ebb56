// Error pages of the router, and the pages the app cannot start without.

package handlers

import (
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"ms-identity-go-webapp/internal/testutil"
	"ms-identity-go-webapp/internal/webserver"
)

// The pages people see for the common statuses, rendered by the router
// itself: a 404 and a 405 in the layout, with the security headers.
func TestRouterErrorPages(t *testing.T) {
	h := newTestApp(t, appSettings{}).h
	for _, tt := range []struct {
		method, path string
		status       int
		heading      string
	}{
		{http.MethodGet, "/no-such-page", http.StatusNotFound, "Page not found"},
		{http.MethodGet, "/static/no-such-file.css", http.StatusNotFound, "Page not found"},
		{http.MethodDelete, "/", http.StatusMethodNotAllowed, "Method not allowed"},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
		if rec.Code != tt.status || !strings.Contains(rec.Body.String(), "<h1>"+tt.heading+"</h1>") {
			t.Errorf("%s %s: %d, want %d with %q:\n%s", tt.method, tt.path, rec.Code, tt.status, tt.heading, excerptOf(rec.Body.String()))
		}
		if !strings.Contains(rec.Body.String(), `<link rel="stylesheet" href="/static/style.css">`) {
			t.Errorf("%s %s: the error page is not in the site's layout", tt.method, tt.path)
		}
		for _, header := range []string{"Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy"} {
			if rec.Header().Get(header) == "" {
				t.Errorf("%s %s: no %s", tt.method, tt.path, header)
			}
		}
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

// Template errors never reach the browser as half a page: a page missing
// from the templates stops start-up, instead of failing its requests.
func TestParseTemplatesRequiresEveryPage(t *testing.T) {
	files := fstest.MapFS{}
	err := fs.WalkDir(sampleFiles(), "templates", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(sampleFiles(), path)
		files[path] = &fstest.MapFile{Data: data}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(nil, Config{}, files); err != nil {
		t.Fatalf("every page: %v", err)
	}
	delete(files, "templates/graph.html")
	if _, err := New(nil, Config{}, files); err == nil || !strings.Contains(err.Error(), "graph.html") {
		t.Fatalf("missing template: %v", err)
	}
}

// A panic becomes the 500 page with the request id, the stack going to the
// log only: with sign-in settings, entra's error page (the server's own
// test), and without them, when every page is the configuration page and
// there is no entra, a plain answer that says as much.
func TestPanicWithoutSignInSettings(t *testing.T) {
	pages, err := New(nil, Config{}, sampleFiles())
	if err != nil {
		t.Fatal(err)
	}
	var logs testutil.SyncBuffer
	srv := webserver.New(webserver.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil)), ErrorPage: pages.ServeError})
	h := srv.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom: secret internals") }))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	body := rec.Body.String()
	if rec.Code != http.StatusInternalServerError || !strings.Contains(body, "Something went wrong") ||
		strings.Contains(body, "boom") || strings.Contains(body, "goroutine") {
		t.Fatalf("500 page: %d %q", rec.Code, body)
	}
	if id := rec.Header().Get("X-Request-Id"); id == "" || !strings.Contains(body, id) {
		t.Error("the page does not show the request id")
	}
	if !strings.Contains(logs.String(), "boom: secret internals") || !strings.Contains(logs.String(), "stack=") {
		t.Error("the panic and its stack were not logged")
	}

	// The configuration page itself, on every path.
	rec = httptest.NewRecorder()
	srv.Handler(pages.Handler([]string{"CLIENT_ID is not set."})).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/graph", nil))
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "CLIENT_ID is not set.") {
		t.Errorf("the configuration page: %d\n%s", rec.Code, excerptOf(rec.Body.String()))
	}
}
