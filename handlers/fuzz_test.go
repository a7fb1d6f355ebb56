package handlers

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gorilla/sessions"

	"ms-identity-go-webapp/emulator"
	"ms-identity-go-webapp/identity"
	"ms-identity-go-webapp/internal/testutil"
)

// FuzzSessionLoad feeds the session load path (gorilla's stores, then
// identity.UnmarshalUserSession) an arbitrary cookie and arbitrary stored
// bytes, for both stores. Nothing may panic, an outage is never reported for
// bad input, and nobody is signed in by bytes the app did not sign.
func FuzzSessionLoad(f *testing.F) {
	for _, seed := range []struct {
		cookie string
		stored []byte
	}{
		{"", nil},
		{"MTIzNDU2Nzg5MHxhYmN8ZGVm", []byte("garbage")},
		{"a|b|c", []byte(`{"claims":{"name":"x"},"home_account_id":"u.t"}`)},
		{strings.Repeat("A", 5000), []byte(`{"flows":{"s":{"nonce":1}}}`)},
		{"\x00\xff", []byte(`{"token_cache":"not base64"}`)},
		{"__Host-session=nested; other=1", []byte(`null`)},
		{"%3Cscript%3E", []byte(`{"claims":null,"home_account_id":""}`)},
	} {
		f.Add(seed.cookie, seed.stored)
	}

	dir := f.TempDir()
	fsStore, err := NewFilesystemSessionStore(dir, testSecret)
	if err != nil {
		f.Fatal(err)
	}
	fake := newFakeRedis()
	// overwrite replaces the stored bytes of a session, as disk or Redis
	// corruption (or an attacker with access to either) would.
	stores := []struct {
		name      string
		st        *SessionStore
		overwrite func(id string, data []byte) error
	}{
		{"filesystem", fsStore, func(id string, data []byte) error {
			return os.WriteFile(filepath.Join(dir, "session_"+id), data, 0o600)
		}},
		{"redis", NewSessionStore(newRedisStore(fake, testSecret)), func(id string, data []byte) error {
			fake.mu.Lock()
			defer fake.mu.Unlock()
			fake.data[RedisKeyPrefix+id] = string(data)
			return nil
		}},
	}

	f.Fuzz(func(t *testing.T, cookie string, stored []byte) {
		for _, store := range stores {
			name, st := store.name, store.st
			// An arbitrary cookie value.
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set("Cookie", SessionCookieName+"="+cookie)
			s, err := st.load(r, discardLogger)
			if err != nil {
				t.Fatalf("%s: a bad cookie was reported as an outage: %v", name, err)
			}
			if s.user.SignedIn() {
				t.Fatalf("%s: an unsigned cookie opened a signed-in session", name)
			}

			// A genuine cookie whose stored record was replaced by raw bytes.
			c := signedInSession(t, st)
			gs := loadRaw(t, st, c)
			if err := store.overwrite(gs.ID, stored); err != nil {
				t.Fatal(err)
			}
			s, err = st.load(requestWith(c), discardLogger)
			if err != nil {
				t.Fatalf("%s: a corrupted record was reported as an outage: %v", name, err)
			}
			if s.user.SignedIn() {
				t.Fatalf("%s: bytes the app did not sign opened a signed-in session", name)
			}

			// A genuine record whose identity value holds the bytes.
			gs.Values[identityKey] = stored
			if err := st.store.Save(requestWith(c), httptest.NewRecorder(), gs); err != nil {
				t.Fatal(err)
			}
			s, err = st.load(requestWith(c), discardLogger)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			want, werr := identity.UnmarshalUserSession(stored)
			if werr != nil {
				want = &identity.UserSession{}
			}
			if s.user.SignedIn() != want.SignedIn() || s.user.HomeAccountID != want.HomeAccountID {
				t.Fatalf("%s: loaded %+v, want %+v", name, s.user, want)
			}
			if err := st.destroy(httptest.NewRecorder(), requestWith(c), s); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// loadRaw returns the gorilla session a cookie names.
func loadRaw(t *testing.T, st *SessionStore, c *http.Cookie) *sessions.Session {
	t.Helper()
	gs, err := st.store.New(requestWith(c), SessionCookieName)
	if err != nil || gs.ID == "" {
		t.Fatalf("a session just saved cannot be loaded: %v", err)
	}
	return gs
}

// FuzzAuthRedirect sends the redirect handler an arbitrary query on a
// session with a sign-in in progress. "{state}" in the input stands for the
// flow's real state, so the fuzzer also reaches the code redemption and the
// checks after it. Whatever the query, the answer is an error page (never a
// 500, never a sign-in), nothing from the query is echoed unescaped, and the
// flow cannot be used twice.
func FuzzAuthRedirect(f *testing.F) {
	for _, seed := range []string{
		"",
		"code=abc&state={state}",
		"state={state}",
		"code=abc&state=forged",
		"error=access_denied&error_description=%3Cscript%3Ealert(1)%3C%2Fscript%3E&state={state}",
		"error=%3Cimg+src%3Dx+onerror%3Dalert(1)%3E&error_description=AADSTS50011%3A+x&correlation_id=%3Cb%3E",
		"code=a&code=b&state={state}&state=other",
		"code=%00%ff&state={state}",
		"code=" + strings.Repeat("A", 8000) + "&state={state}",
		"state=%ZZ&code=%",
		";;&&==&state={state}&code=",
		"code=x&state={state}&session_state=1&client_info=eyJ1aWQiOiIxIn0",
	} {
		f.Add(seed)
	}

	const redirectURI = "https://app.test/auth/redirect"
	emu, err := emulator.New(emulator.Config{RedirectURIs: []string{redirectURI}, SigningKey: testutil.SigningKey()})
	if err != nil {
		f.Fatal(err)
	}
	idp := httptest.NewTLSServer(emu.Handler())
	f.Cleanup(idp.Close)
	id, err := identity.New(identity.Config{
		Authority:   emu.Authority(idp.URL),
		ClientID:    emulator.DemoClientID,
		Credential:  testutil.SecretCredential(emulator.DemoClientSecret),
		RedirectURI: redirectURI,
		Scopes:      []string{"User.Read"},
		HTTPClient:  idp.Client(),
	})
	if err != nil {
		f.Fatal(err)
	}
	store, err := NewFilesystemSessionStore(f.TempDir(), testSecret)
	if err != nil {
		f.Fatal(err)
	}
	var logs bytes.Buffer
	app, err := New(Options{
		Logger:       slog.New(slog.NewTextHandler(&logs, nil)),
		Files:        os.DirFS(".."), // the real templates, so escaping is tested too
		Identity:     id,
		Sessions:     store,
		RedirectPath: "/auth/redirect",
	})
	if err != nil {
		f.Fatal(err)
	}
	h := app.Routes()
	// Text of the error pages themselves, so that a fuzzed value that
	// happens to match the template is not taken for an echo.
	var pages strings.Builder
	for _, q := range []string{"state=forged", "error=x&error_description=y&correlation_id=z"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/auth/redirect?"+q, nil))
		pages.WriteString(rec.Body.String())
	}
	templateText := pages.String()

	f.Fuzz(func(t *testing.T, query string) {
		start := httptest.NewRecorder()
		h.ServeHTTP(start, httptest.NewRequest(http.MethodGet, "/graph", nil))
		authURL, err := url.Parse(start.Header().Get("Location"))
		if start.Code != http.StatusFound || err != nil {
			t.Fatalf("starting the sign-in: %d %q", start.Code, start.Header().Get("Location"))
		}
		state := authURL.Query().Get("state")
		cookies := start.Result().Cookies()

		callback := func() *httptest.ResponseRecorder {
			r := httptest.NewRequest(http.MethodGet, "/auth/redirect", nil)
			r.URL.RawQuery = strings.ReplaceAll(query, "{state}", url.QueryEscape(state))
			for _, c := range cookies {
				r.AddCookie(c)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if c := rec.Result().Cookies(); len(c) > 0 {
				cookies = c
			}
			return rec
		}
		rec := callback()
		switch rec.Code {
		case http.StatusBadRequest, http.StatusServiceUnavailable:
		default:
			t.Fatalf("query %q: status %d\n%s", query, rec.Code, rec.Body)
		}
		body := rec.Body.String()
		for _, values := range strings.Split(strings.ReplaceAll(query, "{state}", state), "&") {
			_, v, _ := strings.Cut(values, "=")
			v, err := url.QueryUnescape(v)
			if err == nil && strings.ContainsAny(v, "<>\"") && strings.Contains(body, v) && !strings.Contains(templateText, v) {
				t.Fatalf("query %q: the page echoes %q unescaped", query, v)
			}
		}

		// Still signed out, and the same answer again is refused.
		again := callback()
		if again.Code != http.StatusBadRequest {
			t.Fatalf("query %q replayed: status %d", query, again.Code)
		}
		check := httptest.NewRequest(http.MethodGet, "/token_details", nil)
		for _, c := range cookies {
			check.AddCookie(c)
		}
		after := httptest.NewRecorder()
		h.ServeHTTP(after, check)
		if after.Code != http.StatusFound {
			t.Fatalf("query %q signed the browser in: /token_details answered %d", query, after.Code)
		}
	})
}
