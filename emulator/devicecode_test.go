// The device authorization grant and the Azure CLI's public client, driven
// by MSAL Go's public client as it is, and the verification page as a
// person uses it.

package emulator_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/public"

	"ms-identity-go-webapp/emulator"
	"ms-identity-go-webapp/emulator/emulatortest"
)

// graphDefault is the scope tools that manage a tenant ask the Azure CLI
// for.
const graphDefault = "https://graph.microsoft.com/.default"

// movableClock is a Config.Now that tests move forward.
type movableClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *movableClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *movableClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// person is a browser with its own cookies.
func person(srv *emulatortest.Server) *http.Client {
	c := srv.Client()
	c.Jar, _ = cookiejar.New(nil)
	return c
}

func cliClient(t *testing.T, srv *emulatortest.Server) public.Client {
	t.Helper()
	pca, err := public.New(emulator.AzureCLIClientID,
		public.WithAuthority(srv.Authority()),
		public.WithHTTPClient(srv.Client()),
		public.WithInstanceDiscovery(false))
	if err != nil {
		t.Fatal(err)
	}
	return pca
}

// claimsOf decodes a JWT's payload without verifying it.
func claimsOf(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT")
	}
	data, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// MSAL Go's device code flow against the emulator, as cmd/register uses
// it: the message as Entra words it, MSAL's own polling until the person
// has entered the code, signed in and confirmed, and a Graph token with
// the Azure CLI's pre-authorized permissions, without a consent page.
func TestDeviceCodeFlowWithMSAL(t *testing.T) {
	srv := emulatortest.NewServer(t, emulator.Config{AdminConsented: []string{}})
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	dc, err := cliClient(t, srv).AcquireTokenByDeviceCode(ctx, []string{graphDefault})
	if err != nil {
		t.Fatalf("AcquireTokenByDeviceCode: %v", err)
	}
	msg := regexp.MustCompile(`^To sign in, use a web browser to open the page (https://127\.0\.0\.1:\d+/devicelogin) and enter the code ([A-Z2-9]{9}) to authenticate\.$`)
	if !msg.MatchString(dc.Result.Message) {
		t.Fatalf("device code message = %q, not as Entra words it", dc.Result.Message)
	}
	uri, code, ok := emulatortest.ParseDeviceCodeMessage(dc.Result.Message)
	if !ok || uri != dc.Result.VerificationURL || code != dc.Result.UserCode {
		t.Fatalf("message names %q %q, result %q %q", uri, code, dc.Result.VerificationURL, dc.Result.UserCode)
	}

	type answer struct {
		p   *emulatortest.Page
		err error
	}
	done := make(chan answer, 1)
	go func() {
		// MSAL polls from the start: let it see authorization_pending.
		time.Sleep(300 * time.Millisecond)
		// People type codes in any case, with a dash.
		p, err := emulatortest.DeviceSignIn(ctx, person(srv), uri, strings.ToLower(code[:4])+"-"+code[4:], "alice@demo.test", "alice-password")
		done <- answer{p, err}
	}()
	res, err := dc.AuthenticationResult(ctx)
	a := <-done
	if err != nil {
		t.Fatalf("AuthenticationResult: %v (the person's part: %v)", err, a.err)
	}
	if p := a.p; p == nil || p.Status != http.StatusOK || !strings.Contains(p.Body, "You have signed in to <strong>Microsoft Azure CLI</strong> on your device") {
		t.Fatalf("last verification page: %+v", p)
	}
	if res.Account.Realm != srv.Tenant() || res.Account.PreferredUsername != "alice@demo.test" {
		t.Errorf("account = %+v", res.Account)
	}
	scp, _ := claimsOf(t, res.AccessToken)["scp"].(string)
	for _, want := range []string{"Application.ReadWrite.All", "AppRoleAssignment.ReadWrite.All", "Directory.AccessAsUser.All"} {
		if !strings.Contains(scp, want) {
			t.Errorf("scp %q lacks %s", scp, want)
		}
	}
	st := srv.Stats()
	if st[emulator.StatTokenDeviceCode] < 2 || st[emulator.StatConsents] != 0 {
		t.Errorf("device_code grants polled %d times (want the pending answers too), consents %d (the Azure CLI is pre-authorized)",
			st[emulator.StatTokenDeviceCode], st[emulator.StatConsents])
	}
	// The token works with Graph.
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v1.0/me", nil)
	req.Header.Set("Authorization", "Bearer "+res.AccessToken)
	if p, err := emulatortest.Do(srv.Client(), req); err != nil || p.Status != http.StatusOK {
		t.Fatalf("GET /v1.0/me with the device token: %v %+v", err, p)
	}
}

// The discovery document advertises the device authorization endpoint.
func TestDiscoveryAdvertisesDeviceCode(t *testing.T) {
	srv := emulatortest.NewServer(t, emulator.Config{})
	p, err := emulatortest.Get(t.Context(), srv.Client(), srv.Authority()+"/v2.0/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Device string   `json:"device_authorization_endpoint"`
		Grants []string `json:"grant_types_supported"`
	}
	json.Unmarshal([]byte(p.Body), &doc)
	if doc.Device != srv.Authority()+"/oauth2/v2.0/devicecode" || !strings.Contains(strings.Join(doc.Grants, " "), "urn:ietf:params:oauth:grant-type:device_code") {
		t.Errorf("discovery: %+v", doc)
	}
}

// startDevice asks the devicecode endpoint for a code, as a device does.
func startDevice(t *testing.T, srv *emulatortest.Server, clientID string) (deviceCode, userCode, uri string) {
	t.Helper()
	resp, err := srv.Client().PostForm(srv.Authority()+"/oauth2/v2.0/devicecode", url.Values{"client_id": {clientID}, "scope": {graphDefault + " openid profile offline_access"}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		DeviceCode string `json:"device_code"`
		UserCode   string `json:"user_code"`
		URI        string `json:"verification_uri"`
		ExpiresIn  int    `json:"expires_in"`
		Interval   int    `json:"interval"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("devicecode: %d %v", resp.StatusCode, err)
	}
	if r.ExpiresIn != 900 || r.Interval != 5 {
		t.Errorf("expires_in %d, interval %d; Entra says 900 and 5", r.ExpiresIn, r.Interval)
	}
	return r.DeviceCode, r.UserCode, r.URI
}

// poll is one poll of the token endpoint, as a device sends it.
func poll(t *testing.T, srv *emulatortest.Server, deviceCode string) (int, map[string]any) {
	t.Helper()
	resp, err := srv.Client().PostForm(srv.Authority()+"/oauth2/v2.0/token", url.Values{
		"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {deviceCode},
		"client_id": {emulator.AzureCLIClientID}, "scope": {graphDefault + " openid profile offline_access"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body
}

func wantPollError(t *testing.T, status int, body map[string]any, oauthErr string, code int) {
	t.Helper()
	codes, _ := body["error_codes"].([]any)
	if status != http.StatusBadRequest || body["error"] != oauthErr || len(codes) != 1 || codes[0] != float64(code) ||
		!strings.HasPrefix(body["error_description"].(string), "AADSTS") {
		t.Errorf("poll answered %d %v %v, want 400 %s AADSTS%d", status, body["error"], body["error_codes"], oauthErr, code)
	}
}

// What a device sees while it polls, for each way the person's part can
// go: pending, declined, expired, a code the emulator never issued, and a
// code redeemed twice.
func TestDeviceCodeAnswers(t *testing.T) {
	clock := &movableClock{}
	srv := emulatortest.NewServer(t, emulator.Config{Now: clock.Now})
	ctx := t.Context()

	t.Run("pending, then approved once", func(t *testing.T) {
		dev, user, uri := startDevice(t, srv, emulator.AzureCLIClientID)
		status, body := poll(t, srv, dev)
		wantPollError(t, status, body, "authorization_pending", 70016)
		if _, err := emulatortest.DeviceSignIn(ctx, person(srv), uri, user, "alice@demo.test", "alice-password"); err != nil {
			t.Fatal(err)
		}
		if status, body = poll(t, srv, dev); status != http.StatusOK || body["access_token"] == nil || body["id_token"] == nil {
			t.Fatalf("after approval: %d %v", status, body["error"])
		}
		status, body = poll(t, srv, dev)
		wantPollError(t, status, body, "invalid_grant", 54005)
	})
	t.Run("declined on the confirmation", func(t *testing.T) {
		dev, user, uri := startDevice(t, srv, emulator.AzureCLIClientID)
		p, err := emulatortest.DeviceDecline(ctx, person(srv), uri, user, "alice@demo.test", "alice-password")
		if err != nil || !strings.Contains(p.Body, "You declined to sign in") {
			t.Fatalf("declining: %v %+v", err, p)
		}
		status, body := poll(t, srv, dev)
		wantPollError(t, status, body, "authorization_declined", 70000)
	})
	t.Run("expired", func(t *testing.T) {
		dev, user, uri := startDevice(t, srv, emulator.AzureCLIClientID)
		clock.Advance(16 * time.Minute)
		status, body := poll(t, srv, dev)
		wantPollError(t, status, body, "expired_token", 70020)
		p, err := emulatortest.DeviceSignIn(ctx, person(srv), uri, user, "alice@demo.test", "alice-password")
		if err != nil || !strings.Contains(p.Body, "That code has expired") {
			t.Fatalf("entering an expired code: %v %+v", err, p)
		}
	})
	t.Run("unknown device code", func(t *testing.T) {
		status, body := poll(t, srv, "DAQABIQEAAABnot-one-the-emulator-issued")
		wantPollError(t, status, body, "bad_verification_code", 70018)
	})
	t.Run("a confidential client must authenticate", func(t *testing.T) {
		dev, _, _ := startDevice(t, srv, emulator.DemoClientID)
		resp, err := srv.Client().PostForm(srv.Authority()+"/oauth2/v2.0/token", url.Values{
			"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {dev}, "client_id": {emulator.DemoClientID},
		})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("device grant without the demo app's secret: %d, want 401", resp.StatusCode)
		}
	})
}

// The verification page is one form with one text field; a wrong code
// shows the page again with the error, and a form cannot be replayed from
// another browser.
func TestDeviceVerificationPage(t *testing.T) {
	srv := emulatortest.NewServer(t, emulator.Config{})
	p, err := emulatortest.Get(t.Context(), srv.Client(), srv.URL+"/devicelogin")
	if err != nil {
		t.Fatal(err)
	}
	if n, m := strings.Count(p.Body, "<form"), strings.Count(p.Body, "<input"); p.Status != http.StatusOK || n != 1 || m != 1 ||
		!strings.Contains(p.Body, `name="otc" type="text"`) {
		t.Fatalf("verification page: status %d, %d forms, %d inputs", p.Status, n, m)
	}
	if csp := p.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP = %q", csp)
	}

	wrong, err := emulatortest.PostForm(t.Context(), person(srv), srv.URL+"/devicelogin", url.Values{"otc": {"ABCDEFGHJ"}})
	if err != nil || wrong.Status != http.StatusOK || !strings.Contains(wrong.Body, "That code didn’t work") || strings.Contains(wrong.Body, `name="passwd"`) {
		t.Fatalf("a wrong code: %v %d", err, wrong.Status)
	}

	// Alice's browser gets the sign-in form; its flow is useless in
	// Mallory's browser.
	_, user, _ := startDevice(t, srv, emulator.AzureCLIClientID)
	alice := person(srv)
	form, err := emulatortest.PostForm(t.Context(), alice, srv.URL+"/devicelogin", url.Values{"otc": {user}})
	if err != nil || !strings.Contains(form.Body, `name="passwd"`) {
		t.Fatalf("the code's sign-in form: %v %+v", err, form)
	}
	action := regexp.MustCompile(`<form method="post" action="([^"]*)"`).FindStringSubmatch(form.Body)[1]
	action = strings.ReplaceAll(action, "&amp;", "&")
	stolen, err := emulatortest.PostForm(t.Context(), person(srv), srv.URL+action, url.Values{"loginfmt": {"alice@demo.test"}, "passwd": {"alice-password"}, "action": {"signin"}})
	if err != nil || stolen.Status != http.StatusBadRequest || !strings.Contains(stolen.Body, "AADSTS50089") {
		t.Fatalf("the form from another browser: %v %d", err, stolen.Status)
	}
}

// MSAL's interactive sign-in with the Azure CLI's client ID: the system
// browser (here a test's client) on a loopback redirect URI of any port.
func TestAzureCLIInteractiveLoopback(t *testing.T) {
	srv := emulatortest.NewServer(t, emulator.Config{})
	res := interactive(t, srv, "admin@demo.test", "admin-password")
	if res.Account.PreferredUsername != "admin@demo.test" {
		t.Errorf("account = %+v", res.Account)
	}
	// An https redirect on localhost is not the public client's loopback.
	q := url.Values{"client_id": {emulator.AzureCLIClientID}, "redirect_uri": {"https://localhost:1234/"}, "response_type": {"code"}, "scope": {"openid"}}
	p, err := emulatortest.Get(t.Context(), srv.Client(), srv.Authority()+"/oauth2/v2.0/authorize?"+q.Encode())
	if err != nil || p.Status != http.StatusBadRequest || !strings.Contains(p.Body, "AADSTS50011") {
		t.Fatalf("https loopback redirect for the Azure CLI: %v %d", err, p.Status)
	}
}

// interactive signs in with MSAL's AcquireTokenInteractive as the Azure
// CLI, the test playing the browser MSAL opens.
func interactive(t *testing.T, srv *emulatortest.Server, username, password string) public.AuthResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	openURL := func(authorizeURL string) error {
		wg.Add(1)
		go func() {
			defer wg.Done()
			browser := person(srv)
			// MSAL asks for response_mode=form_post: the emulator's page
			// posts the code to MSAL's listener when Continue is pressed.
			p, err := emulatortest.SignIn(ctx, browser, authorizeURL, username, password)
			if err != nil || p.Status != http.StatusOK || !strings.Contains(p.Body, `action="http://localhost:`) {
				t.Errorf("signing in at the authorize URL: %v %+v", err, p)
				cancel() // MSAL would wait for the browser until the deadline
				return
			}
			if _, err := emulatortest.Continue(ctx, browser, p); err != nil {
				t.Errorf("back to MSAL's loopback listener: %v", err)
				cancel()
			}
		}()
		return nil
	}
	res, err := cliClient(t, srv).AcquireTokenInteractive(ctx, []string{graphDefault}, public.WithOpenURL(openURL))
	if err != nil {
		t.Fatalf("AcquireTokenInteractive: %v", err)
	}
	return res
}
