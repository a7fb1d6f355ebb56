// Sessions end to end: anonymous visitors store nothing, sign-ins in several
// tabs at once, a replayed sign-in response, a session secret rotated
// without signing anyone out, the absolute lifetime that signs an active
// user out, and the limit of sessions per user.

package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"ms-identity-go-webapp/emulator"
)

// Anonymous requests to every kind of route (the home page, /login, the
// protected pages that start a sign-in, a callback with garbage, a static
// file, a 404) store no session file and no Redis key; a normal sign-in
// afterwards stores exactly one.
func TestAnonymousRequestsStoreNothing(t *testing.T) {
	requests := 10_000
	if testing.Short() {
		requests = 1_000
	}
	for _, store := range []string{"filesystem", "redis"} {
		t.Run(store, func(t *testing.T) {
			co := clusterOptions{instances: 1}
			if store == "redis" {
				co.redis = startRedis(t)
			}
			c := newCluster(t, co)
			env := c.instances[0]
			stored := func() int64 {
				if co.redis != nil {
					n, err := co.redis.Client().DBSize(context.Background()).Result()
					if err != nil {
						t.Fatal(err)
					}
					return n
				}
				files, err := os.ReadDir(env.cfg.SessionDir)
				if err != nil {
					t.Fatal(err)
				}
				return int64(len(files))
			}

			routes := []struct {
				path   string
				status int
			}{
				{"/", http.StatusOK},
				{"/login", http.StatusOK},
				{"/login?next=/graph", http.StatusOK},
				{"/graph", http.StatusFound},
				{"/token_details", http.StatusFound},
				{"/admin", http.StatusFound},
				{"/auth/redirect?state=x&code=y", http.StatusBadRequest},
				{"/static/style.css", http.StatusOK},
				{"/no-such-page", http.StatusNotFound},
				{"/auth/frontchannel-logout?sid=0b9f2c1e-unknown", http.StatusOK},
			}
			// No cookie jar: every request is a new visitor, as a bot
			// filling the disk would be.
			client := *env.client
			client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			var next, sessionCookies atomic.Int64
			var wg sync.WaitGroup
			errs := make(chan error, 8)
			start := time.Now()
			for range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						i := next.Add(1) - 1
						if i >= int64(requests) || ctx.Err() != nil {
							return
						}
						route := routes[i%int64(len(routes))]
						req, _ := http.NewRequestWithContext(ctx, http.MethodGet, env.appURL+route.path, nil)
						resp, err := client.Do(req)
						if err != nil {
							errs <- err
							return
						}
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode != route.status {
							errs <- fmt.Errorf("%s: status %d, want %d", route.path, resp.StatusCode, route.status)
							return
						}
						for _, line := range resp.Header.Values("Set-Cookie") {
							if strings.HasPrefix(line, "__Host-session=") {
								sessionCookies.Add(1)
							}
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			if ctx.Err() != nil {
				t.Fatalf("%d of %d requests in the 3-minute bound", next.Load(), requests)
			}
			t.Logf("%d anonymous requests in %s", requests, time.Since(start).Round(time.Millisecond))
			if n := stored(); n != 0 {
				t.Errorf("%d anonymous requests stored %d sessions, want 0", requests, n)
			}
			if n := sessionCookies.Load(); n != 0 {
				t.Errorf("%d anonymous answers set a session cookie", n)
			}

			b := env.newBrowser()
			b.signIn("alice@demo.test", "alice-password")
			assertContains(t, b.get("/token_details"), "alice@demo.test")
			// Its session, and the entries that find it by sid and by user
			// (each a file in a directory of the key's, a Redis sorted set).
			if n := stored(); n != 3 {
				t.Errorf("one signed-in user: %d things stored, want 3: the session, its sid's index and its user's", n)
			}
		})
	}
}

// Three tabs of one browser start a sign-in each, at the same time; each
// completes, in any order, and lands on the page it started from.
func TestParallelSignInsInOneBrowser(t *testing.T) {
	env := newTestEnv(t)
	b := env.newBrowser()
	pages := []string{"/graph", "/token_details", "/admin"}
	starts := make([]*page, len(pages))
	var wg sync.WaitGroup
	for i, path := range pages {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := b.client.Get(env.appURL + path)
			if err != nil {
				return
			}
			resp.Body.Close()
			starts[i] = &page{status: resp.StatusCode, location: resp.Header.Get("Location")}
		}()
	}
	wg.Wait()
	for i, p := range starts {
		if p == nil || p.status != http.StatusFound || !strings.Contains(p.location, "/oauth2/v2.0/authorize?") {
			t.Fatalf("tab %d (%s) did not start a sign-in: %+v", i, pages[i], p)
		}
	}
	if n := len(b.signInCookies()); n != len(pages) {
		t.Fatalf("%d sign-in cookies for %d sign-ins", n, len(pages))
	}
	// The identity provider answers each tab; the callbacks come back in
	// another order than the sign-ins started.
	backs := make([]*page, len(pages))
	for i, p := range starts {
		backs[i] = b.submitSignIn(p.location, "admin@demo.test", "admin-password", "signin")
		assertStatus(t, backs[i], http.StatusFound)
	}
	for _, i := range []int{2, 0, 1} {
		landed := b.follow(backs[i])
		assertStatus(t, landed, http.StatusSeeOther)
		if landed.location != env.appURL+pages[i] {
			t.Errorf("tab %d landed on %s, want %s", i, landed.location, pages[i])
		}
		assertContains(t, b.follow(landed), "Ada Admin")
	}
	if n := len(b.signInCookies()); n != 0 {
		t.Errorf("%d sign-in cookies left after every sign-in completed", n)
	}
	if files, _ := filepath.Glob(filepath.Join(env.cfg.SessionDir, "session_*")); len(files) != 1 {
		t.Errorf("%d session files for one browser, want 1", len(files))
	}
	// Its sid's entry and its user's, both of the one session left.
	entries, _ := filepath.Glob(filepath.Join(env.cfg.SessionDir, "index_*", "*"))
	if len(entries) != 2 || filepath.Base(entries[0]) != filepath.Base(entries[1]) {
		t.Errorf("index entries for one browser %q, want 2 of its one session: its sid's and its user's", entries)
	}
}

// A sign-in response replayed with a copy of the browser's sign-in cookie
// (captured from the network or the device: the cookie is HttpOnly) after
// the real callback: the cookie is gone from the browser, but the copy
// still opens. The app remembers that the sign-in was used: the replay gets
// the "start the sign-in again" page and the identity provider is not
// asked, not with the real code nor with made-up ones. Each replay would
// otherwise cost a token request made with the app's own credential, which
// Entra counts against the app's throttling limits.
func TestReplayedResponseWithCapturedSignInCookie(t *testing.T) {
	env := newTestEnv(t)
	victim := env.newBrowser()
	start := victim.get("/graph")
	captured := victim.signInCookies()
	back := victim.submitSignIn(start.location, "alice@demo.test", "alice-password", "signin")
	assertStatus(t, victim.follow(back), http.StatusSeeOther)

	attacker := env.newBrowser()
	u, _ := url.Parse(env.appURL)
	before := env.emu.Stats()[emulator.StatToken]
	callback, _ := url.Parse(back.location)
	for i := range 20 {
		attacker.client.Jar.SetCookies(u, captured)
		q := callback.Query()
		if i > 0 {
			q.Set("code", fmt.Sprintf("made-up-code-%d", i))
		}
		callback.RawQuery = q.Encode()
		p := attacker.get(callback.String())
		assertStatus(t, p, http.StatusBadRequest)
		assertContains(t, p, "state_mismatch")
	}
	if n := env.emu.Stats()[emulator.StatToken] - before; n != 0 {
		t.Errorf("20 replays of one sign-in cookie made %d token requests; want none", n)
	}
	assertStatus(t, attacker.get("/token_details"), http.StatusFound)
	assertContains(t, victim.get("/token_details"), "alice@demo.test")
	if !strings.Contains(env.logs.String(), "sign-in cookie used again") {
		t.Error("the log does not say the sign-in cookie came back")
	}
}

// SESSION_SECRET_PREVIOUS keeps a signed-in user signed in across a secret
// change: instance 0 has the old secret, instance 1 the new one with the old
// as previous, instance 2 only the new one. A session made on 0 loads on 1,
// which seals it again with the new secret, so that 2 loads it too.
func TestSecretRotationKeepsUsersSignedIn(t *testing.T) {
	const oldSecret = "test-session-secret-0123456789abcdef" // newCluster's
	const newSecret = "the-rotated-session-secret-0123456789abcdef"
	c := newCluster(t, clusterOptions{instances: 3, instanceEnv: map[int]map[string]string{
		1: {"SESSION_SECRET": newSecret, "SESSION_SECRET_PREVIOUS": oldSecret},
		2: {"SESSION_SECRET": newSecret},
	}})
	b := c.instances[0].newBrowser()
	b.signIn("alice@demo.test", "alice-password")

	// Without the previous secret the old session is unreadable: this is
	// what the setting prevents.
	other := c.instances[0].newBrowser()
	u, _ := url.Parse(c.instances[0].appURL)
	other.client.Jar.SetCookies(u, []*http.Cookie{b.sessionCookie()})
	assertStatus(t, other.get(c.on(2, "/token_details")), http.StatusFound)

	p := b.get(c.on(1, "/token_details"))
	assertStatus(t, p, http.StatusOK)
	assertContains(t, p, "alice@demo.test")
	if setCookie(p, "__Host-session=") == "" {
		t.Error("the session loaded with the previous secret was not sealed again")
	}
	p = b.get(c.on(2, "/token_details"))
	assertStatus(t, p, http.StatusOK)
	assertContains(t, p, "alice@demo.test")

	// A sign-in started before the change completes after it.
	b2 := c.instances[0].newBrowser()
	start := b2.get(c.on(0, "/graph"))
	back := b2.submitSignIn(start.location, "admin@demo.test", "admin-password", "signin")
	assertStatus(t, b2.get(c.onInstance(1, back.location)), http.StatusSeeOther)
	assertContains(t, b2.get(c.on(2, "/admin")), "You have the admin app role.")
}

// SESSION_ABSOLUTE_LIFETIME signs out a user who keeps using the app once
// that long has passed since the sign-in: the next page sends them to sign
// in, the session's record and index entries are gone from SESSION_DIR, its
// cookie is expired, and the log says why in one line. Signing in again
// (single sign-on at the identity provider) gives a new session.
func TestAbsoluteLifetimeSignsAnActiveUserOut(t *testing.T) {
	const lifetime = 2 * time.Second
	env := newTestEnv(t, withAppEnv("SESSION_ABSOLUTE_LIFETIME", lifetime.String()))
	b := env.newBrowser()
	start := time.Now()
	b.signIn("alice@demo.test", "alice-password")
	signedInAt := time.Now()

	// A page every 100 ms, for at most the lifetime and 10 s more.
	const every = 100 * time.Millisecond
	var ended *page
	pages := 0
	for range int((lifetime + 10*time.Second) / every) {
		p := b.get("/token_details")
		if p.status != http.StatusOK {
			ended = p
			break
		}
		assertContains(t, p, "alice@demo.test")
		pages++
		time.Sleep(every)
	}
	endedAt := time.Now()
	if ended == nil {
		t.Fatalf("the session lived on for %s with a %s lifetime", endedAt.Sub(start).Round(time.Millisecond), lifetime)
	}
	t.Logf("signed out %s after the sign-in, after %d pages", endedAt.Sub(signedInAt).Round(time.Millisecond), pages)
	if endedAt.Sub(start) < lifetime || endedAt.Sub(signedInAt) > lifetime+time.Second {
		t.Errorf("signed out %s after the sign-in, want %s", endedAt.Sub(signedInAt), lifetime)
	}
	assertStatus(t, ended, http.StatusFound)
	if !strings.Contains(ended.location, "/oauth2/v2.0/authorize?") {
		t.Fatalf("the page of the ended session sent the browser to %q, not to sign in", ended.location)
	}
	if c := b.sessionCookie(); c != nil {
		t.Errorf("the ended session's cookie is still in the browser")
	}
	if files, index := sessionFiles(t, env.cfg.SessionDir); len(files)+len(index) != 0 {
		t.Errorf("after the session ended %q and %q are left", files, index)
	}
	if n := strings.Count(env.logs.String(), "session ended at its absolute lifetime"); n != 1 {
		t.Errorf("the log notes %d sessions ended at their absolute lifetime, want 1", n)
	}

	back := b.submitSignIn(ended.location, "alice@demo.test", "alice-password", "signin")
	assertStatus(t, back, http.StatusFound)
	landed := b.follow(back)
	assertStatus(t, landed, http.StatusSeeOther)
	assertContains(t, b.follow(landed), "alice@demo.test")
}

// SESSION_MAX_PER_USER keeps a user's newest sessions: with 2, three
// browsers signing in as one user leave the first signed out and the other
// two signed in, and another user's session is untouched.
func TestSessionsPerUserLimit(t *testing.T) {
	env := newTestEnv(t, withAppEnv("SESSION_MAX_PER_USER", "2"))
	alice := []*browser{env.newBrowser(), env.newBrowser(), env.newBrowser()}
	admin := env.newBrowser()
	alice[0].signIn("alice@demo.test", "alice-password")
	admin.signIn("admin@demo.test", "admin-password")
	alice[1].signIn("alice@demo.test", "alice-password")
	for i, b := range alice[:2] {
		if p := b.get("/token_details"); p.status != http.StatusOK {
			t.Fatalf("within the limit, browser %d is signed out: %d", i, p.status)
		}
	}

	alice[2].signIn("alice@demo.test", "alice-password")
	first := alice[0].get("/token_details")
	assertStatus(t, first, http.StatusFound)
	if !strings.Contains(first.location, "/oauth2/v2.0/authorize?") {
		t.Errorf("the first browser was sent to %q, not to sign in", first.location)
	}
	for _, b := range alice[1:] {
		assertContains(t, b.get("/token_details"), "alice@demo.test")
	}
	assertContains(t, admin.get("/token_details"), "admin@demo.test")
	if files, _ := sessionFiles(t, env.cfg.SessionDir); len(files) != 3 {
		t.Errorf("%d session files, want 3: alice's two newest and the admin's", len(files))
	}
}
