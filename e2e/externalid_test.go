// End-to-end tests with an External ID tenant: every authority form
// Microsoft documents signs in with MSAL Go, shows /graph, refreshes its
// token and signs out; a discovery document naming an issuer that is not
// the tenant's is still refused; and sign-up creates an account and signs
// it in. The emulator is reached under External ID's host names, which
// the test's dialer maps to loopback (emulatortest.Server.DialContext).

package e2e

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"ms-identity-go-webapp/emulator"
	"ms-identity-go-webapp/emulator/emulatortest"
)

// authorityForm is one way to configure the app for the External ID
// tenant: AUTHORITY or OIDC_AUTHORITY, and the host its sign-in pages are
// on.
type authorityForm struct {
	name, authority, oidcAuthority, host string
}

// externalIDForms are the forms Microsoft documents, for the emulator's
// External ID tenant.
var externalIDForms = func() []authorityForm {
	sub, tenant := emulator.DefaultSubdomain, emulator.DefaultTenant
	return []authorityForm{
		{"bare subdomain", "https://" + sub + ".ciamlogin.com/", "", sub + ".ciamlogin.com"},
		{"subdomain", "https://" + sub + ".ciamlogin.com/" + sub + ".onmicrosoft.com", "", sub + ".ciamlogin.com"},
		{"tenant ID", "https://" + tenant + ".ciamlogin.com/" + tenant, "", tenant + ".ciamlogin.com"},
		{"custom URL domain", "", "https://" + emulatortest.CustomDomain + "/" + tenant + "/v2.0", emulatortest.CustomDomain},
	}
}()

// newExternalIDEnv starts an External ID emulator and the app configured
// with form. Access tokens live 2 minutes, within MSAL's 5-minute margin,
// so every /graph page redeems the refresh token.
func newExternalIDEnv(t *testing.T, form authorityForm, middleware func(http.Handler) http.Handler) *testEnv {
	t.Helper()
	return newCluster(t, clusterOptions{
		instances: 1,
		opts: []envOption{withEmulator(func(c *emulator.Config) {
			c.ExternalID = true
			c.AccessTokenTTL = 2 * time.Minute
		})},
		emulatorMiddleware: middleware,
		emulatorStarted: func(_ *emulator.Emulator, _ string, _ *http.Client, appEnv map[string]string) {
			delete(appEnv, "AUTHORITY")
			if form.authority != "" {
				appEnv["AUTHORITY"] = form.authority
			} else {
				appEnv["OIDC_AUTHORITY"] = form.oidcAuthority
			}
		},
	}).instances[0]
}

var issClaim = regexp.MustCompile(`<code>iss</code></th><td>([^<]+)</td>`)

func TestExternalIDSignsInWithEveryAuthorityForm(t *testing.T) {
	for _, form := range externalIDForms {
		t.Run(form.name, func(t *testing.T) {
			env := newExternalIDEnv(t, form, nil)
			b := env.newBrowser()
			origin := "https://" + form.host

			login := b.get("/login")
			assertStatus(t, login, http.StatusOK)
			assertContains(t, login, "Create an account")
			if !strings.HasPrefix(authURLFrom(t, login), origin+"/"+emulator.DefaultTenant+"/oauth2/v2.0/authorize?") {
				t.Errorf("the sign-in link goes to %s, want the configured host %s", authURLFrom(t, login), form.host)
			}
			// The sign-out form may be sent on to the identity provider.
			if csp := login.header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' "+origin+";") {
				t.Errorf("CSP %q does not let the sign-out reach %s", csp, origin)
			}

			start := b.get("/graph")
			assertStatus(t, start, http.StatusFound)
			if !strings.HasPrefix(start.location, origin+"/") {
				t.Fatalf("sign-in went to %s, want %s", start.location, origin)
			}
			back := b.submitSignIn(start.location, "alice@demo.test", "alice-password", "signin")
			assertStatus(t, back, http.StatusFound)
			landed := b.follow(back)
			assertStatus(t, landed, http.StatusSeeOther)
			graph := b.follow(landed)
			assertStatus(t, graph, http.StatusOK)
			assertContains(t, graph, `&#34;displayName&#34;: &#34;Alice Smith&#34;`)
			assertContains(t, graph, "Hello Alice Smith!")
			// A second page refreshes again: the user stays signed in.
			assertContains(t, b.get("/graph"), "Alice Smith")

			claims := b.get("/token_details")
			if m := issClaim.FindStringSubmatch(claims.body); m == nil || html.UnescapeString(m[1]) != env.emu.ExternalIDIssuer("") {
				t.Errorf("the ID token's iss is %v, want External ID's %s", m, env.emu.ExternalIDIssuer(""))
			}

			stats := env.emu.Stats()
			if stats[emulator.StatTokenRefreshToken] != 2 || stats[emulator.StatOpenIDConfiguration] != 1 {
				t.Errorf("refresh grants %d, openid-configuration reads %d; want 2 and 1 (once per process)",
					stats[emulator.StatTokenRefreshToken], stats[emulator.StatOpenIDConfiguration])
			}

			out := b.signOut()
			assertStatus(t, out, http.StatusSeeOther)
			if !strings.HasPrefix(out.location, origin+"/"+emulator.DefaultTenant+"/oauth2/v2.0/logout?") {
				t.Fatalf("sign-out went to %s, want the configured host's end-session endpoint", out.location)
			}
			home := b.follow(b.follow(out))
			assertStatus(t, home, http.StatusOK)
			assertContains(t, home, "You're not signed in.")
			if env.emu.Stats()[emulator.StatLogout] != 1 {
				t.Error("the end-session endpoint was not reached")
			}
		})
	}
}

// MSAL Go's issuer check is not weakened: a discovery document whose
// issuer is on an unrelated host, or is another tenant's where the
// authority names the tenant by its ID, stops the sign-in before the
// browser is sent anywhere.
func TestExternalIDRefusesAnotherIssuer(t *testing.T) {
	const other = "c0ffee00-0000-4000-a000-0000000000ff"
	for _, tc := range []struct {
		name, issuer string
		forms        []authorityForm
	}{
		{"unrelated host", "https://login.unrelated.test/" + emulator.DefaultTenant + "/v2.0", externalIDForms},
		{"another tenant", "https://" + other + ".ciamlogin.com/" + other + "/v2.0", externalIDForms[2:]},
	} {
		for _, form := range tc.forms {
			t.Run(tc.name+"/"+form.name, func(t *testing.T) {
				env := newExternalIDEnv(t, form, emulatortest.RewriteIssuer(tc.issuer))
				b := env.newBrowser()
				for _, path := range []string{"/graph", "/login"} {
					p := b.get(path)
					assertStatus(t, p, http.StatusInternalServerError)
					if p.location != "" || strings.Contains(p.body, "/oauth2/v2.0/authorize") {
						t.Errorf("%s offers a sign-in despite the issuer %s", path, tc.issuer)
					}
				}
				if n := env.emu.Stats()[emulator.StatAuthorize]; n != 0 {
					t.Errorf("%d authorize requests", n)
				}
				if !strings.Contains(env.logs.String(), "does not match authority") {
					t.Errorf("the log does not say MSAL refused the issuer:\n%s", env.logs.String())
				}
			})
		}
	}
}

// "Create an account" goes to the user flow's sign-up; the account it
// creates is signed in, sees Graph, and signs in again with its password.
func TestExternalIDSignUp(t *testing.T) {
	env := newExternalIDEnv(t, externalIDForms[1], nil)
	b := env.newBrowser()
	login := b.get("/login?next=/graph")
	link := regexp.MustCompile(`href="([^"]*prompt=create[^"]*)"`).FindStringSubmatch(login.body)
	if link == nil || !strings.Contains(login.body, "Create an account") {
		t.Fatalf("the login page offers no sign-up:\n%s", excerpt(login.body))
	}
	start := b.get(html.UnescapeString(link[1]))
	assertStatus(t, start, http.StatusFound)
	if u, _ := url.Parse(start.location); u.Query().Get("prompt") != "create" || u.Host != externalIDForms[1].host {
		t.Fatalf("sign-up went to %s", start.location)
	}

	p, err := emulatortest.SignUp(t.Context(), b.client, start.location, "nina@example.com", "Str0ng-password")
	if err != nil {
		t.Fatal(err)
	}
	back := fromEmulatortest(p)
	assertStatus(t, back, http.StatusFound)
	landed := b.follow(back)
	assertStatus(t, landed, http.StatusSeeOther)
	if landed.location != env.appURL+"/graph" {
		t.Errorf("after sign-up went to %s, want the page asked for", landed.location)
	}
	graph := b.follow(landed)
	assertStatus(t, graph, http.StatusOK)
	assertContains(t, graph, `&#34;userPrincipalName&#34;: &#34;nina@example.com&#34;`)
	if env.emu.Stats()[emulator.StatSignUps] != 1 {
		t.Errorf("sign_ups = %d", env.emu.Stats()[emulator.StatSignUps])
	}

	// The account is kept: another browser signs in with it.
	again := env.newBrowser()
	again.signIn("nina@example.com", "Str0ng-password")
	assertContains(t, again.get("/graph"), "nina@example.com")
}

// With Entra ID the login page offers no sign-up, and prompt=create on it
// changes nothing.
func TestEntraIDLoginOffersNoSignUp(t *testing.T) {
	env := newTestEnv(t)
	b := env.newBrowser()
	for _, path := range []string{"/login", "/login?prompt=create"} {
		p := b.get(path)
		assertStatus(t, p, http.StatusOK)
		assertNotContains(t, p, "Create an account")
		if u, _ := url.Parse(authURLFrom(t, p)); u.Query().Get("prompt") != "select_account" {
			t.Errorf("%s: the sign-in link asks prompt=%q", path, u.Query().Get("prompt"))
		}
	}
}
