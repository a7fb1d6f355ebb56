// Shared test helpers: an emulator behind a real TLS server, a movable
// clock, a browser that does not follow redirects, and assertions for
// Entra-shaped errors.

package emulator

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"ms-identity-go-webapp/internal/testutil"
)

// testClock is a Config.Now that tests move forward.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// handshakeFilter drops the server's "TLS handshake error" lines.
type handshakeFilter struct{ w io.Writer }

func (f handshakeFilter) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte("TLS handshake error")) {
		return len(p), nil
	}
	return f.w.Write(p)
}

// testVerifier is RFC 7636's example verifier; testChallenge its S256.
const testVerifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"

var testChallenge = s256(testVerifier)

func s256(v string) string {
	sum := sha256.Sum256([]byte(v))
	return b64.EncodeToString(sum[:])
}

type testEnv struct {
	t       testing.TB
	em      *Emulator
	srv     *httptest.Server
	clock   *testClock
	browser *http.Client // keeps cookies, never follows redirects
	logs    *testutil.SyncBuffer
}

// newEnv starts an emulator over TLS. mutate may change the config.
func newEnv(t testing.TB, mutate func(*Config)) *testEnv {
	t.Helper()
	env := &testEnv{t: t, clock: &testClock{t: time.Now()}, logs: &testutil.SyncBuffer{}}
	cfg := Config{
		SigningKey: testutil.SigningKey(),
		Now:        env.clock.Now,
		Logger:     slog.New(slog.NewTextHandler(env.logs, nil)),
	}
	if mutate != nil {
		mutate(&cfg)
	}
	em, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	env.em = em
	env.srv = httptest.NewUnstartedServer(em.Handler())
	// Closing a server while the client transport has a connection still
	// in its TLS handshake logs a harmless error; keep test output clean.
	env.srv.Config.ErrorLog = log.New(handshakeFilter{os.Stderr}, "", log.LstdFlags)
	env.srv.StartTLS()
	t.Cleanup(env.srv.Close)
	env.browser = env.newBrowser()
	return env
}

func (env *testEnv) newBrowser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{
		Transport:     env.srv.Client().Transport,
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       10 * time.Second,
	}
}

func (env *testEnv) url(path string) string { return env.srv.URL + path }

func (env *testEnv) tenantPath(p string) string { return env.url("/" + env.em.Tenant() + p) }

// authorizeURL builds an authorization request with the usual parameters
// (PKCE S256, state, nonce, the app's scopes); over replaces them, and an
// empty value removes one.
func (env *testEnv) authorizeURL(over url.Values) string {
	q := url.Values{
		"client_id":             {DemoClientID},
		"redirect_uri":          {DemoRedirectURIs[0]},
		"response_type":         {"code"},
		"scope":                 {"openid profile offline_access User.Read"},
		"state":                 {"state-123"},
		"nonce":                 {"nonce-456"},
		"code_challenge":        {testChallenge},
		"code_challenge_method": {"S256"},
	}
	for k, v := range over {
		if len(v) == 0 || v[0] == "" {
			q.Del(k)
		} else {
			q[k] = v
		}
	}
	return env.tenantPath("/oauth2/v2.0/authorize") + "?" + q.Encode()
}

func (env *testEnv) get(u string) *http.Response {
	env.t.Helper()
	resp, err := env.browser.Get(u)
	if err != nil {
		env.t.Fatalf("GET %s: %v", u, err)
	}
	return resp
}

func (env *testEnv) postForm(u string, form url.Values) *http.Response {
	env.t.Helper()
	resp, err := env.browser.PostForm(u, form)
	if err != nil {
		env.t.Fatalf("POST %s: %v", u, err)
	}
	return resp
}

// signIn submits the sign-in form for an authorization request.
func (env *testEnv) signIn(authURL, username, password string) *http.Response {
	env.t.Helper()
	return env.postForm(authURL, url.Values{"loginfmt": {username}, "passwd": {password}, "action": {"signin"}})
}

// redirectParams asserts a 302 to redirectURI and returns its query.
func redirectParams(t testing.TB, resp *http.Response, redirectURI string) url.Values {
	t.Helper()
	body := readBody(t, resp)
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("status = %d, want 302; body: %.300s", resp.StatusCode, body)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatalf("bad Location %q: %v", resp.Header.Get("Location"), err)
	}
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != redirectURI {
		t.Fatalf("redirected to %s, want %s", got, redirectURI)
	}
	return loc.Query()
}

// code runs the browser half of the flow for a user and returns the code.
func (env *testEnv) code(over url.Values, username, password string) string {
	env.t.Helper()
	p := redirectParams(env.t, env.signIn(env.authorizeURL(over), username, password), DemoRedirectURIs[0])
	if p.Get("code") == "" {
		env.t.Fatalf("no code in redirect: %v", p)
	}
	return p.Get("code")
}

// codeForm is the token request MSAL Go sends to redeem a code.
func codeForm(code, verifier string) url.Values {
	return url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {DemoRedirectURIs[0]},
		"client_id":     {DemoClientID},
		"client_secret": {DemoClientSecret},
		"code_verifier": {verifier},
		"scope":         {"User.Read openid offline_access profile"},
		"client_info":   {"1"},
	}
}

func refreshForm(rt string) url.Values {
	return url.Values{
		"grant_type":    {"refresh_token"},
		"refresh_token": {rt},
		"client_id":     {DemoClientID},
		"client_secret": {DemoClientSecret},
		"scope":         {"User.Read openid offline_access profile"},
		"client_info":   {"1"},
	}
}

// token POSTs to the token endpoint and decodes the JSON answer.
func (env *testEnv) token(form url.Values) (int, map[string]any) {
	env.t.Helper()
	resp, err := env.srv.Client().PostForm(env.tenantPath("/oauth2/v2.0/token"), form)
	if err != nil {
		env.t.Fatalf("token request: %v", err)
	}
	return resp.StatusCode, decodeJSON(env.t, resp)
}

// tokens runs a whole sign-in and code redemption for a user.
func (env *testEnv) tokens(username, password string) map[string]any {
	env.t.Helper()
	status, body := env.token(codeForm(env.code(nil, username, password), testVerifier))
	if status != http.StatusOK {
		env.t.Fatalf("token status %d: %v", status, body)
	}
	return body
}

func decodeJSON(t testing.TB, resp *http.Response) map[string]any {
	t.Helper()
	data := readBody(t, resp)
	var m map[string]any
	if err := json.Unmarshal([]byte(data), &m); err != nil {
		t.Fatalf("status %d, body is not JSON: %v: %.300s", resp.StatusCode, err, data)
	}
	return m
}

func readBody(t testing.TB, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return string(data)
}

// wantAADError asserts Entra's JSON error shape with one AADSTS code.
func wantAADError(t testing.TB, status int, body map[string]any, wantStatus int, wantErr string, wantCode int) {
	t.Helper()
	if status != wantStatus {
		t.Errorf("status = %d, want %d (body %v)", status, wantStatus, body)
	}
	if body["error"] != wantErr {
		t.Errorf("error = %v, want %s", body["error"], wantErr)
	}
	desc, _ := body["error_description"].(string)
	if prefix := fmt.Sprintf("AADSTS%d: ", wantCode); !strings.HasPrefix(desc, prefix) {
		t.Errorf("error_description = %q, want prefix %q", desc, prefix)
	}
	codes, _ := body["error_codes"].([]any)
	if len(codes) != 1 || codes[0] != float64(wantCode) {
		t.Errorf("error_codes = %v, want [%d]", body["error_codes"], wantCode)
	}
	for _, k := range []string{"timestamp", "trace_id", "correlation_id"} {
		if s, _ := body[k].(string); s == "" {
			t.Errorf("%s missing from error body", k)
		}
	}
}

// wantRedirectError asserts an error sent back to the redirect URI.
func wantRedirectError(t testing.TB, resp *http.Response, wantErr string, wantCode int, wantState string) url.Values {
	t.Helper()
	p := redirectParams(t, resp, DemoRedirectURIs[0])
	if p.Get("error") != wantErr {
		t.Errorf("error = %q, want %q (%v)", p.Get("error"), wantErr, p)
	}
	if prefix := fmt.Sprintf("AADSTS%d: ", wantCode); !strings.HasPrefix(p.Get("error_description"), prefix) {
		t.Errorf("error_description = %q, want prefix %q", p.Get("error_description"), prefix)
	}
	if p.Get("state") != wantState {
		t.Errorf("state = %q, want %q", p.Get("state"), wantState)
	}
	if p.Has("code") {
		t.Errorf("error redirect carries a code")
	}
	return p
}

// jwtClaims decodes a JWT's payload without verifying it.
func jwtClaims(t testing.TB, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %.40q", token)
	}
	data, err := b64.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("JWT payload: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("JWT payload JSON: %v", err)
	}
	return m
}

func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}
