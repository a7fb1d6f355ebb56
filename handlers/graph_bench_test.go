// Benchmarks of a signed-in page: the app's /graph next to the bare page that makes the same Graph call, with -benchmem allocations.

package handlers

import (
	"bytes"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"testing"

	"ms-identity-go-webapp/emulator"
	"ms-identity-go-webapp/entra"
	"ms-identity-go-webapp/internal/testutil"
	"ms-identity-go-webapp/session"
)

// benchApp is the whole app (the server's middleware, entra's, the pages)
// with file sessions, signed in once against an emulator with Entra-sized
// tokens, and its session cookie.
type benchApp struct {
	*testApp
	emu     *emulator.Emulator
	cookie  *http.Cookie
	graph   string       // the emulator's Graph /me
	outward *http.Client // the client the app calls Graph with
}

func newBenchApp(tb testing.TB, emuCfg emulator.Config) *benchApp {
	tb.Helper()
	emuCfg.RedirectURIs, emuCfg.SigningKey = []string{testRedirectURI}, testutil.SigningKey()
	emu, err := emulator.New(emuCfg)
	if err != nil {
		tb.Fatal(err)
	}
	idp := httptest.NewTLSServer(emu.Handler())
	tb.Cleanup(idp.Close)
	// The app's outbound client keeps connections alive to Graph, as
	// main's does.
	outward := idp.Client()
	outward.Transport.(*http.Transport).MaxIdleConnsPerHost = 64
	app := newTestApp(tb, appSettings{
		authority: emu.Authority(idp.URL),
		client:    outward,
		// Only GRAPH_ENDPOINT, as the Python samples set it: /calendar
		// follows it to the emulator's Graph.
		env: map[string]string{"GRAPH_ENDPOINT": idp.URL + "/v1.0/me"},
	})
	ba := &benchApp{testApp: app, emu: emu, graph: idp.URL + "/v1.0/me", outward: outward}
	ba.cookie = ba.signIn(tb, emu.Users()[0])
	return ba
}

// signIn walks one sign-in through the app and the emulator's form, and
// returns the session cookie.
func (ba *benchApp) signIn(tb testing.TB, u emulator.User) *http.Cookie {
	tb.Helper()
	rec := get(ba.h, "/graph", nil)
	if rec.Code != http.StatusFound {
		tb.Fatalf("/graph signed out: %d", rec.Code)
	}
	jar, _ := cookiejar.New(nil)
	browser := *ba.outward
	browser.Jar = jar
	browser.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	form := url.Values{"loginfmt": {u.Username}, "passwd": {u.Password}, "action": {"signin"}}
	resp, err := browser.PostForm(rec.Header().Get("Location"), form)
	if err != nil {
		tb.Fatal(err)
	}
	resp.Body.Close()
	back, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound {
		tb.Fatalf("sign-in form: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	done := get(ba.h, back.RequestURI(), rec.Result().Cookies())
	for _, c := range done.Result().Cookies() {
		if c.Name == session.CookieName && c.Value != "" {
			return c
		}
	}
	tb.Fatalf("the redirect URI set no session cookie: %d", done.Code)
	return nil
}

// page serves one /graph page and checks it shows Graph's answer.
func (ba *benchApp) page(tb testing.TB) {
	rec := get(ba.h, "/graph", []*http.Cookie{ba.cookie})
	if rec.Code != http.StatusOK || !bytes.Contains(rec.Body.Bytes(), []byte("userPrincipalName")) {
		tb.Fatalf("/graph: %d", rec.Code)
	}
	if len(rec.Result().Cookies()) != 0 {
		tb.Fatal("/graph with a cached token set a cookie: the session was saved again")
	}
}

// BenchmarkGraphPage is one signed-in /graph page with a cached token
// (file sessions, Entra-sized tokens), served in process through the whole
// app (the server's middleware, entra's, the pages) next to the bare page:
// the same Graph call through the same client, with the body written back.
// Both sides include the in-process emulator's /me answer and the client
// side of the Graph call, so the difference is what the app adds.
func BenchmarkGraphPage(b *testing.B) {
	ba := newBenchApp(b, emulator.Config{TokenPadding: true})
	token := ba.accessToken(b)
	b.Run("bare", func(b *testing.B) {
		h := bareGraphPage(ba.outward, ba.graph, token)
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

// accessToken is the signed-in user's cached access token for Graph, as the
// gate in front of /graph gets it.
func (ba *benchApp) accessToken(tb testing.TB) string {
	tb.Helper()
	var token entra.Token
	h := ba.auth.Middleware(ba.auth.ScopesRequired(ba.pages.cfg.Graph.Scopes...)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, _ = entra.TokenFrom(r.Context())
	})))
	if rec := get(h, "/graph", []*http.Cookie{ba.cookie}); rec.Code != http.StatusOK || token.AccessToken == "" {
		tb.Fatalf("no token for the signed-in user: %d", rec.Code)
	}
	return token.AccessToken
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
