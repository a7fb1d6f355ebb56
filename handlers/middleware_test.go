package handlers

import (
	"bytes"
	"log/slog"
	"ms-identity-go-webapp/identity"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"
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

// Expired sessions are deleted; so are sessions that hold only an
// unfinished sign-in after an hour, and unreadable ones. Signed-in
// sessions stay for their whole lifetime.
func TestCleanSessionFiles(t *testing.T) {
	dir := t.TempDir()
	st, err := NewFilesystemSessionStore(dir, testSecret)
	if err != nil {
		t.Fatal(err)
	}
	codecs := st.store.(*sessions.FilesystemStore).Codecs
	now := time.Now()
	signedIn, _ := (&identity.UserSession{HomeAccountID: "uid.utid", Claims: identity.Claims{"name": "Ada"}}).Marshal()
	flowOnly, _ := (&identity.UserSession{Flows: map[string]identity.Flow{"s": {Nonce: "n"}}}).Marshal()
	write := func(name string, user []byte, age time.Duration) {
		t.Helper()
		data := []byte("not a session")
		if user != nil {
			enc, err := securecookie.EncodeMulti(SessionCookieName, map[any]any{identityKey: user}, codecs...)
			if err != nil {
				t.Fatal(err)
			}
			data = []byte(enc)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, now.Add(-age), now.Add(-age)); err != nil {
			t.Fatal(err)
		}
	}
	keep := map[string]bool{}
	write("session_SIGNED_IN_OLD", signedIn, SessionLifetime+time.Hour)
	write("session_SIGNED_IN", signedIn, 2*AbandonedSessionLifetime)
	keep["session_SIGNED_IN"] = true
	write("session_FLOW_OLD", flowOnly, 2*AbandonedSessionLifetime)
	write("session_FLOW_NEW", flowOnly, AbandonedSessionLifetime/2)
	keep["session_FLOW_NEW"] = true
	write("session_GARBAGE", nil, 2*AbandonedSessionLifetime)
	write("unrelated", nil, SessionLifetime+time.Hour)
	keep["unrelated"] = true

	n, err := st.Clean(now)
	if err != nil || n != 3 {
		t.Fatalf("removed %d, err %v", n, err)
	}
	for _, name := range []string{"session_SIGNED_IN_OLD", "session_SIGNED_IN", "session_FLOW_OLD", "session_FLOW_NEW", "session_GARBAGE", "unrelated"} {
		if _, err := os.Stat(filepath.Join(dir, name)); (err == nil) != keep[name] {
			t.Errorf("%s exists = %v, want %v", name, err == nil, keep[name])
		}
	}
}
