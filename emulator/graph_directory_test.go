// Microsoft Graph's directory in the emulator: registering an app through
// Graph makes a real app of the emulator at once, and Graph refuses what a
// user may not do, in Graph's error format.

package emulator_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"

	"ms-identity-go-webapp/emulator"
	"ms-identity-go-webapp/emulator/emulatortest"
	"ms-identity-go-webapp/internal/testutil"
)

// graphCall sends one Graph request with a bearer token and decodes the
// JSON answer (nil for an empty one).
func graphCall(t *testing.T, srv *emulatortest.Server, token, method, path string, body any, header ...string) (int, map[string]any) {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		rd = bytes.NewReader(data)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, err := http.NewRequest(method, srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	p, err := emulatortest.Do(srv.Client(), req)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if p.Body != "" {
		if err := json.Unmarshal([]byte(p.Body), &m); err != nil {
			t.Fatalf("%s %s: %d, not JSON: %.200s", method, path, p.Status, p.Body)
		}
	}
	return p.Status, m
}

// wantGraphError checks Graph's error format: {"error":{"code","message",
// "innerError":{"date","request-id","client-request-id"}}}.
func wantGraphError(t *testing.T, status int, body map[string]any, wantStatus int, wantCode string) {
	t.Helper()
	e, _ := body["error"].(map[string]any)
	inner, _ := e["innerError"].(map[string]any)
	if status != wantStatus || e["code"] != wantCode || e["message"] == "" || inner["request-id"] == nil || inner["date"] == nil {
		t.Errorf("answer %d %v, want %d with Graph's error %s", status, body, wantStatus, wantCode)
	}
}

// sampleApp is what cmd/register sends to create the sample's registration.
func sampleApp(redirect string) map[string]any {
	return map[string]any{
		"displayName":    "Go sample",
		"signInAudience": "AzureADMyOrg",
		"web": map[string]any{
			"redirectUris":          []string{redirect},
			"logoutUrl":             strings.TrimSuffix(redirect, "/auth/redirect") + "/auth/frontchannel-logout",
			"implicitGrantSettings": map[string]bool{"enableIdTokenIssuance": false, "enableAccessTokenIssuance": false},
		},
		"appRoles": []map[string]any{{
			"allowedMemberTypes": []string{"User"}, "description": "Can open /admin", "displayName": "Admin",
			"id": "6a8d4c47-1f3e-4d5b-9c2a-0b7e8f9a1d23", "isEnabled": true, "value": "admin",
		}},
		"requiredResourceAccess": []map[string]any{{
			"resourceAppId": emulator.GraphResourceID,
			"resourceAccess": []map[string]string{
				{"id": "e1fe6dd8-ba31-4d61-89e7-88639da4683d", "type": "Scope"},
				{"id": "465a38f9-76ea-45b9-9f34-9e8b0d4b0b42", "type": "Scope"},
			},
		}},
	}
}

const sampleRedirect = "https://localhost:5000/auth/redirect"

func upsert(t *testing.T, srv *emulatortest.Server, token, uniqueName string, body any) (int, map[string]any) {
	t.Helper()
	return graphCall(t, srv, token, http.MethodPatch, "/v1.0/applications(uniqueName='"+uniqueName+"')", body, "Prefer", "create-if-missing")
}

// webSignIn signs a user in to a registered app through its redirect URI,
// as the web app does, returning the consent page it passed (if any) and
// the code.
func webSignIn(t *testing.T, srv *emulatortest.Server, clientID, username, password string) (consent, code string) {
	t.Helper()
	verifier := "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{
		"client_id": {clientID}, "redirect_uri": {sampleRedirect}, "response_type": {"code"},
		"scope": {"openid profile offline_access User.Read"}, "state": {"s"}, "nonce": {"n"},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	}
	authorize := srv.Authority() + "/oauth2/v2.0/authorize?" + q.Encode()
	browser := person(srv)
	browser.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	p, err := emulatortest.PostForm(t.Context(), browser, authorize, url.Values{"loginfmt": {username}, "passwd": {password}, "action": {"signin"}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(p.Body, `name="flow"`) {
		consent = p.Body
		flow := regexp.MustCompile(`name="flow" value="([^"]*)"`).FindStringSubmatch(p.Body)[1]
		if p, err = emulatortest.PostForm(t.Context(), browser, authorize, url.Values{"flow": {html.UnescapeString(flow)}, "action": {"accept"}}); err != nil {
			t.Fatal(err)
		}
	}
	loc, _ := url.Parse(p.Location)
	if p.Status != http.StatusFound || loc == nil || loc.Query().Get("code") == "" {
		t.Fatalf("sign-in to %s: %d %s %.300s", clientID, p.Status, p.Location, p.Body)
	}
	return consent, loc.Query().Get("code")
}

func redeem(t *testing.T, srv *emulatortest.Server, clientID, secret, code string) (int, map[string]any) {
	t.Helper()
	resp, err := srv.Client().PostForm(srv.Authority()+"/oauth2/v2.0/token", url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {sampleRedirect},
		"client_id": {clientID}, "client_secret": {secret}, "code_verifier": {"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"},
		"scope": {"User.Read openid offline_access profile"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

// The whole life of a registration made through Graph, as cmd/register
// makes it: upsert, look-ups by every key, a secret, the service principal
// and the role assignment; then the web app signs in with it at once, the
// consent page naming the permissions and the ID token the role; then
// deleting it makes its client ID unknown.
func TestRegistrationThroughGraph(t *testing.T) {
	srv := emulatortest.NewServer(t, emulator.Config{})
	alice := interactive(t, srv, "alice@demo.test", "alice-password").AccessToken
	users := srv.Users()

	status, graphSP := graphCall(t, srv, alice, http.MethodGet, "/v1.0/servicePrincipals(appId='00000003-0000-0000-c000-000000000000')", nil)
	scopes, _ := graphSP["oauth2PermissionScopes"].([]any)
	ids := map[string]string{}
	for _, s := range scopes {
		m := s.(map[string]any)
		ids[m["value"].(string)] = m["id"].(string)
	}
	if status != http.StatusOK || ids["User.Read"] != "e1fe6dd8-ba31-4d61-89e7-88639da4683d" || ids["Calendars.Read"] != "465a38f9-76ea-45b9-9f34-9e8b0d4b0b42" {
		t.Fatalf("Graph's service principal: %d %v", status, ids)
	}

	status, created := upsert(t, srv, alice, "go-sample-alice", sampleApp(sampleRedirect))
	objectID, appID := str(created, "id"), str(created, "appId")
	if status != http.StatusCreated || objectID == "" || appID == "" || str(created, "uniqueName") != "go-sample-alice" {
		t.Fatalf("upsert create: %d %v", status, created)
	}
	if status, again := upsert(t, srv, alice, "go-sample-alice", sampleApp(sampleRedirect)); status != http.StatusNoContent || again != nil {
		t.Fatalf("upsert update: %d %v", status, again)
	}
	for _, path := range []string{"/v1.0/applications/" + objectID, "/v1.0/applications(appId='" + appID + "')", "/v1.0/applications(uniqueName='go-sample-alice')"} {
		if status, got := graphCall(t, srv, alice, http.MethodGet, path, nil); status != http.StatusOK || str(got, "id") != objectID {
			t.Errorf("GET %s: %d %v", path, status, got["id"])
		}
	}
	if regs := srv.Registrations(); len(regs) != 1 || !slices.Equal(regs[0].Owners, []string{"alice@demo.test"}) ||
		!slices.Equal(regs[0].GraphPermissions, []string{"User.Read", "Calendars.Read"}) || regs[0].IDTokenIssuance {
		t.Fatalf("registrations: %+v", regs)
	}

	status, pw := graphCall(t, srv, alice, http.MethodPost, "/v1.0/applications/"+objectID+"/addPassword", map[string]any{"passwordCredential": map[string]string{"displayName": "test"}})
	secret := str(pw, "secretText")
	if status != http.StatusOK || len(secret) < 32 || str(pw, "keyId") == "" || str(pw, "hint") != secret[:3] {
		t.Fatalf("addPassword: %d", status)
	}
	_, read := graphCall(t, srv, alice, http.MethodGet, "/v1.0/applications/"+objectID, nil)
	if creds := read["passwordCredentials"].([]any); len(creds) != 1 || creds[0].(map[string]any)["secretText"] != nil {
		t.Errorf("passwordCredentials as read back: %v", creds)
	}

	status, sp := graphCall(t, srv, alice, http.MethodPost, "/v1.0/servicePrincipals", map[string]string{"appId": appID})
	if status != http.StatusCreated || str(sp, "appId") != appID {
		t.Fatalf("create service principal: %d %v", status, sp)
	}
	status, as := graphCall(t, srv, alice, http.MethodPost, "/v1.0/servicePrincipals/"+str(sp, "id")+"/appRoleAssignedTo", map[string]string{
		"principalId": users[0].OID, "resourceId": str(sp, "id"), "appRoleId": "6a8d4c47-1f3e-4d5b-9c2a-0b7e8f9a1d23",
	})
	if status != http.StatusCreated || str(as, "principalId") != users[0].OID {
		t.Fatalf("assign the admin role: %d %v", status, as)
	}

	// The registration is an app of the emulator at once.
	consent, code := webSignIn(t, srv, appID, "alice@demo.test", "alice-password")
	for _, want := range []string{"Go sample", appID, "Sign you in and read your profile", "User.Read"} {
		if !strings.Contains(consent, want) {
			t.Errorf("the consent page does not name %q", want)
		}
	}
	status, tokens := redeem(t, srv, appID, secret, code)
	if status != http.StatusOK {
		t.Fatalf("redeeming with the new secret: %d %v", status, tokens["error_description"])
	}
	id := claimsOf(t, str(tokens, "id_token"))
	if roles, _ := id["roles"].([]any); id["aud"] != appID || len(roles) != 1 || roles[0] != "admin" {
		t.Errorf("ID token aud %v roles %v, want the new app and [admin]", id["aud"], id["roles"])
	}
	// Roles are the registration's: Ada holds "admin" in the demo app's
	// configuration, not here.
	_, code = webSignIn(t, srv, appID, "admin@demo.test", "admin-password")
	if _, tokens = redeem(t, srv, appID, secret, code); claimsOf(t, str(tokens, "id_token"))["roles"] != nil {
		t.Errorf("a user without an assignment got roles %v", claimsOf(t, str(tokens, "id_token"))["roles"])
	}
	if status, _ := redeem(t, srv, appID, "not-the-secret-0123456789", code); status != http.StatusUnauthorized {
		t.Errorf("a wrong secret: %d, want 401", status)
	}

	// Deleted: the client ID is unknown to sign-in and to Graph.
	if status, _ := graphCall(t, srv, alice, http.MethodDelete, "/v1.0/applications/"+objectID, nil); status != http.StatusNoContent {
		t.Fatalf("delete: %d", status)
	}
	status, body := graphCall(t, srv, alice, http.MethodGet, "/v1.0/applications(appId='"+appID+"')", nil)
	wantGraphError(t, status, body, http.StatusNotFound, "Request_ResourceNotFound")
	q := url.Values{"client_id": {appID}, "redirect_uri": {sampleRedirect}, "response_type": {"code"}, "scope": {"openid"}}
	p, err := emulatortest.Get(t.Context(), srv.Client(), srv.Authority()+"/oauth2/v2.0/authorize?"+q.Encode())
	if err != nil || p.Status != http.StatusBadRequest || !strings.Contains(p.Body, "AADSTS700016") {
		t.Errorf("signing in to the deleted registration: %v %d", err, p.Status)
	}
	if status, body := redeem(t, srv, appID, secret, code); status != http.StatusBadRequest || !strings.HasPrefix(str(body, "error_description"), "AADSTS700016") {
		t.Errorf("the token endpoint for the deleted registration: %d %v", status, body["error_description"])
	}
	if len(srv.Registrations()) != 0 {
		t.Errorf("registrations after delete: %+v", srv.Registrations())
	}
}

func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

// What Graph refuses, in Graph's error format: creating an app when
// registration is turned off, anything with a token of the wrong
// permissions, an app of someone else, a role assignment when denied,
// removing an enabled app role, an unknown property.
func TestGraphDirectoryRefusals(t *testing.T) {
	srv := emulatortest.NewServer(t, emulator.Config{})
	alice := interactive(t, srv, "alice@demo.test", "alice-password").AccessToken
	ada := interactive(t, srv, "admin@demo.test", "admin-password").AccessToken
	_, created := upsert(t, srv, alice, "alice-app", sampleApp(sampleRedirect))
	objectID := str(created, "id")

	t.Run("registration turned off", func(t *testing.T) {
		// As someone trying the emulator turns it off: its control endpoint.
		resp, err := srv.Client().Post(srv.URL+"/emulator/faults", "application/json", strings.NewReader(`{"directory":{"app_registration_disabled":true}}`))
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("POST /emulator/faults: %v %v", err, resp.Status)
		}
		resp.Body.Close()
		defer srv.SetDirectoryFaults(emulator.DirectoryFaults{})
		status, body := graphCall(t, srv, alice, http.MethodPost, "/v1.0/applications", map[string]string{"displayName": "x"})
		wantGraphError(t, status, body, http.StatusForbidden, "Authorization_RequestDenied")
		status, body = upsert(t, srv, alice, "another", sampleApp(sampleRedirect))
		wantGraphError(t, status, body, http.StatusForbidden, "Authorization_RequestDenied")
		// Updating what exists is still allowed.
		if status, _ := upsert(t, srv, alice, "alice-app", sampleApp(sampleRedirect)); status != http.StatusNoContent {
			t.Errorf("updating an existing app: %d", status)
		}
	})
	t.Run("a web app's User.Read token", func(t *testing.T) {
		cred, _ := confidential.NewCredFromSecret(emulator.DemoClientSecret)
		web, err := confidential.New(srv.Authority(), emulator.DemoClientID, cred, confidential.WithInstanceDiscovery(false), confidential.WithHTTPClient(srv.Client()))
		if err != nil {
			t.Fatal(err)
		}
		authURL, _ := web.AuthCodeURL(t.Context(), emulator.DemoClientID, emulator.DemoRedirectURIs[0], []string{"User.Read"})
		p, err := emulatortest.SignIn(t.Context(), person(srv), authURL, "alice@demo.test", "alice-password")
		if err != nil {
			t.Fatal(err)
		}
		loc, _ := url.Parse(p.Location)
		res, err := web.AcquireTokenByAuthCode(t.Context(), loc.Query().Get("code"), emulator.DemoRedirectURIs[0], []string{"User.Read"})
		if err != nil {
			t.Fatal(err)
		}
		status, body := graphCall(t, srv, res.AccessToken, http.MethodGet, "/v1.0/applications/"+objectID, nil)
		wantGraphError(t, status, body, http.StatusForbidden, "Authorization_RequestDenied")
	})
	t.Run("someone else's app", func(t *testing.T) {
		status, body := upsert(t, srv, ada, "alice-app", sampleApp(sampleRedirect))
		wantGraphError(t, status, body, http.StatusForbidden, "Authorization_RequestDenied")
		status, body = graphCall(t, srv, ada, http.MethodPost, "/v1.0/applications/"+objectID+"/addPassword", map[string]any{"passwordCredential": map[string]any{}})
		wantGraphError(t, status, body, http.StatusForbidden, "Authorization_RequestDenied")
		status, body = graphCall(t, srv, ada, http.MethodDelete, "/v1.0/applications/"+objectID, nil)
		wantGraphError(t, status, body, http.StatusForbidden, "Authorization_RequestDenied")
	})
	t.Run("role assignment denied", func(t *testing.T) {
		_, sp := graphCall(t, srv, alice, http.MethodPost, "/v1.0/servicePrincipals", map[string]string{"appId": str(created, "appId")})
		srv.SetDirectoryFaults(emulator.DirectoryFaults{RoleAssignmentDenied: true})
		defer srv.SetDirectoryFaults(emulator.DirectoryFaults{})
		status, body := graphCall(t, srv, alice, http.MethodPost, "/v1.0/servicePrincipals/"+str(sp, "id")+"/appRoleAssignedTo", map[string]string{
			"principalId": srv.Users()[0].OID, "resourceId": str(sp, "id"), "appRoleId": "6a8d4c47-1f3e-4d5b-9c2a-0b7e8f9a1d23",
		})
		wantGraphError(t, status, body, http.StatusForbidden, "Authorization_RequestDenied")
	})
	t.Run("an enabled role removed", func(t *testing.T) {
		app := sampleApp(sampleRedirect)
		app["appRoles"] = []any{}
		status, body := upsert(t, srv, alice, "alice-app", app)
		wantGraphError(t, status, body, http.StatusBadRequest, "CannotDeleteOrUpdateEnabledEntitlement")
	})
	t.Run("an unknown property", func(t *testing.T) {
		status, body := upsert(t, srv, alice, "alice-app", map[string]any{"displayName": "x", "favouriteColour": "blue"})
		wantGraphError(t, status, body, http.StatusBadRequest, "Request_BadRequest")
		if msg := fmt.Sprint(body["error"]); !strings.Contains(msg, "favouriteColour") {
			t.Errorf("message %q does not name the property", msg)
		}
	})
	t.Run("no token", func(t *testing.T) {
		status, body := graphCall(t, srv, "", http.MethodGet, "/v1.0/applications/"+objectID, nil)
		wantGraphError(t, status, body, http.StatusUnauthorized, "InvalidAuthenticationToken")
	})
}

// Graph's replication delay: a new application is not found for a few
// requests, its service principal cannot be made meanwhile
// (NoBackingApplicationObject), and a new service principal is not found
// either.
func TestGraphReplicationLag(t *testing.T) {
	srv := emulatortest.NewServer(t, emulator.Config{DirectoryFaults: emulator.DirectoryFaults{ReplicationLag: 2}})
	alice := interactive(t, srv, "alice@demo.test", "alice-password").AccessToken
	status, created := upsert(t, srv, alice, "lagging", sampleApp(sampleRedirect))
	if status != http.StatusCreated {
		t.Fatalf("create: %d", status)
	}
	for i := range 2 {
		status, body := graphCall(t, srv, alice, http.MethodPost, "/v1.0/servicePrincipals", map[string]string{"appId": str(created, "appId")})
		wantGraphError(t, status, body, http.StatusBadRequest, "Request_BadRequest")
		if msg := fmt.Sprint(body["error"]); !strings.Contains(msg, "NoBackingApplicationObject") {
			t.Errorf("try %d: %s", i+1, msg)
		}
	}
	status, sp := graphCall(t, srv, alice, http.MethodPost, "/v1.0/servicePrincipals", map[string]string{"appId": str(created, "appId")})
	if status != http.StatusCreated {
		t.Fatalf("third try: %d %v", status, sp)
	}
	var got []int
	for range 3 {
		status, _ := graphCall(t, srv, alice, http.MethodGet, "/v1.0/servicePrincipals/"+str(sp, "id"), nil)
		got = append(got, status)
	}
	if !slices.Equal(got, []int{404, 404, 200}) {
		t.Errorf("reading the new service principal: %v, want 404 404 200", got)
	}
}

// A certificate uploaded through Graph (keyCredentials) authenticates the
// registration's client assertions at once.
func TestRegistrationWithCertificate(t *testing.T) {
	srv := emulatortest.NewServer(t, emulator.Config{})
	alice := interactive(t, srv, "alice@demo.test", "alice-password").AccessToken
	cc := testutil.NewClientCert(t, nil, "go-sample", time.Now().Add(24*time.Hour))
	app := sampleApp(sampleRedirect)
	app["keyCredentials"] = []map[string]string{{"type": "AsymmetricX509Cert", "usage": "Verify", "key": base64.StdEncoding.EncodeToString(cc.Cert.Raw)}}
	status, created := upsert(t, srv, alice, "with-cert", app)
	if status != http.StatusCreated {
		t.Fatalf("create: %d %v", status, created)
	}
	keys, _ := created["keyCredentials"].([]any)
	if len(keys) != 1 || keys[0].(map[string]any)["key"] != nil {
		t.Fatalf("keyCredentials as answered: %v", keys)
	}
	appID := str(created, "appId")
	cred, err := confidential.NewCredFromCert([]*x509.Certificate{cc.Cert}, cc.Key)
	if err != nil {
		t.Fatal(err)
	}
	web, err := confidential.New(srv.Authority(), appID, cred, confidential.WithInstanceDiscovery(false), confidential.WithHTTPClient(srv.Client()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	_, code := webSignIn(t, srv, appID, "alice@demo.test", "alice-password")
	if _, err := web.AcquireTokenByAuthCode(ctx, code, sampleRedirect, []string{"User.Read"}, confidential.WithChallenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")); err != nil {
		t.Fatalf("redeeming with the uploaded certificate: %v", err)
	}
}
