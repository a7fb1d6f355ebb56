// Flow: what a browser does to sign in and view a page, and the direct calls to the emulator the benchmark compares against.

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"time"

	"ms-identity-go-webapp/emulator"
	"ms-identity-go-webapp/emulator/emulatortest"
)

// target is the app and the emulator under test, reached through one
// shared transport: keep-alive connections, one per concurrent user.
type target struct {
	appURL      string // https://127.0.0.1:port
	emuURL      string
	redirectURI string
	transport   http.RoundTripper
	client      *http.Client // no cookies, no redirects
}

func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// browser is one user's browser: its own cookie jar over the shared
// transport, following no redirects so each hop is checked.
func (t *target) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Transport: t.transport, Jar: jar, CheckRedirect: noRedirects, Timeout: 30 * time.Second}
}

// response is one answer, read in full.
type response struct {
	status   int
	location string
	body     string
}

// do sends req and reads the answer; it fails unless the status is want.
func do(c *http.Client, req *http.Request, want int) (response, error) {
	resp, err := c.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return response{}, fmt.Errorf("%s %s: reading the answer: %w", req.Method, req.URL.Path, err)
	}
	r := response{status: resp.StatusCode, location: resp.Header.Get("Location"), body: string(body)}
	if r.status != want {
		snippet := r.body
		if len(snippet) > 300 {
			snippet = snippet[:300] + "..."
		}
		return r, fmt.Errorf("%s %s: status %d, want %d (Location %q) %s", req.Method, req.URL.Path, r.status, want, r.location, snippet)
	}
	return r, nil
}

func get(ctx context.Context, c *http.Client, url string, want int) (response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return response{}, err
	}
	return do(c, req, want)
}

func postForm(ctx context.Context, c *http.Client, url string, form url.Values, want int) (response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(form.Encode()))
	if err != nil {
		return response{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return do(c, req, want)
}

// signIn walks a new browser through the whole sign-in: the protected page
// sends it to the authorize URL, it posts the sign-in form there, Entra ID
// (the emulator) redirects back to the app, which redeems the code and
// sends it on to the page it asked for. It returns the signed-in browser.
func (t *target) signIn(ctx context.Context, u emulator.User) (*http.Client, error) {
	b := t.browser()
	page, err := get(ctx, b, t.appURL+"/graph", http.StatusFound)
	if err != nil {
		return nil, fmt.Errorf("protected page: %w", err)
	}
	if !strings.HasPrefix(page.location, t.emuURL+"/") {
		return nil, fmt.Errorf("protected page: redirected to %q, not to the identity provider", page.location)
	}
	idp, err := emulatortest.SignIn(ctx, b, page.location, u.Username, u.Password)
	if err != nil {
		return nil, fmt.Errorf("sign-in form: %w", err)
	}
	if idp.Status != http.StatusFound || !strings.HasPrefix(idp.Location, t.redirectURI+"?") {
		return nil, fmt.Errorf("sign-in form: answered %d, redirecting to %q, not to the app's redirect URI", idp.Status, idp.Location)
	}
	back, err := get(ctx, b, idp.Location, http.StatusSeeOther)
	if err != nil {
		return nil, fmt.Errorf("redirect URI: %w", err)
	}
	if back.location != "/graph" {
		return nil, fmt.Errorf("redirect URI: sent on to %q, not back to /graph", back.location)
	}
	if err := graphPage(ctx, b, t.appURL+"/graph"); err != nil {
		return nil, fmt.Errorf("landing page: %w", err)
	}
	return b, nil
}

// graphPage loads a page that shows Graph's /me (the app's signed-in
// /graph, or the bare server's) and checks it did.
func graphPage(ctx context.Context, c *http.Client, url string) error {
	page, err := get(ctx, c, url, http.StatusOK)
	if err != nil {
		return err
	}
	if !strings.Contains(page.body, "userPrincipalName") {
		return fmt.Errorf("GET %s: the page does not show Graph's /me", url)
	}
	return nil
}

// directToken gets an access token for u from the emulator without the
// app, as the app's sign-in does (code flow, client secret), so that the
// benchmark can call Graph with exactly the kind of token the app holds.
func (t *target) directToken(ctx context.Context, u emulator.User) (string, error) {
	q := url.Values{
		"client_id":     {emulator.DemoClientID},
		"redirect_uri":  {t.redirectURI},
		"response_type": {"code"},
		"response_mode": {"query"},
		"scope":         {"User.Read openid profile offline_access"},
		"state":         {"bench"},
	}
	authorize := t.emuURL + "/" + emulator.DefaultTenant + "/oauth2/v2.0/authorize?" + q.Encode()
	idp, err := emulatortest.SignIn(ctx, t.client, authorize, u.Username, u.Password)
	if err != nil {
		return "", fmt.Errorf("authorize: %w", err)
	}
	back, err := url.Parse(idp.Location)
	if err != nil || back.Query().Get("code") == "" {
		return "", fmt.Errorf("authorize: answered %d, no code in the redirect to %q", idp.Status, idp.Location)
	}
	tok, err := postForm(ctx, t.client, t.emuURL+"/"+emulator.DefaultTenant+"/oauth2/v2.0/token", url.Values{
		"grant_type":    {"authorization_code"},
		"client_id":     {emulator.DemoClientID},
		"client_secret": {emulator.DemoClientSecret},
		"code":          {back.Query().Get("code")},
		"redirect_uri":  {t.redirectURI},
		"scope":         {"User.Read openid profile offline_access"},
	}, http.StatusOK)
	if err != nil {
		return "", fmt.Errorf("token: %w", err)
	}
	var answer struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal([]byte(tok.body), &answer); err != nil || answer.AccessToken == "" {
		return "", fmt.Errorf("token: no access token in the answer")
	}
	return answer.AccessToken, nil
}

// graphMe calls the emulator's Graph /me directly with an access token: the
// one call each /graph page of the app cannot avoid.
func (t *target) graphMe(ctx context.Context, token string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.emuURL+"/v1.0/me", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	page, err := do(t.client, req, http.StatusOK)
	if err != nil {
		return err
	}
	if !strings.Contains(page.body, "userPrincipalName") {
		return fmt.Errorf("GET /v1.0/me: the answer is not a user")
	}
	return nil
}

// stats reads the emulator's request counts.
func (t *target) stats(ctx context.Context) (map[string]int64, error) {
	page, err := get(ctx, t.client, t.emuURL+"/emulator/stats", http.StatusOK)
	if err != nil {
		return nil, fmt.Errorf("emulator stats: %w", err)
	}
	var s map[string]int64
	if err := json.Unmarshal([]byte(page.body), &s); err != nil {
		return nil, fmt.Errorf("emulator stats: %w", err)
	}
	return s, nil
}

// delta is the change of every count between two readings of the stats.
func delta(before, after map[string]int64) map[string]int64 {
	d := make(map[string]int64, len(after))
	for k, v := range after {
		d[k] = v - before[k]
	}
	return d
}
