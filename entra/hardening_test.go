// Sign-in cookies under attack: their order, size, name, lifetime and how many one answer deletes.

package entra

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"ms-identity-go-webapp/identity"
)

// sealedSignIn is a sign-in cookie as keepSignIn makes it, for a flow the
// test chose: sealed with the app's key, so that it opens.
func sealedSignIn(t *testing.T, a *Auth, flow identity.Flow) *http.Cookie {
	t.Helper()
	name := signInCookieName(flow.State)
	data, err := flow.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return signInCookie(name, base64.RawURLEncoding.EncodeToString(a.signIns.Seal(data, []byte(name))), 900)
}

// testState is a state of the shape identity makes: 43 base64url characters.
func testState(i int) string {
	return fmt.Sprintf("%016dAAAAAAAAAAAAAAAAAAAAAAAAAAA", i)
}

// With five sign-ins in progress, a sixth drops the oldest by the time each
// started, whatever order the browser sends them in.
func TestSixthSignInDropsTheOldest(t *testing.T) {
	a, _ := newSignInApp(t, nil)
	h := testRoutes(a)
	base := time.Now().Add(-10 * time.Minute)
	// Sent newest first: the oldest is last in the request.
	var jar []*http.Cookie
	for i := 5; i >= 1; i-- {
		jar = append(jar, sealedSignIn(t, a, identity.Flow{State: testState(i), Nonce: "n", Verifier: "v", Next: "/", Created: base.Add(time.Duration(i) * time.Minute)}))
	}
	rec := get(h, "/graph", jar)
	if rec.Code != http.StatusFound {
		t.Fatalf("/graph: %d", rec.Code)
	}
	var deleted []string
	for _, c := range rec.Result().Cookies() {
		if c.MaxAge < 0 {
			deleted = append(deleted, c.Name)
		}
	}
	if want := signInCookieName(testState(1)); len(deleted) != 1 || deleted[0] != want {
		t.Errorf("deleted %q, want only the oldest, %s", deleted, want)
	}
}

// A sign-in cookie sealed with the app's key, for a real sign-in, but
// longer than any the app makes, is refused for its size alone: the
// callback gets the "start again" page and no token is asked for.
func TestOversizedSignInCookieRefused(t *testing.T) {
	a, _ := newSignInApp(t, nil)
	h := testRoutes(a)
	state := testState(7)
	flow := identity.Flow{State: state, Nonce: "n", Verifier: "v", Created: time.Now(), Next: "/" + strings.Repeat("p", 2*maxSignInCookie)}
	c := sealedSignIn(t, a, flow)
	if len(c.Value) <= maxSignInCookie {
		t.Fatalf("the cookie is %d bytes, not oversized", len(c.Value))
	}
	// Control: the same flow with a short path opens.
	flow.Next = "/"
	if _, ok := a.openSignIn(sealedSignIn(t, a, flow)); !ok {
		t.Fatal("the control cookie does not open: the test proves nothing")
	}
	rec := get(h, testRedirectURI+"?code=x&state="+state, []*http.Cookie{c})
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "state_mismatch") {
		t.Errorf("an oversized sign-in cookie: %d; want the state_mismatch page", rec.Code)
	}
}

// A state that shares the sign-in cookie's 16-character name but differs
// after it does not complete that sign-in: the whole state must match.
func TestStateWithTheRightPrefixAndAWrongTail(t *testing.T) {
	a, _ := newSignInApp(t, nil)
	h := testRoutes(a)
	state, c := startBrowserSignIn(t, h, "/graph", nil)
	forged := state[:signInNameChars] + strings.Repeat("Z", len(state)-signInNameChars)
	if forged == state || signInCookieName(forged) != c.Name {
		t.Fatal("the forged state must name the same cookie and differ")
	}
	rec := get(h, testRedirectURI+"?code=x&state="+forged, []*http.Cookie{c})
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "state_mismatch") {
		t.Errorf("a state with the right prefix and a wrong tail: %d; want the state_mismatch page", rec.Code)
	}
}

// A sign-in cookie lives as long as a sign-in may take, and no longer.
func TestSignInCookieMaxAge(t *testing.T) {
	a, _ := newSignInApp(t, nil)
	_, c := startBrowserSignIn(t, testRoutes(a), "/graph", nil)
	if c.MaxAge != 900 {
		t.Errorf("sign-in cookie Max-Age %d, want 900 (15 minutes)", c.MaxAge)
	}
	if !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" {
		t.Errorf("sign-in cookie attributes: %+v", c)
	}
}

// A request with a pile of bogus sign-in cookies gets at most a handful of
// deletions back, not one per cookie.
func TestBogusSignInCookiesFewDeletions(t *testing.T) {
	a, _ := newSignInApp(t, nil)
	var jar []*http.Cookie
	for i := range 500 {
		jar = append(jar, &http.Cookie{Name: signInCookieName(testState(i)), Value: "bogus"})
	}
	rec := get(testRoutes(a), "/graph", jar)
	if rec.Code != http.StatusFound {
		t.Fatalf("/graph: %d", rec.Code)
	}
	if n := len(rec.Header().Values("Set-Cookie")); n > maxSignInDeletions+1 {
		t.Errorf("%d Set-Cookie headers for 500 bogus sign-in cookies, want at most %d", n, maxSignInDeletions+1)
	}
}
