// Browser tests: a person's walk through the app in headless Chromium, over
// HTTPS against the emulator, looking at every page. Without Chromium (or
// without `npm ci`) they skip, unless REQUIRE_BROWSER=1 as in CI.
//
// The same walk takes the docs' screenshots:
//
//	go test -run TestBrowser ./e2e -screenshots

package e2e

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/chromedp/cdproto/network"

	"ms-identity-go-webapp/emulator"
)

func TestBrowser(t *testing.T) {
	env := newTestEnv(t)
	// Every app the browser visits starts before the browser, so that the
	// browser has exited when they shut down: a connection Chromium still
	// holds would keep a graceful shutdown waiting.
	unconfigured := newUnconfiguredApp(t).URL
	tab := newChromeTab(t, env)
	app := env.appURL
	authorize := env.emuURL + "/" + emulator.DefaultTenant + "/oauth2/v2.0/authorize?"

	// A visitor arrives, signed out.
	tab.see(tab.open(app+"/"), pageWant{
		name: "home-signed-out", url: app + "/", status: http.StatusOK, heading: "Microsoft Entra ID sign-in sample",
		texts: []string{"You're not signed in.", "Sign in", "/graph — Call Microsoft Graph /me"},
	})
	if c := tab.cookie(app, "__Host-session"); c != nil {
		t.Errorf("a visitor who only looked got a session cookie: %+v", c)
	}

	// Sign in as the plain user: the home page's button, the login page,
	// then the emulator's form.
	tab.see(tab.click(`main a[href="/login"]`), pageWant{
		name: "login", url: app + "/login", status: http.StatusOK, heading: "Sign in",
		texts: []string{"Sign in with Microsoft", "The app never sees your password"},
	})
	tab.see(tab.click(`a.button-primary`), pageWant{
		name: "emulator-sign-in", urlPrefix: authorize, status: http.StatusOK, heading: "Sign in",
		texts: []string{"Local Entra ID emulator — not Microsoft.", "Email or username", "Password", "User.Read"},
	})
	tab.fill(`#loginfmt`, "alice@demo.test")
	tab.fill(`#passwd`, "alice-password")
	tab.see(tab.click(`button[value="signin"]`), pageWant{
		name: "home-signed-in", url: app + "/", status: http.StatusOK, heading: "Microsoft Entra ID sign-in sample",
		texts:  []string{"You're signed in, Alice Smith!", "Signed in as alice@demo.test.", "Hello Alice Smith!", "Sign out"},
		hidden: []string{"You're not signed in."},
	})
	checkSessionCookieInBrowser(t, tab, app)

	// Graph /me, called with the signed-in user's token.
	tab.see(tab.click(`a[href="/graph"]`), pageWant{
		name: "graph", url: app + "/graph", status: http.StatusOK, heading: "Microsoft Graph /me",
		texts: []string{`"displayName": "Alice Smith"`, `"userPrincipalName": "alice@demo.test"`,
			"The cached access token stays valid for another", "Hello Alice Smith!"},
	})
	tab.click(`a[href="/"]`)
	tab.see(tab.click(`a[href="/token_details"]`), pageWant{
		name: "token-details", url: app + "/token_details", status: http.StatusOK, heading: "ID token claims",
		texts: []string{"preferred_username", "alice@demo.test", "Alice Smith", "nonce"},
	})
	tab.click(`main a[href="/"]`)

	// No admin role: the admin page says so.
	tab.see(tab.click(`a[href="/admin"]`), pageWant{
		name: "admin-forbidden", url: app + "/admin", status: http.StatusForbidden, heading: "User is missing a required role.",
		texts:  []string{"ERROR 403", `This page needs the "admin" app role.`, "Enterprise applications"},
		hidden: []string{"You have the admin app role."},
	})

	// Sign out: the app, then the emulator's end-session endpoint, then home.
	tab.see(tab.click(signOutButton), pageWant{
		name: "home-signed-out", url: app + "/", status: http.StatusOK, heading: "Microsoft Entra ID sign-in sample",
		texts:  []string{"You're not signed in."},
		hidden: []string{"Alice Smith"},
	})

	// Sign in as the admin straight from the admin link: the sign-in starts
	// there and comes back to it.
	tab.see(tab.click(`a[href="/admin"]`), pageWant{
		name: "emulator-sign-in", urlPrefix: authorize, status: http.StatusOK, heading: "Sign in",
		texts: []string{"Local Entra ID emulator — not Microsoft."},
	})
	// A mistyped password: the form again, with the error, and the
	// username kept.
	tab.fill(`#loginfmt`, "admin@demo.test")
	tab.fill(`#passwd`, "not-the-password")
	tab.see(tab.click(`button[value="signin"]`), pageWant{
		name: "emulator-sign-in-wrong-password", urlPrefix: authorize, status: http.StatusOK, heading: "Sign in",
		texts:          []string{"Your account or password is incorrect.", "AADSTS50126"},
		skipScreenshot: true,
	})
	if kept := eval[string](tab, `document.querySelector("#loginfmt").value`); kept != "admin@demo.test" {
		t.Errorf("after a wrong password the username field holds %q", kept)
	}
	tab.fill(`#passwd`, "admin-password")
	tab.see(tab.click(`button[value="signin"]`), pageWant{
		name: "admin", url: app + "/admin", status: http.StatusOK, heading: "Admin",
		texts: []string{"You have the admin app role.", "Hello Ada Admin!", "roles", "admin@demo.test"},
	})
	checkSessionCookieInBrowser(t, tab, app)
	tab.click(signOutButton)

	// Cancel on the emulator's form: the app shows the provider's error.
	tab.click(`main a[href="/login"]`)
	tab.click(`a.button-primary`)
	tab.see(tab.click(`button[value="cancel"]`), pageWant{
		name: "auth-error", urlPrefix: app + "/auth/redirect?error=access_denied", status: http.StatusBadRequest, heading: "Sign-in failed",
		texts:  []string{"access_denied", "AADSTS65004: User declined to consent", "Try signing in again"},
		hidden: []string{"sign-in failed:"}, // the error code, not Go's error string
	})
	if code := eval[string](tab, `document.querySelector(".details dd code").innerText`); code != "access_denied" {
		t.Errorf("auth-error: the Error row shows %q, want the provider's code access_denied", code)
	}
	if u, err := url.Parse(tab.location()); err != nil || u.Query().Has("code") {
		t.Errorf("a cancelled sign-in came back with a code: %v %v", u, err)
	}

	// A sign-in request with a redirect URI the registration lacks: the
	// emulator, like Entra ID, stops there and does not return to the app.
	wrongRedirect := authorize + url.Values{
		"client_id": {emulator.DemoClientID}, "response_type": {"code"}, "scope": {"openid"},
		"redirect_uri": {"https://127.0.0.1:1/auth/redirect"},
	}.Encode()
	tab.see(tab.open(wrongRedirect), pageWant{
		name: "emulator-redirect-uri-mismatch", url: wrongRedirect, status: http.StatusBadRequest,
		heading: "Sorry, but we’re having trouble signing you in.",
		texts:   []string{"AADSTS50011", "The redirect URI"},
	})

	// An address that does not exist.
	tab.see(tab.open(app+"/no-such-page"), pageWant{
		name: "not-found", url: app + "/no-such-page", status: http.StatusNotFound, heading: "Page not found",
		texts: []string{"ERROR 404", "There is no page at this address.", "Back to home"},
	})

	// The app without its registration settings explains what to set.
	tab.see(tab.open(unconfigured+"/"), pageWant{
		name: "config-error", url: unconfigured + "/", status: http.StatusServiceUnavailable, heading: "Configuration needed",
		texts: []string{"CLIENT_ID is not set", "CLIENT_SECRET is not set", "./run.dev.sh --demo"},
	})
}

// checkSessionCookieInBrowser checks the session cookie as Chromium stored it.
func checkSessionCookieInBrowser(t *testing.T, tab *chromeTab, appURL string) {
	t.Helper()
	c := tab.cookie(appURL, "__Host-session")
	if c == nil {
		t.Fatal("signed in, but the browser holds no session cookie")
	}
	if !c.Secure || !c.HTTPOnly || c.SameSite != network.CookieSameSiteLax || c.Path != "/" {
		t.Errorf("session cookie: Secure=%v HttpOnly=%v SameSite=%q Path=%q, want Secure, HttpOnly, SameSite=Lax, Path=/",
			c.Secure, c.HTTPOnly, c.SameSite, c.Path)
	}
}
