package identity_test

import (
	"context"
	"net"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"ms-identity-go-webapp/emulator"
	"ms-identity-go-webapp/emulator/emulatortest"
	"ms-identity-go-webapp/identity"
	"ms-identity-go-webapp/internal/testutil"
)

// externalIDForms are the authority forms Microsoft documents for an
// External ID tenant, as the emulator's External ID tenant answers them,
// and the host its sign-in pages are on.
func externalIDForms(srv *emulatortest.Server) []struct{ name, authority, oidc, host string } {
	sub, tenant := srv.Subdomain(), srv.Tenant()
	return []struct{ name, authority, oidc, host string }{
		{"bare subdomain", "https://" + sub + ".ciamlogin.com/", "", sub + ".ciamlogin.com"},
		{"subdomain", "https://" + sub + ".ciamlogin.com/" + sub + ".onmicrosoft.com", "", sub + ".ciamlogin.com"},
		{"tenant ID", "https://" + tenant + ".ciamlogin.com/" + tenant, "", tenant + ".ciamlogin.com"},
		{"custom URL domain", "", "https://" + emulatortest.CustomDomain + "/" + tenant + "/v2.0", emulatortest.CustomDomain},
		// What cmd/entra-emulator -external-id suggests: its own address as
		// a custom URL domain, the issuer's host on the same port.
		{"loopback as a custom URL domain", "", srv.URL + "/" + tenant + "/v2.0", strings.TrimPrefix(srv.URL, "https://")},
	}
}

func newExternalIDClient(t *testing.T, srv *emulatortest.Server, clk *clock, authority, oidc string) *identity.Client {
	t.Helper()
	id, err := identity.New(identity.Config{
		Authority:     authority,
		OIDCAuthority: oidc,
		ClientID:      emulator.DemoClientID,
		Credential:    testutil.SecretCredential(emulator.DemoClientSecret),
		RedirectURI:   redirectURI,
		Scopes:        []string{"User.Read"},
		HTTPClient:    srv.Client(),
		Now:           clk.now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// Each form signs in, on its own host, with the ID token checked against
// External ID's issuer; the token is refreshed and sign-out stays on that
// host. The configured authority's discovery document is read once.
func TestExternalIDSignsInWithEveryForm(t *testing.T) {
	clk := &clock{}
	// An access token of 2 minutes is within MSAL's 5 of expiry at once:
	// the first AcquireToken redeems the refresh token.
	srv := emulatortest.NewServer(t, emulator.Config{ExternalID: true, RedirectURIs: []string{redirectURI}, Now: clk.now, AccessTokenTTL: 2 * time.Minute})
	for _, form := range externalIDForms(srv) {
		t.Run(form.name, func(t *testing.T) {
			srv.ResetStats()
			id := newExternalIDClient(t, srv, clk, form.authority, form.oidc)
			if !id.ExternalID() {
				t.Error("ExternalID() = false")
			}
			ctx := context.Background()
			authURL, flow, err := id.StartSignIn(ctx, identity.SignIn{Next: "/graph"})
			if err != nil {
				t.Fatal(err)
			}
			if u, _ := url.Parse(authURL); u.Host != form.host {
				t.Errorf("sign-in goes to %s, want the configured host %s", u.Host, form.host)
			}
			browser := srv.Client()
			browser.Jar, _ = cookiejar.New(nil)
			back, err := emulatortest.SignIn(ctx, browser, authURL, "alice@demo.test", "alice-password")
			if err != nil {
				t.Fatal(err)
			}
			loc, _ := url.Parse(back.Location)
			s := &identity.UserSession{}
			if _, err := id.CompleteSignIn(ctx, s, &flow, loc.Query()); err != nil {
				t.Fatalf("CompleteSignIn: %v", err)
			}
			_, port, _ := net.SplitHostPort(form.host) // none but on loopback
			if got := s.Claims.String("iss"); got != srv.ExternalIDIssuer(port) {
				t.Errorf("iss = %s", got)
			}
			tok, err := id.AcquireToken(ctx, s, nil)
			if err != nil || tok.FromCache {
				t.Fatalf("refresh: %v (from cache %v)", err, tok.FromCache)
			}
			logout, err := id.LogoutURL(ctx, "https://app.test/", "")
			if err != nil || !strings.HasPrefix(logout, "https://"+form.host+"/") {
				t.Errorf("LogoutURL = %s, %v", logout, err)
			}
			stats := srv.Stats()
			if stats[emulator.StatOpenIDConfiguration] != 1 || stats[emulator.StatTokenRefreshToken] != 1 {
				t.Errorf("openid-configuration read %d times, refresh grants %d; want 1 and 1",
					stats[emulator.StatOpenIDConfiguration], stats[emulator.StatTokenRefreshToken])
			}
		})
	}
}

// A discovery document whose issuer is not External ID's issuer for the
// tenant is refused as MSAL Go refuses it: no sign-in starts. (Another
// tenant's issuer is refused where the authority names the tenant by its
// ID; behind a subdomain, whose document only External ID serves, it
// would be that tenant's, as a login.microsoftonline.com issuer of any
// tenant passes MSAL Go's own check.)
func TestExternalIDRefusesAnotherIssuer(t *testing.T) {
	const other = "c0ffee00-0000-4000-a000-0000000000ff"
	for _, tc := range []struct {
		name, issuer string
		byIDOnly     bool
	}{
		{"unrelated host", "https://login.unrelated.test/" + emulator.DefaultTenant + "/v2.0", false},
		{"another tenant", "https://" + other + ".ciamlogin.com/" + other + "/v2.0", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := &clock{}
			srv := emulatortest.NewServer(t, emulator.Config{ExternalID: true, RedirectURIs: []string{redirectURI}, Now: clk.now},
				emulatortest.RewriteIssuer(tc.issuer))
			for _, form := range externalIDForms(srv) {
				if tc.byIDOnly && strings.Contains(form.name, "subdomain") {
					continue
				}
				id := newExternalIDClient(t, srv, clk, form.authority, form.oidc)
				_, _, err := id.StartSignIn(context.Background(), identity.SignIn{})
				if err == nil || !strings.Contains(err.Error(), "does not match authority") {
					t.Errorf("%s: StartSignIn = %v, want MSAL's issuer check to refuse %s", form.name, err, tc.issuer)
				}
			}
			if n := srv.Stats()[emulator.StatAuthorize]; n != 0 {
				t.Errorf("%d authorize requests", n)
			}
		})
	}
}

// An Entra ID authority is given to MSAL Go as configured, and is no
// External ID authority.
func TestEntraIDAuthorityIsNotExternalID(t *testing.T) {
	id, _, srv, _ := setup(t, emulator.Config{})
	if id.ExternalID() || id.Authority() != (identity.Authority{URL: srv.Authority(), Kind: identity.EntraID}) {
		t.Errorf("Authority() = %+v, ExternalID() = %v", id.Authority(), id.ExternalID())
	}
}
