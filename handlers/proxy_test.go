package handlers

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestCanonicalOrigin(t *testing.T) {
	for in, want := range map[string]string{
		"https://App.Example.com:443":  "https://app.example.com",
		"https://app.example.com":      "https://app.example.com",
		"https://app.example.com/":     "https://app.example.com",
		"https://app.example.com:8443": "https://app.example.com:8443",
		"http://app.example.com:80":    "http://app.example.com",
		"http://app.example.com:443":   "http://app.example.com:443",
		"https://[::1]:443":            "https://[::1]",
		"https://[::1]:5000":           "https://[::1]:5000",
		"https://user@app.example.com": "",
		"https://app.example.com/path": "",
		"https://app.example.com/?q=1": "",
		"app.example.com":              "",
		"https://":                     "",
	} {
		if got := canonicalOrigin(in); got != want {
			t.Errorf("canonicalOrigin(%q) = %q, want %q", in, got, want)
		}
	}
}

// Whatever the request line, the redirect goes to the configured origin
// and a path on it.
func TestOneOriginTargets(t *testing.T) {
	app := &Application{Options: Options{Origin: "https://app.example.com"}}
	h := app.oneOrigin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) }))
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
