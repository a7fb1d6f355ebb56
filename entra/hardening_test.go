// Sign-in cookies under attack: their order, size, name, lifetime and how many one answer deletes.

package entra

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"ms-identity-go-webapp/identity"
	"ms-identity-go-webapp/internal/reqstate"
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

// An app that uses Middleware alone, without a server that sets security
// headers (examples/minimal), still keeps its pages out of other sites'
// frames: the sign-out button cannot be clickjacked. An app's own headers
// win.
func TestPagesRefuseFramingByDefault(t *testing.T) {
	a, _ := newSignInApp(t, nil)
	rec := get(testRoutes(a), "/logout", nil)
	if rec.Code != http.StatusOK || rec.Header().Get("X-Frame-Options") != "DENY" ||
		!strings.Contains(rec.Header().Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Errorf("/logout: %d, X-Frame-Options %q, CSP %q", rec.Code, rec.Header().Get("X-Frame-Options"), rec.Header().Get("Content-Security-Policy"))
	}
	own := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'self'")
		testRoutes(a).ServeHTTP(w, r)
	})
	rec = get(own, "/logout", nil)
	if csp := rec.Header().Get("Content-Security-Policy"); csp != "default-src 'self'; frame-ancestors 'self'" {
		t.Errorf("the app's own CSP was replaced: %q", csp)
	}
}

// CallAPI sends the token to the API's own base URL only: another host,
// another scheme or a path outside the base is refused before any request.
func TestCallAPIKeepsTheTokenOnTheAPI(t *testing.T) {
	api := API{Name: "Graph", BaseURL: "https://graph.example/v1.0"}
	for target, want := range map[string]bool{
		"https://graph.example/v1.0/me":           true,
		"/me":                                     true,
		"https://graph.example/v1.0":              true,
		"https://GRAPH.example/v1.0/me/events":    true,
		"https://evil.example/v1.0/me":            false,
		"http://graph.example/v1.0/me":            false,
		"https://graph.example/beta/me":           false,
		"https://graph.example/v1.0x/me":          false,
		"https://user@graph.example/v1.0/me":      false,
		"https://graph.example.evil.example/v1.0": false,
	} {
		if got := api.owns(api.URL(target)); got != want {
			t.Errorf("%s: owns = %v, want %v", target, got, want)
		}
	}
	if !(API{BaseURL: "http://127.0.0.1:9/v1.0"}).owns("http://127.0.0.1:9/v1.0/me") {
		t.Error("plain HTTP on loopback (a test's API) is refused")
	}

	// Through CallAPI: nothing is sent to another host.
	var sent int
	a, _ := newSignInApp(t, nil)
	a.outbound = &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) {
		sent++
		return nil, fmt.Errorf("no network in this test")
	})}
	r := httptest.NewRequest(http.MethodGet, "/page", nil)
	st, r := reqstate.With(r)
	st.AccessToken, st.HasToken = "the-user's-token", true
	if _, err := a.CallAPI(r, api, "https://evil.example/collect"); err == nil || sent != 0 {
		t.Errorf("CallAPI to another host: err %v, %d requests sent", err, sent)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// Two sign-in routes on one path would swallow one of them (a front-channel
// path equal to the redirect path would never complete a sign-in): New
// refuses it, naming both.
func TestSignInRoutesNeedPathsOfTheirOwn(t *testing.T) {
	cfg, _ := ConfigFromLookup(lookupEnv(validEnv()))
	cfg.SessionDir = t.TempDir()
	cfg.FrontChannelLogoutPath = "/auth/redirect" // the default REDIRECT_URI's path
	_, err := New(cfg)
	var cerr *ConfigError
	if !errors.As(err, &cerr) || !strings.Contains(err.Error(), `REDIRECT_URI's path and FrontChannelLogoutPath are both "/auth/redirect"`) {
		t.Errorf("New with two routes on one path: %v", err)
	}
}

// A page that changes the claims UserFrom gives it changes nothing of the
// user's: their roles stay what the ID token said.
func TestUserClaimsAreACopy(t *testing.T) {
	s := &identity.UserSession{HomeAccountID: "uid.utid", Claims: identity.Claims{
		"oid": "o", "tid": "t", "sub": "s", "roles": []any{"reader"}, "nested": map[string]any{"a": []any{"b"}}}}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	st, r := reqstate.With(r)
	st.User = s
	u, ok := UserFrom(r.Context())
	if !ok {
		t.Fatal("no user")
	}
	c := u.Claims()
	c["roles"].([]any)[0] = "admin"
	c["nested"].(map[string]any)["a"].([]any)[0] = "x"
	if u.HasRole("admin") || !u.HasRole("reader") || s.Claims["nested"].(map[string]any)["a"].([]any)[0] != "b" {
		t.Errorf("changing the copy changed the user: roles %v", u.Roles())
	}
}

// An HTTPError without a status is a 500 page, not a panic.
func TestHTTPErrorWithoutStatus(t *testing.T) {
	a, _ := newSignInApp(t, nil)
	rec := httptest.NewRecorder()
	a.ServeError(rec, httptest.NewRequest(http.MethodGet, "/", nil), &HTTPError{Heading: "Half-made error"})
	if rec.Code != http.StatusInternalServerError || !strings.Contains(rec.Body.String(), "Half-made error") {
		t.Errorf("%d:\n%s", rec.Code, rec.Body)
	}
}
