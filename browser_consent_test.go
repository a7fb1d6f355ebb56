// Browser test of incremental consent and the account picker: the consent screen (declined, then accepted), the calendar, and the picker with one and two accounts, each page checked with axe-core and at phone width.

package main

import (
	"net/http"
	"testing"

	"ms-identity-go-webapp/emulator"
)

func TestBrowserConsentAndPicker(t *testing.T) {
	env := newTestEnv(t)
	tab := newChromeTab(t, env)
	app := env.appURL
	authorize := env.emuURL + "/" + emulator.DefaultTenant + "/oauth2/v2.0/authorize?"

	// Alice signs in.
	tab.open(app + "/login")
	tab.click(`a.button-primary`)
	tab.fill(`#loginfmt`, "alice@demo.test")
	tab.fill(`#passwd`, "alice-password")
	tab.click(`button[value="signin"]`)

	// /calendar needs Calendars.Read, which she has not given: the
	// emulator's consent screen, straight away (single sign-on).
	tab.see(tab.click(`a[href="/calendar"]`), pageWant{
		name: "emulator-consent", urlPrefix: authorize, status: http.StatusOK, heading: "Permissions requested",
		texts:  []string{"Signed in as alice@demo.test", "Read your calendars", "Calendars.Read", "Accept", "Cancel"},
		hidden: []string{"Password", "Sign you in and read your profile"},
	})

	// Cancel: the app says what was not given, and she stays signed in.
	tab.see(tab.click(`button[value="cancel"]`), pageWant{
		name: "consent-declined", urlPrefix: app + "/auth/redirect?error=access_denied", status: http.StatusForbidden,
		heading: "Permission not given",
		texts: []string{"Read your calendars (Calendars.Read)", "you are still signed in", "Ask me again",
			"Hello Alice Smith!", "AADSTS65004"},
		hidden: []string{"Sign-in failed"},
	})
	checkSessionCookieInBrowser(t, tab, app)
	tab.see(tab.click(`main a[href="/graph"]`), pageWant{
		name: "graph", url: app + "/graph", status: http.StatusOK, heading: "Microsoft Graph /me",
		texts: []string{`"userPrincipalName": "alice@demo.test"`}, skipScreenshot: true,
	})
	tab.open(app + "/")

	// Again, and Accept: her next events.
	tab.see(tab.click(`a[href="/calendar"]`), pageWant{
		name: "emulator-consent", urlPrefix: authorize, status: http.StatusOK, heading: "Permissions requested",
		texts: []string{"Read your calendars"}, skipScreenshot: true,
	})
	tab.see(tab.click(`button[value="accept"]`), pageWant{
		name: "calendar", url: app + "/calendar", status: http.StatusOK, heading: "Your next events",
		texts: []string{"Team stand-up", "Design review: sign-in flow", "Room 4.12", "Calendars.Read",
			"Graph's answer as JSON", "Hello Alice Smith!"},
	})

	// /login asks for the picker: Alice is listed, with "Use another
	// account", which leads to the form; the admin signs in there.
	tab.open(app + "/login")
	tab.see(tab.click(`a.button-primary`), pageWant{
		name: "emulator-pick-account-one", urlPrefix: authorize, status: http.StatusOK, heading: "Pick an account",
		texts: []string{"Alice Smith", "alice@demo.test", "Use another account"}, skipScreenshot: true,
	})
	tab.see(tab.click(`button[value=""]`), pageWant{
		name: "emulator-sign-in", urlPrefix: authorize, status: http.StatusOK, heading: "Sign in",
		texts: []string{"Email or username", "Password"}, skipScreenshot: true,
	})
	tab.fill(`#loginfmt`, "admin@demo.test")
	tab.fill(`#passwd`, "admin-password")
	tab.click(`button[value="signin"]`)

	// Two accounts now: the picker lists both; Alice's button signs her
	// in without a password.
	tab.open(app + "/login")
	tab.see(tab.click(`a.button-primary`), pageWant{
		name: "emulator-pick-account", urlPrefix: authorize, status: http.StatusOK, heading: "Pick an account",
		texts: []string{"Ada Admin", "admin@demo.test", "Alice Smith", "alice@demo.test", "Use another account"},
	})
	signIns := env.emu.Stats()[emulator.StatSignIns]
	tab.see(tab.click(`button[value="alice@demo.test"]`), pageWant{
		name: "home-signed-in", url: app + "/", status: http.StatusOK, heading: "Microsoft Entra ID sign-in sample",
		texts: []string{"You're signed in, Alice Smith!", "MSAL Go v1."}, skipScreenshot: true,
	})
	if got := env.emu.Stats()[emulator.StatSignIns]; got != signIns {
		t.Errorf("picking a signed-in account asked for a password: %d sign-ins, want %d", got, signIns)
	}
}
