// Browser test of the step-up: /admin with ADMIN_AUTH_CONTEXT=c1 in headless Chromium, through the emulator's second-factor page.

package main

import (
	"net/http"
	"testing"

	"ms-identity-go-webapp/emulator"
)

func TestBrowserStepUp(t *testing.T) {
	env := newTestEnv(t, withAppEnv("ADMIN_AUTH_CONTEXT", "c1"))
	tab := newChromeTab(t, env)
	app := env.appURL
	authorize := env.emuURL + "/" + emulator.DefaultTenant + "/oauth2/v2.0/authorize?"

	// Signed out, the admin link starts a sign-in that already asks for
	// the authentication context: the password, then the second factor.
	tab.see(tab.open(app+"/admin"), pageWant{
		name: "emulator-sign-in", urlPrefix: authorize, status: http.StatusOK, heading: "Sign in",
		texts: []string{"Local Entra ID emulator — not Microsoft."}, skipScreenshot: true,
	})
	tab.fill(`#loginfmt`, "admin@demo.test")
	tab.fill(`#passwd`, "admin-password")
	tab.see(tab.click(`button[value="signin"]`), pageWant{
		name: "emulator-second-factor", urlPrefix: authorize, status: http.StatusOK, heading: "Verify your identity",
		texts: []string{"admin@demo.test", "c1", "Verification code", "123456"},
	})
	tab.fill(`#otc`, "000000")
	tab.see(tab.click(`button[value="verify"]`), pageWant{
		name: "emulator-second-factor-wrong", urlPrefix: authorize, status: http.StatusOK, heading: "Verify your identity",
		texts: []string{"That code didn’t work."}, skipScreenshot: true,
	})
	tab.fill(`#otc`, "123456")
	tab.see(tab.click(`button[value="verify"]`), pageWant{
		name: "admin-stepped-up", url: app + "/admin", status: http.StatusOK, heading: "Admin",
		texts: []string{"You have the admin app role.", "acrs", "Hello Ada Admin!"}, skipScreenshot: true,
	})
	checkSessionCookieInBrowser(t, tab, app)
}

// A claims challenge in the browser: after a critical event /graph sends
// the user to sign in again (the password, not single sign-on), and when
// the resource repeats the challenge, the page that explains it.
func TestBrowserClaimsChallenge(t *testing.T) {
	env := newCluster(t, clusterOptions{instances: 1, emulatorStarted: func(_ *emulator.Emulator, emuURL string, client *http.Client, appEnv map[string]string) {
		appEnv["GRAPH_ENDPOINT"] = stickyChallenges(t, emuURL+"/v1.0/me", client).URL + "/v1.0/me"
	}}).instances[0]
	tab := newChromeTab(t, env)
	app := env.appURL
	authorize := env.emuURL + "/" + emulator.DefaultTenant + "/oauth2/v2.0/authorize?"

	tab.open(app + "/graph")
	tab.fill(`#loginfmt`, "alice@demo.test")
	tab.fill(`#passwd`, "alice-password")
	tab.see(tab.click(`button[value="signin"]`), pageWant{
		name: "graph", url: app + "/graph", status: http.StatusOK, heading: "Microsoft Graph /me",
		texts: []string{`"userPrincipalName": "alice@demo.test"`}, skipScreenshot: true,
	})

	if _, err := env.emu.CAEEvent("alice@demo.test"); err != nil {
		t.Fatal(err)
	}
	tab.see(tab.open(app+"/graph"), pageWant{
		name: "emulator-sign-in-again", urlPrefix: authorize, status: http.StatusOK, heading: "Sign in",
		texts: []string{"sign in again"}, skipScreenshot: true,
	})
	if kept := eval[string](tab, `document.querySelector("#loginfmt").value`); kept != "alice@demo.test" {
		t.Errorf("the sign-in again names %q, want the signed-in account", kept)
	}
	tab.fill(`#passwd`, "alice-password")
	tab.see(tab.click(`button[value="signin"]`), pageWant{
		name: "conditional-access-blocked", url: app + "/graph", status: http.StatusForbidden, heading: "Blocked by Conditional Access",
		texts: []string{"ERROR 403", "claims challenge", "request-id", "InvalidAuthenticationToken", "Signed in again at", "Hello Alice Smith!"},
	})
}
