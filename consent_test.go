// End-to-end tests of signing in as Entra does: single sign-on, the account picker, each prompt value, and incremental consent for /calendar, with MSAL Go against the emulator over HTTPS.

package main

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"ms-identity-go-webapp/emulator"
)

// authorizeQuery parses the query of a redirect to the emulator's authorize
// endpoint, failing the test when p is not one.
func authorizeQuery(t *testing.T, p *page) url.Values {
	t.Helper()
	if p.status != http.StatusFound || !strings.Contains(p.location, "/oauth2/v2.0/authorize?") {
		t.Fatalf("%s: %d to %q, want a redirect to the authorize endpoint\n%s", p.url, p.status, p.location, excerpt(p.body))
	}
	u, err := url.Parse(p.location)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

// withPrompt returns authorizeURL with its prompt parameter set to values
// (none: removed), as someone editing the address bar would.
func withPrompt(t *testing.T, authorizeURL string, values ...string) string {
	t.Helper()
	u, err := url.Parse(authorizeURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q["prompt"] = values
	if len(values) == 0 {
		q.Del("prompt")
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// postForm submits one of the emulator's forms to its action.
func (b *browser) postForm(action string, form url.Values) *page {
	b.t.Helper()
	if strings.HasPrefix(action, "/") {
		action = b.env.emuURL + action
	}
	req, err := http.NewRequest(http.MethodPost, action, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

var (
	formActionPattern = regexp.MustCompile(`<form method="post" action="([^"]*)"`)
	flowFieldPattern  = regexp.MustCompile(`name="flow" value="([^"]*)"`)
)

// formAction reads the action of the emulator page's form.
func formAction(t *testing.T, p *page) string {
	t.Helper()
	m := formActionPattern.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("%s: no form on the page\n%s", p.url, excerpt(p.body))
	}
	return html.UnescapeString(m[1])
}

// answerConsent presses Accept or Cancel ("accept", "cancel") on the
// emulator's consent page.
func (b *browser) answerConsent(consent *page, action string) *page {
	b.t.Helper()
	assertStatus(b.t, consent, http.StatusOK)
	assertContains(b.t, consent, "Permissions requested")
	m := flowFieldPattern.FindStringSubmatch(consent.body)
	if m == nil {
		b.t.Fatalf("the consent page has no flow field\n%s", excerpt(consent.body))
	}
	return b.postForm(formAction(b.t, consent), url.Values{"flow": {html.UnescapeString(m[1])}, "action": {action}})
}

// pick presses an account's button on the emulator's account picker; ""
// is "Use another account".
func (b *browser) pick(picker *page, username string) *page {
	b.t.Helper()
	assertStatus(b.t, picker, http.StatusOK)
	assertContains(b.t, picker, "Pick an account")
	return b.postForm(formAction(b.t, picker), url.Values{"account": {username}})
}

// forgetAppSession drops the app's session cookie from the jar, as when the
// app's session expired or the app's cookies were cleared; the emulator's
// browser session stays.
func (b *browser) forgetAppSession() {
	b.t.Helper()
	u, _ := url.Parse(b.env.appURL)
	b.client.Jar.SetCookies(u, []*http.Cookie{{Name: "__Host-session", Value: "", Path: "/", MaxAge: -1}})
	if b.sessionCookie() != nil {
		b.t.Fatal("the app's session cookie is still in the jar")
	}
}

// backToApp follows the emulator's redirect to the app's callback, and the
// callback's redirect to the page the sign-in started from.
func (b *browser) backToApp(fromEmulator *page) *page {
	b.t.Helper()
	if fromEmulator.status != http.StatusFound || !strings.HasPrefix(fromEmulator.location, b.env.appURL+"/auth/redirect?") {
		b.t.Fatalf("%s: %d to %q, want a redirect to the app's callback\n%s", fromEmulator.url, fromEmulator.status, fromEmulator.location, excerpt(fromEmulator.body))
	}
	done := b.follow(fromEmulator)
	assertStatus(b.t, done, http.StatusSeeOther)
	return b.follow(done)
}

// A user whose app session is gone, but whose browser is still signed in to
// Entra ID, comes straight back: the protected page sends no prompt, and the
// emulator answers with a code at once.
func TestSingleSignOnAfterTheAppSessionEnds(t *testing.T) {
	env := newTestEnv(t)
	b := env.newBrowser()
	b.signIn("alice@demo.test", "alice-password")
	b.forgetAppSession()

	start := b.get("/graph")
	q := authorizeQuery(t, start)
	if q.Has("prompt") || q.Has("login_hint") {
		t.Errorf("a protected page's sign-in sent prompt=%q login_hint=%q; want neither, so that single sign-on can answer", q.Get("prompt"), q.Get("login_hint"))
	}
	sso := b.follow(start)
	graph := b.backToApp(sso)
	assertStatus(t, graph, http.StatusOK)
	assertContains(t, graph, "alice@demo.test")
	if s := env.emu.Stats(); s[emulator.StatSignIns] != 1 || s[emulator.StatSingleSignOns] != 1 {
		t.Errorf("emulator: %d password sign-ins and %d single sign-ons, want 1 and 1", s[emulator.StatSignIns], s[emulator.StatSingleSignOns])
	}
}

// /login asks for the account picker. With two accounts signed in to the
// emulator, the picker lists both and "Use another account"; picking one
// signs in without a password. A protected page (no prompt) shows the
// picker too, since Entra cannot tell which of the two is meant.
func TestAccountPickerWithTwoAccounts(t *testing.T) {
	env := newTestEnv(t)
	b := env.newBrowser()
	b.signIn("alice@demo.test", "alice-password")

	// /login again: the picker, with Alice and "Use another account".
	login := b.get("/login")
	authURL := authURLFrom(t, login)
	if u, _ := url.Parse(authURL); u.Query().Get("prompt") != "select_account" {
		t.Fatalf("/login's authorize URL has prompt=%q, want select_account", u.Query().Get("prompt"))
	}
	picker := b.get(authURL)
	assertContains(t, picker, `name="account" value="alice@demo.test"`)
	assertContains(t, picker, `name="account" value=""`)
	assertContains(t, picker, "Use another account")
	form := b.pick(picker, "")
	assertStatus(t, form, http.StatusOK)
	assertContains(t, form, `name="loginfmt"`)
	home := b.backToApp(b.postForm(formAction(t, form), url.Values{"loginfmt": {"admin@demo.test"}, "passwd": {"admin-password"}, "action": {"signin"}}))
	assertContains(t, home, "You're signed in, Ada Admin!")

	// Now two accounts: the picker lists both, most recent first.
	picker = b.get(authURLFrom(t, b.get("/login")))
	assertContains(t, picker, `name="account" value="admin@demo.test"`)
	assertContains(t, picker, `name="account" value="alice@demo.test"`)
	if strings.Index(picker.body, "admin@demo.test") > strings.Index(picker.body, "alice@demo.test") {
		t.Error("the picker does not list the most recent account first")
	}
	passwords := env.emu.Stats()[emulator.StatSignIns]
	home = b.backToApp(b.pick(picker, "alice@demo.test"))
	assertContains(t, home, "You're signed in, Alice Smith!")
	if got := env.emu.Stats()[emulator.StatSignIns]; got != passwords {
		t.Errorf("picking a signed-in account asked for a password (%d sign-ins, want %d)", got, passwords)
	}

	// A protected page with no app session and two accounts in the
	// browser: no prompt, so Entra shows the picker.
	b.forgetAppSession()
	picker = b.follow(b.get("/token_details"))
	graph := b.backToApp(b.pick(picker, "admin@demo.test"))
	assertStatus(t, graph, http.StatusOK)
	assertContains(t, graph, "admin@demo.test")
}

// prompt=login asks for the password even while the browser is signed in.
func TestPromptLoginAsksForThePassword(t *testing.T) {
	env := newTestEnv(t)
	b := env.newBrowser()
	b.signIn("alice@demo.test", "alice-password")

	authURL := withPrompt(t, authURLFrom(t, b.get("/login")), "login")
	form := b.get(authURL)
	assertStatus(t, form, http.StatusOK)
	assertContains(t, form, `name="passwd"`)
	assertNotContains(t, form, "Pick an account")
	home := b.backToApp(b.postForm(formAction(t, form), url.Values{"loginfmt": {"alice@demo.test"}, "passwd": {"alice-password"}, "action": {"signin"}}))
	assertContains(t, home, "You're signed in, Alice Smith!")
	if got := env.emu.Stats()[emulator.StatSignIns]; got != 2 {
		t.Errorf("%d password sign-ins, want 2", got)
	}
}

// prompt=none: a browser signed in to Entra ID gets a code without a page;
// one that is not gets login_required back, which the app shows.
func TestPromptNone(t *testing.T) {
	env := newTestEnv(t)

	t.Run("signed in to Entra ID", func(t *testing.T) {
		b := env.newBrowser()
		b.signIn("alice@demo.test", "alice-password")
		b.forgetAppSession()
		silent := b.get(withPrompt(t, authURLFrom(t, b.get("/login")), "none"))
		home := b.backToApp(silent)
		assertContains(t, home, "You're signed in, Alice Smith!")
	})

	t.Run("not signed in", func(t *testing.T) {
		b := env.newBrowser()
		silent := b.get(withPrompt(t, authURLFrom(t, b.get("/login")), "none"))
		if !strings.HasPrefix(silent.location, env.appURL+"/auth/redirect?") {
			t.Fatalf("prompt=none without a session: %d to %q, want back to the app", silent.status, silent.location)
		}
		failed := b.follow(silent)
		assertStatus(t, failed, http.StatusBadRequest)
		assertContains(t, failed, "Sign-in failed")
		assertContains(t, failed, "login_required")
		assertContains(t, failed, "AADSTS50058")
		if b.sessionCookie() != nil {
			t.Error("a failed silent sign-in left a session cookie")
		}
	})
}

// An invalid prompt, or two, comes back as AADSTS90023, which the app
// shows on its Sign-in failed page.
func TestInvalidPromptIsShown(t *testing.T) {
	env := newTestEnv(t)
	for _, prompt := range [][]string{{"bogus"}, {"login", "consent"}} {
		t.Run(strings.Join(prompt, "+"), func(t *testing.T) {
			b := env.newBrowser()
			answer := b.get(withPrompt(t, authURLFrom(t, b.get("/login")), prompt...))
			failed := b.follow(answer)
			assertStatus(t, failed, http.StatusBadRequest)
			assertContains(t, failed, "Sign-in failed")
			assertContains(t, failed, "invalid_request")
			assertContains(t, failed, "AADSTS90023")
		})
	}
}

// startCalendarConsent signs alice in, opens /calendar and checks that the
// app sends her to Entra ID for Calendars.Read alone, naming her, without a
// prompt; it returns the consent page.
func startCalendarConsent(t *testing.T, env *testEnv, b *browser) *page {
	t.Helper()
	b.signIn("alice@demo.test", "alice-password")
	env.emu.ResetStats()
	challenge := b.get("/calendar")
	q := authorizeQuery(t, challenge)
	scopes := strings.Fields(q.Get("scope"))
	slices.Sort(scopes)
	if got := strings.Join(scopes, " "); got != "Calendars.Read offline_access openid profile" {
		t.Errorf("authorize scope %q, want Calendars.Read with openid profile offline_access", got)
	}
	if q.Get("login_hint") != "alice@demo.test" || q.Get("domain_hint") != "organizations" || q.Has("prompt") {
		t.Errorf("authorize login_hint=%q domain_hint=%q prompt=%q; want alice@demo.test, organizations and no prompt",
			q.Get("login_hint"), q.Get("domain_hint"), q.Get("prompt"))
	}
	// MSAL's silent call asked the token endpoint, which said consent is
	// missing; the app said why it asks.
	if got := env.emu.Stats()[emulator.StatTokenRefreshToken]; got != 1 {
		t.Errorf("%d refresh grants before asking for consent, want 1", got)
	}
	if !regexp.MustCompile(`msg="asking for consent".*scopes=Calendars.Read reason="consent required"`).MatchString(env.logs.String()) {
		t.Error(`the log has no "asking for consent" line with the reason "consent required"`)
	}
	consent := b.follow(challenge)
	assertContains(t, consent, "Read your calendars")
	assertContains(t, consent, "Calendars.Read")
	assertNotContains(t, consent, "Sign you in and read your profile") // User.Read is granted already
	return consent
}

// /calendar asks for Calendars.Read the first time: the consent page, Accept,
// and back on /calendar with the events. The second visit needs neither
// consent nor a token request; a later sign-in needs no consent either.
func TestCalendarIncrementalConsent(t *testing.T) {
	env := newTestEnv(t)
	b := env.newBrowser()
	consent := startCalendarConsent(t, env, b)

	calendar := b.backToApp(b.answerConsent(consent, "accept"))
	if !strings.HasSuffix(calendar.url, "/calendar") {
		t.Fatalf("after consent the app went to %s, want /calendar", calendar.url)
	}
	assertStatus(t, calendar, http.StatusOK)
	assertContains(t, calendar, "Your next events")
	assertContains(t, calendar, "Team stand-up")
	assertContains(t, calendar, "Design review: sign-in flow")
	assertContains(t, calendar, "Room 4.12")
	assertContains(t, calendar, "Hello Alice Smith!") // the same user, signed in
	if !regexp.MustCompile(`\w{3} \d{1,2} \w{3} \d{4}, 09:00–09:15 UTC`).MatchString(calendar.body) {
		t.Errorf("the stand-up's time is not shown readably:\n%s", excerpt(calendar.body))
	}
	if s := env.emu.Stats(); s[emulator.StatConsents] != 1 || s[emulator.StatSignIns] != 0 || s[emulator.StatTokenAuthorizationCode] != 1 {
		t.Errorf("emulator: %d consents, %d password sign-ins, %d code redemptions; want 1, 0 (single sign-on) and 1",
			s[emulator.StatConsents], s[emulator.StatSignIns], s[emulator.StatTokenAuthorizationCode])
	}

	// Again: straight to the page, with the cached token.
	env.emu.ResetStats()
	again := b.get("/calendar")
	assertStatus(t, again, http.StatusOK)
	assertContains(t, again, "Team stand-up")
	if s := env.emu.Stats(); s[emulator.StatToken] != 0 || s[emulator.StatAuthorize] != 0 || s[emulator.StatGraphEvents] != 1 {
		t.Errorf("second visit: %d token requests, %d authorize requests, %d Graph calls; want 0, 0 and 1",
			s[emulator.StatToken], s[emulator.StatAuthorize], s[emulator.StatGraphEvents])
	}

	// /graph keeps working: its User.Read token comes from the refresh token.
	assertContains(t, b.get("/graph"), `&#34;userPrincipalName&#34;: &#34;alice@demo.test&#34;`)

	// Signed out and in again: the consent is remembered by Entra ID, so
	// the calendar comes with one refresh, no consent page.
	b.follow(b.signOut())
	b.signIn("alice@demo.test", "alice-password")
	env.emu.ResetStats()
	later := b.get("/calendar")
	assertStatus(t, later, http.StatusOK)
	assertContains(t, later, "Team stand-up")
	if s := env.emu.Stats(); s[emulator.StatConsents] != 0 || s[emulator.StatAuthorize] != 0 {
		t.Errorf("after signing in again: %d consents, %d authorize requests; want none", s[emulator.StatConsents], s[emulator.StatAuthorize])
	}
}

// Cancel on the consent page: a page that says so, the user still signed
// in with the same session, and /graph working.
func TestCalendarConsentDeclined(t *testing.T) {
	env := newTestEnv(t)
	b := env.newBrowser()
	consent := startCalendarConsent(t, env, b)
	before := b.sessionCookie()

	answer := b.answerConsent(consent, "cancel")
	if !strings.HasPrefix(answer.location, env.appURL+"/auth/redirect?") || !strings.Contains(answer.location, "error=access_denied") {
		t.Fatalf("cancel: %d to %q, want access_denied back to the app", answer.status, answer.location)
	}
	declined := b.follow(answer)
	assertStatus(t, declined, http.StatusForbidden)
	assertContains(t, declined, "Permission not given")
	assertContains(t, declined, "Read your calendars (<code>Calendars.Read</code>)")
	assertContains(t, declined, "you are still signed in")
	assertContains(t, declined, `href="/calendar"`)
	assertContains(t, declined, "AADSTS65004")
	assertContains(t, declined, "Hello Alice Smith!")
	assertNotContains(t, declined, "Sign-in failed")
	if after := b.sessionCookie(); after == nil || after.Value != before.Value {
		t.Error("the declined consent changed or dropped the session cookie")
	}
	if b.signInCookies() != nil {
		t.Error("the declined consent's sign-in cookie is still there")
	}

	graph := b.get("/graph")
	assertStatus(t, graph, http.StatusOK)
	assertContains(t, graph, `&#34;userPrincipalName&#34;: &#34;alice@demo.test&#34;`)
	home := b.get("/")
	assertContains(t, home, "You're signed in, Alice Smith!")

	// "Ask me again": the consent page again.
	again := b.follow(b.get("/calendar"))
	assertContains(t, again, "Read your calendars")
}

// The loop guard: a consent sign-in that completes without giving the page
// a token it can use stops on a page instead of sending the user round
// again by itself; opening the page again does try again.
func TestConsentLoopStops(t *testing.T) {
	// Two-minute access tokens: MSAL treats them as expiring and refreshes
	// on every page, so the token endpoint decides each time.
	env := newTestEnv(t, withEmulator(func(c *emulator.Config) { c.AccessTokenTTL = 2 * time.Minute }))
	b := env.newBrowser()
	consent := startCalendarConsent(t, env, b)
	back := b.follow(b.answerConsent(consent, "accept"))
	assertStatus(t, back, http.StatusSeeOther)

	// From now on the token endpoint refuses every refresh.
	if err := env.emu.InjectFault(emulator.Fault{Endpoint: emulator.EndpointToken, Status: http.StatusBadRequest}); err != nil {
		t.Fatal(err)
	}
	stopped := b.follow(back)
	assertStatus(t, stopped, http.StatusForbidden)
	assertContains(t, stopped, "The app still lacks a permission")
	assertContains(t, stopped, "Calendars.Read")
	if !strings.Contains(env.logs.String(), "still no token right after asking for consent") {
		t.Error("the log does not say why the app stopped")
	}

	// Opening the page again is a person's choice: it asks again.
	authorizeQuery(t, b.get("/calendar"))
}

// The footer shows the app's and MSAL Go's versions from the build info.
func TestFooterShowsVersions(t *testing.T) {
	env := newTestEnv(t)
	home := env.newBrowser().get("/")
	if !regexp.MustCompile(`App [^<·]+ · MSAL Go v1\.\d+\.\d+`).MatchString(home.body) {
		t.Errorf("the footer does not show the versions:\n%s", home.body[strings.Index(home.body, "<footer"):])
	}
}
