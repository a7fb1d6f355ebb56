// Tests of the health check: the address it asks and its exit status.

package healthcheck

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) { v, ok := m[name]; return v, ok }
}

func TestURL(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{nil, "https://127.0.0.1:5000/healthz"},
		{map[string]string{"HOST": "0.0.0.0", "PORT": "8000", "TLS": "off"}, "http://127.0.0.1:8000/healthz"},
		{map[string]string{"HOST": "::", "PORT": "8000", "TLS": "OFF"}, "http://[::1]:8000/healthz"},
		{map[string]string{"HOST": "10.0.0.5", "TLS": "on"}, "https://10.0.0.5:5000/healthz"},
		{map[string]string{"HOST": " ", "PORT": ""}, "https://127.0.0.1:5000/healthz"},
	} {
		if got := URL(env(tc.env)); got != tc.want {
			t.Errorf("URL(%v) = %s, want %s", tc.env, got, tc.want)
		}
	}
}

// lookupFor is the configuration of an app served by srv.
func lookupFor(t *testing.T, srv *httptest.Server) func(string) (string, bool) {
	t.Helper()
	u, _ := url.Parse(srv.URL)
	host, port, _ := net.SplitHostPort(u.Host)
	tls := "off"
	if u.Scheme == "https" {
		tls = "on"
	}
	return env(map[string]string{"HOST": host, "PORT": port, "TLS": tls})
}

func TestMainExitStatus(t *testing.T) {
	status := func(code int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/healthz" {
				http.NotFound(w, r)
				return
			}
			w.WriteHeader(code)
		}
	}
	for _, tc := range []struct {
		name    string
		handler http.Handler
		tls     bool
		want    int
		line    string
	}{
		{"serving", status(http.StatusOK), false, 0, ""},
		{"serving over HTTPS", status(http.StatusOK), true, 0, ""},
		{"answering 503", status(http.StatusServiceUnavailable), false, 1, "503 Service Unavailable"},
		{"redirecting", http.RedirectHandler("/elsewhere", http.StatusFound), false, 1, "302 Found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewUnstartedServer(tc.handler)
			if tc.tls {
				srv.StartTLS()
			} else {
				srv.Start()
			}
			defer srv.Close()
			var out strings.Builder
			if got := Main(lookupFor(t, srv), &out); got != tc.want {
				t.Errorf("exit status %d, want %d (%q)", got, tc.want, out.String())
			}
			if !strings.Contains(out.String(), tc.line) || strings.Count(out.String(), "\n") != tc.want {
				t.Errorf("output %q, want one line with %q when unhealthy and none otherwise", out.String(), tc.line)
			}
		})
	}

	t.Run("nothing listening", func(t *testing.T) {
		srv := httptest.NewServer(status(http.StatusOK))
		lookup := lookupFor(t, srv)
		srv.Close()
		var out strings.Builder
		if got := Main(lookup, &out); got != 1 || !strings.HasPrefix(out.String(), "unhealthy: ") {
			t.Errorf("exit status %d, output %q; want 1 and one line", got, out.String())
		}
	})
}

// A hanging app is reported when the context ends, not waited for.
func TestCheckHanging(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := Check(ctx, srv.URL+"/healthz"); err == nil {
		t.Fatal("a hanging app passed the check")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the check took %s", d)
	}
}
