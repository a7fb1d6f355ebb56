package handlers

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"ms-identity-go-webapp/session"
)

// testFiles are minimal templates with the names the app needs.
func testFiles() fstest.MapFS {
	files := fstest.MapFS{
		"templates/base.html": {Data: []byte(`{{define "base"}}<main>{{template "main" .}}</main>{{end}}`)},
		"static/style.css":    {Data: []byte("body{}")},
	}
	for _, name := range []string{"index", "login", "auth_error", "config_error", "graph", "admin", "token_details", "calendar", "consent_declined", "logout", "frontchannel_logout"} {
		files["templates/"+name+".html"] = &fstest.MapFile{Data: []byte(`{{define "title"}}t{{end}}{{define "main"}}` + name + `{{end}}`)}
	}
	files["templates/error.html"] = &fstest.MapFile{Data: []byte(`{{define "title"}}t{{end}}{{define "main"}}{{.Status}} {{.Heading}} {{.RequestID}}{{end}}`)}
	return files
}

// A panic in a handler becomes the 500 page; the stack goes to the log only.
func TestRecoverPanicRendersErrorPage(t *testing.T) {
	var logs bytes.Buffer
	app, err := New(Options{
		Logger:         slog.New(slog.NewTextHandler(&logs, nil)),
		Files:          testFiles(),
		RedirectPath:   "/auth/redirect",
		ConfigProblems: []string{"CLIENT_ID is not set."},
	})
	if err != nil {
		t.Fatal(err)
	}
	h := app.requestID(app.recoverPanic(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("boom: secret internals")
	})))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/graph", nil))
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("status %d", rec.Code)
	}
	body := rec.Body.String()
	if !strings.Contains(body, "Something went wrong") || strings.Contains(body, "boom") || strings.Contains(body, "goroutine") {
		t.Fatalf("500 page: %q", body)
	}
	if !strings.Contains(body, rec.Header().Get("X-Request-Id")) {
		t.Error("the page does not show the request id")
	}
	if !strings.Contains(logs.String(), "boom: secret internals") || !strings.Contains(logs.String(), "stack=") {
		t.Error("the panic and its stack were not logged")
	}
}

// Template errors never reach the browser as half a page.
func TestParseTemplatesRequiresEveryPage(t *testing.T) {
	files := testFiles()
	delete(files, "templates/graph.html")
	if _, err := parseTemplates(files); err == nil || !strings.Contains(err.Error(), "graph.html") {
		t.Fatalf("missing template: %v", err)
	}
}

const testSecret = "test-session-secret-0123456789abcdef"

// newTestStore is a session store over files in dir.
func newTestStore(t testing.TB, dir string) *session.Store {
	t.Helper()
	backend, err := session.NewFileBackend(dir)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := session.NewKeys(testSecret, "")
	if err != nil {
		t.Fatal(err)
	}
	return session.NewStore(backend, keys)
}
