// Faults the app must survive: a slow or failing token endpoint, Graph
// failing or hanging, an identity provider that cannot be reached at
// start-up, session files deleted or corrupted, a failed callback, and a
// sign-out racing a page in flight.

package e2e

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"ms-identity-go-webapp/emulator"
	"ms-identity-go-webapp/emulator/emulatortest"
)

// A token endpoint that is slow but answers: the sign-in completes. One
// slower than the app's timeout for the identity provider: the callback
// answers in time with "Cannot reach the identity provider", and the next
// sign-in works.
func TestSlowTokenEndpointDuringSignIn(t *testing.T) {
	c := newCluster(t, clusterOptions{instances: 1, identityTimeout: time.Second})
	env := c.instances[0]

	t.Run("slow", func(t *testing.T) {
		b := env.newBrowser()
		login := b.get("/login")
		if err := c.emu.InjectFault(emulator.Fault{Endpoint: emulator.EndpointToken, Delay: 300 * time.Millisecond, Times: 1}); err != nil {
			t.Fatal(err)
		}
		back := b.submitSignIn(authURLFrom(t, login), "alice@demo.test", "alice-password", "signin")
		landed := b.follow(back)
		assertStatus(t, landed, http.StatusSeeOther)
		assertContains(t, b.get("/token_details"), "alice@demo.test")
	})

	t.Run("slower than the timeout", func(t *testing.T) {
		b := env.newBrowser()
		login := b.get("/login")
		// A token endpoint that hangs; the emulator stops waiting when the
		// app gives up, so the test's clean-up does not wait for it.
		if err := c.emu.InjectFault(emulator.Fault{Endpoint: emulator.EndpointToken, Delay: 30 * time.Second, Times: 1}); err != nil {
			t.Fatal(err)
		}
		back := b.submitSignIn(authURLFrom(t, login), "alice@demo.test", "alice-password", "signin")
		start := time.Now()
		p := b.follow(back)
		took := time.Since(start)
		assertStatus(t, p, http.StatusServiceUnavailable)
		assertContains(t, p, "Cannot reach the identity provider")
		if took > 2*time.Second {
			t.Errorf("the callback waited %s for a token endpoint that hangs, with a 1s timeout", took)
		}
		assertStatus(t, b.get("/token_details"), http.StatusFound) // not signed in
		b.signIn("alice@demo.test", "alice-password")
		assertContains(t, b.get("/graph"), "Alice Smith")
	})
}

// The token endpoint failing while a signed-in user's access token is
// refreshed: an error page, the user stays signed in, and the next page works.
func TestTokenEndpointDownDuringRefresh(t *testing.T) {
	env := newTestEnv(t, withEmulator(func(c *emulator.Config) { c.AccessTokenTTL = 2 * time.Minute }))
	b := env.newBrowser()
	b.signIn("alice@demo.test", "alice-password")
	if err := env.emu.InjectFault(emulator.Fault{Endpoint: emulator.EndpointToken, Status: http.StatusServiceUnavailable, Times: 1}); err != nil {
		t.Fatal(err)
	}
	p := b.get("/graph")
	assertStatus(t, p, http.StatusServiceUnavailable)
	assertContains(t, p, "Cannot reach the identity provider")
	assertContains(t, b.get("/graph"), "Alice Smith")
}

// An identity provider that cannot be reached when the app starts: first
// nothing listens at all (connection refused), then it listens but its
// metadata endpoint answers 503. The app starts anyway, every sign-in shows
// a clear page without the error's internals, and once the provider answers,
// sign-in works without a restart.
func TestIdentityProviderUnreachableAtStartUp(t *testing.T) {
	addr, listen := reservePort(t)
	idp := "https://" + addr
	c := newCluster(t, clusterOptions{instances: 1, opts: []envOption{
		withAppEnv("AUTHORITY", idp+"/"+emulator.DefaultTenant),
		withAppEnv("GRAPH_ENDPOINT", idp+"/v1.0/me"),
	}})
	env := c.instances[0]
	b := env.newBrowser()
	assertContains(t, b.get("/"), "You're not signed in.")
	unreachable := func(why string) {
		t.Helper()
		for _, path := range []string{"/login", "/graph", "/admin"} {
			p := b.get(path)
			assertStatus(t, p, http.StatusServiceUnavailable)
			assertContains(t, p, "Cannot reach the identity provider")
			for _, internal := range []string{addr, "connection refused", "dial tcp"} {
				if strings.Contains(p.body, internal) {
					t.Errorf("%s: %s shows %q", why, path, internal)
				}
			}
		}
	}
	unreachable("nothing listening")
	if !strings.Contains(env.logs.String(), "connection refused") {
		t.Errorf("the log does not say why the identity provider could not be reached:\n%s", env.logs)
	}
	// Signing out works locally even without the provider.
	out := b.signOut()
	assertStatus(t, out, http.StatusSeeOther)

	// The provider listens on the address the app was configured with, but
	// answers its metadata with an error, twice.
	if err := c.emu.InjectFault(emulator.Fault{Endpoint: emulator.EndpointOpenIDConfiguration, Status: http.StatusServiceUnavailable, Times: 2}); err != nil {
		t.Fatal(err)
	}
	newTLSTestServer(t, c.emu.Handler(), listen())
	for range 2 {
		p := b.get("/login")
		assertStatus(t, p, http.StatusServiceUnavailable)
		assertContains(t, p, "Cannot reach the identity provider")
	}

	b.signIn("alice@demo.test", "alice-password")
	assertContains(t, b.get("/graph"), "Alice Smith")
}

// A session file that was deleted (by the hourly clean-up, or by hand) or
// corrupted is a signed-out session: pages answer, a protected page starts
// the sign-in, and signing in again works.
func TestSessionFileDeletedOrCorrupted(t *testing.T) {
	env := newTestEnv(t)
	b := env.newBrowser()
	for _, damage := range []struct {
		name string
		do   func(path string) error
	}{
		{"deleted", os.Remove},
		{"garbage", func(p string) error { return os.WriteFile(p, []byte("garbage|not|signed"), 0o600) }},
		{"empty", func(p string) error { return os.WriteFile(p, nil, 0o600) }},
		{"truncated", func(p string) error {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(p, data[:len(data)/2], 0o600)
		}},
		{"replaced by a directory", func(p string) error {
			if err := os.Remove(p); err != nil {
				return err
			}
			return os.Mkdir(p, 0o700)
		}},
	} {
		t.Run(damage.name, func(t *testing.T) {
			b.t = t
			b.signIn("alice@demo.test", "alice-password")
			files, _ := filepath.Glob(filepath.Join(env.cfg.SessionDir, "session_*"))
			if len(files) != 1 {
				t.Fatalf("session files: %q", files)
			}
			if err := damage.do(files[0]); err != nil {
				t.Fatal(err)
			}
			home := b.get("/")
			if damage.name == "replaced by a directory" {
				// Not a missing session but a store the app cannot read:
				// the outage page, never a 500.
				assertStatus(t, home, http.StatusServiceUnavailable)
				assertContains(t, home, "Session storage unavailable")
				os.Remove(files[0])
				home = b.get("/")
			}
			assertStatus(t, home, http.StatusOK)
			assertContains(t, home, "You're not signed in.")
			p := b.get("/graph")
			assertStatus(t, p, http.StatusFound)
			if !strings.Contains(p.location, "/oauth2/v2.0/authorize?") {
				t.Fatalf("/graph went to %s", p.location)
			}
			for _, f := range mustGlob(t, filepath.Join(env.cfg.SessionDir, "session_*")) {
				os.RemoveAll(f)
			}
		})
	}
}

func mustGlob(t *testing.T, pattern string) []string {
	t.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// refreshGate holds the next refresh at the identity provider's token
// endpoint until the test lets it go: entered is closed when the refresh
// arrives, and the refresh is answered once release is closed.
type refreshGate struct {
	armed            atomic.Bool
	entered, release chan struct{}
}

func (g *refreshGate) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/oauth2/v2.0/token") &&
			r.FormValue("grant_type") == "refresh_token" && g.armed.CompareAndSwap(true, false) {
			close(g.entered)
			select {
			case <-g.release:
			case <-r.Context().Done():
			}
		}
		next.ServeHTTP(w, r)
	})
}

// A page still refreshing a token when the user signs out in another tab
// must not write the ended session back. The refresh is held at the token
// endpoint while the sign-out happens, so the order is certain.
func TestSignOutIsNotUndoneByARequestInFlight(t *testing.T) {
	gate := &refreshGate{entered: make(chan struct{}), release: make(chan struct{})}
	c := newCluster(t, clusterOptions{instances: 1, emulatorMiddleware: gate.middleware, opts: []envOption{
		withEmulator(func(c *emulator.Config) { c.AccessTokenTTL = 2 * time.Minute }),
	}})
	env := c.instances[0]
	b := env.newBrowser()
	b.signIn("alice@demo.test", "alice-password")
	gate.armed.Store(true)
	done := make(chan int, 1)
	go func() {
		resp, err := b.client.Get(env.appURL + "/graph")
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	select {
	case <-gate.entered: // the page is inside its token refresh now
	case status := <-done:
		t.Fatalf("the page answered %d without refreshing its token", status)
	case <-time.After(20 * time.Second):
		t.Fatal("the page's token refresh never reached the identity provider")
	}
	assertStatus(t, b.signOut(), http.StatusSeeOther)
	close(gate.release)
	if status := <-done; status != http.StatusOK {
		t.Fatalf("the page in flight answered %d", status)
	}
	if files, _ := os.ReadDir(env.cfg.SessionDir); len(files) != 0 {
		t.Fatalf("%d session files after sign-out: the page in flight wrote its session back", len(files))
	}
	assertStatus(t, b.get("/token_details"), http.StatusFound)
}

// A callback that fails at the token endpoint still uses the sign-in up:
// its answer deletes the sign-in cookie, so reloading the page (or
// replaying the same response in this browser) cannot redeem the code a
// second time; it is refused as a response to no sign-in in progress.
func TestFailedCallbackDeletesTheSignInCookie(t *testing.T) {
	env := newTestEnv(t)
	b := env.newBrowser()
	start := b.get("/graph")
	if len(b.signInCookies()) != 1 {
		t.Fatalf("starting the sign-in set %d sign-in cookies, want 1", len(b.signInCookies()))
	}
	back := b.submitSignIn(start.location, "alice@demo.test", "alice-password", "signin")
	assertStatus(t, back, http.StatusFound)
	if err := env.emu.InjectFault(emulator.Fault{Endpoint: emulator.EndpointToken, Status: http.StatusInternalServerError, Times: 1}); err != nil {
		t.Fatal(err)
	}
	failed := b.follow(back)
	assertStatus(t, failed, http.StatusServiceUnavailable)
	assertContains(t, failed, "Cannot reach the identity provider")
	if got := setCookie(failed, "__Host-signin-"); !strings.Contains(got, "Max-Age=0") {
		t.Errorf("the failed callback did not delete the sign-in cookie: Set-Cookie %q", got)
	}
	if n := len(b.signInCookies()); n != 0 {
		t.Errorf("the browser still holds %d sign-in cookies after the failed callback", n)
	}

	redeemed := env.emu.Stats()[emulator.StatTokenAuthorizationCode]
	again := b.follow(back)
	assertStatus(t, again, http.StatusBadRequest)
	assertContains(t, again, "state_mismatch")
	if n := env.emu.Stats()[emulator.StatTokenAuthorizationCode]; n != redeemed {
		t.Errorf("the reload sent the code to the token endpoint again (%d redemptions, was %d)", n, redeemed)
	}
	assertStatus(t, b.get("/token_details"), http.StatusFound) // not signed in
}

// Graph failing or hanging gets an error page in time, and the next request works.
func TestGraphFaults(t *testing.T) {
	env := newTestEnv(t, withAppEnv("GRAPH_TIMEOUT", "500ms"))
	b := env.newBrowser()
	b.signIn("alice@demo.test", "alice-password")

	if err := env.emu.InjectFault(emulator.Fault{Endpoint: emulator.EndpointGraph, Status: http.StatusServiceUnavailable, Times: 1}); err != nil {
		t.Fatal(err)
	}
	p := b.get("/graph")
	assertStatus(t, p, http.StatusBadGateway)
	assertContains(t, p, "Microsoft Graph call failed")
	assertContains(t, p, "503")

	if err := env.emu.InjectFault(emulator.Fault{Endpoint: emulator.EndpointGraph, Delay: 5 * time.Second, Times: 1}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	p = b.get("/graph")
	assertStatus(t, p, http.StatusGatewayTimeout)
	assertContains(t, p, "did not answer within 500ms")
	if waited := time.Since(start); waited > 4*time.Second {
		t.Errorf("a hanging Graph held the page for %s", waited)
	}

	assertContains(t, b.get("/graph"), "Alice Smith")
}

// Graph refusing the connection (nothing listens on its port) gives the
// Graph page's 502, which names no address, port or transport error; the
// log has them.
func TestGraphUnreachable(t *testing.T) {
	addr, _ := reservePort(t)
	env := newTestEnv(t, withAppEnv("GRAPH_BASE_URL", "https://"+addr+"/v1.0"))
	b := env.newBrowser()
	b.signIn("alice@demo.test", "alice-password")
	for _, path := range []string{"/graph", "/calendar"} {
		p := b.get(path)
		if path == "/calendar" && p.status == http.StatusFound {
			// Calendars.Read is asked for first.
			back, err := emulatortest.SignIn(t.Context(), b.client, p.location, "alice@demo.test", "alice-password")
			if err != nil {
				t.Fatal(err)
			}
			p = b.backToApp(fromEmulatortest(back))
		}
		assertStatus(t, p, http.StatusBadGateway)
		assertContains(t, p, "Microsoft Graph could not be reached.")
		_, port, _ := net.SplitHostPort(addr)
		for _, leak := range []string{addr, port, "dial", "tcp", "connection refused", "127.0.0.1"} {
			assertNotContains(t, p, leak)
		}
	}
	if !strings.Contains(env.logs.String(), "connection refused") {
		t.Errorf("the log does not say why Graph could not be reached:\n%s", env.logs)
	}
}

// The token endpoint failing during sign-in shows a clear page, not a 500.
func TestTokenEndpointDownDuringSignIn(t *testing.T) {
	env := newTestEnv(t)
	b := env.newBrowser()
	login := b.get("/login")
	if err := env.emu.InjectFault(emulator.Fault{Endpoint: emulator.EndpointToken, Status: http.StatusInternalServerError, Times: 1}); err != nil {
		t.Fatal(err)
	}
	back := b.submitSignIn(authURLFrom(t, login), "alice@demo.test", "alice-password", "signin")
	p := b.follow(back)
	assertStatus(t, p, http.StatusServiceUnavailable)
	assertContains(t, p, "Cannot reach the identity provider")
	// The next sign-in works.
	b.signIn("alice@demo.test", "alice-password")
	assertContains(t, b.get("/token_details"), "alice@demo.test")
}
