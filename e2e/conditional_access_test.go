// End-to-end tests of Conditional Access: a claims challenge from Graph after a Continuous Access Evaluation event, the loop guard when it repeats, and the step-up to an authentication context for /admin.

package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"ms-identity-go-webapp/emulator"
)

// authorizeClaims decodes the claims parameter of an authorize URL; nil
// when it has none.
func authorizeClaims(t *testing.T, rawURL string) map[string]map[string]json.RawMessage {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	raw := u.Query().Get("claims")
	if raw == "" {
		return nil
	}
	var claims map[string]map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &claims); err != nil {
		t.Fatalf("the authorize URL's claims are not a claims request: %q: %v", raw, err)
	}
	return claims
}

// wantClaim fails unless the claims request asks for target.name with want
// (compared as compact JSON).
func wantClaim(t *testing.T, claims map[string]map[string]json.RawMessage, target, name, want string) {
	t.Helper()
	got := string(claims[target][name])
	if got != want {
		t.Errorf("claims request %s.%s = %s, want %s (all: %v)", target, name, got, want, claims)
	}
}

// submitSecondFactor answers the emulator's second-factor page p with
// code (action "verify" or "cancel"), as a person would.
func (b *browser) submitSecondFactor(p *page, code, action string) *page {
	b.t.Helper()
	assertStatus(b.t, p, http.StatusOK)
	assertContains(b.t, p, `name="otc"`)
	flow := flowFieldPattern.FindStringSubmatch(p.body)
	if flow == nil {
		b.t.Fatalf("no second-factor form on %s:\n%s", p.url, excerpt(p.body))
	}
	return b.postForm(formAction(b.t, p), url.Values{"flow": {html.UnescapeString(flow[1])}, "otc": {code}, "action": {action}})
}

// caeClaims are the claims of the emulator's challenge after an event at
// at, in each form a leak into the logs could take: Graph's JSON, its
// base64, the compact JSON the app signs in with, and that URL-encoded.
func caeClaims(at time.Time) []string {
	graph := fmt.Sprintf(`{"access_token":{"nbf":{"essential":true, "value":"%d"}}}`, at.Unix())
	compact := strings.ReplaceAll(graph, ", ", ",")
	return []string{graph, base64.StdEncoding.EncodeToString([]byte(graph)), compact, url.QueryEscape(compact)}
}

// assertLogsLack fails if the log holds any of values, as they are or
// escaped inside a quoted log value (slog's text and JSON handlers both
// write a quote inside a value as \").
func assertLogsLack(t *testing.T, env *testEnv, what string, values ...string) {
	t.Helper()
	var forms []string
	for _, v := range values {
		q := strconv.Quote(v)
		forms = append(forms, v, q[1:len(q)-1])
	}
	if n := secretsIn(env.logs.String(), forms); n > 0 {
		t.Errorf("the log holds %d forms of the %s", n, what)
	}
}

// A signed-in user, a critical event, /graph: Graph's claims challenge
// sends the user through a sign-in that carries the claims, where the
// emulator asks for the password again, and back on /graph Graph answers.
func TestClaimsChallengeSignsInAgain(t *testing.T) {
	env := newTestEnv(t)
	b := env.newBrowser()

	// The app declares cp1 on every sign-in (CLIENT_CAPABILITIES' default).
	login := b.get("/login")
	wantClaim(t, authorizeClaims(t, authURLFrom(t, login)), "access_token", "xms_cc", `{"values":["cp1"]}`)
	b.signIn("alice@demo.test", "alice-password")
	assertContains(t, b.get("/graph"), `&#34;userPrincipalName&#34;: &#34;alice@demo.test&#34;`)

	at, err := env.emu.CAEEvent("alice@demo.test")
	if err != nil {
		t.Fatal(err)
	}
	signInsBefore := env.emu.Stats()[emulator.StatSignIns]

	start := b.get("/graph?view=full")
	assertStatus(t, start, http.StatusFound)
	if !strings.HasPrefix(start.location, env.emuURL+"/"+emulator.DefaultTenant+"/oauth2/v2.0/authorize?") {
		t.Fatalf("the claims challenge sent the browser to %s", start.location)
	}
	if got := env.emu.Stats()[emulator.StatClaimsChallenges]; got != 1 {
		t.Fatalf("Graph answered %d claims challenges, want 1", got)
	}
	claims := authorizeClaims(t, start.location)
	wantClaim(t, claims, "access_token", "nbf", fmt.Sprintf(`{"essential":true,"value":"%d"}`, at.Unix()))
	wantClaim(t, claims, "access_token", "xms_cc", `{"values":["cp1"]}`)
	authURL, _ := url.Parse(start.location)
	if hint := authURL.Query().Get("login_hint"); hint == "" || authURL.Query().Has("prompt") {
		t.Errorf("the challenge's sign-in: login_hint %q, prompt %q; want the account named and no prompt", hint, authURL.Query().Get("prompt"))
	}
	// The user is still signed in meanwhile: a page that needs no Graph
	// call still works.
	assertStatus(t, b.get("/token_details"), http.StatusOK)

	// Single sign-on cannot answer nbf after the event: the password form.
	form := b.get(start.location)
	assertStatus(t, form, http.StatusOK)
	assertContains(t, form, `name="passwd"`)
	assertContains(t, form, "sign in again")
	back := b.postSignInForm(start.location, url.Values{"loginfmt": {"alice@demo.test"}, "passwd": {"alice-password"}, "action": {"signin"}})
	assertStatus(t, back, http.StatusFound)
	if env.emu.Stats()[emulator.StatSignIns] != signInsBefore+1 {
		t.Error("the emulator did not count a password sign-in")
	}
	done := b.follow(back)
	assertStatus(t, done, http.StatusSeeOther)
	if done.location != env.appURL+"/graph?view=full" {
		t.Fatalf("after the claims sign-in went to %q, want the page the user was on", done.location)
	}
	graph := b.follow(done)
	assertStatus(t, graph, http.StatusOK)
	assertContains(t, graph, `&#34;userPrincipalName&#34;: &#34;alice@demo.test&#34;`)
	if got := env.emu.Stats()[emulator.StatClaimsChallenges]; got != 1 {
		t.Errorf("Graph answered %d claims challenges, want still 1: the new token satisfies the claims", got)
	}
	assertStatus(t, b.get("/graph"), http.StatusOK)

	assertLogsLack(t, env, "challenge's claims", caeClaims(at)...)
	if !strings.Contains(env.logs.String(), "claims challenge: signing in again") {
		t.Error("the log does not say why the user signed in again")
	}
}

// Without client capabilities (CLIENT_CAPABILITIES set but empty) the app
// gets ordinary tokens: after the event Graph keeps accepting the old one,
// with no challenge, as it does until such a token expires.
func TestNoClaimsChallengeWithoutCapabilities(t *testing.T) {
	env := newTestEnv(t, withAppEnv("CLIENT_CAPABILITIES", ""))
	b := env.newBrowser()

	if claims := authorizeClaims(t, authURLFrom(t, b.get("/login"))); claims != nil {
		t.Errorf("with CLIENT_CAPABILITIES empty the authorize URL still carries claims %v", claims)
	}
	b.signIn("alice@demo.test", "alice-password")
	if _, err := env.emu.CAEEvent("alice@demo.test"); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		graph := b.get("/graph")
		assertStatus(t, graph, http.StatusOK)
		assertContains(t, graph, `&#34;userPrincipalName&#34;: &#34;alice@demo.test&#34;`)
	}
	if got := env.emu.Stats()[emulator.StatClaimsChallenges]; got != 0 {
		t.Errorf("Graph answered %d claims challenges to a client without cp1", got)
	}
}

// stickyChallenges stands for a resource whose Conditional Access policy a
// sign-in cannot satisfy: it forwards each call to the emulator's Graph,
// and once Graph has answered with a claims challenge it answers every
// later call with that same challenge, whatever the token. A new challenge
// from Graph (after another event) replaces the one it repeats.
func stickyChallenges(t *testing.T, graphURL string, client *http.Client) *httptest.Server {
	var last struct {
		header string
		body   []byte
	}
	srv := newTLSTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, graphURL, nil)
		req.Header.Set("Authorization", r.Header.Get("Authorization"))
		resp, err := client.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if c := resp.Header.Get("WWW-Authenticate"); resp.StatusCode == http.StatusUnauthorized && strings.Contains(c, "insufficient_claims") {
			last.header, last.body = c, body
		}
		if last.header != "" {
			w.Header().Set("WWW-Authenticate", last.header)
			w.Header().Set("request-id", "5e1f0c1e-0000-4000-a000-00000000beef")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			w.Write(last.body)
			return
		}
		w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
		w.WriteHeader(resp.StatusCode)
		w.Write(body)
	}))
	return srv
}

// A challenge that comes back right after the sign-in that answered it
// does not send the user round again: the page explains that Conditional
// Access blocked the call, with Graph's correlation ids. A different
// challenge (a new event) is still answered.
func TestRepeatedClaimsChallengeShowsPage(t *testing.T) {
	// The emulator's clock, which the test moves a few seconds on so that
	// the second event falls in another second than the first (the
	// claims name the event's second).
	var ahead atomic.Int64
	clock := func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) }
	var proxy *httptest.Server
	env := newCluster(t, clusterOptions{instances: 1, opts: []envOption{withEmulator(func(c *emulator.Config) { c.Now = clock })}, emulatorStarted: func(_ *emulator.Emulator, emuURL string, client *http.Client, appEnv map[string]string) {
		proxy = stickyChallenges(t, emuURL+"/v1.0/me", client)
		appEnv["GRAPH_ENDPOINT"] = proxy.URL + "/v1.0/me"
	}}).instances[0]
	b := env.newBrowser()
	b.signIn("alice@demo.test", "alice-password")
	assertStatus(t, b.get("/graph"), http.StatusOK)

	first, err := env.emu.CAEEvent("alice@demo.test")
	if err != nil {
		t.Fatal(err)
	}
	start := b.get("/graph")
	assertStatus(t, start, http.StatusFound)
	back := b.submitSignIn(start.location, "alice@demo.test", "alice-password", "signin")
	assertStatus(t, back, http.StatusFound)
	done := b.follow(back)
	assertStatus(t, done, http.StatusSeeOther)
	authorizeBefore := env.emu.Stats()[emulator.StatAuthorize]

	// The new token satisfies the claims, but the resource repeats them.
	for range 2 {
		blocked := b.follow(done)
		assertStatus(t, blocked, http.StatusForbidden)
		assertContains(t, blocked, "Blocked by Conditional Access")
		assertContains(t, blocked, "5e1f0c1e-0000-4000-a000-00000000beef")
		assertContains(t, blocked, "InvalidAuthenticationToken")
		assertContains(t, blocked, proxy.URL+"/v1.0/me")
		assertContains(t, blocked, "Signed in again at")
		if blocked.location != "" || len(b.signInCookies()) != 0 {
			t.Fatalf("the repeated challenge started a sign-in: Location %q, %d sign-in cookies", blocked.location, len(b.signInCookies()))
		}
	}
	if got := env.emu.Stats()[emulator.StatAuthorize]; got != authorizeBefore {
		t.Errorf("the repeated challenge reached the authorize endpoint %d times", got-authorizeBefore)
	}
	if !strings.Contains(env.logs.String(), "claims challenge repeated right after the sign-in that answered it") {
		t.Error("the log does not record the repeated challenge")
	}
	// The user is still signed in: other pages work.
	assertStatus(t, b.get("/token_details"), http.StatusOK)

	// Another critical event: Graph asks for other claims, which the app
	// answers with a sign-in.
	ahead.Store(int64(3 * time.Second))
	second, err := env.emu.CAEEvent("alice@demo.test")
	if err != nil {
		t.Fatal(err)
	}
	again := b.get("/graph")
	assertStatus(t, again, http.StatusFound)
	wantClaim(t, authorizeClaims(t, again.location), "access_token", "nbf", fmt.Sprintf(`{"essential":true,"value":"%d"}`, second.Unix()))
	assertLogsLack(t, env, "challenge's claims", append(caeClaims(first), caeClaims(second)...)...)
}

// /admin with ADMIN_AUTH_CONTEXT=c1: the admin steps up through the
// second-factor page; a wrong code does not let them in, the right one
// does, and the ID token then carries acrs.
func TestStepUpForAdmin(t *testing.T) {
	env := newTestEnv(t, withAppEnv("ADMIN_AUTH_CONTEXT", "c1"))
	b := env.newBrowser()
	b.signIn("admin@demo.test", "admin-password")

	start := b.get("/admin")
	assertStatus(t, start, http.StatusFound)
	claims := authorizeClaims(t, start.location)
	wantClaim(t, claims, "id_token", "acrs", `{"essential":true,"value":"c1"}`)
	wantClaim(t, claims, "access_token", "xms_cc", `{"values":["cp1"]}`)

	// Single sign-on, then the second factor: no password this time.
	factor := b.get(start.location)
	assertContains(t, factor, "Verify your identity")
	wrong := b.submitSecondFactor(factor, "000000", "verify")
	assertStatus(t, wrong, http.StatusOK)
	assertContains(t, wrong, "That code didn’t work")
	// Not let in: /admin still asks for the step-up.
	if p := b.get("/admin"); p.status != http.StatusFound || !strings.Contains(p.location, "/oauth2/v2.0/authorize?") {
		t.Fatalf("after a wrong code /admin answered %d %s", p.status, p.location)
	}

	back := b.submitSecondFactor(wrong, "123456", "verify")
	assertStatus(t, back, http.StatusFound)
	done := b.follow(back)
	assertStatus(t, done, http.StatusSeeOther)
	if done.location != env.appURL+"/admin" {
		t.Fatalf("after the step-up went to %q, want /admin", done.location)
	}
	admin := b.follow(done)
	assertStatus(t, admin, http.StatusOK)
	assertContains(t, admin, "You have the admin app role.")
	details := b.get("/token_details")
	assertContains(t, details, "<code>acrs</code></th><td>c1</td>")
	if env.emu.Stats()[emulator.StatSecondFactors] != 1 {
		t.Errorf("second factors accepted: %d, want 1", env.emu.Stats()[emulator.StatSecondFactors])
	}
	// Stepped up once: /admin stays open without another step-up.
	assertStatus(t, b.get("/admin"), http.StatusOK)
	assertLogsLack(t, env, "step-up claims", `{"id_token":{"acrs":{"essential":true,"value":"c1"}}}`,
		url.QueryEscape(`{"id_token":{"acrs":{"essential":true,"value":"c1"}}}`))
}

// Cancel on the second-factor page: the app shows the provider's error
// and /admin stays closed.
func TestStepUpCancelled(t *testing.T) {
	env := newTestEnv(t, withAppEnv("ADMIN_AUTH_CONTEXT", "c1"))
	b := env.newBrowser()
	b.signIn("admin@demo.test", "admin-password")
	start := b.get("/admin")
	assertStatus(t, start, http.StatusFound)
	back := b.submitSecondFactor(b.get(start.location), "", "cancel")
	assertStatus(t, back, http.StatusFound)
	failed := b.follow(back)
	assertStatus(t, failed, http.StatusBadRequest)
	assertContains(t, failed, "access_denied")
	assertContains(t, failed, "AADSTS500121")
	if p := b.get("/admin"); p.status != http.StatusFound {
		t.Fatalf("after a cancelled step-up /admin answered %d", p.status)
	}
}

// The step-up does not replace the role check: a user without the admin
// role steps up and still gets the 403.
func TestStepUpThenMissingRole(t *testing.T) {
	env := newTestEnv(t, withAppEnv("ADMIN_AUTH_CONTEXT", "c1"))
	b := env.newBrowser()
	b.signIn("alice@demo.test", "alice-password")
	start := b.get("/admin")
	assertStatus(t, start, http.StatusFound)
	back := b.submitSecondFactor(b.get(start.location), "123456", "verify")
	done := b.follow(back)
	assertStatus(t, done, http.StatusSeeOther)
	forbidden := b.follow(done)
	assertStatus(t, forbidden, http.StatusForbidden)
	assertContains(t, forbidden, "User is missing a required role.")
	assertContains(t, b.get("/token_details"), "<code>acrs</code></th><td>c1</td>")
}

// Without ADMIN_AUTH_CONTEXT /admin asks for no step-up.
func TestNoStepUpByDefault(t *testing.T) {
	env := newTestEnv(t)
	b := env.newBrowser()
	b.signIn("admin@demo.test", "admin-password")
	assertStatus(t, b.get("/admin"), http.StatusOK)
	if env.emu.Stats()[emulator.StatSecondFactors] != 0 {
		t.Error("a second factor was asked for without ADMIN_AUTH_CONTEXT")
	}
}

// A resource that answers every call with a claims challenge that asks for
// other claims each time (a misconfigured API, or one under attack) sends
// the user through at most maxClaimsSignIns sign-ins within the window;
// then the page explains instead of sending them round again.
func TestEverChangingClaimsChallengesStop(t *testing.T) {
	var calls atomic.Int64
	graph := newTLSTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// nbf in the past: any sign-in satisfies it, single sign-on answers.
		claims := fmt.Sprintf(`{"access_token":{"nbf":{"essential":true,"value":"%d"}}}`, 1_700_000_000+calls.Add(1))
		w.Header().Set("WWW-Authenticate", `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", `+
			`client_id="00000003-0000-0000-c000-000000000000", error="insufficient_claims", claims="`+base64.StdEncoding.EncodeToString([]byte(claims))+`"`)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"error":{"code":"InvalidAuthenticationToken","message":"Continuous access evaluation resulted in challenge."}}`))
	}))
	env := newTestEnv(t, withAppEnv("GRAPH_ENDPOINT", graph.URL+"/v1.0/me"))
	b := env.newBrowser()
	b.signIn("alice@demo.test", "alice-password")

	signIns := 0
	p := b.get("/graph")
	for ; p.status == http.StatusFound && signIns < 10; signIns++ {
		back := b.follow(p) // single sign-on answers at once
		if back.status != http.StatusFound {
			back = b.submitSignIn(p.location, "alice@demo.test", "alice-password", "signin")
		}
		done := b.follow(back)
		assertStatus(t, done, http.StatusSeeOther)
		p = b.follow(done)
	}
	if signIns != 3 {
		t.Errorf("%d sign-ins for ever-changing claims, want 3", signIns)
	}
	assertStatus(t, p, http.StatusForbidden)
	assertContains(t, p, "Blocked by Conditional Access")
	assertContains(t, p, "Signed in again at")
	if !strings.Contains(env.logs.String(), "claims challenges keep coming") {
		t.Error("the log does not say why the app stopped signing in again")
	}
	assertStatus(t, b.get("/token_details"), http.StatusOK)
}

// A tenant where no policy uses the authentication context: the step-up
// sign-in succeeds (with its second factor) but its ID token comes back
// without acrs. /admin then explains, once, instead of sending the admin
// round again; the token request that redeemed the code carried the
// claims it asked for.
func TestStepUpWithoutACRSShowsPage(t *testing.T) {
	env := newTestEnv(t, withAppEnv("ADMIN_AUTH_CONTEXT", "c1"), withEmulator(func(c *emulator.Config) { c.OmitACRS = true }))
	b := env.newBrowser()
	b.signIn("admin@demo.test", "admin-password")

	start := b.get("/admin")
	assertStatus(t, start, http.StatusFound)
	factor := b.get(start.location)
	back := b.submitSecondFactor(factor, "123456", "verify")
	assertStatus(t, back, http.StatusFound)
	done := b.follow(back)
	assertStatus(t, done, http.StatusSeeOther)
	authorizeBefore := env.emu.Stats()[emulator.StatAuthorize]

	blocked := b.follow(done)
	assertStatus(t, blocked, http.StatusForbidden)
	assertContains(t, blocked, "Blocked by Conditional Access")
	assertContains(t, blocked, "c1")
	assertContains(t, blocked, "Signed in again at")
	if blocked.location != "" || len(b.signInCookies()) != 0 {
		t.Errorf("the step-up without acrs started another sign-in: Location %q", blocked.location)
	}
	if got := env.emu.Stats()[emulator.StatAuthorize]; got != authorizeBefore {
		t.Errorf("the authorize endpoint was asked %d more times", got-authorizeBefore)
	}
	assertNotContains(t, b.get("/token_details"), "<code>acrs</code>")

	// What the token request carried: the step-up's claims and cp1.
	var sawStepUp bool
	for _, tr := range env.emu.TokenRequests() {
		if tr.GrantType == "authorization_code" && strings.Contains(tr.Claims, `"acrs"`) {
			sawStepUp = true
			var claims map[string]map[string]json.RawMessage
			if err := json.Unmarshal([]byte(tr.Claims), &claims); err != nil {
				t.Fatalf("the token request's claims %q: %v", tr.Claims, err)
			}
			wantClaim(t, claims, "id_token", "acrs", `{"essential":true,"value":"c1"}`)
			wantClaim(t, claims, "access_token", "xms_cc", `{"values":["cp1"]}`)
		}
	}
	if !sawStepUp {
		t.Errorf("no token request carried the step-up's claims: %+v", env.emu.TokenRequests())
	}
}
