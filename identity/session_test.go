package identity

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/cache"
)

type recordingUnmarshaler struct {
	calls int
	got   []byte
}

func (r *recordingUnmarshaler) Unmarshal(b []byte) error {
	r.calls++
	r.got = b
	return nil
}

// Replace must call Unmarshal even for a new session with no cache: skipping
// it leaves the previous user's tokens in the client.
func TestSessionCacheReplaceAlwaysUnmarshals(t *testing.T) {
	for _, data := range [][]byte{nil, {}, []byte(`{"AccessToken":{}}`)} {
		u := &recordingUnmarshaler{}
		c := sessionCache{s: &UserSession{TokenCache: data}}
		if err := c.Replace(context.Background(), u, cache.ReplaceHints{}); err != nil {
			t.Fatal(err)
		}
		if u.calls != 1 || string(u.got) != string(data) {
			t.Errorf("data %q: Unmarshal called %d times with %q", data, u.calls, u.got)
		}
	}
}

func TestSessionCacheHonoursCancellation(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c := sessionCache{s: &UserSession{}}
	if err := c.Replace(ctx, &recordingUnmarshaler{}, cache.ReplaceHints{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Replace: %v", err)
	}
}

func TestUserSessionRoundTrip(t *testing.T) {
	s := &UserSession{HomeAccountID: "uid.utid", Claims: Claims{"name": "Ada", "roles": []any{"admin"}}, TokenCache: []byte("{}")}
	data, err := s.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := UnmarshalUserSession(data)
	if err != nil {
		t.Fatal(err)
	}
	if !back.SignedIn() || !back.Claims.HasRole("admin") || string(back.TokenCache) != "{}" {
		t.Errorf("round trip lost data: %+v", back)
	}
	if _, err := UnmarshalUserSession([]byte("{not json")); err == nil {
		t.Error("corrupt session decoded")
	}
	if s, err := UnmarshalUserSession(nil); err != nil || s.SignedIn() {
		t.Errorf("empty session: %v %+v", err, s)
	}
}

func TestAddFlowBoundsAndExpires(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	s := &UserSession{}
	s.addFlow("stale", Flow{Created: now.Add(-flowTTL - time.Second)}, now)
	for i := range maxFlows + 3 {
		s.addFlow(string(rune('a'+i)), Flow{Created: now.Add(time.Duration(i) * time.Second)}, now.Add(time.Duration(i)*time.Second))
	}
	if len(s.Flows) != maxFlows {
		t.Fatalf("%d flows kept, want %d", len(s.Flows), maxFlows)
	}
	if _, ok := s.Flows["stale"]; ok {
		t.Error("expired flow kept")
	}
	if _, ok := s.Flows["a"]; ok {
		t.Error("oldest flow kept past the bound")
	}
	if _, ok := s.Flows[string(rune('a'+maxFlows+2))]; !ok {
		t.Error("newest flow dropped")
	}
}

// One MSAL client parses a cache once: MSAL calls Replace before every read
// (Account, then AcquireTokenSilent), and the bytes have not changed between.
// New bytes, or a failed parse, are parsed again.
func TestSessionCacheParsesEachCacheOnce(t *testing.T) {
	ctx := context.Background()
	s := &UserSession{TokenCache: []byte(`{"AccessToken":{}}`)}
	c := &sessionCache{s: s}
	u := &recordingUnmarshaler{}
	for range 3 {
		if err := c.Replace(ctx, u, cache.ReplaceHints{}); err != nil {
			t.Fatal(err)
		}
	}
	if u.calls != 1 {
		t.Fatalf("the same cache was parsed %d times, want 1", u.calls)
	}
	s.TokenCache = []byte(`{"AccessToken":{"k":{}}}`)
	if err := c.Replace(ctx, u, cache.ReplaceHints{}); err != nil {
		t.Fatal(err)
	}
	if u.calls != 2 || string(u.got) != string(s.TokenCache) {
		t.Fatalf("a changed cache was not parsed again: %d calls, last %q", u.calls, u.got)
	}

	failing := &failingUnmarshaler{}
	c = &sessionCache{s: s}
	for range 2 {
		if err := c.Replace(ctx, failing, cache.ReplaceHints{}); err == nil {
			t.Fatal("Replace hid the parse error")
		}
	}
	if failing.calls != 2 {
		t.Fatalf("a cache that failed to parse was parsed %d times, want 2", failing.calls)
	}
}

type failingUnmarshaler struct{ calls int }

func (f *failingUnmarshaler) Unmarshal([]byte) error {
	f.calls++
	return errors.New("corrupt")
}

type fixedMarshaler []byte

func (m fixedMarshaler) Marshal() ([]byte, error) { return m, nil }

// The stored cache keeps everything MSAL wrote but the raw ID tokens.
func TestSessionCacheExportDropsIDTokens(t *testing.T) {
	s := &UserSession{}
	c := &sessionCache{s: s}
	data := `{"AccessToken":{"a":{"secret":"at"}},"IdToken":{"i":{"secret":"id"}},"RefreshToken":{"r":{"secret":"rt"}},"Account":{"x":{}}}`
	if err := c.Export(context.Background(), fixedMarshaler(data), cache.ExportHints{}); err != nil {
		t.Fatal(err)
	}
	got := string(s.TokenCache)
	want := `{"AccessToken":{"a":{"secret":"at"}},"Account":{"x":{}},"RefreshToken":{"r":{"secret":"rt"}}}`
	if got != want {
		t.Fatalf("stored cache\n%s\nwant\n%s", got, want)
	}
	for _, data := range []string{`{"AccessToken":{}}`, `not json`} {
		if err := c.Export(context.Background(), fixedMarshaler(data), cache.ExportHints{}); err != nil {
			t.Fatal(err)
		}
		if string(s.TokenCache) != data {
			t.Errorf("a cache without ID tokens was changed: %q -> %q", data, s.TokenCache)
		}
	}
}

// tokenCacheLike is a token cache shaped like MSAL's, with Entra-sized
// tokens: repeated field names and base64url tokens.
func tokenCacheLike() []byte {
	token := func(n int) string { return randomString(n * 3 / 4) }
	return []byte(`{"AccessToken":{"uid.utid-login.microsoftonline.com-accesstoken-client-tenant-user.read":{` +
		`"home_account_id":"uid.utid","environment":"login.microsoftonline.com","realm":"tenant","credential_type":"AccessToken",` +
		`"client_id":"client","secret":"` + token(2200) + `","target":"User.Read profile openid email","expires_on":"1795378006"}},` +
		`"RefreshToken":{"uid.utid-login.microsoftonline.com-refreshtoken-client":{"home_account_id":"uid.utid",` +
		`"environment":"login.microsoftonline.com","credential_type":"RefreshToken","client_id":"client","secret":"` + token(1400) + `"}}}`)
}

// A signed-in session is stored compressed, and read back as it was; an
// unchanged session encodes to the very bytes it was read from, so the
// handlers do not write it again.
func TestSignedInSessionIsStoredCompressed(t *testing.T) {
	s := &UserSession{
		HomeAccountID: "uid.utid",
		Claims:        Claims{"name": "Ada", "roles": []any{"admin"}, "exp": float64(1795378006)},
		Flows:         map[string]Flow{"st": {Nonce: "n", Verifier: "v", Next: "/graph", Created: time.Unix(1795374406, 0).UTC()}},
		TokenCache:    tokenCacheLike(),
	}
	data, err := s.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	plainJSON, _ := json.Marshal(s)
	if data[0] != compressedSession || len(data) >= len(plainJSON)*3/4 {
		t.Fatalf("stored %d bytes (format %#x); as JSON it would be %d", len(data), data[0], len(plainJSON))
	}
	back, err := UnmarshalUserSession(data)
	if err != nil {
		t.Fatal(err)
	}
	if !back.SignedIn() || !back.Claims.HasRole("admin") || back.HomeAccountID != s.HomeAccountID ||
		!bytes.Equal(back.TokenCache, s.TokenCache) || back.Flows["st"] != s.Flows["st"] {
		t.Fatalf("round trip lost data: %+v", back)
	}
	again, err := back.Marshal()
	if err != nil || !bytes.Equal(again, data) {
		t.Fatalf("an unchanged session encodes differently (%v)", err)
	}
	back.Claims["name"] = "Ada Lovelace"
	changed, err := back.Marshal()
	if err != nil || bytes.Equal(changed, data) {
		t.Fatalf("a changed session encodes as before (%v)", err)
	}
	if back, err = UnmarshalUserSession(changed); err != nil || back.Claims.String("name") != "Ada Lovelace" {
		t.Fatalf("changed session: %v %+v", err, back)
	}

	// Sessions without tokens stay plain JSON, and sessions stored before
	// compression (token cache in base64) are still read.
	if data, err := (&UserSession{}).Marshal(); err != nil || string(data) != "{}" {
		t.Fatalf("empty session: %q %v", data, err)
	}
	old, err := UnmarshalUserSession(plainJSON)
	if err != nil || !bytes.Equal(old.TokenCache, s.TokenCache) || !old.SignedIn() {
		t.Fatalf("JSON session: %v %+v", err, old)
	}
}

func TestCompressedSessionRejectsMalformedData(t *testing.T) {
	s := &UserSession{HomeAccountID: "uid.utid", Claims: Claims{"name": "Ada"}, TokenCache: tokenCacheLike()}
	data, err := s.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	bomb, err := compress(make([]byte, maxSessionBytes+10))
	if err != nil {
		t.Fatal(err)
	}
	noCache, _ := compress([]byte("\x02{}"))
	tooLong, _ := compress([]byte("\x7f{}"))
	for name, bad := range map[string][]byte{
		"truncated":        data[:len(data)/2],
		"not deflate":      {compressedSession, 0xff, 0xff, 0xff},
		"too large":        bomb,
		"no token cache":   noCache,
		"length past data": tooLong,
	} {
		got, err := UnmarshalUserSession(bad)
		if err == nil || got == nil || got.SignedIn() || got.TokenCache != nil || len(got.Flows) > 0 {
			t.Errorf("%s: %v %+v", name, err, got)
		}
	}
}

func TestTokenMemo(t *testing.T) {
	m := &tokenMemo{}
	s := &UserSession{HomeAccountID: "uid.utid", TokenCache: []byte(`{"AccessToken":{}}`)}
	scopes := []string{"User.Read"}
	k := newMemoKey(s, scopes)
	if _, ok := m.get(k); ok {
		t.Fatal("an empty memo answered")
	}
	valid := Token{AccessToken: "at", ExpiresOn: time.Now().Add(time.Hour)}
	m.put(k, valid, time.Time{})
	if got, ok := m.get(k); !ok || got.AccessToken != "at" || !got.FromCache {
		t.Fatalf("get = %+v, %v", got, ok)
	}
	for name, other := range map[string]memoKey{
		"another cache":   newMemoKey(&UserSession{HomeAccountID: "uid.utid", TokenCache: []byte(`{}`)}, scopes),
		"another account": newMemoKey(&UserSession{HomeAccountID: "other", TokenCache: s.TokenCache}, scopes),
		"other scopes":    newMemoKey(s, []string{"Mail.Read"}),
	} {
		if _, ok := m.get(other); ok {
			t.Errorf("%s: the memo answered", name)
		}
	}
	// MSAL refreshes a token five minutes before it expires, and after its
	// refresh time: the memo must not answer then.
	m.put(k, Token{AccessToken: "at", ExpiresOn: time.Now().Add(4 * time.Minute)}, time.Time{})
	if _, ok := m.get(k); ok {
		t.Error("answered with a token MSAL would refresh (expiry)")
	}
	m.put(k, valid, time.Now().Add(-time.Second))
	if _, ok := m.get(k); ok {
		t.Error("answered with a token MSAL would refresh (refresh_in)")
	}
	for i := range 2 * memoSize {
		m.put(newMemoKey(&UserSession{TokenCache: []byte{byte(i), byte(i >> 8)}}, scopes), valid, time.Time{})
	}
	if len(m.entries) != memoSize {
		t.Errorf("%d entries, want at most %d", len(m.entries), memoSize)
	}
}
