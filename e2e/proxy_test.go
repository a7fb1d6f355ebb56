// Tests of the app behind a proxy, in process: the one-origin redirect,
// forged forwarding headers, /healthz and /readyz.

package e2e

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"ms-identity-go-webapp/emulator"
)

// fromAddr returns a copy of the browser whose connections leave from the
// loopback address ip (127.0.0.2: not the trusted proxy at 127.0.0.1).
func (b *browser) fromAddr(ip string) *browser {
	transport := b.client.Transport.(*http.Transport).Clone()
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	transport.DialContext = dialer.DialContext
	c := *b.client
	c.Transport = transport
	return &browser{t: b.t, env: b.env, client: &c}
}

// getWith requests a path of the app with extra request headers.
func (b *browser) getWith(path string, headers ...string) *page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.env.appURL+path, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return b.do(req)
}

// logLine returns the log line of the request that answered p.
func logLine(t *testing.T, logs string, p *page) string {
	t.Helper()
	id := p.header.Get("X-Request-Id")
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, "msg=request") && strings.Contains(line, "request_id="+id) {
			return line
		}
	}
	t.Fatalf("no request line for %s (request id %q) in the log", p.url, id)
	return ""
}

var forged = []string{
	"X-Forwarded-Host", "evil.example",
	"X-Forwarded-Proto", "http",
	"X-Forwarded-For", "6.6.6.6",
	"Forwarded", "for=6.6.6.6;proto=http;host=evil.example",
}

// A browser that reaches the app directly, not through the trusted proxy,
// cannot change what the app believes about the request with forwarding
// headers: no redirect to evil.example, cookies only for the app's own host,
// its own address in the log.
func TestForgedForwardedHeadersAreIgnored(t *testing.T) {
	env := newTestEnv(t, withAppEnv("TRUSTED_PROXIES", "127.0.0.1"))
	attacker := env.newBrowser().fromAddr("127.0.0.2")

	home := attacker.getWith("/", forged...)
	assertStatus(t, home, http.StatusOK)
	assertContains(t, home, "You're not signed in.")
	if line := logLine(t, env.logs.String(), home); !strings.Contains(line, "client=127.0.0.2") || strings.Contains(line, "6.6.6.6") {
		t.Errorf("the log does not show the real client address: %s", line)
	}

	// Starting a sign-in: the sign-in cookie is the app's own, and Entra ID
	// is told to come back to the configured redirect URI.
	start := attacker.getWith("/graph", forged...)
	assertStatus(t, start, http.StatusFound)
	authorize, err := url.Parse(start.location)
	if err != nil {
		t.Fatal(err)
	}
	if got := authorize.Query().Get("redirect_uri"); got != env.cfg.RedirectURI {
		t.Errorf("redirect_uri %q, want %q", got, env.cfg.RedirectURI)
	}
	for _, c := range start.header.Values("Set-Cookie") {
		if strings.Contains(strings.ToLower(c), "domain=") || !strings.Contains(c, "Secure") {
			t.Errorf("Set-Cookie %q: want a Secure host-only cookie", c)
		}
	}
	for _, p := range []*page{home, start} {
		if strings.Contains(p.location+p.body, "evil.example") {
			t.Errorf("%s mentions evil.example: %s %s", p.url, p.location, excerpt(p.body))
		}
	}
	if len(attacker.signInCookies()) != 1 {
		t.Errorf("%d sign-in cookies stored for the app's host, want 1", len(attacker.signInCookies()))
	}
}

// The same headers from the trusted proxy are believed: the request's
// public origin is then evil.example over http, which is not the app's, so
// the answer is a redirect to the configured origin (never to the header's).
// The forwarded client address is logged.
func TestTrustedProxyHeadersAreBelieved(t *testing.T) {
	env := newTestEnv(t, withAppEnv("TRUSTED_PROXIES", "127.0.0.1"))
	proxy := env.newBrowser() // connects from 127.0.0.1
	origin := env.cfg.Origin()
	host := strings.TrimPrefix(origin, "https://")

	for _, tc := range []struct {
		name    string
		headers []string
		want    string // Location, "" for none
	}{
		{"forged host", []string{"X-Forwarded-Host", "evil.example", "X-Forwarded-Proto", "https"}, origin + "/token_details?x=1"},
		{"plain http", []string{"X-Forwarded-Host", host, "X-Forwarded-Proto", "http"}, origin + "/token_details?x=1"},
		{"RFC 7239", []string{"Forwarded", `for="[2001:db8::7]";proto=https;host=evil.example`}, origin + "/token_details?x=1"},
		{"the app's own origin", []string{"X-Forwarded-Host", host, "X-Forwarded-Proto", "https", "X-Forwarded-For", "6.6.6.6, 198.51.100.7"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			proxy.t = t
			p := proxy.getWith("/token_details?x=1", tc.headers...)
			if tc.want == "" {
				assertStatus(t, p, http.StatusFound) // the sign-in starts
				if !strings.Contains(p.location, "/oauth2/v2.0/authorize?") {
					t.Errorf("went to %s", p.location)
				}
				if line := logLine(t, env.logs.String(), p); !strings.Contains(line, "client=198.51.100.7") {
					t.Errorf("the log does not show the hop the proxy added: %s", line)
				}
				return
			}
			assertStatus(t, p, http.StatusPermanentRedirect)
			if p.location != tc.want {
				t.Errorf("Location %q, want %q", p.location, tc.want)
			}
			if p.header.Get("Set-Cookie") != "" {
				t.Errorf("the redirect set a cookie: %s", p.header.Get("Set-Cookie"))
			}
		})
	}
}

// A GET or HEAD on another origin than REDIRECT_URI's is redirected there,
// before any sign-in starts; the localhost vs 127.0.0.1 login loop ends.
// Other methods, and the health routes, are served where they arrive.
func TestOneOriginRedirect(t *testing.T) {
	env := newTestEnv(t)
	b := env.newBrowser()
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(env.appURL, "https://"))
	// The same server under another name, as a browser that opened
	// https://localhost:PORT while REDIRECT_URI names 127.0.0.1 asks it.
	other := func(method, path string) *page {
		t.Helper()
		req, err := http.NewRequest(method, env.appURL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = "localhost:" + port
		return b.do(req)
	}

	p := other(http.MethodGet, "/graph?tab=me")
	assertStatus(t, p, http.StatusPermanentRedirect)
	if want := env.appURL + "/graph?tab=me"; p.location != want {
		t.Fatalf("Location %q, want %q", p.location, want)
	}
	if len(p.header.Values("Set-Cookie")) != 0 {
		t.Error("a sign-in started on the wrong origin")
	}
	if h := other(http.MethodHead, "/"); h.status != http.StatusPermanentRedirect || h.location != env.appURL+"/" {
		t.Errorf("HEAD: %d %q", h.status, h.location)
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		assertStatus(t, other(http.MethodGet, path), http.StatusOK)
	}
	// The default port is the same origin.
	req, _ := http.NewRequest(http.MethodGet, env.appURL+"/", nil)
	req.Host = "LOCALHOST:" + port
	if p := b.do(req); p.status != http.StatusPermanentRedirect {
		t.Errorf("upper-case other name: %d", p.status)
	}

	// Signed in on the configured origin, the other name leads back to it.
	b.signIn("alice@demo.test", "alice-password")
	back := b.follow(other(http.MethodGet, "/token_details"))
	assertStatus(t, back, http.StatusOK)
	assertContains(t, back, "alice@demo.test")
}

// /healthz answers while the process serves, without a session and below
// info level in the log; /readyz answers 200 only while the session store
// answers and the tenant's metadata could be fetched.
func TestHealthAndReadiness(t *testing.T) {
	rs := startRedis(t)
	c := newCluster(t, clusterOptions{instances: 1, redis: rs})
	env := c.instances[0]
	b := env.newBrowser()

	// The identity provider's metadata is unavailable at first.
	if err := env.emu.InjectFault(emulator.Fault{Endpoint: emulator.EndpointOpenIDConfiguration, Status: 503, Times: 1}); err != nil {
		t.Fatal(err)
	}
	notYet := b.get("/readyz")
	assertStatus(t, notYet, http.StatusServiceUnavailable)
	if notYet.body != "not ready: tenant metadata not fetched\n" {
		t.Errorf("/readyz body %q", notYet.body)
	}

	health := b.get("/healthz")
	assertStatus(t, health, http.StatusOK)
	ready := b.get("/readyz")
	assertStatus(t, ready, http.StatusOK)
	if health.body != "ok\n" || ready.body != "ready\n" {
		t.Errorf("bodies %q and %q", health.body, ready.body)
	}
	for _, p := range []*page{health, ready} {
		if p.header.Get("Set-Cookie") != "" || p.header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: Set-Cookie %q, Cache-Control %q", p.url, p.header.Get("Set-Cookie"), p.header.Get("Cache-Control"))
		}
		if line := logLine(t, c.logs.String(), p); !strings.Contains(line, "level=DEBUG") {
			t.Errorf("a successful probe is logged above debug level: %s", line)
		}
	}

	rs.Stop()
	down := b.get("/readyz")
	assertStatus(t, down, http.StatusServiceUnavailable)
	if down.body != "not ready: session store not answering\n" {
		t.Errorf("/readyz body %q", down.body)
	}
	if regexp.MustCompile(`127\.0\.0\.1|refused|dial`).MatchString(down.body) {
		t.Errorf("/readyz shows internals: %q", down.body)
	}
	assertStatus(t, b.get("/healthz"), http.StatusOK)
	if line := logLine(t, c.logs.String(), down); !strings.Contains(line, "level=INFO") {
		t.Errorf("a failed probe is not logged at info level: %s", line)
	}

	rs.Start()
	back := waitUntil(t, 10*time.Second, func() *page { return b.get("/readyz") }, func(p *page) bool { return p.status == http.StatusOK })
	assertStatus(t, back, http.StatusOK)
}

// The configuration page's app is not ready: it cannot sign anyone in.
func TestReadinessWithoutConfiguration(t *testing.T) {
	srv := newUnconfiguredApp(t)
	resp, err := srv.Client().Get(srv.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/readyz: %d", resp.StatusCode)
	}
}

// The drain: after SIGTERM /readyz answers 503 while pages, new connections
// included, are still served; then the server stops and Serve returns.
func TestServeDrainsOnSIGTERM(t *testing.T) {
	env := newTestEnv(t)
	cfg := env.cfg
	cfg.Server.TLS = false
	cfg.Server.TrustedProxies = nil
	cfg.Server.DrainPeriod = time.Hour // the second signal ends it
	a, err := newSampleApp(cfg, appOptions{Outbound: env.client})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ln := listen(t)
	term := make(chan os.Signal, 1)
	served := make(chan error, 1)
	go func() { served <- a.Serve(context.Background(), ln, tls.Certificate{}, term) }()
	base := "http://" + ln.Addr().String()
	client := &http.Client{Timeout: 5 * time.Second}
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := client.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if status, _ := get("/healthz"); status != http.StatusOK {
		t.Fatalf("/healthz before the drain: %d", status)
	}
	if status, _ := get("/readyz"); status != http.StatusOK {
		t.Fatalf("/readyz before the drain: %d", status)
	}

	term <- syscall.SIGTERM
	// The drain starts when the signal is taken: /readyz says so.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if status, _ := get("/readyz"); status == http.StatusServiceUnavailable {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("SIGTERM did not start the drain")
		}
		runtime.Gosched()
	}
	if status, body := get("/readyz"); status != http.StatusServiceUnavailable || body != "not ready: shutting down\n" {
		t.Errorf("/readyz while draining: %d %q", status, body)
	}
	client.CloseIdleConnections() // a new connection during the drain is accepted too
	if status, _ := get("/healthz"); status != http.StatusOK {
		t.Errorf("/healthz while draining: %d", status)
	}

	term <- syscall.SIGTERM // a second signal ends the drain
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not return after the drain")
	}
	if _, err := client.Get(base + "/healthz"); err == nil {
		t.Error("the server still accepts connections after the drain")
	}
}
