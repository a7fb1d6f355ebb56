// An External ID tenant: the names it answers under, the issuer it names
// under each, and self-service sign-up.

package emulator

import (
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"ms-identity-go-webapp/internal/testutil"
)

// asHost sends every request with Host set to host, as a client that
// reached the emulator under that name does (the TLS name stays the test
// server's).
type asHost struct {
	host string
	next http.RoundTripper
}

func (a asHost) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Host = a.host
	return a.next.RoundTrip(req)
}

// hostBrowser is a browser (cookies, no redirects followed) that reaches
// the emulator as host.
func (env *testEnv) hostBrowser(host string) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{
		Transport:     asHost{host, env.srv.Client().Transport},
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       10 * time.Second,
	}
}

func externalID(c *Config) { c.ExternalID = true }

const wantCIAMIssuer = "https://" + DefaultTenant + ".ciamlogin.com/" + DefaultTenant + "/v2.0"

// Every documented form of the authority serves the discovery document
// with its endpoints on the host it was asked, and the issuer External ID
// names: the tenant ID's own ciamlogin.com host.
func TestExternalIDDiscoveryUnderEveryForm(t *testing.T) {
	env := newEnv(t, externalID)
	for _, tc := range []struct{ host, tenant string }{
		{"demo.ciamlogin.com", "demo.onmicrosoft.com"},
		{"demo.ciamlogin.com", DefaultTenant},
		{DefaultTenant + ".ciamlogin.com", DefaultTenant},
		{"login.contoso.test", DefaultTenant},
		{"DEMO.ciamlogin.com", "Demo.OnMicrosoft.com"},
	} {
		t.Run(tc.host+"/"+tc.tenant, func(t *testing.T) {
			c := env.hostBrowser(tc.host)
			resp, err := c.Get(env.url("/" + tc.tenant + "/v2.0/.well-known/openid-configuration"))
			if err != nil {
				t.Fatal(err)
			}
			doc := decodeJSON(t, resp)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %v", resp.StatusCode, doc)
			}
			if doc["issuer"] != wantCIAMIssuer {
				t.Errorf("issuer = %v, want %s", doc["issuer"], wantCIAMIssuer)
			}
			base := "https://" + tc.host + "/" + DefaultTenant
			for k, want := range map[string]string{
				"authorization_endpoint": base + "/oauth2/v2.0/authorize",
				"token_endpoint":         base + "/oauth2/v2.0/token",
				"end_session_endpoint":   base + "/oauth2/v2.0/logout",
			} {
				if doc[k] != want {
					t.Errorf("%s = %v, want %s", k, doc[k], want)
				}
			}
		})
	}
	if got := env.em.ExternalIDIssuer(""); got != wantCIAMIssuer {
		t.Errorf("ExternalIDIssuer = %s", got)
	}
	if got := env.em.ExternalIDIssuer("5001"); got != "https://"+DefaultTenant+".ciamlogin.com:5001/"+DefaultTenant+"/v2.0" {
		t.Errorf("ExternalIDIssuer(5001) = %s", got)
	}
}

// Another tenant's names are not this tenant's: AADSTS90002, as External
// ID answers. External ID has no instance discovery endpoint either.
func TestExternalIDRefusesOtherTenants(t *testing.T) {
	env := newEnv(t, externalID)
	for _, tc := range []struct{ host, tenant string }{
		{"fabrikam.ciamlogin.com", "fabrikam.onmicrosoft.com"},
		{"fabrikam.ciamlogin.com", DefaultTenant},
		{"demo.ciamlogin.com", "fabrikam.onmicrosoft.com"},
		{"c0ffee00-0000-4000-a000-0000000000ff.ciamlogin.com", DefaultTenant},
		{"login.contoso.test", "c0ffee00-0000-4000-a000-0000000000ff"},
	} {
		resp, err := env.hostBrowser(tc.host).Get(env.url("/" + tc.tenant + "/v2.0/.well-known/openid-configuration"))
		if err != nil {
			t.Fatal(err)
		}
		wantAADError(t, resp.StatusCode, decodeJSON(t, resp), http.StatusBadRequest, "invalid_tenant", 90002)
	}
	resp, err := env.hostBrowser("demo.ciamlogin.com").Get(env.url("/common/discovery/instance?api-version=1.1"))
	if err != nil {
		t.Fatal(err)
	}
	readBody(t, resp)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("instance discovery answered %d, want 404", resp.StatusCode)
	}
}

// ciamCode signs in at host through the password form and returns the code.
func (env *testEnv) ciamCode(c *http.Client, host, tenant string, over url.Values) string {
	env.t.Helper()
	auth := strings.Replace(env.authorizeURL(over), "/"+DefaultTenant+"/", "/"+tenant+"/", 1)
	form := url.Values{"loginfmt": {"alice@demo.test"}, "passwd": {"alice-password"}, "action": {"signin"}}
	resp, err := c.PostForm(auth, form)
	if err != nil {
		env.t.Fatal(err)
	}
	p := redirectParams(env.t, resp, DemoRedirectURIs[0])
	if p.Get("code") == "" {
		env.t.Fatalf("no code: %v", p)
	}
	return p.Get("code")
}

// Tokens carry External ID's issuer whichever host issued them, and the
// access token works at Graph.
func TestExternalIDTokensNameTheTenantIssuer(t *testing.T) {
	env := newEnv(t, externalID)
	for _, host := range []string{"demo.ciamlogin.com", "login.contoso.test"} {
		c := env.hostBrowser(host)
		code := env.ciamCode(c, host, "demo.onmicrosoft.com", nil)
		resp, err := c.PostForm(env.url("/demo.onmicrosoft.com/oauth2/v2.0/token"), codeForm(code, testVerifier))
		if err != nil {
			t.Fatal(err)
		}
		body := decodeJSON(t, resp)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: token status %d: %v", host, resp.StatusCode, body)
		}
		id := jwtClaims(t, str(body, "id_token"))
		if id["iss"] != wantCIAMIssuer || id["tid"] != DefaultTenant {
			t.Errorf("%s: ID token iss %v, tid %v", host, id["iss"], id["tid"])
		}
		resp, err = c.PostForm(env.url("/"+DefaultTenant+"/oauth2/v2.0/token"), refreshForm(str(body, "refresh_token")))
		if err != nil {
			t.Fatal(err)
		}
		refreshed := decodeJSON(t, resp)
		if resp.StatusCode != http.StatusOK || jwtClaims(t, str(refreshed, "id_token"))["iss"] != wantCIAMIssuer {
			t.Errorf("%s: refresh answered %d, ID token iss %v", host, resp.StatusCode, jwtClaims(t, str(refreshed, "id_token"))["iss"])
		}
		req, _ := http.NewRequest(http.MethodGet, env.url("/v1.0/me"), nil)
		req.Header.Set("Authorization", "Bearer "+str(body, "access_token"))
		me, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if doc := decodeJSON(t, me); me.StatusCode != http.StatusOK || doc["userPrincipalName"] != "alice@demo.test" {
			t.Errorf("%s: Graph /me answered %d: %v", host, me.StatusCode, doc)
		}
	}
}

// prompt=create shows the create-account form; a good one creates the
// account, signs it in and sends the code back; the account stays, and
// signs in with its password afterwards.
func TestExternalIDSignUp(t *testing.T) {
	env := newEnv(t, externalID)
	c := env.hostBrowser("demo.ciamlogin.com")
	auth := env.authorizeURL(url.Values{"prompt": {"create"}})

	// The sign-in form offers sign-up; the sign-up form offers sign-in.
	signin := readBody(t, env.getWith(c, env.authorizeURL(nil)))
	if !strings.Contains(signin, "prompt=create") || !strings.Contains(signin, "Create one") {
		t.Errorf("the sign-in page offers no sign-up:\n%s", signin)
	}
	form := readBody(t, env.getWith(c, auth))
	if !strings.Contains(form, `name="newpasswd"`) || !strings.Contains(form, `name="email"`) {
		t.Fatalf("prompt=create shows no create-account form:\n%s", form)
	}

	for _, tc := range []struct{ email, password, want string }{
		{"not-an-email", "Str0ng-password", "Enter a valid email address"},
		{"new@example", "Str0ng-password", "Enter a valid email address"},
		{"new@example.com", "short1A", "8 to 256 characters"},
		{"new@example.com", "alllowercase", "three of these"},
		{"Alice@demo.test", "Str0ng-password", "already exists"},
	} {
		resp := env.postWith(c, auth, url.Values{"email": {tc.email}, "newpasswd": {tc.password}, "action": {"signup"}})
		body := readBody(t, resp)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, tc.want) {
			t.Errorf("%s / %s: status %d, want the form again with %q:\n%.600s", tc.email, tc.password, resp.StatusCode, tc.want, body)
		}
		if strings.Contains(body, tc.password) {
			t.Errorf("the form shows the password back")
		}
	}

	resp := env.postWith(c, auth, url.Values{"email": {"Nina@Example.com"}, "newpasswd": {"Str0ng-password"}, "displayname": {"Nina New"}, "action": {"signup"}})
	p := redirectParams(t, resp, DemoRedirectURIs[0])
	if p.Get("code") == "" || p.Get("state") != "state-123" {
		t.Fatalf("sign-up sent back %v", p)
	}
	tok, err := c.PostForm(env.url("/"+DefaultTenant+"/oauth2/v2.0/token"), codeForm(p.Get("code"), testVerifier))
	if err != nil {
		t.Fatal(err)
	}
	body := decodeJSON(t, tok)
	id := jwtClaims(t, str(body, "id_token"))
	if id["preferred_username"] != "Nina@Example.com" || id["name"] != "Nina New" || id["iss"] != wantCIAMIssuer || id["nonce"] != "nonce-456" {
		t.Errorf("the new account's ID token: %v", id)
	}
	if env.em.Stats()[StatSignUps] != 1 {
		t.Errorf("sign_ups = %d", env.em.Stats()[StatSignUps])
	}
	var found bool
	for _, u := range env.em.Users() {
		found = found || (u.Username == "Nina@Example.com" && u.OID == id["oid"])
	}
	if !found {
		t.Error("Users() lacks the new account")
	}

	// The account is kept: a second sign-up with it is refused, and a new
	// browser signs in with its password.
	again := readBody(t, env.postWith(c, auth, url.Values{"email": {"nina@example.com"}, "newpasswd": {"Str0ng-password"}, "action": {"signup"}}))
	if !strings.Contains(again, "already exists") {
		t.Error("a second sign-up with the same address was not refused")
	}
	other := env.hostBrowser("login.contoso.test")
	resp = env.postWith(other, env.authorizeURL(nil), url.Values{"loginfmt": {"nina@example.com"}, "passwd": {"Str0ng-password"}, "action": {"signin"}})
	if p := redirectParams(t, resp, DemoRedirectURIs[0]); p.Get("code") == "" {
		t.Errorf("the new account cannot sign in: %v", p)
	}

	// Cancel goes back to the app with access_denied.
	resp = env.postWith(env.hostBrowser("demo.ciamlogin.com"), auth, url.Values{"email": {""}, "newpasswd": {""}, "action": {"cancel"}})
	wantRedirectError(t, resp, "access_denied", 65004, "state-123")
}

// An Entra ID tenant has no sign-up: prompt=create stays AADSTS90023 and
// its sign-in page offers none.
func TestEntraIDHasNoSignUp(t *testing.T) {
	env := newEnv(t, nil)
	wantRedirectError(t, env.get(env.authorizeURL(url.Values{"prompt": {"create"}})), "invalid_request", 90023, "state-123")
	if body := readBody(t, env.get(env.authorizeURL(nil))); strings.Contains(body, "Create one") {
		t.Error("an Entra ID tenant's sign-in page offers sign-up")
	}
}

func TestExternalIDConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"tenant not a GUID", Config{ExternalID: true, Tenant: "contoso.onmicrosoft.com"}, "GUID"},
		{"subdomain not a label", Config{ExternalID: true, Subdomain: "contoso.com"}, "DNS label"},
		{"subdomain the tenant ID", Config{ExternalID: true, Subdomain: DefaultTenant}, "not the tenant ID"},
		{"subdomain without External ID", Config{Subdomain: "contoso"}, "set ExternalID"},
	} {
		_, err := New(tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to say %q", tc.name, err, tc.want)
		}
	}
	em, err := New(Config{ExternalID: true, Subdomain: " Contoso ", SigningKey: testutil.SigningKey()})
	if err != nil || em.Subdomain() != "contoso" || !em.ExternalID() {
		t.Errorf("New: %v, subdomain %q", err, em.Subdomain())
	}
}

func (env *testEnv) getWith(c *http.Client, u string) *http.Response {
	env.t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		env.t.Fatalf("GET %s: %v", u, err)
	}
	return resp
}

func (env *testEnv) postWith(c *http.Client, u string, form url.Values) *http.Response {
	env.t.Helper()
	resp, err := c.PostForm(u, form)
	if err != nil {
		env.t.Fatalf("POST %s: %v", u, err)
	}
	return resp
}

// The about page tells how to point the app at an External ID tenant.
func TestExternalIDIndexPage(t *testing.T) {
	env := newEnv(t, externalID)
	body := readBody(t, env.getWith(env.hostBrowser("localhost:5001"), env.url("/")))
	for _, want := range []string{"External ID tenant", "OIDC_AUTHORITY=https://localhost:5001/" + DefaultTenant + "/v2.0",
		"https://" + DefaultTenant + ".ciamlogin.com:5001/" + DefaultTenant + "/v2.0"} {
		if !strings.Contains(body, want) {
			t.Errorf("about page lacks %q", want)
		}
	}
}
