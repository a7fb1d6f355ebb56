package handlers

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

// testFiles are minimal templates with the names the app needs.
func testFiles() fstest.MapFS {
	files := fstest.MapFS{
		"templates/base.html": {Data: []byte(`{{define "base"}}<main>{{template "main" .}}</main>{{end}}`)},
		"static/style.css":    {Data: []byte("body{}")},
	}
	for _, name := range []string{"index", "login", "auth_error", "config_error", "graph", "admin", "token_details"} {
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

func TestCleanSessionFiles(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	write := func(name string, age time.Duration) {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, now.Add(-age), now.Add(-age)); err != nil {
			t.Fatal(err)
		}
	}
	write("session_OLD", SessionLifetime+time.Hour)
	write("session_NEW", time.Hour)
	write("unrelated", SessionLifetime+time.Hour)
	n, err := CleanSessionFiles(dir, now)
	if err != nil || n != 1 {
		t.Fatalf("removed %d, err %v", n, err)
	}
	for name, want := range map[string]bool{"session_OLD": false, "session_NEW": true, "unrelated": true} {
		if _, err := os.Stat(filepath.Join(dir, name)); (err == nil) != want {
			t.Errorf("%s exists = %v, want %v", name, err == nil, want)
		}
	}
}
