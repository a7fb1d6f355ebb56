// End-to-end tests of signing out: the POST no other site can send, and front-channel logout by sid across instances and stores.

package e2e

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"ms-identity-go-webapp/emulator"
	"ms-identity-go-webapp/entra"
)

// withFrontChannelLogout registers the app's front-channel logout URL with
// the emulator, on the origin of REDIRECT_URI.
func withFrontChannelLogout() envOption {
	return func(emu *emulator.Config, appEnv map[string]string) {
		emu.FrontChannelLogoutURL = strings.TrimSuffix(appEnv["REDIRECT_URI"], "/auth/redirect") + entra.DefaultFrontChannelLogoutPath
	}
}

// sessionFiles lists the session files and sid index entries in dir.
func sessionFiles(t *testing.T, dir string) (sessions, index []string) {
	t.Helper()
	sessions, _ = filepath.Glob(filepath.Join(dir, "session_*"))
	index, _ = filepath.Glob(filepath.Join(dir, "index_*"))
	return sessions, index
}

func signedIn(t *testing.T, b *browser, target, name string) {
	t.Helper()
	p := b.get(target)
	assertStatus(t, p, http.StatusOK)
	assertContains(t, p, "You're signed in, "+name+"!")
}

func signedOut(t *testing.T, b *browser, target string) {
	t.Helper()
	p := b.get(target)
	assertStatus(t, p, http.StatusOK)
	assertContains(t, p, "You're not signed in.")
}

// Signing out takes the Sign out button's POST from the app's own page: a
// cross-site POST, a same-site one from a sibling subdomain, and one from a
// foreign Origin are refused and sign nobody out, and a GET only asks.
func TestSignOutIsAPostNoOtherSiteCanSend(t *testing.T) {
	env := newTestEnv(t)
	b := env.newBrowser()
	b.signIn("alice@demo.test", "alice-password")

	for _, forged := range []struct {
		name    string
		headers map[string]string
	}{
		{"cross-site", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}},
		{"same-site, another origin", map[string]string{"Sec-Fetch-Site": "same-site", "Origin": "https://evil.127.0.0.1.example"}},
		{"a foreign Origin without Sec-Fetch-Site", map[string]string{"Origin": "https://evil.example"}},
		{"null Origin (a sandboxed frame)", map[string]string{"Origin": "null"}},
	} {
		t.Run(forged.name, func(t *testing.T) {
			b.t = t
			req, _ := http.NewRequest(http.MethodPost, env.appURL+"/logout", strings.NewReader(""))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for k, v := range forged.headers {
				req.Header.Set(k, v)
			}
			p := b.do(req)
			assertStatus(t, p, http.StatusForbidden)
			assertContains(t, p, "Request refused")
			assertContains(t, p, "no other site may sign you out")
			if p.location != "" || len(p.header.Values("Set-Cookie")) != 0 {
				t.Errorf("the refused sign-out redirected to %q or set cookies %q", p.location, p.header.Values("Set-Cookie"))
			}
			signedIn(t, b, "/", "Alice Smith")
			if files, _ := sessionFiles(t, env.cfg.SessionDir); len(files) != 1 {
				t.Errorf("%d session files after a refused sign-out, want 1", len(files))
			}
		})
	}
	b.t = t
	if n := env.emu.Stats()[emulator.StatLogout]; n != 0 {
		t.Errorf("the end-session endpoint was reached %d times by refused sign-outs", n)
	}
	if n := strings.Count(env.logs.String(), "cross-origin request refused"); n != 4 {
		t.Errorf("the log notes %d refused requests, want 4", n)
	}

	// An old link to GET /logout: the question, with the button, and
	// nothing else happens.
	ask := b.get("/logout")
	assertStatus(t, ask, http.StatusOK)
	assertContains(t, ask, "<h1>Sign out?</h1>")
	assertContains(t, ask, "You're signed in as alice@demo.test.")
	assertContains(t, ask, `<form class="inline-form" method="post" action="/logout"><button class="button button-primary" type="submit">Sign out</button></form>`)
	signedIn(t, b, "/", "Alice Smith")
	// Every signed-in page's navigation bar has the button, not a link.
	home := b.get("/")
	assertContains(t, home, `<form class="inline-form" method="post" action="/logout"><button class="button button-small" type="submit">Sign out</button></form>`)
	assertNotContains(t, home, `href="/logout"`)

	// The button: signed out here, then at the identity provider.
	out := b.signOut()
	assertStatus(t, out, http.StatusSeeOther)
	if !strings.HasPrefix(out.location, env.emuURL+"/"+emulator.DefaultTenant+"/oauth2/v2.0/logout?") {
		t.Fatalf("signing out went to %s", out.location)
	}
	signedOut(t, b, "/")
	if files, index := sessionFiles(t, env.cfg.SessionDir); len(files)+len(index) != 0 {
		t.Errorf("after sign-out %q and %q are left", files, index)
	}
}

var frameSrc = regexp.MustCompile(`<iframe class="frontchannel" src="([^"]+)"`)

// signOutAtProvider signs the browser's accounts out of the emulator
// directly, as another app of the tenant would, and returns the
// front-channel logout URLs its signed-out page frames.
func signOutAtProvider(t *testing.T, b *browser, returnTo string) []string {
	t.Helper()
	p := b.get(b.env.emuURL + "/" + emulator.DefaultTenant + "/oauth2/v2.0/logout?" +
		url.Values{"post_logout_redirect_uri": {returnTo}}.Encode())
	assertStatus(t, p, http.StatusOK)
	var frames []string
	for _, m := range frameSrc.FindAllStringSubmatch(p.body, -1) {
		frames = append(frames, html.UnescapeString(m[1]))
	}
	return frames
}

// Front-channel logout with the sessions in Redis, shared by two instances:
// the emulator's iframe URL, requested without any cookie on one instance,
// ends the user's session for both; other users stay signed in; an unknown
// or missing sid changes nothing and answers alike; nothing is left in
// Redis after the sign-outs.
func TestFrontChannelLogoutRedis(t *testing.T) {
	rs := startRedis(t)
	c := newCluster(t, clusterOptions{redis: rs, opts: []envOption{withFrontChannelLogout()}})
	rdb := rs.Client()
	keys := func() int64 {
		n, err := rdb.DBSize(context.Background()).Result()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	testFrontChannelLogout(t, c, keys)
	if left, _ := rdb.Keys(context.Background(), "*").Result(); len(left) != 0 {
		t.Errorf("Redis keys left: %q", left)
	}
}

// The same with file sessions in one SESSION_DIR shared by two instances.
func TestFrontChannelLogoutFiles(t *testing.T) {
	c := newCluster(t, clusterOptions{opts: []envOption{withFrontChannelLogout()}})
	stored := func() int64 {
		files, index := sessionFiles(t, c.instances[0].cfg.SessionDir)
		return int64(len(files) + len(index))
	}
	testFrontChannelLogout(t, c, stored)
	if entries, _ := os.ReadDir(c.instances[0].cfg.SessionDir); len(entries) != 0 {
		t.Errorf("SESSION_DIR still holds %d entries", len(entries))
	}
}

func testFrontChannelLogout(t *testing.T, c *cluster, stored func() int64) {
	alice := c.instances[0].newBrowser()
	alice.signIn("alice@demo.test", "alice-password")
	admin := c.instances[0].newBrowser()
	admin.signIn("admin@demo.test", "admin-password")
	for i := range 2 {
		signedIn(t, alice, c.on(i, "/"), "Alice Smith")
		signedIn(t, admin, c.on(i, "/"), "Ada Admin")
	}
	if n := stored(); n != 6 {
		t.Errorf("two signed-in users: %d things stored, want 6 (two sessions, each filed under its sid and its user)", n)
	}

	// Nobody and nothing for an unknown or a missing sid, and the same
	// answer as for a real one: the URL is no oracle of sids in use.
	anon := c.instances[0].newBrowser()
	unknown := anon.get(c.on(1, entra.DefaultFrontChannelLogoutPath+"?sid=5b7e1c0a-0000-4000-a000-000000000000"))
	assertStatus(t, unknown, http.StatusOK)
	assertStatus(t, anon.get(c.on(1, entra.DefaultFrontChannelLogoutPath)), http.StatusOK)
	assertStatus(t, anon.get(c.on(1, entra.DefaultFrontChannelLogoutPath+"?sid="+strings.Repeat("x", 5000))), http.StatusOK)
	if n := stored(); n != 6 {
		t.Errorf("unknown sids changed what is stored: %d things, want 6", n)
	}
	signedIn(t, alice, c.on(1, "/"), "Alice Smith")

	// Alice signs out of the identity provider elsewhere. Its signed-out
	// page frames this app's front-channel logout URL with her sid; the
	// iframe carries none of the app's cookies.
	frames := signOutAtProvider(t, alice, c.on(0, "/"))
	if len(frames) != 1 || !strings.HasPrefix(frames[0], c.on(0, entra.DefaultFrontChannelLogoutPath+"?sid=")) {
		t.Fatalf("the signed-out page frames %q, want this app's front-channel logout URL", frames)
	}
	sid := strings.TrimPrefix(frames[0], c.on(0, entra.DefaultFrontChannelLogoutPath+"?sid="))
	// With an iss that names another issuer, nothing ends, behind the
	// same answer: only the tenant's own issuer may end its sessions.
	for _, iss := range []string{"https://login.evil.example/" + emulator.DefaultTenant + "/v2.0", c.instances[0].emuURL + "/other-tenant/v2.0", ""} {
		p := anon.get(frames[0] + "&iss=" + url.QueryEscape(iss))
		assertStatus(t, p, http.StatusOK)
		if p.body != unknown.body {
			t.Errorf("iss=%q: the answer differs from the one for an unknown sid", iss)
		}
		signedIn(t, alice, c.on(1, "/"), "Alice Smith")
	}
	frame := c.instances[0].newBrowser().get(frames[0] + "&iss=" + url.QueryEscape(c.instances[0].emuURL+"/"+emulator.DefaultTenant+"/v2.0"))
	assertStatus(t, frame, http.StatusOK)
	assertContains(t, frame, "<h1>Signed out</h1>")
	if frame.body != unknown.body {
		t.Error("the answer for a sid in use differs from the answer for an unknown one")
	}
	if csp := frame.header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors "+c.instances[0].emuURL+";") {
		t.Errorf("front-channel logout CSP %q: only the identity provider may frame it", csp)
	}
	if xfo := frame.header.Values("X-Frame-Options"); len(xfo) != 0 {
		t.Errorf("front-channel logout sends X-Frame-Options %q, which would refuse the identity provider's frame", xfo)
	}
	if len(frame.header.Values("Set-Cookie")) != 0 {
		t.Errorf("the front-channel logout set cookies: %q", frame.header.Values("Set-Cookie"))
	}
	// Every other page still refuses to be framed at all.
	for _, p := range []*page{alice.get(c.on(0, "/")), admin.get(c.on(1, "/graph"))} {
		if !strings.Contains(p.header.Get("Content-Security-Policy"), "frame-ancestors 'none'") || p.header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s may be framed: CSP %q, X-Frame-Options %q", p.url, p.header.Get("Content-Security-Policy"), p.header.Get("X-Frame-Options"))
		}
	}

	// Alice is signed out on both instances, at her next request; Ada is not.
	for i := range 2 {
		signedOut(t, alice, c.on(i, "/"))
		signedIn(t, admin, c.on(i, "/"), "Ada Admin")
	}
	graph := alice.get(c.on(1, "/graph"))
	assertStatus(t, graph, http.StatusFound)
	if !strings.Contains(graph.location, "/oauth2/v2.0/authorize?") {
		t.Errorf("signed out by front channel, /graph went to %s", graph.location)
	}
	if n := stored(); n != 3 {
		t.Errorf("after Alice's front-channel logout %d things are stored, want Ada's 3", n)
	}
	if strings.Contains(c.logs.String(), sid) {
		t.Error("the log holds the sid")
	}
	if !strings.Contains(c.logs.String(), "front-channel sign-out") {
		t.Error("the log does not note the front-channel sign-out")
	}
	// A second call for the same sid finds nothing.
	assertStatus(t, anon.get(frames[0]), http.StatusOK)

	// Ada signs out with the button: nothing is left.
	assertStatus(t, admin.signOut(), http.StatusSeeOther)
	if n := stored(); n != 0 {
		t.Errorf("after every sign-out %d things are stored, want 0", n)
	}
}
