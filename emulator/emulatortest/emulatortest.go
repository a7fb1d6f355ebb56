// Package emulatortest starts an Entra ID emulator for a test and walks its
// sign-in pages as a person would, in the spirit of net/http/httptest.
//
// NewServer serves an emulator on a free loopback port over HTTPS with a
// throw-away certificate; SignIn, SignUp and Cancel fill in its pages with
// any client, so the end-to-end tests, the identity tests and the benchmark
// (whose emulator is a child process) sign in the same way. An External ID
// server is also reached under its host names (Names), through a dialer
// that maps them to loopback.
package emulatortest

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"ms-identity-go-webapp/emulator"
	"ms-identity-go-webapp/internal/httpsserver"
	"ms-identity-go-webapp/internal/testutil"
)

// Server is an emulator served over HTTPS on loopback.
type Server struct {
	*emulator.Emulator
	// URL is the emulator's base URL, https://127.0.0.1:port, without a
	// trailing slash.
	URL string
	// Cert is the throw-away certificate it serves, for localhost and
	// 127.0.0.1: one for the whole test binary, as httptest has, so that a
	// test may serve its app with it too and one client trusts both.
	// Cert.Pool trusts it.
	Cert testutil.Cert
	// Names are the host names an External ID server answers under on
	// port 443, besides URL: {subdomain}.ciamlogin.com,
	// {tenant-id}.ciamlogin.com and CustomDomain. DialContext reaches
	// them on loopback, and Cert is for them. Empty for Entra ID.
	Names []string

	ln     net.Listener
	cancel context.CancelFunc
	done   chan struct{}
}

// NewServer starts an emulator with cfg and stops it when the test ends. A
// nil cfg.SigningKey is the test binary's shared key (generating one is the
// slowest part of starting an emulator). middleware, when given, wraps the
// emulator's handler: an identity provider that misbehaves in a way the
// emulator's faults do not offer.
func NewServer(t testing.TB, cfg emulator.Config, middleware ...func(http.Handler) http.Handler) *Server {
	t.Helper()
	s, err := Start(cfg, middleware...)
	if err != nil {
		t.Fatalf("emulator: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// Start is NewServer for a caller without a testing.TB (an Example, a
// program of its own): it returns the error, and the caller calls Close.
func Start(cfg emulator.Config, middleware ...func(http.Handler) http.Handler) (*Server, error) {
	cert := testutil.SharedCert()
	if cfg.SigningKey == nil {
		cfg.SigningKey = testutil.SigningKey()
	}
	emu, err := emulator.New(cfg)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{Emulator: emu, URL: "https://" + ln.Addr().String(), Cert: cert, ln: ln, cancel: cancel, done: make(chan struct{})}
	if emu.ExternalID() {
		s.Names = []string{emu.Subdomain() + ".ciamlogin.com", emu.Tenant() + ".ciamlogin.com", CustomDomain}
	}
	// The app's server settings, with a write timeout long enough for
	// the delays a test injects.
	h := emu.Handler()
	for _, mw := range middleware {
		h = mw(h)
	}
	srv := httpsserver.New(h, cert.TLS, 2*time.Minute, nil)
	go func() {
		defer close(s.done)
		httpsserver.Serve(ctx, srv, ln, time.Second)
		// Requests still held (an injected delay) end now, so that the
		// apps waiting on them can stop too.
		srv.Close()
	}()
	return s, nil
}

// Authority is the emulator's authority URL for the default tenant.
func (s *Server) Authority() string { return s.Emulator.Authority(s.URL) }

// Client returns a new client that trusts the server's certificate, with a
// connection pool of its own. It speaks HTTP/1.1, as httptest's client does,
// so that a test sees the server's own answer to an oversized header (431)
// rather than HTTP/2's connection error. An External ID server's client
// dials with DialContext.
func (s *Server) Client() *http.Client {
	t := &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: s.Cert.Pool, MinVersion: tls.VersionTLS12},
		MaxIdleConnsPerHost: 64,
	}
	if len(s.Names) > 0 {
		t.DialContext = s.DialContext
	}
	return &http.Client{Transport: t}
}

// CustomDomain is the custom URL domain an External ID server answers
// under (https://login.contoso.test/{tenant-id}), one of Names.
const CustomDomain = "login.contoso.test"

// DialContext is an http.Transport dialer that keeps a test on this
// machine: it connects each of Names on port 443 to the server's loopback
// listener, a loopback address to itself, and refuses every other
// address, so that no name is ever looked up in DNS.
func (s *Server) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	for _, name := range s.Names {
		if strings.EqualFold(host, name) && port == "443" {
			return d.DialContext(ctx, network, s.ln.Addr().String())
		}
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return d.DialContext(ctx, network, addr)
	}
	return nil, fmt.Errorf("emulatortest: %s is neither loopback nor one of the server's names %v", addr, s.Names)
}

// Close stops the server and waits until it has stopped. It is safe to
// call more than once; a test may call it early to make the identity
// provider unreachable.
func (s *Server) Close() {
	s.cancel()
	<-s.done
}

// RewriteIssuer is middleware for NewServer that makes every discovery
// document name issuer instead of the emulator's own: what a client sees
// of an identity provider that is misconfigured, or of someone who is not
// the tenant it claims to be.
func RewriteIssuer(issuer string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !strings.HasSuffix(r.URL.Path, "/.well-known/openid-configuration") {
				next.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			var doc map[string]any
			if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &doc) != nil {
				w.WriteHeader(rec.Code)
				w.Write(rec.Body.Bytes())
				return
			}
			doc["issuer"] = issuer
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			json.NewEncoder(w).Encode(doc)
		})
	}
}

// Page is one answer of the emulator, as a browser receives it.
type Page struct {
	Status   int
	URL      string // what was requested
	Location string // where a redirect points, absolute; "" otherwise
	Header   http.Header
	Body     string
}

// SignIn walks the emulator's pages at authorizeURL as a person would, with
// c as the browser (its cookie jar is the browser's cookies; its own
// redirect policy is not used: every hop is one request). Single sign-on
// answers at once; otherwise it chooses "Use another account" in the
// account picker, fills in and submits the password form, and accepts the
// consent page. It
// returns the first answer that leaves the emulator, normally the redirect
// back to the app with a code or an error, or the first page it cannot get
// past (the sign-in form again after a wrong password, an error page, a
// second factor), for the caller to judge. err is for a request that could
// not be made at all.
func SignIn(ctx context.Context, c *http.Client, authorizeURL, username, password string) (*Page, error) {
	return walk(ctx, c, authorizeURL, username, password, "signin", "accept")
}

// SignUp walks an External ID tenant's create-account form at
// authorizeURL (a request with prompt=create) as a person would: it fills
// in email and password, then accepts the consent page. It returns what
// SignIn returns: normally the redirect back to the app, or the form
// again with the reason it refused.
func SignUp(ctx context.Context, c *http.Client, authorizeURL, email, password string) (*Page, error) {
	return walk(ctx, c, authorizeURL, email, password, "signup", "accept")
}

// Cancel opens the sign-in form at authorizeURL and presses its Cancel
// button: the emulator sends the browser back to the app with an error.
func Cancel(ctx context.Context, c *http.Client, authorizeURL string) (*Page, error) {
	return walk(ctx, c, authorizeURL, "", "", "cancel", "cancel")
}

// deviceMessage is the device code message as Entra words it, which a
// command prints for its user.
var deviceMessage = regexp.MustCompile(`open the page (\S+) and enter the code (\S+) to authenticate`)

// ParseDeviceCodeMessage reads the verification page and the user code
// from a device code message ("To sign in, use a web browser to open the
// page <url> and enter the code <code> to authenticate."), as a person
// reads them on their terminal.
func ParseDeviceCodeMessage(message string) (verificationURI, userCode string, ok bool) {
	m := deviceMessage.FindStringSubmatch(message)
	if m == nil {
		return "", "", false
	}
	return m[1], m[2], true
}

// DeviceSignIn does what a person does with a device code: opens the
// verification page with c as the browser, enters the code, signs in with
// the usual form and confirms. It returns the last page, normally the one
// saying the device is signed in.
func DeviceSignIn(ctx context.Context, c *http.Client, verificationURI, userCode, username, password string) (*Page, error) {
	return device(ctx, c, verificationURI, userCode, username, password, "accept")
}

// DeviceDecline enters the code and signs in, then presses Cancel on the
// confirmation: the device's sign-in is declined.
func DeviceDecline(ctx context.Context, c *http.Client, verificationURI, userCode, username, password string) (*Page, error) {
	return device(ctx, c, verificationURI, userCode, username, password, "cancel")
}

// deviceCodeField is the verification page's one text field.
var deviceCodeField = regexp.MustCompile(`<input id="otc" name="otc" type="text"`)

func device(ctx context.Context, c *http.Client, verificationURI, userCode, username, password, confirm string) (*Page, error) {
	browser := *c
	browser.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	p, err := Get(ctx, &browser, verificationURI)
	if err != nil {
		return nil, err
	}
	m := formAction.FindStringSubmatch(p.Body)
	if p.Status != http.StatusOK || m == nil || !deviceCodeField.MatchString(p.Body) {
		return p, nil
	}
	start, _ := url.Parse(verificationURI)
	target, err := url.Parse(html.UnescapeString(m[1]))
	if err != nil {
		return nil, fmt.Errorf("the form on %s posts to %q: %w", p.URL, m[1], err)
	}
	if p, err = PostForm(ctx, &browser, start.ResolveReference(target).String(), url.Values{"otc": {userCode}}); err != nil {
		return nil, err
	}
	return walkFrom(ctx, &browser, start, p, username, password, "signin", confirm)
}

// The pages of the walk, told apart by their forms' fields.
var (
	formAction  = regexp.MustCompile(`<form method="post" action="([^"]*)"`)
	hiddenFlow  = regexp.MustCompile(`<input type="hidden" name="flow" value="([^"]*)"`)
	pickAccount = regexp.MustCompile(`name="account" value="([^"]*)"`)
)

func walk(ctx context.Context, c *http.Client, authorizeURL, username, password, action, consent string) (*Page, error) {
	browser := *c
	browser.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	p, err := Get(ctx, &browser, authorizeURL)
	if err != nil {
		return nil, err
	}
	start, _ := url.Parse(authorizeURL)
	return walkFrom(ctx, &browser, start, p, username, password, action, consent)
}

// walkFrom fills in the emulator's pages from p on: the password form
// (pressing action), the account picker and the consent or confirmation
// page (pressing consent: accept or cancel).
func walkFrom(ctx context.Context, browser *http.Client, start *url.URL, p *Page, username, password, action, consent string) (*Page, error) {
	done := map[string]bool{} // each page is filled in at most once: a second time is an answer
	for range 6 {
		if p.Status != http.StatusOK || !strings.HasPrefix(p.URL, start.Scheme+"://"+start.Host+"/") {
			return p, nil
		}
		m := formAction.FindStringSubmatch(p.Body)
		if m == nil {
			return p, nil
		}
		target, err := url.Parse(html.UnescapeString(m[1]))
		if err != nil {
			return nil, fmt.Errorf("the form on %s posts to %q: %w", p.URL, m[1], err)
		}
		target = start.ResolveReference(target)
		if target.Host != start.Host {
			return p, nil // response_mode=form_post: the page posts the answer to the app
		}
		var kind string
		form := url.Values{}
		switch {
		case strings.Contains(p.Body, `name="newpasswd"`) && action == "signup":
			kind = "signup"
			form.Set("email", username)
			form.Set("newpasswd", password)
			form.Set("action", "signup")
		case strings.Contains(p.Body, `name="loginfmt"`) && action != "signup":
			kind = "password"
			form.Set("loginfmt", username)
			form.Set("passwd", password)
			form.Set("action", action)
		case pickAccount.MatchString(p.Body) && action != "cancel":
			// "Use another account": the password form, where the
			// person types the password as on a first sign-in.
			kind = "picker"
			form.Set("account", "")
		case hiddenFlow.MatchString(p.Body) && strings.Contains(p.Body, `value="accept"`) && action != "cancel":
			kind = "consent"
			form.Set("flow", html.UnescapeString(hiddenFlow.FindStringSubmatch(p.Body)[1]))
			form.Set("action", consent)
		default:
			return p, nil
		}
		if done[kind] {
			return p, nil
		}
		done[kind] = true
		if p, err = PostForm(ctx, browser, target.String(), form); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// hiddenField is one hidden input of a form_post page.
var hiddenField = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`)

// Continue presses the Continue button of a response_mode=form_post page
// (what SignIn returns for such a request): it posts the page's hidden
// fields to the app, as a browser does, and returns the app's answer.
func Continue(ctx context.Context, c *http.Client, p *Page) (*Page, error) {
	m := formAction.FindStringSubmatch(p.Body)
	if m == nil {
		return nil, fmt.Errorf("%s has no form to continue with", p.URL)
	}
	form := url.Values{}
	for _, f := range hiddenField.FindAllStringSubmatch(p.Body, -1) {
		form.Add(html.UnescapeString(f[1]), html.UnescapeString(f[2]))
	}
	return PostForm(ctx, c, html.UnescapeString(m[1]), form)
}

// Get requests target with c and reads the whole answer.
func Get(ctx context.Context, c *http.Client, target string) (*Page, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, err
	}
	return Do(c, req)
}

// PostForm posts form to target with c and reads the whole answer.
func PostForm(ctx context.Context, c *http.Client, target string, form url.Values) (*Page, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return Do(c, req)
}

// Do sends req with c and reads the whole answer.
func Do(c *http.Client, req *http.Request) (*Page, error) {
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: reading the answer: %w", req.Method, req.URL.Path, err)
	}
	p := &Page{Status: resp.StatusCode, URL: req.URL.String(), Header: resp.Header, Body: string(body)}
	if loc, err := resp.Location(); err == nil {
		p.Location = loc.String()
	} else if !errors.Is(err, http.ErrNoLocation) {
		return nil, fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
	}
	return p, nil
}
