// Sign-in cookies: bounded in number and size, single-use, and refused with the "start again" page when they cannot be trusted.

package entra

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"ms-identity-go-webapp/identity"
	"ms-identity-go-webapp/session"
)

// startBrowserSignIn starts a sign-in at target and returns its state and cookie.
func startBrowserSignIn(t *testing.T, h http.Handler, target string, jar []*http.Cookie) (string, *http.Cookie) {
	t.Helper()
	rec := get(h, target, jar)
	if rec.Code != http.StatusFound {
		t.Fatalf("%s: %d", target, rec.Code)
	}
	u, _ := url.Parse(rec.Header().Get("Location"))
	state := u.Query().Get("state")
	for _, c := range rec.Result().Cookies() {
		if c.Name == signInCookieName(state) {
			return state, c
		}
	}
	t.Fatalf("%s set no sign-in cookie for its state", target)
	return "", nil
}

// Five sign-ins at once (five tabs) with long return paths send less than
// 4 KB of cookies; a sixth drops the oldest. No session is stored for any.
func TestSignInCookiesStayUnder4KB(t *testing.T) {
	app, dir := newSignInApp(t, nil)
	h := testRoutes(app)
	// A protected page remembers itself, query included, as the return path.
	longest := "/graph?q=" + strings.Repeat("x", maxSignInNext-len("/graph?q="))
	var jar []*http.Cookie
	var states []string
	for range maxSignIns {
		state, c := startBrowserSignIn(t, h, longest, jar)
		jar = append(jar, c)
		states = append(states, state)
	}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	for _, c := range jar {
		r.AddCookie(c)
	}
	n := len(r.Header.Get("Cookie"))
	if n >= 4096 {
		t.Errorf("%d sign-in cookies take %d bytes of the Cookie header, want under 4096", len(jar), n)
	}
	t.Logf("%d sign-in cookies with %d-byte return paths: %d bytes of Cookie header", len(jar), len(longest), n)

	// A longer return path is not kept (the user lands on the home page):
	// its cookie is no larger than the others.
	_, long := startBrowserSignIn(t, h, "/graph?q="+strings.Repeat("y", 1500), nil)
	if len(long.Value) > len(jar[0].Value) {
		t.Errorf("a 1.5 KB return path made a %d-byte sign-in cookie, more than the %d of the longest kept", len(long.Value), len(jar[0].Value))
	}

	rec := get(h, "/graph", jar)
	var dropped []string
	for _, c := range rec.Result().Cookies() {
		if c.MaxAge < 0 {
			dropped = append(dropped, c.Name)
		}
	}
	if len(dropped) != 1 || dropped[0] != signInCookieName(states[0]) {
		t.Errorf("a sixth sign-in dropped %q, want only the oldest, %q", dropped, signInCookieName(states[0]))
	}
	if files, _ := os.ReadDir(dir); len(files) != 0 {
		t.Errorf("%d session files for sign-ins in progress", len(files))
	}
}

// A sign-in cookie that cannot be trusted, or a sign-in that took too long,
// ends on the "start the sign-in again" page, never a 500, and the cookie is
// deleted.
func TestUnusableSignInCookie(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	app, _ := newSignInApp(t, clock)
	h := testRoutes(app)

	foreignKeys, _ := session.NewKeys("another-secret-0123456789abcdefghijkl", "")
	for _, tt := range []struct {
		name  string
		spoil func(c *http.Cookie, state string)
		later time.Duration
		want  string
	}{
		{"tampered", func(c *http.Cookie, _ string) {
			b := []byte(c.Value)
			b[len(b)/2] ^= 1
			c.Value = string(b)
		}, 0, "state_mismatch"},
		{"oversized", func(c *http.Cookie, _ string) { c.Value += strings.Repeat("A", maxSignInCookie) }, 0, "state_mismatch"},
		{"not base64", func(c *http.Cookie, _ string) { c.Value = "!!!" }, 0, "state_mismatch"},
		{"sealed with another secret", func(c *http.Cookie, state string) {
			// A well-formed flow for this very state, as another app
			// (another SESSION_SECRET) would seal it: only the key is wrong.
			c.Value = sealFlow(t, foreignKeys.Sealer("sign-in cookie"), c.Name, state, clock())
		}, 0, "state_mismatch"},
		{"expired", nil, identity.FlowTTL + time.Minute, "flow_expired"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			state, c := startBrowserSignIn(t, h, "/graph", nil)
			if tt.spoil != nil {
				tt.spoil(c, state)
			}
			mu.Lock()
			now = now.Add(tt.later)
			mu.Unlock()
			rec := get(h, "/auth/redirect?code=x&state="+url.QueryEscape(state), []*http.Cookie{c})
			if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), tt.want) ||
				!strings.Contains(rec.Body.String(), "Start the sign-in again") {
				t.Fatalf("status %d, want 400 with %s and the start-again hint:\n%s", rec.Code, tt.want, rec.Body)
			}
			deleted := false
			for _, set := range rec.Result().Cookies() {
				deleted = deleted || (set.Name == c.Name && set.MaxAge < 0)
			}
			if !deleted {
				t.Error("the callback did not delete the sign-in cookie")
			}
		})
	}
}

// The control for "sealed with another secret" above: the same flow sealed
// with the app's own key opens, so the callback gets as far as redeeming the
// (made-up) code, and the answer is not the state mismatch.
func TestSignInCookieSealedWithTheAppsKeyOpens(t *testing.T) {
	app, _ := newSignInApp(t, nil)
	h := testRoutes(app)
	state, c := startBrowserSignIn(t, h, "/graph", nil)
	c.Value = sealFlow(t, app.signIns, c.Name, state, time.Now())
	rec := get(h, "/auth/redirect?code=x&state="+url.QueryEscape(state), []*http.Cookie{c})
	if strings.Contains(rec.Body.String(), "state_mismatch") || !strings.Contains(rec.Body.String(), "invalid_grant") {
		t.Fatalf("status %d, want the identity provider's refusal of the code, not a state mismatch:\n%s", rec.Code, rec.Body)
	}
}

// sealFlow seals a well-formed flow for state as a sign-in cookie's value.
func sealFlow(t *testing.T, sealer *session.Sealer, cookieName, state string, created time.Time) string {
	t.Helper()
	flow := identity.Flow{State: state, Nonce: "n", Verifier: strings.Repeat("v", 43), Next: "/graph", Created: created}
	data, err := flow.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(sealer.Seal(data, []byte(cookieName)))
}

// The identity provider's error text is shown only for an answer to a
// sign-in this browser started: anyone can write a link to
// /auth/redirect?error=...&error_description=..., and the app's own page
// must not show their words.
func TestProviderErrorNeedsItsSignIn(t *testing.T) {
	app, _ := newSignInApp(t, nil)
	h := testRoutes(app)
	const text = "AADSTS50053: Your account is locked. Call 555-0100 to unlock it."
	query := "/auth/redirect?error=account_locked&error_description=" + url.QueryEscape(text)

	forged := get(h, query, nil)
	if forged.Code != http.StatusBadRequest || strings.Contains(forged.Body.String(), "555-0100") ||
		!strings.Contains(forged.Body.String(), "state_mismatch") {
		t.Fatalf("an error answering no sign-in: status %d, want 400 state_mismatch without its text:\n%s", forged.Code, forged.Body)
	}

	state, c := startBrowserSignIn(t, h, "/graph", nil)
	real := get(h, query+"&state="+url.QueryEscape(state), []*http.Cookie{c})
	if real.Code != http.StatusBadRequest || !strings.Contains(real.Body.String(), "555-0100") ||
		!strings.Contains(real.Body.String(), "account_locked") {
		t.Fatalf("an error answering this browser's sign-in: status %d, want 400 with the provider's text:\n%s", real.Code, real.Body)
	}
}
