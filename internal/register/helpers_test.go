// Test harness: the command run in-process (Main, as cmd/register runs it)
// against the emulator over TLS, with a person at the other end of the
// sign-in: the browser MSAL opens, or the device code page.

package register

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"ms-identity-go-webapp/emulator"
	"ms-identity-go-webapp/emulator/emulatortest"
	"ms-identity-go-webapp/internal/testutil"
)

// harness is one emulator and a working directory for the command.
type harness struct {
	t         *testing.T
	srv       *emulatortest.Server
	dir       string
	envFile   string
	stateFile string
	caFile    string
}

func newHarness(t *testing.T, cfg emulator.Config) *harness {
	t.Helper()
	srv := emulatortest.NewServer(t, cfg)
	dir := t.TempDir()
	return &harness{
		t: t, srv: srv, dir: dir,
		envFile:   filepath.Join(dir, ".env"),
		stateFile: filepath.Join(dir, ".app-registration.json"),
		caFile:    testutil.WriteFile(t, "emulator.crt", srv.Cert.CertPEM),
	}
}

// result is what one run of the command showed and did.
type result struct {
	err    error
	stdout string
	stderr string
	sleeps []time.Duration // the waits it asked for
}

// terminal is the command's standard output as a person reads it: when the
// device code message appears, onMessage runs (once, on its own goroutine).
type terminal struct {
	mu        sync.Mutex
	buf       strings.Builder
	onMessage func(uri, code string)
	seen      bool
	wg        sync.WaitGroup
}

func (tm *terminal) Write(p []byte) (int, error) {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	tm.buf.Write(p)
	if !tm.seen && tm.onMessage != nil {
		if uri, code, ok := emulatortest.ParseDeviceCodeMessage(tm.buf.String()); ok {
			tm.seen = true
			tm.wg.Add(1)
			go func() {
				defer tm.wg.Done()
				tm.onMessage(uri, code)
			}()
		}
	}
	return len(p), nil
}

func (tm *terminal) String() string {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return tm.buf.String()
}

// runOptions say who signs in and how the command waits.
type runOptions struct {
	username, password string
	// device signs in with a code (-auth device) instead of the browser;
	// decline presses Cancel on the confirmation; onCode replaces the
	// person entirely.
	device  bool
	decline bool
	onCode  func(uri, code string)
	backoff []time.Duration // nil = 1 ms steps, about as many as the default
	mutate  func(*Env)      // changes the surroundings further
}

// run runs the command with args plus the harness's files and endpoints.
func (h *harness) run(ro runOptions, args ...string) result {
	h.t.Helper()
	if ro.username == "" {
		ro.username, ro.password = "alice@demo.test", "alice-password"
	}
	if ro.backoff == nil {
		ro.backoff = make([]time.Duration, len(DefaultBackoff))
		for i := range ro.backoff {
			ro.backoff[i] = time.Millisecond
		}
	}
	ctx, cancel := context.WithTimeout(h.t.Context(), 2*time.Minute)
	defer cancel()
	var mu sync.Mutex
	var sleeps []time.Duration
	stdout := &terminal{}
	stderr := &terminal{}
	var wg sync.WaitGroup
	env := Env{
		Stdout:  stdout,
		Stderr:  stderr,
		Getenv:  func(string) string { return "" },
		Backoff: ro.backoff,
		Sleep: func(ctx context.Context, d time.Duration) error {
			mu.Lock()
			sleeps = append(sleeps, d)
			mu.Unlock()
			return ctx.Err()
		},
		// The browser MSAL opens: the person signs in, and presses
		// Continue on the form_post page that carries the code to MSAL's
		// loopback listener.
		OpenURL: func(authorizeURL string) error {
			wg.Add(1)
			go func() {
				defer wg.Done()
				browser := h.person()
				p, err := emulatortest.SignIn(ctx, browser, authorizeURL, ro.username, ro.password)
				if err != nil || !strings.Contains(p.Body, `action="http://localhost:`) {
					return // the command's error says what happened
				}
				emulatortest.Continue(ctx, browser, p)
			}()
			return nil
		},
	}
	stdout.onMessage = func(uri, code string) {
		switch {
		case ro.onCode != nil:
			ro.onCode(uri, code)
		case ro.decline:
			emulatortest.DeviceDecline(ctx, h.person(), uri, code, ro.username, ro.password)
		default:
			emulatortest.DeviceSignIn(ctx, h.person(), uri, code, ro.username, ro.password)
		}
	}
	if ro.mutate != nil {
		ro.mutate(&env)
	}
	auth := "browser"
	if ro.device {
		auth = "device"
	}
	full := append([]string{}, args...)
	cleanup := len(full) > 0 && full[0] == "cleanup"
	if cleanup {
		full = full[1:]
	}
	full = append([]string{
		"-authority-host", h.srv.URL, "-graph-endpoint", h.srv.URL, "-ca-cert", h.caFile,
		"-env-file", h.envFile, "-state-file", h.stateFile, "-auth", auth,
	}, full...)
	if cleanup {
		full = append([]string{"cleanup"}, full...)
	}
	err := Main(ctx, full, env)
	cancel()
	wg.Wait()
	stdout.wg.Wait()
	r := result{err: err, stdout: stdout.String(), stderr: stderr.String(), sleeps: sleeps}
	h.checkNoSecrets(r)
	return r
}

// runWith runs the command with its surroundings changed by mutate.
func (h *harness) runWith(mutate func(*Env), args ...string) result {
	h.t.Helper()
	return h.run(runOptions{mutate: mutate}, args...)
}

// cliToken signs a user in as the Azure CLI does (device code, by hand:
// this is the test's own client, not the command) and returns the Graph
// access token.
func (h *harness) cliToken(username, password string) string {
	h.t.Helper()
	c := h.srv.Client()
	scope := "https://graph.microsoft.com/.default openid profile offline_access"
	resp, err := c.PostForm(h.srv.Authority()+"/oauth2/v2.0/devicecode", url.Values{"client_id": {AzureCLIClientID}, "scope": {scope}})
	if err != nil {
		h.t.Fatal(err)
	}
	var dc struct {
		DeviceCode string `json:"device_code"`
		UserCode   string `json:"user_code"`
		URI        string `json:"verification_uri"`
	}
	json.NewDecoder(resp.Body).Decode(&dc)
	resp.Body.Close()
	if _, err := emulatortest.DeviceSignIn(h.t.Context(), h.person(), dc.URI, dc.UserCode, username, password); err != nil {
		h.t.Fatal(err)
	}
	resp, err = c.PostForm(h.srv.Authority()+"/oauth2/v2.0/token", url.Values{
		"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {dc.DeviceCode},
		"client_id": {AzureCLIClientID}, "scope": {scope},
	})
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if json.NewDecoder(resp.Body).Decode(&tok); tok.AccessToken == "" {
		h.t.Fatalf("no token: %d", resp.StatusCode)
	}
	return tok.AccessToken
}

// offsetClock is an emulator clock the test moves forward.
type offsetClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *offsetClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *offsetClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// person is a browser with cookies of its own.
func (h *harness) person() *http.Client {
	c := h.srv.Client()
	c.Jar, _ = cookiejar.New(nil)
	return c
}

// checkNoSecrets fails the test if the command printed a token, a device
// code, a password or the client secret.
func (h *harness) checkNoSecrets(r result) {
	h.t.Helper()
	secrets := h.srv.IssuedValues()
	for _, u := range h.srv.Users() {
		secrets = append(secrets, u.Password)
	}
	if env := h.readEnv(); env["CLIENT_SECRET"] != "" {
		secrets = append(secrets, env["CLIENT_SECRET"])
	}
	for _, s := range secrets {
		if len(s) >= 8 && (strings.Contains(r.stdout, s) || strings.Contains(r.stderr, s)) {
			h.t.Errorf("the command printed a secret (%d characters)", len(s))
		}
	}
}

// readEnv reads the .env file as the app does; nil when it does not exist.
func (h *harness) readEnv() map[string]string {
	h.t.Helper()
	if _, err := os.Stat(h.envFile); err != nil {
		return nil
	}
	f, err := readEnvFile(h.envFile)
	if err != nil {
		h.t.Fatal(err)
	}
	return f.values
}

func (h *harness) tenantFlag() []string { return []string{"-tenant", h.srv.Tenant()} }
