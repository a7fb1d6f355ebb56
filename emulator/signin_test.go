// The browser session as Entra keeps it: single sign-on, the account
// picker, prompt and login_hint, and consent (pages and token endpoint).

package emulator

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"ms-identity-go-webapp/internal/testutil"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
)

// msalAuthURL is MSAL's AuthCodeURL plus what the web app adds (state,
// nonce, PKCE) and any extra parameters.
func (env *testEnv) msalAuthURL(app confidential.Client, scopes []string, extra url.Values, opts ...confidential.AuthCodeURLOption) string {
	env.t.Helper()
	authURL, err := app.AuthCodeURL(context.Background(), DemoClientID, DemoRedirectURIs[0], scopes, opts...)
	if err != nil {
		env.t.Fatalf("AuthCodeURL: %v", err)
	}
	u, _ := url.Parse(authURL)
	q := u.Query()
	q.Set("state", "msal-state")
	q.Set("nonce", "msal-nonce")
	q.Set("code_challenge", testChallenge)
	q.Set("code_challenge_method", "S256")
	for k, v := range extra {
		q[k] = v
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// codeFrom asserts a redirect to the app with a code and returns it.
func codeFrom(t *testing.T, resp *http.Response) string {
	t.Helper()
	p := redirectParams(t, resp, DemoRedirectURIs[0])
	if p.Get("code") == "" || p.Has("error") {
		t.Fatalf("redirect params = %v, want a code", p)
	}
	return p.Get("code")
}

// page asserts a 200 HTML page and returns its body.
func page200(t *testing.T, resp *http.Response, wants ...string) string {
	t.Helper()
	body := readBody(t, resp)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, Location %q, want a page; body %.300s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("page lacks %s", w)
		}
	}
	if strings.Contains(body, "<script") || strings.Contains(body, "style=") {
		t.Error("page has inline script or style, which the emulator's CSP forbids")
	}
	return body
}

var flowField = regexp.MustCompile(`<input type="hidden" name="flow" value="([^"]+)">`)

func flowOf(t *testing.T, body string) string {
	t.Helper()
	m := flowField.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no flow field on the page: %.500s", body)
	}
	return html.UnescapeString(m[1])
}

func (env *testEnv) redeem(app confidential.Client, code string, scopes []string, opts ...confidential.AcquireByAuthCodeOption) confidential.AuthResult {
	env.t.Helper()
	opts = append(opts, confidential.WithChallenge(testVerifier))
	res, err := app.AcquireTokenByAuthCode(context.Background(), code, DemoRedirectURIs[0], scopes, opts...)
	if err != nil {
		env.t.Fatalf("AcquireTokenByAuthCode: %v", err)
	}
	return res
}

var appScopes = []string{"openid", "profile", "offline_access", "User.Read"}

func TestSingleSignOnAfterOneSignIn(t *testing.T) {
	env := newEnv(t, nil)
	first := env.msal()
	code := env.msalSignIn(context.Background(), first, appScopes, "alice@demo.test", "alice-password", true)
	res := env.redeem(first, code, []string{"User.Read"})

	// The app lost its session (a new MSAL cache), the emulator's browser
	// session is still there: the next authorization comes straight back.
	second := env.msal()
	resp := env.get(env.msalAuthURL(second, appScopes, nil))
	p := redirectParams(t, resp, DemoRedirectURIs[0])
	if p.Get("code") == "" || p.Get("state") != "msal-state" {
		t.Fatalf("single sign-on: %v", p)
	}
	sso := env.redeem(second, p.Get("code"), []string{"User.Read"})
	if sso.IDToken.PreferredUsername != "alice@demo.test" || sso.Account.HomeAccountID != res.Account.HomeAccountID {
		t.Errorf("SSO signed in %q (%s), want alice", sso.IDToken.PreferredUsername, sso.Account.HomeAccountID)
	}
	claims, firstClaims := jwtClaims(t, sso.IDToken.RawToken), jwtClaims(t, res.IDToken.RawToken)
	if claims["sid"] == "" || claims["sid"] != firstClaims["sid"] || claims["sid"] != p.Get("session_state") {
		t.Errorf("sid = %v, first sign-in's %v, session_state %q: want one per browser session", claims["sid"], firstClaims["sid"], p.Get("session_state"))
	}
	if lh, _ := claims["login_hint"].(string); lh == "" || strings.Contains(lh, "alice") {
		t.Errorf("login_hint = %q, want an opaque value", lh)
	}
	if st := env.em.Stats(); st[StatSignIns] != 1 || st[StatSingleSignOns] != 1 {
		t.Errorf("sign_ins %d, single_sign_ons %d; want 1 and 1", st[StatSignIns], st[StatSingleSignOns])
	}
	// Another browser has no session: the form.
	env.browser = env.newBrowser()
	page200(t, env.get(env.msalAuthURL(second, appScopes, nil)), `name="loginfmt"`)
}

func TestAccountPickerWithTwoAccounts(t *testing.T) {
	env := newEnv(t, nil)
	app := env.msal()
	// No account yet: select_account shows the form.
	page200(t, env.get(env.msalAuthURL(app, appScopes, url.Values{"prompt": {"select_account"}})), `name="loginfmt"`)
	env.redeem(app, env.msalSignIn(context.Background(), app, appScopes, "alice@demo.test", "alice-password", true), []string{"User.Read"})
	// One account: select_account still asks.
	page200(t, env.get(env.msalAuthURL(app, appScopes, url.Values{"prompt": {"select_account"}})), `value="alice@demo.test"`)

	// "Use another account", then the admin's password: two accounts.
	authURL := env.msalAuthURL(app, appScopes, nil)
	codeFrom(t, env.get(authURL)) // one account: single sign-on
	authURL = env.msalAuthURL(app, appScopes, url.Values{"prompt": {"select_account"}})
	page200(t, env.postForm(authURL, url.Values{"account": {""}}), `name="loginfmt"`, `name="passwd"`)
	codeFrom(t, env.signIn(authURL, "admin@demo.test", "admin-password"))

	for _, prompt := range []string{"", "select_account"} {
		authURL = env.msalAuthURL(app, appScopes, url.Values{"prompt": {prompt}})
		if prompt == "" {
			authURL = env.msalAuthURL(app, appScopes, nil)
		}
		body := page200(t, env.get(authURL), "<h1>Pick an account</h1>",
			`<button type="submit" name="account" value="admin@demo.test"`,
			`<button type="submit" name="account" value="alice@demo.test"`,
			`<button type="submit" name="account" value=""`, "Use another account", "Ada Admin", "Alice Smith")
		if strings.Index(body, `value="admin@demo.test"`) > strings.Index(body, `value="alice@demo.test"`) {
			t.Error("picker does not list the most recent account first")
		}
	}
	before := env.em.Stats()[StatSignIns]
	res := env.redeem(app, codeFrom(t, env.postForm(authURL, url.Values{"account": {"alice@demo.test"}})), []string{"User.Read"})
	if res.IDToken.PreferredUsername != "alice@demo.test" {
		t.Errorf("picked alice, signed in %q", res.IDToken.PreferredUsername)
	}
	if env.em.Stats()[StatSignIns] != before {
		t.Error("picking a signed-in account asked for a password")
	}
	// A name this browser is not signed in with gets the form, filled in.
	page200(t, env.postForm(authURL, url.Values{"account": {"mallory@demo.test"}}), `name="passwd"`, `value="mallory@demo.test"`)

	// login_hint picks a signed-in account without the picker, whether a
	// username or the ID token's login_hint claim...
	for _, hint := range []string{"ADMIN@demo.test", str(jwtClaims(t, res.IDToken.RawToken), "login_hint")} {
		code := codeFrom(t, env.get(env.msalAuthURL(app, appScopes, url.Values{"login_hint": {hint}})))
		if got := env.redeem(env.msal(), code, []string{"User.Read"}).IDToken.PreferredUsername; got != strings.ToLower(env.em.hintedUsername(hint)) {
			t.Errorf("login_hint %q signed in %q", hint, got)
		}
	}
	// ... and pre-fills the form for an account that is not signed in.
	page200(t, env.get(env.msalAuthURL(app, appScopes, url.Values{"login_hint": {"bob@demo.test"}})), `name="passwd"`, `value="bob@demo.test"`)
}

func TestPromptLoginAsksForThePassword(t *testing.T) {
	env := newEnv(t, nil)
	env.code(nil, "alice@demo.test", "alice-password")
	login := env.authorizeURL(url.Values{"prompt": {"login"}, "login_hint": {"alice@demo.test"}})
	page200(t, env.get(login), `name="passwd"`, `value="alice@demo.test"`)
	codeFrom(t, env.signIn(login, "alice@demo.test", "alice-password"))
	if st := env.em.Stats(); st[StatSignIns] != 2 || st[StatSingleSignOns] != 0 {
		t.Errorf("sign_ins %d, single_sign_ons %d; want 2 and 0", st[StatSignIns], st[StatSingleSignOns])
	}
	// The picker's form cannot skip the password that prompt=login asks for.
	page200(t, env.postForm(login, url.Values{"account": {"alice@demo.test"}}), `name="passwd"`)
	// The session still holds one account, now signed in again.
	codeFrom(t, env.get(env.authorizeURL(nil)))
}

func TestPromptNoneBothWays(t *testing.T) {
	env := newEnv(t, nil)
	silent := func(extra url.Values) url.Values {
		v := url.Values{"prompt": {"none"}}
		for k, x := range extra {
			v[k] = x
		}
		return v
	}
	wantRedirectError(t, env.get(env.authorizeURL(silent(nil))), "login_required", 50058, "state-123")
	env.code(nil, "alice@demo.test", "alice-password")
	codeFrom(t, env.get(env.authorizeURL(silent(nil))))
	codeFrom(t, env.get(env.authorizeURL(silent(url.Values{"login_hint": {"alice@demo.test"}}))))
	wantRedirectError(t, env.get(env.authorizeURL(silent(url.Values{"login_hint": {"admin@demo.test"}}))), "login_required", 50058, "state-123")
	// A permission nobody consented to cannot be granted silently.
	wantRedirectError(t, env.get(env.authorizeURL(silent(url.Values{"scope": {"openid profile offline_access Calendars.Read"}}))), "consent_required", 65001, "state-123")
	// Two accounts and no hint: which one is for the user to say.
	env.code(url.Values{"prompt": {"login"}}, "admin@demo.test", "admin-password")
	wantRedirectError(t, env.get(env.authorizeURL(silent(nil))), "interaction_required", 16000, "state-123")
	codeFrom(t, env.get(env.authorizeURL(silent(url.Values{"login_hint": {"admin@demo.test"}}))))
}

func TestInvalidPromptGoesBackToTheApp(t *testing.T) {
	env := newEnv(t, nil)
	for _, prompt := range []string{"create", "bogus", "login consent", "None"} {
		t.Run(prompt, func(t *testing.T) {
			wantRedirectError(t, env.get(env.authorizeURL(url.Values{"prompt": {prompt}})), "invalid_request", 90023, "state-123")
		})
	}
	t.Run("two prompt parameters", func(t *testing.T) {
		u := env.authorizeURL(url.Values{"prompt": {"login"}}) + "&prompt=consent"
		wantRedirectError(t, env.get(u), "invalid_request", 90023, "state-123")
	})
}

func TestConsentPage(t *testing.T) {
	env := newEnv(t, nil)
	app := env.msal()
	scopes := []string{"openid", "profile", "offline_access", "Calendars.Read"}
	authURL := env.msalAuthURL(app, scopes, nil)
	consent := func(resp *http.Response) string {
		t.Helper()
		body := page200(t, resp, "<h1>Permissions requested</h1>", "Read your calendars", "<code>Calendars.Read</code>",
			"alice@demo.test", `<button type="submit" name="action" value="accept"`, `<button type="submit" name="action" value="cancel"`)
		if strings.Contains(body, "User.Read") {
			t.Error("consent page lists User.Read, which the administrator consented to")
		}
		return flowOf(t, body)
	}

	t.Run("cancel", func(t *testing.T) {
		flow := consent(env.signIn(authURL, "alice@demo.test", "alice-password"))
		p := wantRedirectError(t, env.postForm(authURL, url.Values{"flow": {flow}, "action": {"cancel"}}), "access_denied", 65004, "msal-state")
		if p.Get("error_subcode") != "cancel" {
			t.Errorf("error_subcode = %q", p.Get("error_subcode"))
		}
		// Nothing was granted: the token endpoint still refuses.
		code := codeFrom(t, env.get(env.authorizeURL(nil))) // SSO, User.Read only
		form := codeForm(code, testVerifier)
		form.Set("scope", "Calendars.Read openid offline_access profile")
		status, body := env.token(form)
		wantAADError(t, status, body, http.StatusBadRequest, "invalid_grant", 65001)
	})

	t.Run("accept", func(t *testing.T) {
		flow := consent(env.get(authURL)) // signed in: straight to consent
		resp := env.postForm(authURL, url.Values{"flow": {flow}, "action": {"accept"}})
		res := env.redeem(app, codeFrom(t, resp), []string{"Calendars.Read"})
		if !strings.Contains(str(jwtClaims(t, res.AccessToken), "scp"), "Calendars.Read") {
			t.Errorf("scp = %v", jwtClaims(t, res.AccessToken)["scp"])
		}
		// The form cannot be sent twice.
		resp = env.postForm(authURL, url.Values{"flow": {flow}, "action": {"accept"}})
		if body := readBody(t, resp); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "AADSTS50089") {
			t.Errorf("replayed consent: %d %.300s", resp.StatusCode, body)
		}
		// The second visit needs no consent, and neither does a silent one.
		codeFrom(t, env.get(env.msalAuthURL(app, scopes, nil)))
		codeFrom(t, env.get(env.msalAuthURL(app, scopes, url.Values{"prompt": {"none"}})))
		if n := env.em.Stats()[StatConsents]; n != 1 {
			t.Errorf("consents = %d, want 1", n)
		}
		// Consent is per user: the admin is asked.
		other := env.newBrowser()
		env.browser, other = other, env.browser
		consentForAdmin := page200(t, env.signIn(authURL, "admin@demo.test", "admin-password"), "Read your calendars")
		flowOf(t, consentForAdmin)
		env.browser = other
	})

	t.Run("prompt=consent asks again", func(t *testing.T) {
		u := env.msalAuthURL(app, []string{"openid", "profile", "User.Read"}, url.Values{"prompt": {"consent"}})
		body := page200(t, env.get(u), "Sign you in and read your profile", "View your basic profile")
		codeFrom(t, env.postForm(u, url.Values{"flow": {flowOf(t, body)}, "action": {"accept"}}))
	})

	t.Run("a consent form from another browser", func(t *testing.T) {
		u := env.msalAuthURL(app, []string{"openid", "Mail.Read"}, nil)
		flow := flowOf(t, page200(t, env.get(u), "Read your mail"))
		// The other browser has an emulator session of its own.
		thief := env.newBrowser()
		resp, err := thief.PostForm(env.authorizeURL(nil), url.Values{"loginfmt": {"admin@demo.test"}, "passwd": {"admin-password"}})
		if err != nil {
			t.Fatal(err)
		}
		codeFrom(t, resp)
		resp, err = thief.PostForm(u, url.Values{"flow": {flow}, "action": {"accept"}})
		if err != nil {
			t.Fatal(err)
		}
		if body := readBody(t, resp); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "AADSTS50089") {
			t.Errorf("consent form posted from another browser: %d %.300s", resp.StatusCode, body)
		}
		// Nor into another authorization request of the same browser.
		resp = env.postForm(env.msalAuthURL(app, []string{"openid", "Files.Read"}, nil), url.Values{"flow": {flow}, "action": {"accept"}})
		if readBody(t, resp); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("consent form posted to another request: %d", resp.StatusCode)
		}
		if len(env.em.missingConsent("alice@demo.test", env.em.apps[0], grant{scp: []string{"Mail.Read", "Files.Read"}})) != 2 {
			t.Error("a misplaced consent form granted something")
		}
	})
}

func TestTokenEndpointAnswersConsentRequired(t *testing.T) {
	env := newEnv(t, nil)
	ctx := context.Background()
	app := env.msal()
	res := env.redeem(app, env.msalSignIn(ctx, app, appScopes, "alice@demo.test", "alice-password", true), []string{"User.Read"})

	// MSAL asks silently for a permission the user never granted: it has
	// no cached token for it, so it redeems the refresh token, and Entra
	// answers invalid_grant / AADSTS65001 / consent_required.
	acct, err := app.Account(ctx, res.Account.HomeAccountID)
	if err != nil {
		t.Fatal(err)
	}
	_, err = app.AcquireTokenSilent(ctx, []string{"Calendars.Read"}, confidential.WithSilentAccount(acct))
	if err == nil || !strings.Contains(err.Error(), `"suberror":"consent_required"`) || !strings.Contains(err.Error(), "AADSTS65001") {
		t.Fatalf("AcquireTokenSilent(Calendars.Read) err = %v, want Entra's consent_required body", err)
	}
	if env.em.Stats()[StatTokenRefreshToken] != 1 {
		t.Errorf("refresh grants = %d, want 1", env.em.Stats()[StatTokenRefreshToken])
	}

	// The same for a raw refresh grant and a code grant.
	status, tok := env.token(codeForm(env.code(nil, "alice@demo.test", "alice-password"), testVerifier))
	if status != http.StatusOK {
		t.Fatal(tok)
	}
	form := refreshForm(str(tok, "refresh_token"))
	form.Set("scope", "https://graph.microsoft.com/Calendars.Read openid offline_access profile")
	status, body := env.token(form)
	wantAADError(t, status, body, http.StatusBadRequest, "invalid_grant", 65001)
	if body["suberror"] != "consent_required" {
		t.Errorf("suberror = %v, want consent_required", body["suberror"])
	}
	form = codeForm(env.code(nil, "alice@demo.test", "alice-password"), testVerifier)
	form.Set("scope", "User.Read Calendars.Read openid offline_access profile")
	status, body = env.token(form)
	wantAADError(t, status, body, http.StatusBadRequest, "invalid_grant", 65001)

	// Once the user consents, the silent call works.
	env.em.recordConsent("alice@demo.test", env.em.apps[0], []string{"Calendars.Read"})
	if _, err := app.AcquireTokenSilent(ctx, []string{"Calendars.Read"}, confidential.WithSilentAccount(acct)); err != nil {
		t.Errorf("after consent: %v", err)
	}
}

func TestAdminConsented(t *testing.T) {
	t.Run("Calendars.Read for the tenant", func(t *testing.T) {
		env := newEnv(t, func(c *Config) {
			c.AdminConsented = []string{"User.Read", "https://graph.microsoft.com/Calendars.Read"}
		})
		codeFrom(t, env.signIn(env.authorizeURL(url.Values{"scope": {"openid Calendars.Read User.Read"}}), "alice@demo.test", "alice-password"))
	})
	t.Run("nothing, not even User.Read", func(t *testing.T) {
		env := newEnv(t, func(c *Config) { c.AdminConsented = []string{} })
		page200(t, env.signIn(env.authorizeURL(nil), "alice@demo.test", "alice-password"), "Sign you in and read your profile")
		// openid alone never needs consent.
		codeFrom(t, env.get(env.authorizeURL(url.Values{"scope": {"openid profile offline_access"}})))
	})
	t.Run("not a permission", func(t *testing.T) {
		if _, err := New(Config{AdminConsented: []string{"api://other/x"}, SigningKey: testutil.SigningKey()}); err == nil || !strings.Contains(err.Error(), "api://other/x") {
			t.Errorf("err = %v", err)
		}
	})
}

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestGraphEvents(t *testing.T) {
	env := newEnv(t, func(c *Config) { c.AdminConsented = []string{"User.Read", "Calendars.Read"} })
	events := func(token, query string) (int, map[string]any, http.Header) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, env.url("/v1.0/me/events")+query, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := env.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, decodeJSON(t, resp), resp.Header
	}
	form := codeForm(env.code(url.Values{"scope": {"openid profile offline_access Calendars.Read"}}, "alice@demo.test", "alice-password"), testVerifier)
	form.Set("scope", "Calendars.Read openid offline_access profile")
	status, tok := env.token(form)
	if status != http.StatusOK {
		t.Fatal(tok)
	}
	cal := str(tok, "access_token")

	status, body, _ := events(cal, "")
	values, _ := body["value"].([]any)
	if status != http.StatusOK || len(values) < 3 {
		t.Fatalf("/me/events = %d %v", status, body)
	}
	first := values[0].(map[string]any)
	for _, k := range []string{"@odata.etag", "id", "subject", "start", "end", "location", "organizer", "bodyPreview", "webLink"} {
		if _, ok := first[k]; !ok {
			t.Errorf("event lacks %s", k)
		}
	}
	if start := first["start"].(map[string]any); start["timeZone"] != "UTC" || !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.0000000$`).MatchString(start["dateTime"].(string)) {
		t.Errorf("start = %v, want Graph's dateTimeTimeZone", start)
	}

	status, body, _ = events(cal, "?$select=subject,start&$top=2")
	values, _ = body["value"].([]any)
	if status != http.StatusOK || len(values) != 2 {
		t.Fatalf("$top=2: %d %v", status, body)
	}
	var keys []string
	for k := range values[0].(map[string]any) {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if strings.Join(keys, ",") != "@odata.etag,id,start,subject" {
		t.Errorf("$select=subject,start gave %v", keys)
	}
	next, _ := body["@odata.nextLink"].(string)
	if !strings.Contains(next, "%24skip=2") || !strings.Contains(str(body, "@odata.context"), "/events(subject,start)") {
		t.Errorf("nextLink %q, context %q", next, str(body, "@odata.context"))
	}

	for _, q := range []string{"?$top=abc", "?$top=-1", "?$select=subject,nonsense", "?$filter=subject eq 'x'", "?$orderby=bodyPreview"} {
		status, body, _ := events(cal, strings.ReplaceAll(q, " ", "%20"))
		errObj, _ := body["error"].(map[string]any)
		if status != http.StatusBadRequest || errObj["message"] == "" {
			t.Errorf("%s: %d %v, want 400 with Graph's error JSON", q, status, body)
		}
	}

	// A token without a calendar permission: 403 with Graph's error JSON.
	userRead := str(env.tokens("alice@demo.test", "alice-password"), "access_token")
	status, body, hdr := events(userRead, "")
	errObj, _ := body["error"].(map[string]any)
	if status != http.StatusForbidden || errObj["code"] != "ErrorAccessDenied" || hdr.Get("request-id") == "" {
		t.Errorf("without Calendars.Read: %d %v", status, body)
	}
	if status, _, _ := events("not-a-jwt", ""); status != http.StatusUnauthorized {
		t.Errorf("garbage token: %d", status)
	}
	if n := env.em.Stats()[StatGraphEvents]; n != 9 {
		t.Errorf("graph_events = %d, want 9", n)
	}
}

func TestGraphEventsFromTheUsersFile(t *testing.T) {
	users := []User{
		{Username: "bob@x.test", Password: "bob-password", Name: "Bob", Events: []Event{
			{Subject: "Later", Start: mustTime("2030-01-02T10:00:00Z"), End: mustTime("2030-01-02T11:00:00Z")},
			{Subject: "Sooner", Start: mustTime("2030-01-01T08:30:00+01:00"), End: mustTime("2030-01-01T09:00:00+01:00"), Location: "Home"},
		}},
		{Username: "carol@x.test", Password: "carol-password", Events: []Event{}},
	}
	env := newEnv(t, func(c *Config) { c.Users = users; c.AdminConsented = []string{"Calendars.Read"} })
	for _, tc := range []struct {
		user, password string
		want           []string
	}{{"bob@x.test", "bob-password", []string{"Sooner", "Later"}}, {"carol@x.test", "carol-password", nil}} {
		env.browser = env.newBrowser()
		form := codeForm(env.code(url.Values{"scope": {"openid Calendars.Read"}}, tc.user, tc.password), testVerifier)
		form.Set("scope", "Calendars.Read")
		_, tok := env.token(form)
		req, _ := http.NewRequest(http.MethodGet, env.url("/v1.0/me/events?$select=subject,start"), nil)
		req.Header.Set("Authorization", "Bearer "+str(tok, "access_token"))
		resp, err := env.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body := decodeJSON(t, resp)
		var got []string
		for _, v := range body["value"].([]any) {
			got = append(got, v.(map[string]any)["subject"].(string))
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: events %v, want %v", tc.user, got, tc.want)
		}
		if tc.user == "bob@x.test" {
			if start := body["value"].([]any)[0].(map[string]any)["start"].(map[string]any); start["dateTime"] != "2030-01-01T07:30:00.0000000" {
				t.Errorf("start in UTC = %v", start)
			}
		}
	}
}
