// Several app registrations in one browser: single sign-on across apps,
// per-app consent, codes and tokens, and sign-out with front-channel logout.

package emulator

import (
	"context"
	"crypto/x509"
	"html"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"ms-identity-go-webapp/internal/testutil"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
)

// Two apps as the sign-out tests register them: different client IDs,
// secrets, origins and front-channel logout URLs (B's with a query of its
// own, which the emulator must keep).
var (
	appA = App{
		ClientID:              "c0ffee00-0000-4000-a000-0000000000a1",
		ClientSecret:          "secret-of-app-a",
		RedirectURIs:          []string{"https://localhost:5000/auth/redirect"},
		FrontChannelLogoutURL: "https://localhost:5000/auth/frontchannel-logout",
		DisplayName:           "App A",
	}
	appB = App{
		ClientID:              "c0ffee00-0000-4000-a000-0000000000b2",
		ClientSecret:          "secret-of-app-b",
		RedirectURIs:          []string{"https://127.0.0.1:5002/auth/redirect"},
		FrontChannelLogoutURL: "https://127.0.0.1:5002/auth/frontchannel-logout?instance=b",
	}
)

func newTwoAppEnv(t *testing.T) *testEnv {
	t.Helper()
	return newEnv(t, func(c *Config) { c.Apps = []App{appA, appB} })
}

// msalFor is an MSAL Go confidential client registered as app a.
func (env *testEnv) msalFor(a App) confidential.Client {
	env.t.Helper()
	cred, err := confidential.NewCredFromSecret(a.ClientSecret)
	if err != nil {
		env.t.Fatal(err)
	}
	c, err := confidential.New(env.em.Authority(env.srv.URL), a.ClientID, cred,
		confidential.WithInstanceDiscovery(false),
		confidential.WithHTTPClient(env.srv.Client()),
		confidential.WithAzureRegion("DisableMsalForceRegion"),
		confidential.WithCache(&memCache{}))
	if err != nil {
		env.t.Fatalf("confidential.New: %v", err)
	}
	return c
}

// appAuthURL is MSAL's AuthCodeURL for app a plus state, nonce and PKCE.
func (env *testEnv) appAuthURL(c confidential.Client, a App, scopes []string, extra url.Values) string {
	env.t.Helper()
	authURL, err := c.AuthCodeURL(context.Background(), a.ClientID, a.RedirectURIs[0], scopes)
	if err != nil {
		env.t.Fatalf("AuthCodeURL: %v", err)
	}
	u, _ := url.Parse(authURL)
	q := u.Query()
	q.Set("state", "state-"+a.ClientID)
	q.Set("nonce", "nonce-"+a.ClientID)
	q.Set("code_challenge", testChallenge)
	q.Set("code_challenge_method", "S256")
	for k, v := range extra {
		q[k] = v
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// appCode asserts a redirect to a's redirect URI with a code and its state.
func appCode(t *testing.T, resp *http.Response, a App) string {
	t.Helper()
	p := redirectParams(t, resp, a.RedirectURIs[0])
	if p.Get("code") == "" || p.Get("state") != "state-"+a.ClientID || p.Has("error") {
		t.Fatalf("redirect to %s: %v, want a code and its state", a.ClientID, p)
	}
	return p.Get("code")
}

func (env *testEnv) redeemFor(c confidential.Client, a App, code string) confidential.AuthResult {
	env.t.Helper()
	res, err := c.AcquireTokenByAuthCode(context.Background(), code, a.RedirectURIs[0], []string{"User.Read"}, confidential.WithChallenge(testVerifier))
	if err != nil {
		env.t.Fatalf("AcquireTokenByAuthCode for %s: %v", a.ClientID, err)
	}
	return res
}

// signInBoth signs alice in to app A with her password and to app B by
// single sign-on, and returns both token results.
func (env *testEnv) signInBoth(t *testing.T) (a, b confidential.AuthResult) {
	t.Helper()
	msalA, msalB := env.msalFor(appA), env.msalFor(appB)
	authA := env.appAuthURL(msalA, appA, appScopes, nil)
	page200(t, env.get(authA), `name="loginfmt"`)
	a = env.redeemFor(msalA, appA, appCode(t, env.signIn(authA, "alice@demo.test", "alice-password"), appA))
	b = env.redeemFor(msalB, appB, appCode(t, env.get(env.appAuthURL(msalB, appB, appScopes, nil)), appB))
	return a, b
}

func TestSecondAppSignsInBySingleSignOn(t *testing.T) {
	env := newTwoAppEnv(t)
	a, b := env.signInBoth(t)

	if st := env.em.Stats(); st[StatSignIns] != 1 || st[StatSingleSignOns] != 1 {
		t.Errorf("sign_ins %d, single_sign_ons %d; want 1 password sign-in and 1 single sign-on", st[StatSignIns], st[StatSingleSignOns])
	}
	if b.IDToken.PreferredUsername != "alice@demo.test" {
		t.Errorf("app B signed in %q, want alice", b.IDToken.PreferredUsername)
	}
	idA, idB := jwtClaims(t, a.IDToken.RawToken), jwtClaims(t, b.IDToken.RawToken)
	atA, atB := jwtClaims(t, a.AccessToken), jwtClaims(t, b.AccessToken)
	for _, c := range []struct {
		name      string
		got, want string
	}{
		{"A's ID token aud", str(idA, "aud"), appA.ClientID},
		{"B's ID token aud", str(idB, "aud"), appB.ClientID},
		{"A's access token appid", str(atA, "appid"), appA.ClientID},
		{"B's access token appid", str(atB, "appid"), appB.ClientID},
		{"A's app_displayname", str(atA, "app_displayname"), "App A"},
		{"B's app_displayname", str(atB, "app_displayname"), appDisplayName},
		{"B's sid", str(idB, "sid"), str(idA, "sid")}, // one browser session
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if str(idA, "sub") == str(idB, "sub") {
		t.Error("both apps got the same sub: Entra's sub is pairwise, per app")
	}
	if str(idA, "sid") == "" {
		t.Error("ID token has no sid")
	}
}

func TestConsentIsPerApp(t *testing.T) {
	env := newTwoAppEnv(t)
	scopes := []string{"openid", "profile", "offline_access", "Calendars.Read"}
	msalA, msalB := env.msalFor(appA), env.msalFor(appB)

	authA := env.appAuthURL(msalA, appA, scopes, nil)
	body := page200(t, env.signIn(authA, "alice@demo.test", "alice-password"), "Permissions requested", "App A", "Read your calendars")
	appCode(t, env.postForm(authA, url.Values{"flow": {flowOf(t, body)}, "action": {"accept"}}), appA)

	// Alice's consent to app A is not consent to app B: B asks again,
	// though single sign-on skips the password.
	authB := env.appAuthURL(msalB, appB, scopes, nil)
	body = page200(t, env.get(authB), "Permissions requested", appDisplayName, appB.ClientID, "Read your calendars")
	appCode(t, env.postForm(authB, url.Values{"flow": {flowOf(t, body)}, "action": {"accept"}}), appB)
	// And app A, asked again, does not.
	appCode(t, env.get(env.appAuthURL(msalA, appA, scopes, nil)), appA)
	if n := env.em.Stats()[StatConsents]; n != 2 {
		t.Errorf("consents = %d, want one per app", n)
	}
}

func TestCodeAndRefreshTokenBelongToOneApp(t *testing.T) {
	env := newTwoAppEnv(t)
	msalA, msalB := env.msalFor(appA), env.msalFor(appB)
	authA := env.appAuthURL(msalA, appA, appScopes, nil)
	code := appCode(t, env.signIn(authA, "alice@demo.test", "alice-password"), appA)

	form := func(a App, redirect string) url.Values {
		f := codeForm(code, testVerifier)
		f.Set("client_id", a.ClientID)
		f.Set("client_secret", a.ClientSecret)
		f.Set("redirect_uri", redirect)
		return f
	}
	// App B, with its own secret, at its own or at A's redirect URI.
	for _, redirect := range []string{appB.RedirectURIs[0], appA.RedirectURIs[0]} {
		status, body := env.token(form(appB, redirect))
		wantAADError(t, status, body, http.StatusBadRequest, "invalid_grant", 70000)
	}
	// MSAL as app B gets the same refusal.
	if _, err := msalB.AcquireTokenByAuthCode(context.Background(), code, appB.RedirectURIs[0], []string{"User.Read"}, confidential.WithChallenge(testVerifier)); err == nil || !strings.Contains(err.Error(), "AADSTS70000") {
		t.Errorf("MSAL as app B redeemed app A's code: err = %v", err)
	}
	// App A's client ID with app B's secret is no client at all.
	f := form(appA, appA.RedirectURIs[0])
	f.Set("client_secret", appB.ClientSecret)
	status, body := env.token(f)
	wantAADError(t, status, body, http.StatusUnauthorized, "invalid_client", 7000215)

	// The refusals did not use the code up: app A still redeems it.
	res := env.redeemFor(msalA, appA, code)
	if aud := str(jwtClaims(t, res.IDToken.RawToken), "aud"); aud != appA.ClientID {
		t.Errorf("aud = %q, want app A", aud)
	}

	// App A's refresh token is refused for app B, and works for app A.
	status, tok := env.token(form(appA, appA.RedirectURIs[0]))
	if status == http.StatusOK {
		t.Fatalf("code redeemed twice: %v", tok)
	}
	code = appCode(t, env.get(env.appAuthURL(msalA, appA, appScopes, nil)), appA)
	status, tok = env.token(form(appA, appA.RedirectURIs[0]))
	if status != http.StatusOK {
		t.Fatalf("redeem: %d %v", status, tok)
	}
	rf := refreshForm(str(tok, "refresh_token"))
	rf.Set("client_id", appB.ClientID)
	rf.Set("client_secret", appB.ClientSecret)
	status, body = env.token(rf)
	wantAADError(t, status, body, http.StatusBadRequest, "invalid_grant", 70000)
	rf.Set("client_id", appA.ClientID)
	rf.Set("client_secret", appA.ClientSecret)
	if status, body = env.token(rf); status != http.StatusOK || str(jwtClaims(t, str(body, "access_token")), "appid") != appA.ClientID {
		t.Errorf("app A's refresh: %d %v", status, body)
	}
	// And app B's redirect URI is not app A's to use.
	resp := env.get(env.appAuthURL(msalA, appA, appScopes, url.Values{"redirect_uri": {appB.RedirectURIs[0]}}))
	if body := readBody(t, resp); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "AADSTS50011") {
		t.Errorf("app A with app B's redirect URI: %d %.300s", resp.StatusCode, body)
	}
}

var (
	frameSrc    = regexp.MustCompile(`<iframe class="frontchannel" src="([^"]+)"[^>]*\shidden>`)
	metaRefresh = regexp.MustCompile(`<meta http-equiv="refresh" content="(\d+);url=([^"]+)">`)
	hrefAttr    = regexp.MustCompile(`<a href="([^"]+)"`)
)

// links returns the URLs of a page's links.
func links(body string) []string {
	var out []string
	for _, m := range hrefAttr.FindAllStringSubmatch(body, -1) {
		out = append(out, html.UnescapeString(m[1]))
	}
	return out
}

// frames returns the front-channel logout iframes' URLs on a page.
func frames(body string) []string {
	var out []string
	for _, m := range frameSrc.FindAllStringSubmatch(body, -1) {
		out = append(out, html.UnescapeString(m[1]))
	}
	return out
}

func (env *testEnv) logout(q url.Values) *http.Response {
	env.t.Helper()
	return env.get(env.tenantPath("/oauth2/v2.0/logout") + "?" + q.Encode())
}

func TestLogoutLoadsEveryAppsFrontChannelURL(t *testing.T) {
	env := newTwoAppEnv(t)
	a, _ := env.signInBoth(t)
	idA := jwtClaims(t, a.IDToken.RawToken)
	sid := str(idA, "sid")

	resp := env.logout(url.Values{
		"post_logout_redirect_uri": {"https://localhost:5000/"},
		"logout_hint":              {str(idA, "login_hint")},
		"state":                    {"bye now"},
	})
	body := page200(t, resp, "You signed out of the emulator", "<code>alice@demo.test</code>")

	wantFrames := []string{
		"https://localhost:5000/auth/frontchannel-logout?sid=" + sid,
		"https://127.0.0.1:5002/auth/frontchannel-logout?instance=b&sid=" + sid,
	}
	if got := frames(body); strings.Join(got, " ") != strings.Join(wantFrames, " ") {
		t.Errorf("iframes = %q, want %q", got, wantFrames)
	}
	if strings.Contains(body, "iss=") {
		t.Error("front-channel URL carries iss; Entra sends sid only")
	}
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "; frame-src https://localhost:5000 https://127.0.0.1:5002; ") {
		t.Errorf("CSP = %q, want frame-src listing exactly the two apps' origins", csp)
	}
	for _, want := range []string{"default-src 'none'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP = %q lacks %s", csp, want)
		}
	}
	const back = "https://localhost:5000/?state=bye+now"
	m := metaRefresh.FindStringSubmatch(body)
	if m == nil || m[1] != "2" || html.UnescapeString(m[2]) != back {
		t.Errorf("meta refresh = %q, want 2 seconds to %s", m, back)
	}
	if !slices.Contains(links(body), back) {
		t.Errorf("no link back to %s among %q", back, links(body))
	}
	if n := env.em.Stats()[StatFrontChannelLogouts]; n != 2 {
		t.Errorf("frontchannel_logouts = %d, want 2", n)
	}

	// Single sign-on no longer answers, for either app.
	msalA, msalB := env.msalFor(appA), env.msalFor(appB)
	signin := env.get(env.appAuthURL(msalA, appA, appScopes, nil))
	page200(t, signin, `name="loginfmt"`)
	if csp := signin.Header.Get("Content-Security-Policy"); strings.Contains(csp, "frame-src") {
		t.Errorf("sign-in page allows frames: %q", csp)
	}
	p := redirectParams(t, env.get(env.appAuthURL(msalB, appB, appScopes, url.Values{"prompt": {"none"}})), appB.RedirectURIs[0])
	if p.Get("error") != "login_required" {
		t.Errorf("prompt=none after sign-out: %v, want login_required", p)
	}

	// A second sign-out has nothing left to sign out: straight back.
	resp = env.logout(url.Values{"post_logout_redirect_uri": {"https://127.0.0.1:5002/"}, "state": {"s"}})
	if readBody(t, resp); resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "https://127.0.0.1:5002/?state=s" {
		t.Errorf("second sign-out: %d to %q, want 302 to app B with state", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestLogoutHintSignsOutOneAccount(t *testing.T) {
	env := newTwoAppEnv(t)
	msalA, msalB := env.msalFor(appA), env.msalFor(appB)
	// Alice in app A, then the admin in app B (prompt=login: the password
	// form although alice is signed in): two accounts in one browser.
	authA := env.appAuthURL(msalA, appA, appScopes, nil)
	env.redeemFor(msalA, appA, appCode(t, env.signIn(authA, "alice@demo.test", "alice-password"), appA))
	authB := env.appAuthURL(msalB, appB, appScopes, url.Values{"prompt": {"login"}})
	admin := env.redeemFor(msalB, appB, appCode(t, env.signIn(authB, "admin@demo.test", "admin-password"), appB))
	idAdmin := jwtClaims(t, admin.IDToken.RawToken)

	// logout_hint names the admin: only the admin leaves, without a
	// question, and only app B, which the admin used, hears of it.
	body := page200(t, env.logout(url.Values{"logout_hint": {str(idAdmin, "login_hint")}}), "<code>admin@demo.test</code>")
	if strings.Contains(body, "alice@demo.test") {
		t.Error("the admin's sign-out signed alice out too")
	}
	if got := frames(body); len(got) != 1 || !strings.HasPrefix(got[0], "https://127.0.0.1:5002/") || !strings.HasSuffix(got[0], "sid="+str(idAdmin, "sid")) {
		t.Errorf("iframes = %q, want app B's alone", got)
	}
	if metaRefresh.MatchString(body) {
		t.Error("no post_logout_redirect_uri, yet the page moves on")
	}
	// Alice is still signed in: app A gets her code by single sign-on,
	// and the admin's hint now leads to the password form.
	before := env.em.Stats()[StatSignIns]
	if res := env.redeemFor(msalA, appA, appCode(t, env.get(env.appAuthURL(msalA, appA, appScopes, nil)), appA)); res.IDToken.PreferredUsername != "alice@demo.test" {
		t.Errorf("single sign-on after the admin left: %q", res.IDToken.PreferredUsername)
	}
	page200(t, env.get(env.appAuthURL(msalB, appB, appScopes, url.Values{"login_hint": {"admin@demo.test"}})), `name="passwd"`, `value="admin@demo.test"`)
	if env.em.Stats()[StatSignIns] != before {
		t.Error("a password was needed for alice")
	}

	// Without a hint, every account left goes: alice, and app A with her.
	body = page200(t, env.logout(nil), "<code>alice@demo.test</code>")
	if got := frames(body); len(got) != 1 || !strings.HasPrefix(got[0], "https://localhost:5000/") {
		t.Errorf("iframes = %q, want app A's alone", got)
	}
	page200(t, env.get(env.appAuthURL(msalA, appA, appScopes, nil)), `name="loginfmt"`)
	if n := env.em.Stats()[StatFrontChannelLogouts]; n != 2 {
		t.Errorf("frontchannel_logouts = %d, want 2", n)
	}
}

func TestLogoutRefusesUnregisteredReturnAddress(t *testing.T) {
	for _, target := range []string{
		"https://evil.example/",
		"https://localhost:5001/",  // the right host, another port
		"http://localhost:5000/",   // the right host and port, not https
		"//localhost:5000/",        // not absolute
		"javascript:alert(1)//x/a", // not a web address at all
	} {
		t.Run(target, func(t *testing.T) {
			env := newTwoAppEnv(t)
			env.signInBoth(t)
			resp := env.logout(url.Values{"post_logout_redirect_uri": {target}, "state": {"s"}})
			body := readBody(t, resp)
			if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
				t.Errorf("status %d, Location %q; want 400 and no redirect", resp.StatusCode, resp.Header.Get("Location"))
			}
			if !strings.Contains(body, "did not go there") || metaRefresh.MatchString(body) || slices.Contains(links(body), target) {
				t.Errorf("page does not refuse %s plainly: %.600s", target, body)
			}
			// The user asked to sign out: that still happens, apps included.
			if got := frames(body); len(got) != 2 {
				t.Errorf("iframes = %q, want both apps'", got)
			}
			p := redirectParams(t, env.get(env.appAuthURL(env.msalFor(appA), appA, appScopes, url.Values{"prompt": {"none"}})), appA.RedirectURIs[0])
			if p.Get("error") != "login_required" {
				t.Errorf("still signed in after the sign-out: %v", p)
			}
		})
	}
}

func TestAppsConfiguration(t *testing.T) {
	bad := []struct {
		name string
		cfg  Config
		want string
	}{
		{"apps and single-app fields", Config{Apps: []App{appA}, ClientID: "x"}, "not both"},
		{"duplicate client ID", Config{Apps: []App{appA, {ClientID: strings.ToUpper(appA.ClientID), ClientSecret: "s", RedirectURIs: appB.RedirectURIs}}}, "app #2: duplicate client_id"},
		{"no client ID", Config{Apps: []App{{ClientSecret: "s", RedirectURIs: appA.RedirectURIs}}}, "app #1: client_id is empty"},
		{"no secret", Config{Apps: []App{appA, {ClientID: "b", RedirectURIs: appA.RedirectURIs}}}, "app #2: client_secret"},
		{"no redirect URI", Config{Apps: []App{{ClientID: "b", ClientSecret: "s"}}}, "redirect_uris"},
		{"bad redirect URI", Config{Apps: []App{{ClientID: "b", ClientSecret: "s", RedirectURIs: []string{"http://example.com/cb"}}}}, "redirect_uris of b"},
		{"http logout URL", Config{FrontChannelLogoutURL: "http://example.com/logout"}, "front-channel logout URL"},
		{"logout URL with a fragment", Config{Apps: []App{{ClientID: "b", ClientSecret: "s", RedirectURIs: appA.RedirectURIs, FrontChannelLogoutURL: "https://localhost/x#y"}}}, "front_channel_logout_url of b"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one mentioning %q", err, tc.want)
			}
		})
	}

	env := newEnv(t, func(c *Config) { c.FrontChannelLogoutURL = "https://localhost:5000/auth/frontchannel-logout" })
	apps := env.em.Apps()
	if len(apps) != 1 || apps[0].ClientID != DemoClientID || apps[0].ClientSecret != DemoClientSecret ||
		strings.Join(apps[0].RedirectURIs, " ") != strings.Join(DemoRedirectURIs, " ") || apps[0].FrontChannelLogoutURL == "" {
		t.Errorf("single-app shorthand = %+v", apps)
	}
	env = newTwoAppEnv(t)
	body := page200(t, env.get(env.url("/")), appA.ClientID, appB.ClientID, appA.FrontChannelLogoutURL, html.EscapeString(appB.FrontChannelLogoutURL), appB.RedirectURIs[0])
	if strings.Contains(body, DemoClientID) {
		t.Error("the demo app is registered beside the configured apps")
	}
	if env.em.ClientID() != appA.ClientID {
		t.Errorf("ClientID() = %s, want the first app's", env.em.ClientID())
	}
}

func TestLoadApps(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.json", `[
	  {"client_id": "app-a", "client_secret": "a", "redirect_uris": ["https://localhost:5000/auth/redirect"],
	   "front_channel_logout_url": "https://localhost:5000/auth/frontchannel-logout"},
	  {"client_id": "app-b", "client_secret": "b", "redirect_uris": ["https://localhost:5002/auth/redirect"]}
	]`)
	apps, err := LoadApps(good)
	if err != nil || len(apps) != 2 || apps[0].FrontChannelLogoutURL == "" || apps[1].RedirectURIs[0] != "https://localhost:5002/auth/redirect" {
		t.Fatalf("LoadApps = %+v, %v", apps, err)
	}
	for _, tc := range []struct{ name, data, want string }{
		{"not JSON", `{`, "is not a JSON list of apps"},
		{"unknown field", `[{"client_id": "a", "client_secret": "s", "redirect_uri": "https://localhost/cb"}]`, `unknown field "redirect_uri"`},
		{"empty list", `[]`, "lists no app"},
		{"missing secret", `[{"client_id": "a", "redirect_uris": ["https://localhost/cb"]}]`, "app #1: client_secret of a is empty"},
		{"bad logout URL", `[{"client_id": "a", "client_secret": "s", "redirect_uris": ["https://localhost/cb"], "front_channel_logout_url": "ftp://x/"}]`, "front_channel_logout_url of a"},
		{"trailing data", `[] []`, "data after"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := write(strings.ReplaceAll(tc.name, " ", "_")+".json", tc.data)
			_, err := LoadApps(path)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("err = %v, want one naming %s and mentioning %q", err, path, tc.want)
			}
		})
	}
	if _, err := LoadApps(filepath.Join(dir, "nope.json")); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("missing file: %v", err)
	}
}

func TestCredentialsBelongToTheirApp(t *testing.T) {
	const subject = "system:serviceaccount:web:app-b"
	cert := testutil.NewClientCert(t, nil, "app A's certificate", time.Now().Add(24*time.Hour))
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.crt"), cert.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	appsFile := filepath.Join(dir, "apps.json")
	os.WriteFile(appsFile, []byte(`[
	  {"client_id": "`+appA.ClientID+`", "redirect_uris": ["`+appA.RedirectURIs[0]+`"], "client_certificates": ["a.crt"]},
	  {"client_id": "`+appB.ClientID+`", "client_secret": "`+appB.ClientSecret+`", "redirect_uris": ["`+appB.RedirectURIs[0]+`"],
	   "federated_subjects": ["`+subject+`"]}
	]`), 0o600)
	apps, err := LoadApps(appsFile)
	if err != nil {
		t.Fatal(err)
	}
	if len(apps[0].ClientCertificates) != 1 || !apps[0].ClientCertificates[0].Equal(cert.Cert) || len(apps[1].ClientCertificates) != 0 {
		t.Fatalf("certificates = %v, %v; want a.crt for app A only", apps[0].ClientCertificates, apps[1].ClientCertificates)
	}
	env := newEnv(t, func(c *Config) { c.Apps = apps })
	signedIn := false
	codeFor := func(a App) string {
		authURL := env.authorizeURL(url.Values{"client_id": {a.ClientID}, "redirect_uri": {a.RedirectURIs[0]}, "state": {"state-" + a.ClientID}})
		if !signedIn {
			signedIn = true
			return appCode(t, env.signIn(authURL, "alice@demo.test", "alice-password"), a)
		}
		return appCode(t, env.get(authURL), a) // single sign-on
	}

	// App A signs in with its certificate through MSAL Go.
	cred, err := confidential.NewCredFromCert([]*x509.Certificate{cert.Cert}, cert.Key)
	if err != nil {
		t.Fatal(err)
	}
	msalA, err := confidential.New(env.em.Authority(env.srv.URL), appA.ClientID, cred,
		confidential.WithInstanceDiscovery(false), confidential.WithHTTPClient(env.srv.Client()),
		confidential.WithAzureRegion("DisableMsalForceRegion"), confidential.WithCache(&memCache{}))
	if err != nil {
		t.Fatal(err)
	}
	if res := env.redeemFor(msalA, appA, codeFor(appA)); str(jwtClaims(t, res.AccessToken), "appid") != appA.ClientID {
		t.Errorf("appid = %q, want app A", str(jwtClaims(t, res.AccessToken), "appid"))
	}
	// App A has no secret: none is accepted, not even app B's.
	f := codeForm(codeFor(appA), testVerifier)
	f.Set("client_id", appA.ClientID)
	f.Set("redirect_uri", appA.RedirectURIs[0])
	f.Set("client_secret", appB.ClientSecret)
	status, body := env.token(f)
	wantAADError(t, status, body, http.StatusUnauthorized, "invalid_client", 7000215)

	// App A's certificate does not authenticate app B.
	assertion := env.msalGoAssertion(cert, func(_, c map[string]any) { c["iss"], c["sub"] = appB.ClientID, appB.ClientID })
	f = assertionForm(codeFor(appB), assertion)
	f.Set("client_id", appB.ClientID)
	f.Set("redirect_uri", appB.RedirectURIs[0])
	status, body = env.token(f)
	wantAADError(t, status, body, http.StatusUnauthorized, "invalid_client", 700027)

	// App B's federated credential works for app B, and not for app A.
	token := env.workloadToken(url.Values{"subject": {subject}})
	f.Set("client_assertion", token)
	if status, body = env.token(f); status != http.StatusOK || str(jwtClaims(t, str(body, "access_token")), "appid") != appB.ClientID {
		t.Errorf("app B with its federated token: %d %v", status, body)
	}
	f = assertionForm(codeFor(appA), token)
	f.Set("client_id", appA.ClientID)
	f.Set("redirect_uri", appA.RedirectURIs[0])
	status, body = env.token(f)
	wantAADError(t, status, body, http.StatusUnauthorized, "invalid_client", 700211)
}
