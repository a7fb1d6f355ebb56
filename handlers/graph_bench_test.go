// Benchmarks of a signed-in page: the app's /graph next to the bare page that makes the same Graph call, with -benchmem allocations.

package handlers

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"testing"

	"ms-identity-go-webapp/emulator"
	"ms-identity-go-webapp/identity"
	"ms-identity-go-webapp/internal/testutil"
	"ms-identity-go-webapp/session"
)

// benchApp is the app with file sessions (or the given backend), signed in
// once against an emulator with Entra-sized tokens, and its session cookie.
type benchApp struct {
	h       http.Handler
	app     *Application
	cookie  *http.Cookie
	graph   string       // the emulator's Graph /me
	outward *http.Client // the client the app calls Graph with
}

func newBenchApp(b *testing.B, backend session.Backend) *benchApp {
	b.Helper()
	emu, err := emulator.New(emulator.Config{RedirectURIs: []string{testRedirectURI}, SigningKey: testutil.SigningKey(), TokenPadding: true})
	if err != nil {
		b.Fatal(err)
	}
	idp := httptest.NewTLSServer(emu.Handler())
	b.Cleanup(idp.Close)
	// The app's outbound client keeps connections alive to Graph, as
	// main's does.
	outward := idp.Client()
	outward.Transport.(*http.Transport).MaxIdleConnsPerHost = 64
	id, err := identity.New(identity.Config{
		Authority:   emu.Authority(idp.URL),
		ClientID:    emulator.DemoClientID,
		Credential:  testutil.SecretCredential(emulator.DemoClientSecret),
		RedirectURI: testRedirectURI,
		Scopes:      []string{"User.Read"},
		HTTPClient:  outward,
	})
	if err != nil {
		b.Fatal(err)
	}
	if backend == nil {
		if backend, err = session.NewFileBackend(b.TempDir()); err != nil {
			b.Fatal(err)
		}
	}
	keys, err := session.NewKeys(testSecret, "")
	if err != nil {
		b.Fatal(err)
	}
	app, err := New(Options{
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
		Files:         os.DirFS(".."),
		Identity:      id,
		Sessions:      session.NewStore(backend, keys),
		RedirectPath:  "/auth/redirect",
		GraphClient:   outward,
		GraphEndpoint: idp.URL + "/v1.0/me",
	})
	if err != nil {
		b.Fatal(err)
	}
	ba := &benchApp{h: app.Routes(), app: app, graph: idp.URL + "/v1.0/me", outward: outward}
	ba.cookie = ba.signIn(b, emu.Users()[0])
	return ba
}

// signIn walks one sign-in through the app and the emulator's form, and
// returns the session cookie.
func (ba *benchApp) signIn(b *testing.B, u emulator.User) *http.Cookie {
	b.Helper()
	rec := get(ba.h, "/graph", nil)
	if rec.Code != http.StatusFound {
		b.Fatalf("/graph signed out: %d", rec.Code)
	}
	jar, _ := cookiejar.New(nil)
	browser := *ba.outward
	browser.Jar = jar
	browser.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	form := url.Values{"loginfmt": {u.Username}, "passwd": {u.Password}, "action": {"signin"}}
	resp, err := browser.PostForm(rec.Header().Get("Location"), form)
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	back, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound {
		b.Fatalf("sign-in form: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	done := get(ba.h, back.RequestURI(), rec.Result().Cookies())
	for _, c := range done.Result().Cookies() {
		if c.Name == session.CookieName && c.Value != "" {
			return c
		}
	}
	b.Fatalf("the redirect URI set no session cookie: %d", done.Code)
	return nil
}

// page serves one /graph page and checks it shows Graph's answer.
func (ba *benchApp) page(b *testing.B) {
	rec := get(ba.h, "/graph", []*http.Cookie{ba.cookie})
	if rec.Code != http.StatusOK || !bytes.Contains(rec.Body.Bytes(), []byte("userPrincipalName")) {
		b.Fatalf("/graph: %d", rec.Code)
	}
	if len(rec.Result().Cookies()) != 0 {
		b.Fatal("/graph with a cached token set a cookie: the session was saved again")
	}
}

// BenchmarkGraphPage is one signed-in /graph page with a cached token
// (file sessions, Entra-sized tokens), served in process next to the bare
// page: the same Graph call through the same client, with the body written
// back. Both sides include the in-process emulator's /me answer and the
// client side of the Graph call, so the difference is what the app adds.
func BenchmarkGraphPage(b *testing.B) {
	ba := newBenchApp(b, nil)
	token, err := ba.app.Identity.AcquireToken(context.Background(), ba.user(b), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("bare", func(b *testing.B) {
		h := bareGraphPage(ba.outward, ba.graph, token.AccessToken)
		b.ReportAllocs()
		for b.Loop() {
			rec := get(h, "/graph", nil)
			if rec.Code != http.StatusOK {
				b.Fatal(rec.Code)
			}
		}
	})
	b.Run("app", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ba.page(b)
		}
	})
}

// user loads the signed-in user's session as the app does.
func (ba *benchApp) user(b *testing.B) *identity.UserSession {
	_, values, _, err := ba.app.Sessions.Load(context.Background(), ba.cookie.Value)
	if err != nil {
		b.Fatal(err)
	}
	u, err := identity.UnmarshalUserSession(values[UserSessionKey])
	if err != nil || !u.SignedIn() {
		b.Fatalf("stored session: %v", err)
	}
	return u
}

// bareGraphPage is the least a page with one Graph call can do: call it
// with a fixed token and write the body back.
func bareGraphPage(client *http.Client, endpoint, token string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, endpoint, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.Header().Set("Content-Type", "application/json")
		io.Copy(w, resp.Body)
	})
}
