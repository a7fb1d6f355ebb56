// Tests of the claims challenge's sign-in cookie: the largest claims request a challenge may carry still fits.

package entra

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"ms-identity-go-webapp/identity"
)

// A sign-in that carries the largest claims request a challenge may carry,
// with the longest return path kept and a few scopes, still gets a sign-in
// cookie that opens: the claims reach the code redemption.
func TestClaimsSignInCookieFits(t *testing.T) {
	app, _ := newSignInApp(t, nil)
	random := strings.Repeat("A", 43) // state, nonce and verifier are 43 characters
	claims := `{"access_token":{"x":"` + strings.Repeat("y", identity.MaxChallengeClaims-len(`{"access_token":{"x":""}}`)) + `"}}`
	if len(claims) != identity.MaxChallengeClaims {
		t.Fatalf("claims of %d bytes, want %d", len(claims), identity.MaxChallengeClaims)
	}
	flow := identity.Flow{
		State: random, Nonce: random, Verifier: random, Created: time.Now(),
		Next:   "/graph?q=" + strings.Repeat("x", maxSignInNext-len("/graph?q=")),
		Scopes: []string{"User.Read", "Calendars.Read", "Mail.Read"},
		Claims: claims,
	}
	rec := httptest.NewRecorder()
	if err := app.keepSignIn(rec, httptest.NewRequest(http.MethodGet, "/graph", nil), flow); err != nil {
		t.Fatal(err)
	}
	cookies := rec.Result().Cookies()
	if len(cookies) != 1 {
		t.Fatalf("%d cookies", len(cookies))
	}
	t.Logf("sign-in cookie with %d bytes of claims and a %d-byte return path: %d bytes (limit %d)",
		len(claims), len(flow.Next), len(cookies[0].Value), maxSignInCookie)
	got, ok := app.openSignIn(cookies[0])
	if !ok || got.Claims != claims || got.Next != flow.Next {
		t.Errorf("the sign-in cookie does not open with its claims and return path (%d bytes, limit %d)", len(cookies[0].Value), maxSignInCookie)
	}
}
