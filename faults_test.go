// Faults the app must survive beyond those in e2e_test.go: a slow token
// endpoint, an identity provider that cannot be reached at all at start-up,
// and session files that were deleted or corrupted.

package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ms-identity-go-webapp/emulator"
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

// No identity provider listening at all when the app starts (connection
// refused, not an error answer): the app starts, every sign-in shows a clear
// page, and once the provider listens, sign-in works without a restart.
func TestIdentityProviderUnreachableAtStartUp(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	idp := "https://" + addr
	c := newCluster(t, clusterOptions{instances: 1, opts: []envOption{
		withAppEnv("AUTHORITY", idp+"/"+emulator.DefaultTenant),
		withAppEnv("GRAPH_ENDPOINT", idp+"/v1.0/me"),
	}})
	env := c.instances[0]
	b := env.newBrowser()
	assertContains(t, b.get("/"), "You're not signed in.")
	for _, path := range []string{"/login", "/graph", "/admin"} {
		p := b.get(path)
		assertStatus(t, p, http.StatusServiceUnavailable)
		assertContains(t, p, "Cannot reach the identity provider")
	}
	// Signing out works locally even without the provider.
	out := b.signOut()
	assertStatus(t, out, http.StatusSeeOther)

	// The provider comes up on the address the app was configured with.
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("the port was taken meanwhile: %v", err)
	}
	srv := httptest.NewUnstartedServer(c.emu.Handler())
	srv.Listener.Close()
	srv.Listener = ln
	srv.StartTLS()
	t.Cleanup(srv.Close)

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

// A page still refreshing a token when the user signs out in another tab
// must not write the ended session back.
func TestSignOutIsNotUndoneByARequestInFlight(t *testing.T) {
	env := newTestEnv(t, withEmulator(func(c *emulator.Config) { c.AccessTokenTTL = 2 * time.Minute }))
	b := env.newBrowser()
	b.signIn("alice@demo.test", "alice-password")
	if err := env.emu.InjectFault(emulator.Fault{Endpoint: emulator.EndpointToken, Delay: time.Second, Times: 1}); err != nil {
		t.Fatal(err)
	}
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
	time.Sleep(300 * time.Millisecond) // the refresh is now waiting on the token endpoint
	assertStatus(t, b.signOut(), http.StatusSeeOther)
	if status := <-done; status != http.StatusOK {
		t.Fatalf("the page in flight answered %d", status)
	}
	if files, _ := os.ReadDir(env.cfg.SessionDir); len(files) != 0 {
		t.Fatalf("%d session files after sign-out: the page in flight wrote its session back", len(files))
	}
	assertStatus(t, b.get("/token_details"), http.StatusFound)
}
