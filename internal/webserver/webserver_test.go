// Tests of the server's middleware: panic recovery, request ids, the one-origin redirect and the probes.

package webserver

import (
	"bufio"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"ms-identity-go-webapp/entra"
	"ms-identity-go-webapp/internal/reqstate"
	"ms-identity-go-webapp/internal/testutil"
)

// newAuth is the sign-in package with its own pages and no identity
// provider that answers (entra.New makes no request): what renders the app's
// error pages.
func newAuth(t *testing.T) *entra.Auth {
	t.Helper()
	auth, err := entra.New(entra.Config{
		Authority:     "https://login.example.test/contoso.onmicrosoft.com",
		ClientID:      "11111111-2222-3333-4444-555555555555",
		ClientSecret:  "a-secret",
		RedirectURI:   "https://app.example.com/auth/redirect",
		SessionDir:    t.TempDir(),
		SessionSecret: "test-session-secret-0123456789abcdef",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { auth.Close() })
	return auth
}

// A panic in a handler becomes the 500 page; the stack goes to the log only.
func TestRecoverPanicRendersErrorPage(t *testing.T) {
	var logs testutil.SyncBuffer
	auth := newAuth(t)
	var got error
	s := New(Options{
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		ErrorPage: func(w http.ResponseWriter, r *http.Request, err error) {
			got = err
			auth.ServeError(w, r, err)
		},
	})
	h := s.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("boom: secret internals")
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/graph", nil))
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("status %d", rec.Code)
	}
	body := rec.Body.String()
	if !strings.Contains(body, "Something went wrong") || strings.Contains(body, "boom") || strings.Contains(body, "goroutine") {
		t.Fatalf("500 page: %q", body)
	}
	if id := rec.Header().Get("X-Request-Id"); id == "" || !strings.Contains(body, id) {
		t.Error("the page does not show the request id")
	}
	if !strings.Contains(logs.String(), "boom: secret internals") || !strings.Contains(logs.String(), "stack=") {
		t.Error("the panic and its stack were not logged")
	}
	var panicked *PanicError
	if !errors.As(got, &panicked) || strings.Contains(got.Error(), "boom") {
		t.Errorf("ErrorPage got %v, want a *PanicError without the panic's value", got)
	}
	if rec.Header().Get("Connection") != "close" {
		t.Error("the connection is kept after a panic")
	}

	// Without an ErrorPage, a plain 500 that says as little.
	rec = httptest.NewRecorder()
	New(Options{}).Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") })).
		ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/graph", nil))
	if rec.Code != http.StatusInternalServerError || strings.Contains(rec.Body.String(), "boom") {
		t.Errorf("without ErrorPage: %d %q", rec.Code, rec.Body)
	}
}

// Every request gets a fresh random id, in X-Request-Id and in the
// request's state; the client cannot choose it.
func TestRequestID(t *testing.T) {
	var seen string
	h := New(Options{}).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = reqstate.ID(r.Context())
	}))
	ids := map[string]bool{}
	for range 3 {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("X-Request-Id", "chosen-by-the-client")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		id := rec.Header().Get("X-Request-Id")
		if len(id) != 16 || id != seen || id == "chosen-by-the-client" {
			t.Fatalf("X-Request-Id %q, the handler's %q", id, seen)
		}
		ids[id] = true
	}
	if len(ids) != 3 {
		t.Errorf("three requests, %d ids", len(ids))
	}
}

// Every answer has the security headers, the probes' included.
func TestSecureHeaders(t *testing.T) {
	const csp = "default-src 'none'"
	h := New(Options{ContentSecurityPolicy: csp}).Handler(http.NotFoundHandler())
	for _, path := range []string{"/", HealthPath} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		for name, want := range map[string]string{
			"Content-Security-Policy": csp, "Strict-Transport-Security": "max-age=31536000", "X-Content-Type-Options": "nosniff",
			"X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer", "Cross-Origin-Opener-Policy": "same-origin",
		} {
			if got := rec.Header().Get(name); got != want {
				t.Errorf("%s: %s %q, want %q", path, name, got, want)
			}
		}
	}
}

// Whatever the request line, the redirect goes to the configured origin
// and a path on it.
func TestOneOriginTargets(t *testing.T) {
	s := New(Options{Origin: "https://app.example.com"})
	h := s.oneOrigin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) }))
	for _, tc := range []struct{ raw, location string }{
		{"GET /graph?x=1 HTTP/1.1\r\nHost: 127.0.0.1:5000\r\n\r\n", "https://app.example.com/graph?x=1"},
		{"GET //evil.example/x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", "https://app.example.com//evil.example/x"},
		{"GET http://evil.example/x HTTP/1.1\r\nHost: app.example.com\r\n\r\n", "https://app.example.com/x"},
		{"GET http:evil.example HTTP/1.1\r\nHost: app.example.com\r\n\r\n", "https://app.example.com/"},
		{"HEAD /?a=b HTTP/1.1\r\nHost: evil.example\r\n\r\n", "https://app.example.com/?a=b"},
		{"GET /healthz HTTP/1.1\r\nHost: 10.0.0.7:8000\r\n\r\n", ""},
		{"POST /logout HTTP/1.1\r\nHost: evil.example\r\nContent-Length: 0\r\n\r\n", ""},
	} {
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(tc.raw)))
		if err != nil {
			t.Fatal(err)
		}
		req.RemoteAddr = "192.0.2.1:1234"
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if tc.location == "" {
			if rec.Code != http.StatusTeapot {
				t.Errorf("%q: status %d, want it passed on", tc.raw, rec.Code)
			}
			continue
		}
		if rec.Code != http.StatusPermanentRedirect || rec.Header().Get("Location") != tc.location {
			t.Errorf("%q: %d %q, want 308 to %q", tc.raw, rec.Code, rec.Header().Get("Location"), tc.location)
		}
	}
}

// /healthz answers while the process serves, under any host; /readyz says
// whether the app is ready, with a short reason when it is not, and 503 from
// the start of the drain.
func TestHealthAndReadiness(t *testing.T) {
	var notReady error
	s := New(Options{Origin: "https://app.example.com", Ready: func(ctx context.Context) error {
		if _, ok := ctx.Deadline(); !ok {
			t.Error("the readiness check has no deadline")
		}
		return notReady
	}})
	h := s.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the app got %s", r.URL.Path)
	}))
	probe := func(path string) (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://10.0.0.7:8000"+path, nil))
		if rec.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("%s: Cache-Control %q", path, rec.Header().Get("Cache-Control"))
		}
		return rec.Code, strings.TrimSpace(rec.Body.String())
	}
	if code, body := probe(HealthPath); code != http.StatusOK || body != "ok" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	if code, body := probe(ReadyPath); code != http.StatusOK || body != "ready" {
		t.Errorf("/readyz: %d %q", code, body)
	}
	notReady = errors.New("session store not answering")
	if code, body := probe(ReadyPath); code != http.StatusServiceUnavailable || body != "not ready: session store not answering" {
		t.Errorf("/readyz, not ready: %d %q", code, body)
	}
	notReady = nil
	s.StartDrain()
	if code, body := probe(ReadyPath); code != http.StatusServiceUnavailable || body != "not ready: shutting down" {
		t.Errorf("/readyz, draining: %d %q", code, body)
	}
	if code, body := probe(HealthPath); code != http.StatusOK || body != "ok" {
		t.Errorf("/healthz, draining: %d %q", code, body)
	}
}
