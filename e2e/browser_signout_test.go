// Browser test of single sign-on and front-channel logout across two apps in headless Chromium, with real iframes.

package e2e

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"ms-identity-go-webapp/emulator"
	"ms-identity-go-webapp/entra"
)

// documents collects the HTML documents the tab loads, its frames' too,
// from the moment it is made: the front-channel logout happens in hidden
// iframes, which the test cannot click on.
type documents struct {
	mu   sync.Mutex
	got  []*network.Response
	more chan struct{} // signalled after each document
}

func (tab *chromeTab) watchDocuments() *documents {
	tab.t.Helper()
	d := &documents{more: make(chan struct{}, 1)}
	err := chromedp.Listen(tab.ctx, func(ev any) {
		e, ok := ev.(*network.EventResponseReceived)
		if !ok || e.Type != network.ResourceTypeDocument {
			return
		}
		d.mu.Lock()
		d.got = append(d.got, e.Response)
		d.mu.Unlock()
		select {
		case d.more <- struct{}{}:
		default:
		}
	})
	if err != nil {
		tab.t.Fatalf("listening to the tab: %v", err)
	}
	return d
}

// waitFor waits, at most browserStepTimeout, until the documents loaded
// satisfy done, and returns them.
func (d *documents) waitFor(t *testing.T, what string, done func([]*network.Response) bool) []*network.Response {
	t.Helper()
	deadline := time.After(browserStepTimeout)
	for {
		d.mu.Lock()
		got := append([]*network.Response(nil), d.got...)
		d.mu.Unlock()
		if done(got) {
			return got
		}
		select {
		case <-d.more:
		case <-deadline:
			var urls []string
			for _, r := range got {
				urls = append(urls, r.URL)
			}
			t.Fatalf("waiting for %s: the tab loaded only %q", what, urls)
		}
	}
}

// Two apps of one tenant (two instances registered under different client
// ids, on different ports) in one browser: signing in to the first with
// the password signs the user in to the second without one, and signing
// out of the second with its button signs them out of the first too,
// through the identity provider's hidden iframe and the first app's
// front-channel logout. Nothing may show in the console: a
// Content-Security-Policy that refused the iframe, or the redirect that
// follows the sign-out form, would.
func TestBrowserSingleSignOnAndFrontChannelLogout(t *testing.T) {
	c := newCluster(t, clusterOptions{separateApps: true})
	tab := newChromeTab(t, c.instances[0])
	one, two := c.on(0, ""), c.on(1, "")
	authorize := c.instances[0].emuURL + "/" + emulator.DefaultTenant + "/oauth2/v2.0/authorize?"

	// The first app: the password.
	tab.open(one + "/login")
	tab.see(tab.click(`a.button-primary`), pageWant{
		name: "emulator-sign-in", urlPrefix: authorize, status: http.StatusOK, heading: "Sign in",
		texts: []string{"Email or username", "Password"}, skipScreenshot: true,
	})
	tab.fill(`#loginfmt`, "alice@demo.test")
	tab.fill(`#passwd`, "alice-password")
	tab.see(tab.click(`button[value="signin"]`), pageWant{
		name: "first-app-signed-in", url: one + "/", status: http.StatusOK, heading: "Microsoft Entra ID sign-in sample",
		texts: []string{"You're signed in, Alice Smith!"}, skipScreenshot: true,
	})

	// The second app: a protected page starts the sign-in (with no
	// prompt, unlike /login's account picker), and single sign-on brings
	// the browser straight back from the authorize endpoint, without any
	// page of the emulator's.
	tab.see(tab.open(two+"/token_details"), pageWant{
		name: "second-app-signed-in-by-sso", url: two + "/token_details", status: http.StatusOK, heading: "ID token claims",
		texts: []string{"alice@demo.test", "Hello Alice Smith!"}, skipScreenshot: true,
	})
	stats := c.emu.Stats()
	if stats[emulator.StatSingleSignOns] != 1 || stats[emulator.StatSignIns] != 1 {
		t.Fatalf("single sign-ons %d, password sign-ins %d: want one of each", stats[emulator.StatSingleSignOns], stats[emulator.StatSignIns])
	}

	// Sign out of the second app with its button. The emulator's
	// signed-out page frames both apps' front-channel logout URLs, then
	// returns to the second app's home page.
	docs := tab.watchDocuments()
	out := tab.click(signOutButton)
	if !strings.HasPrefix(out.URL, c.instances[0].emuURL+"/"+emulator.DefaultTenant+"/oauth2/v2.0/logout?") || out.Status != http.StatusOK {
		t.Fatalf("the sign-out button led to %s (%d), want the emulator's signed-out page", out.URL, out.Status)
	}
	if !strings.Contains(out.URL, "logout_hint=") {
		t.Errorf("the end-session request %s has no logout_hint", out.URL)
	}
	isFrame := func(r *network.Response, app string) bool {
		return strings.HasPrefix(r.URL, app+entra.DefaultFrontChannelLogoutPath+"?sid=")
	}
	var home *network.Response
	got := docs.waitFor(t, "both front-channel logouts and the return to the second app", func(got []*network.Response) bool {
		var first, second bool
		for _, r := range got {
			first = first || isFrame(r, one)
			second = second || isFrame(r, two)
			if r.URL == two+"/" {
				home = r
			}
		}
		return first && second && home != nil
	})
	for _, r := range got {
		if (isFrame(r, one) || isFrame(r, two)) && r.Status != http.StatusOK {
			t.Errorf("front-channel logout %s answered %d", r.URL, r.Status)
		}
	}
	tab.see(home, pageWant{
		name: "second-app-signed-out", url: two + "/", status: http.StatusOK, heading: "Microsoft Entra ID sign-in sample",
		texts: []string{"You're not signed in."}, hidden: []string{"Alice Smith"}, skipScreenshot: true,
	})

	// The first app's next page: signed out, by the iframe alone.
	tab.see(tab.open(one+"/"), pageWant{
		name: "first-app-signed-out", url: one + "/", status: http.StatusOK, heading: "Microsoft Entra ID sign-in sample",
		texts: []string{"You're not signed in."}, hidden: []string{"Alice Smith"}, skipScreenshot: true,
	})
	if n := c.emu.Stats()[emulator.StatFrontChannelLogouts]; n != 2 {
		t.Errorf("the emulator framed %d front-channel logouts, want 2", n)
	}
	if !strings.Contains(c.logs.String(), "front-channel sign-out") {
		t.Error("no app logged a front-channel sign-out")
	}
}
