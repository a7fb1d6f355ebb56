// Redis sessions end to end: two app instances sharing one real
// redis-server, a Redis outage and its recovery, Redis down at start-up.

package e2e

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"ms-identity-go-webapp/session"
)

// The sign-in starts on instance A and the identity provider's redirect
// lands on instance B, as behind a load balancer without sticky sessions;
// both then serve the signed-in user, and signing out on one signs out on
// both.
func TestRedisSessionsAcrossInstances(t *testing.T) {
	rs := startRedisWithPassword(t, "redis-password-not-for-logs")
	c := newCluster(t, clusterOptions{redis: rs})
	rdb := rs.Client()
	ctx := context.Background()
	b := c.instances[0].newBrowser()

	start := b.get(c.on(0, "/graph"))
	assertStatus(t, start, http.StatusFound)
	back := b.submitSignIn(start.location, "alice@demo.test", "alice-password", "signin")
	assertStatus(t, back, http.StatusFound)
	if !strings.HasPrefix(back.location, c.on(0, "/auth/redirect?")) {
		t.Fatalf("the identity provider sent the browser to %s", back.location)
	}
	callbackOnB := c.onInstance(1, back.location)
	landed := b.get(callbackOnB)
	assertStatus(t, landed, http.StatusSeeOther)
	if landed.location != c.on(1, "/graph") {
		t.Fatalf("after the callback on B went to %q", landed.location)
	}
	checkSessionCookie(t, landed)

	for i := range 2 {
		p := b.get(c.on(i, "/graph"))
		assertStatus(t, p, http.StatusOK)
		assertContains(t, p, "Hello Alice Smith!")
		assertContains(t, p, `&#34;userPrincipalName&#34;: &#34;alice@demo.test&#34;`)
		assertContains(t, b.get(c.on(i, "/token_details")), "alice@demo.test")
	}
	if n, err := rdb.DBSize(ctx).Result(); err != nil || n != 3 {
		t.Errorf("Redis holds %d keys (%v) for one signed-in browser, want 3 (the session, its sid's index and its user's): the pre-sign-in session must be deleted", n, err)
	}

	// The flow was used up in the shared store: replaying the callback on
	// A is refused.
	replay := b.get(back.location)
	assertStatus(t, replay, http.StatusBadRequest)
	assertContains(t, replay, "state_mismatch")
	assertContains(t, b.get(c.on(0, "/graph")), "Hello Alice Smith!") // and it signed nobody out

	out := b.post(c.on(1, "/logout"), nil)
	assertStatus(t, out, http.StatusSeeOther)
	if n, _ := rdb.DBSize(ctx).Result(); n != 0 {
		t.Errorf("Redis holds %d keys after sign-out, want 0", n)
	}
	home := b.get(c.on(0, "/"))
	assertStatus(t, home, http.StatusOK)
	assertContains(t, home, "You're not signed in.")
	again := b.get(c.on(0, "/graph"))
	assertStatus(t, again, http.StatusFound)
	if !strings.Contains(again.location, "/oauth2/v2.0/authorize?") {
		t.Fatalf("signed out on B, /graph on A went to %s", again.location)
	}
}

// A Redis outage gives the "Session storage unavailable" page, fast; the
// app recovers by itself when Redis is back. Redis keeps no data across the
// restart, so the user signs in again, and nothing answers 500.
func TestRedisOutageAndRecovery(t *testing.T) {
	rs := startRedis(t)
	c := newCluster(t, clusterOptions{redis: rs})
	b := c.instances[0].newBrowser()
	b.signIn("alice@demo.test", "alice-password")
	assertContains(t, b.get("/graph"), "Alice Smith")

	rs.Stop()
	for _, path := range []string{"/graph", "/", "/token_details", "/logout"} {
		start := time.Now()
		p := b.get(path)
		assertStatus(t, p, http.StatusServiceUnavailable)
		assertContains(t, p, "Session storage unavailable")
		assertNotContains(t, p, "connection refused")
		if took := time.Since(start); took > 3*time.Second {
			t.Errorf("%s took %s to report the outage", path, took)
		}
	}
	// A visitor without a session still gets the home page, and can even
	// start a sign-in (it lives in the browser); completing it needs the
	// store.
	visitor := c.instances[1].newBrowser()
	assertContains(t, visitor.get(c.on(1, "/")), "You're not signed in.")
	login := visitor.get(c.on(1, "/login"))
	assertStatus(t, login, http.StatusOK)
	back := visitor.submitSignIn(authURLFrom(t, login), "alice@demo.test", "alice-password", "signin")
	p := visitor.get(c.onInstance(1, back.location))
	assertStatus(t, p, http.StatusServiceUnavailable)
	assertContains(t, p, "Session storage unavailable")
	assertNotContains(t, p, "Alice Smith") // the sign-in was not kept: nobody to greet
	if !strings.Contains(c.logs.String(), "session store error") {
		t.Error("the outage is not in the log")
	}

	rs.Start()
	home := waitUntil(t, 10*time.Second, func() *page { return b.get("/") }, func(p *page) bool { return p.status != http.StatusServiceUnavailable })
	assertStatus(t, home, http.StatusOK)
	assertContains(t, home, "You're not signed in.") // the restart lost the session
	b.signIn("alice@demo.test", "alice-password")
	assertContains(t, b.get(c.on(1, "/graph")), "Alice Smith")
	assertContains(t, visitor.get(c.on(1, "/login")), "Sign in with Microsoft")
}

// Start-up checks Redis and names REDIS_URL, never its password.
func TestRedisDownAtStartUp(t *testing.T) {
	quietRedisLog()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now

	const password = "hunter2-redis-password"
	env := map[string]string{
		"CLIENT_ID": "c", "CLIENT_SECRET": "s", "AUTHORITY": "https://login.example/tenant",
		"SESSION_SECRET": strings.Repeat("x", 32), "SESSION_TYPE": "redis",
		"REDIS_URL": "redis://:" + password + "@" + addr + "/0",
	}
	cfg, err := loadAppConfigMap(env)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = newSampleApp(cfg, appOptions{Outbound: http.DefaultClient})
	if err == nil {
		t.Fatal("the app started without its Redis")
	}
	msg := err.Error()
	if !strings.Contains(msg, "REDIS_URL") || !strings.Contains(msg, addr) || strings.Contains(msg, password) || strings.Contains(msg, "\n") {
		t.Errorf("start-up error: %q", msg)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("start-up took %s to give up", took)
	}

	for _, bad := range []string{"http://127.0.0.1:6379", "127.0.0.1:6379", "redis://", "rediss://:" + password + "@/0"} {
		env["REDIS_URL"] = bad
		_, err := loadAppConfigMap(env)
		if err == nil || !strings.Contains(err.Error(), "REDIS_URL") || strings.Contains(err.Error(), password) {
			t.Errorf("REDIS_URL=%q: %v", bad, err)
		}
	}
}

// A session whose Redis key was deleted (or expired, or lost) or corrupted
// is a signed-out session: a protected page starts the sign-in, nothing
// answers 500.
func TestRedisKeyDeletedOrCorrupted(t *testing.T) {
	rs := startRedis(t)
	c := newCluster(t, clusterOptions{redis: rs})
	rdb := rs.Client()
	ctx := context.Background()
	b := c.instances[0].newBrowser()

	for _, damage := range []struct {
		name string
		do   func(key string) error
	}{
		{"deleted", func(key string) error { return rdb.Del(ctx, key).Err() }},
		{"garbage", func(key string) error { return rdb.Set(ctx, key, "garbage|not|signed", time.Hour).Err() }},
		{"empty", func(key string) error { return rdb.Set(ctx, key, "", time.Hour).Err() }},
		{"truncated", func(key string) error {
			v, err := rdb.Get(ctx, key).Result()
			if err != nil {
				return err
			}
			return rdb.Set(ctx, key, v[:len(v)/2], time.Hour).Err()
		}},
	} {
		t.Run(damage.name, func(t *testing.T) {
			b.t = t
			b.signIn("alice@demo.test", "alice-password")
			keys, err := rdb.Keys(ctx, session.RedisKeyPrefix+"*").Result()
			if err != nil || len(keys) != 1 {
				t.Fatalf("keys: %q %v", keys, err)
			}
			if err := damage.do(keys[0]); err != nil {
				t.Fatal(err)
			}
			home := b.get(c.on(1, "/"))
			assertStatus(t, home, http.StatusOK)
			assertContains(t, home, "You're not signed in.")
			p := b.get(c.on(0, "/graph"))
			assertStatus(t, p, http.StatusFound)
			if !strings.Contains(p.location, "/oauth2/v2.0/authorize?") {
				t.Fatalf("/graph went to %s", p.location)
			}
			rdb.FlushDB(ctx)
		})
	}
}

// waitUntil repeats get until ok accepts its page, for at most limit.
func waitUntil(t *testing.T, limit time.Duration, get func() *page, ok func(*page) bool) *page {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		p := get()
		if ok(p) || time.Now().After(deadline) {
			return p
		}
		time.Sleep(100 * time.Millisecond)
	}
}
