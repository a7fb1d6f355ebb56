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

// A signed-in session encodes MSAL's cache as MSAL wrote it, after the JSON
// of the rest, not as base64 inside the JSON; the same session always
// encodes to the same bytes, so the handlers can tell a change.
func TestSessionEncoding(t *testing.T) {
	s := &UserSession{
		HomeAccountID: "uid.utid",
		Claims:        Claims{"name": "Ada", "roles": []any{"admin"}, "exp": float64(1795378006)},
		TokenCache:    tokenCacheLike(),
	}
	data, err := s.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(data, s.TokenCache) || len(data) > len(s.TokenCache)+200 {
		t.Fatalf("encoded %d bytes for a %d-byte cache: the cache is not stored as it is", len(data), len(s.TokenCache))
	}
	back, err := UnmarshalUserSession(data)
	if err != nil {
		t.Fatal(err)
	}
	if !back.SignedIn() || !back.Claims.HasRole("admin") || back.HomeAccountID != s.HomeAccountID ||
		!bytes.Equal(back.TokenCache, s.TokenCache) {
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
	if meta, _ := json.Marshal(s); bytes.Contains(meta, []byte("token_cache")) {
		t.Error("the token cache is in the JSON")
	}
}

func TestSessionRejectsMalformedData(t *testing.T) {
	s := &UserSession{HomeAccountID: "uid.utid", Claims: Claims{"name": "Ada"}, TokenCache: tokenCacheLike()}
	data, err := s.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string][]byte{
		"JSON cut short":   data[:10],
		"length past data": []byte("\x7f{}"),
		"no length":        {0xff},
		"not JSON":         []byte("\x03abc"),
		"too large":        make([]byte, maxSessionBytes+1),
	} {
		got, err := UnmarshalUserSession(bad)
		if err == nil || got == nil || got.SignedIn() || got.TokenCache != nil {
			t.Errorf("%s: %v %+v", name, err, got)
		}
	}
}

func TestTokenMemo(t *testing.T) {
	m := &tokenMemo{}
	s := &UserSession{HomeAccountID: "uid.utid", TokenCache: []byte(`{"AccessToken":{}}`)}
	scopes := []string{"User.Read"}
	k, f := newMemoKey(s, scopes)
	if _, ok := m.get(k, f); ok {
		t.Fatal("an empty memo answered")
	}
	valid := Token{AccessToken: "at", ExpiresOn: time.Now().Add(time.Hour)}
	m.put(k, f, valid, time.Time{})
	if got, ok := m.get(k, f); !ok || got.AccessToken != "at" || !got.FromCache {
		t.Fatalf("get = %+v, %v", got, ok)
	}
	// The same cache in another slice (the next request decoded it again)
	// finds the token.
	same := &UserSession{HomeAccountID: "uid.utid", TokenCache: bytes.Clone(s.TokenCache)}
	if _, ok := m.get(newMemoKey(same, []string{"User.Read"})); !ok {
		t.Error("the same cache, decoded again, did not find the token")
	}
	type lookup struct {
		k memoKey
		f memoFor
	}
	at := func(k memoKey, f memoFor) lookup { return lookup{k, f} }
	for name, other := range map[string]lookup{
		"another cache":   at(newMemoKey(&UserSession{HomeAccountID: "uid.utid", TokenCache: []byte(`{}`)}, scopes)),
		"another account": at(newMemoKey(&UserSession{HomeAccountID: "other", TokenCache: s.TokenCache}, scopes)),
		"other scopes":    at(newMemoKey(s, []string{"Mail.Read"})),
	} {
		if _, ok := m.get(other.k, other.f); ok {
			t.Errorf("%s: the memo answered", name)
		}
		// A hash collision: another cache whose key is this entry's.
		if _, ok := m.get(k, other.f); ok {
			t.Errorf("%s under a colliding key: the memo answered with another cache's token", name)
		}
	}
	// MSAL refreshes a token five minutes before it expires, and after its
	// refresh time: the memo must not answer then.
	m.put(k, f, Token{AccessToken: "at", ExpiresOn: time.Now().Add(4 * time.Minute)}, time.Time{})
	if _, ok := m.get(k, f); ok {
		t.Error("answered with a token MSAL would refresh (expiry)")
	}
	m.put(k, f, valid, time.Now().Add(-time.Second))
	if _, ok := m.get(k, f); ok {
		t.Error("answered with a token MSAL would refresh (refresh_in)")
	}
	for i := range 2 * memoSize {
		k, f := newMemoKey(&UserSession{TokenCache: []byte{byte(i), byte(i >> 8)}}, scopes)
		m.put(k, f, valid, time.Time{})
	}
	if m.entries.Len() != memoSize {
		t.Errorf("%d entries, want at most %d", m.entries.Len(), memoSize)
	}
}
