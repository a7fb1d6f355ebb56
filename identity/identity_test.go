package identity_test

import (
	"context"
	"errors"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"ms-identity-go-webapp/emulator"
	"ms-identity-go-webapp/emulator/emulatortest"
	"ms-identity-go-webapp/identity"
	"ms-identity-go-webapp/internal/testutil"
)

const redirectURI = "https://app.test/auth/redirect"

// clock is a time source the test moves forward, shared by the emulator and
// the identity client so that both agree on when tokens expire.
type clock struct{ offset atomic.Int64 }

func (c *clock) now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) advance(d time.Duration) { c.offset.Add(int64(d)) }

func setup(t *testing.T, cfg emulator.Config) (*identity.Client, *emulator.Emulator, *emulatortest.Server, *clock) {
	t.Helper()
	clk := &clock{}
	cfg.RedirectURIs = []string{redirectURI}
	cfg.Now = clk.now
	srv := emulatortest.NewServer(t, cfg)
	emu := srv.Emulator
	id, err := identity.New(identity.Config{
		Authority:   srv.Authority(),
		ClientID:    emulator.DemoClientID,
		Credential:  testutil.SecretCredential(emulator.DemoClientSecret),
		RedirectURI: redirectURI,
		Scopes:      []string{"User.Read"},
		HTTPClient:  srv.Client(),
		Now:         clk.now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return id, emu, srv, clk
}

// signIn runs the whole flow with the emulator's form and returns the session.
func signIn(t *testing.T, id *identity.Client, srv *emulatortest.Server, username, password string) *identity.UserSession {
	t.Helper()
	return signInAgain(t, id, srv, &identity.UserSession{}, username, password)
}

// signInAgain runs the flow in an existing session.
func signInAgain(t *testing.T, id *identity.Client, srv *emulatortest.Server, s *identity.UserSession, username, password string) *identity.UserSession {
	t.Helper()
	flow, query := authorize(t, id, srv, username, password)
	next, err := id.CompleteSignIn(context.Background(), s, &flow, query)
	if err != nil {
		t.Fatal(err)
	}
	if next != "/graph" || !s.SignedIn() {
		t.Fatalf("after sign-in: next %q, signed in %v", next, s.SignedIn())
	}
	return s
}

// authorize starts a sign-in and passes the emulator's form, returning the
// flow and the query the browser brings back to the redirect URI.
func authorize(t *testing.T, id *identity.Client, srv *emulatortest.Server, username, password string) (identity.Flow, url.Values) {
	t.Helper()
	ctx := context.Background()
	authURL, flow, err := id.StartSignIn(ctx, identity.SignIn{Next: "/graph"})
	if err != nil {
		t.Fatal(err)
	}
	c := srv.Client()
	c.Jar, _ = cookiejar.New(nil)
	back, err := emulatortest.SignIn(ctx, c, authURL, username, password)
	if err != nil {
		t.Fatal(err)
	}
	loc, err := url.Parse(back.Location)
	if err != nil || !strings.HasPrefix(back.Location, redirectURI) {
		t.Fatalf("emulator answered %d, Location %q", back.Status, back.Location)
	}
	return flow, loc.Query()
}

// A sign-in that fails after the code came back (the token endpoint down, an
// ID token that fails its checks) leaves a signed-in user as they were: a
// user sent to step up or to consent is not signed out by a failure there.
func TestFailedSignInKeepsTheSignedInUser(t *testing.T) {
	id, emu, srv, _ := setup(t, emulator.Config{})
	s := signIn(t, id, srv, "alice@demo.test", "alice-password")
	oid, cache := s.Claims.String("oid"), string(s.TokenCache)

	t.Run("token endpoint down", func(t *testing.T) {
		flow, query := authorize(t, id, srv, "admin@demo.test", "admin-password")
		if err := emu.InjectFault(emulator.Fault{Endpoint: emulator.EndpointToken, Status: 503, Times: 1}); err != nil {
			t.Fatal(err)
		}
		if _, err := id.CompleteSignIn(context.Background(), s, &flow, query); err == nil {
			t.Fatal("the sign-in succeeded with the token endpoint down")
		}
	})
	t.Run("ID token rejected", func(t *testing.T) {
		flow, query := authorize(t, id, srv, "admin@demo.test", "admin-password")
		flow.Nonce = "another sign-in's nonce"
		if _, err := id.CompleteSignIn(context.Background(), s, &flow, query); err == nil {
			t.Fatal("an ID token with another nonce was accepted")
		}
	})
	if !s.SignedIn() || s.Claims.String("oid") != oid || string(s.TokenCache) != cache {
		t.Fatalf("after the failed sign-ins: signed in %v as %q, token cache changed %v; want alice, unchanged",
			s.SignedIn(), s.Claims.String("preferred_username"), string(s.TokenCache) != cache)
	}
	if _, err := id.AcquireToken(context.Background(), s, nil); err != nil {
		t.Fatalf("alice's token after the failed sign-ins: %v", err)
	}
}

// An expired ID token is renewed silently: the refresh brings a new ID token
// whose claims replace the old ones, and the user stays signed in.
func TestEnsureFreshRenewsExpiredIDToken(t *testing.T) {
	id, emu, srv, clk := setup(t, emulator.Config{IDTokenTTL: 10 * time.Minute, AccessTokenTTL: 2 * time.Minute})
	s := signIn(t, id, srv, "alice@demo.test", "alice-password")
	oldExp, _ := s.Claims.Time("exp")

	if err := id.EnsureFresh(context.Background(), s); err != nil {
		t.Fatalf("fresh ID token: %v", err)
	}
	if n := emu.Stats()[emulator.StatTokenRefreshToken]; n != 0 {
		t.Fatalf("a fresh ID token caused %d refreshes", n)
	}

	clk.advance(20 * time.Minute)
	if err := id.EnsureFresh(context.Background(), s); err != nil {
		t.Fatalf("expired ID token was not renewed: %v", err)
	}
	newExp, _ := s.Claims.Time("exp")
	if !newExp.After(oldExp) || !s.SignedIn() {
		t.Fatalf("claims not renewed: exp %v -> %v", oldExp, newExp)
	}
	if n := emu.Stats()[emulator.StatTokenRefreshToken]; n != 1 {
		t.Fatalf("%d refreshes, want 1", n)
	}
}

// Once the refresh token is revoked, an expired ID token signs the user out.
func TestEnsureFreshSignsOutWhenRefreshFails(t *testing.T) {
	id, emu, srv, clk := setup(t, emulator.Config{IDTokenTTL: 10 * time.Minute, AccessTokenTTL: 2 * time.Minute})
	s := signIn(t, id, srv, "alice@demo.test", "alice-password")
	if err := emu.RevokeRefreshTokens("alice@demo.test"); err != nil {
		t.Fatal(err)
	}
	clk.advance(20 * time.Minute)
	err := id.EnsureFresh(context.Background(), s)
	if !errors.Is(err, identity.ErrInteractionRequired) {
		t.Fatalf("EnsureFresh: %v", err)
	}
	if s.SignedIn() || len(s.TokenCache) != 0 {
		t.Fatal("the session still holds the user")
	}
}

// Two sessions never see each other's tokens, even when their operations
// interleave: each operation has its own MSAL client.
func TestSessionsStayIsolated(t *testing.T) {
	id, _, srv, _ := setup(t, emulator.Config{})
	alice := signIn(t, id, srv, "alice@demo.test", "alice-password")
	admin := signIn(t, id, srv, "admin@demo.test", "admin-password")
	ctx := context.Background()
	for range 3 {
		for _, s := range []*identity.UserSession{alice, admin} {
			tok, err := id.AcquireToken(ctx, s, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !tok.FromCache {
				t.Error("a cached token was fetched again")
			}
		}
	}
	empty := &identity.UserSession{}
	if _, err := id.AcquireToken(ctx, empty, nil); err != identity.ErrInteractionRequired {
		t.Fatalf("signed-out session: %v", err)
	}
	if strings.Contains(string(alice.TokenCache), admin.HomeAccountID) || strings.Contains(string(admin.TokenCache), alice.HomeAccountID) {
		t.Fatal("a session's token cache holds another user's account")
	}
}

func TestLogoutURL(t *testing.T) {
	id, emu, srv, _ := setup(t, emulator.Config{})
	got, err := id.LogoutURL(context.Background(), "https://app.test/", "")
	if err != nil {
		t.Fatal(err)
	}
	want := emu.Authority(srv.URL) + "/oauth2/v2.0/logout?post_logout_redirect_uri=https%3A%2F%2Fapp.test%2F"
	if got != want {
		t.Fatalf("LogoutURL = %s, want %s", got, want)
	}
	// With the ID token's login_hint, Entra signs out that account without
	// asking which.
	got, err = id.LogoutURL(context.Background(), "https://app.test/", "opaque+hint/=")
	if err != nil {
		t.Fatal(err)
	}
	if want := emu.Authority(srv.URL) + "/oauth2/v2.0/logout?logout_hint=opaque%2Bhint%2F%3D&post_logout_redirect_uri=https%3A%2F%2Fapp.test%2F"; got != want {
		t.Fatalf("LogoutURL with a hint = %s, want %s", got, want)
	}
}

// A token cache that cannot be read means signing in again, not a 500.
func TestCorruptTokenCacheNeedsSignIn(t *testing.T) {
	id, _, srv, _ := setup(t, emulator.Config{})
	s := signIn(t, id, srv, "alice@demo.test", "alice-password")
	s.TokenCache = []byte("{not json")
	_, err := id.AcquireToken(context.Background(), s, nil)
	if !errors.Is(err, identity.ErrInteractionRequired) {
		t.Fatalf("AcquireToken with a corrupt cache: %v", err)
	}
}

// A signed-in session stores MSAL's cache without the raw ID token (the app
// keeps its checked claims), and still works: the cached access token is
// served without asking the identity provider. (A refresh still brings new
// claims: TestEnsureFreshRenewsExpiredIDToken.)
func TestStoredSessionHoldsNoRawIDToken(t *testing.T) {
	id, emu, srv, _ := setup(t, emulator.Config{TokenPadding: true})
	s := signIn(t, id, srv, "alice@demo.test", "alice-password")
	if strings.Contains(string(s.TokenCache), `"IdToken"`) {
		t.Fatal("the stored token cache holds the raw ID token")
	}
	data, err := s.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	stored, err := identity.UnmarshalUserSession(data)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	before := emu.Stats()
	for range 3 {
		tok, err := id.AcquireToken(ctx, stored, nil)
		if err != nil || tok.AccessToken == "" || !tok.FromCache {
			t.Fatalf("AcquireToken: %+v, %v", tok, err)
		}
	}
	if after := emu.Stats(); after[emulator.StatToken] != before[emulator.StatToken] {
		t.Fatal("a cached access token was fetched again")
	}

}

// Signing in as someone else in the same browser leaves none of the first
// user's tokens in the session.
func TestSecondSignInReplacesTheFirstUsersTokens(t *testing.T) {
	id, _, srv, _ := setup(t, emulator.Config{})
	s := signIn(t, id, srv, "alice@demo.test", "alice-password")
	alice := s.HomeAccountID
	second := signInAgain(t, id, srv, s, "admin@demo.test", "admin-password")
	if second.HomeAccountID == alice {
		t.Fatal("still alice")
	}
	if strings.Contains(string(second.TokenCache), alice) {
		t.Fatal("the admin's session still holds alice's tokens")
	}
}

// A request that is cancelled (the browser went away) keeps the user signed in.
func TestCancelledRequestKeepsTheUser(t *testing.T) {
	id, _, srv, _ := setup(t, emulator.Config{AccessTokenTTL: 2 * time.Minute})
	s := signIn(t, id, srv, "alice@demo.test", "alice-password")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := id.AcquireToken(ctx, s, nil)
	var unavailable *identity.UnavailableError
	if !errors.As(err, &unavailable) {
		t.Fatalf("cancelled AcquireToken: %v", err)
	}
	if !s.SignedIn() {
		t.Fatal("a cancelled request signed the user out")
	}
	if _, err := id.AcquireToken(context.Background(), s, nil); err != nil {
		t.Fatalf("next request: %v", err)
	}
}

// MSAL reads MSAL_FORCE_REGION from the environment and would send the
// sign-in to a regional host (westus.<host>) that the tenant does not have;
// the client must ignore it.
func TestIgnoresMSALForceRegion(t *testing.T) {
	t.Setenv("MSAL_FORCE_REGION", "westus")
	id, _, srv, _ := setup(t, emulator.Config{})
	s := signIn(t, id, srv, "alice@demo.test", "alice-password")
	if _, err := id.AcquireToken(context.Background(), s, nil); err != nil {
		t.Fatal(err)
	}
}

// A sign-in response that comes back after the flow's 15 minutes is
// refused by the app itself, with a code the identity provider would still
// redeem (its codes live an hour here): the code is never sent.
func TestSignInResponseAfterTheFlowLifetimeIsRefused(t *testing.T) {
	id, emu, srv, clk := setup(t, emulator.Config{CodeTTL: time.Hour})
	flow, query := authorize(t, id, srv, "alice@demo.test", "alice-password")
	clk.advance(identity.FlowTTL + time.Minute)

	s := &identity.UserSession{}
	_, err := id.CompleteSignIn(context.Background(), s, &flow, query)
	var authErr *identity.AuthError
	if !errors.As(err, &authErr) || authErr.Code != "flow_expired" {
		t.Fatalf("CompleteSignIn 16 minutes later: %v, want flow_expired", err)
	}
	if s.SignedIn() || len(s.TokenCache) != 0 {
		t.Error("the late response signed the user in")
	}
	if n := emu.Stats()[emulator.StatTokenAuthorizationCode]; n != 0 {
		t.Errorf("the late code was sent to the token endpoint %d times", n)
	}
}

// An ID token rejected after the code was redeemed (here, a nonce the app
// never made) leaves nothing in a browser's new session: not the claims,
// and not the tokens MSAL cached while redeeming, the refresh token among
// them. (TestFailedSignInKeepsTheSignedInUser: a signed-in user's session
// stays as it was.)
func TestRejectedIDTokenLeavesNoTokens(t *testing.T) {
	id, emu, srv, _ := setup(t, emulator.Config{})
	flow, query := authorize(t, id, srv, "alice@demo.test", "alice-password")
	flow.Nonce = "a-nonce-of-another-sign-in"

	s := &identity.UserSession{}
	_, err := id.CompleteSignIn(context.Background(), s, &flow, query)
	var authErr *identity.AuthError
	if !errors.As(err, &authErr) || authErr.Code != "invalid_id_token" || !strings.Contains(authErr.Description, "nonce") {
		t.Fatalf("CompleteSignIn with a wrong nonce: %v, want invalid_id_token about the nonce", err)
	}
	if n := emu.Stats()[emulator.StatTokenAuthorizationCode]; n != 1 {
		t.Fatalf("%d code redemptions, want 1: the rejected code must have been redeemed for the test to mean anything", n)
	}
	if s.SignedIn() || s.Claims != nil || s.HomeAccountID != "" {
		t.Errorf("the session names a user: %v", s.Claims)
	}
	if len(s.TokenCache) != 0 {
		t.Errorf("the session keeps %d bytes of MSAL's token cache after the rejected sign-in", len(s.TokenCache))
	}
	// Nor can those tokens be used: there is no account to refresh for.
	if _, err := id.AcquireToken(context.Background(), s, nil); !errors.Is(err, identity.ErrInteractionRequired) {
		t.Errorf("AcquireToken after the rejected sign-in: %v, want ErrInteractionRequired", err)
	}
}
