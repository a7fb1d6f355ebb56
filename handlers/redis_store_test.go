package handlers

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"ms-identity-go-webapp/identity"
)

const testSecret = "test-session-secret-0123456789abcdef"

// fakeRedis is an in-memory stand-in for the three commands the store uses.
// With down set, every command fails as a stopped Redis server would.
type fakeRedis struct {
	mu   sync.Mutex
	data map[string]string
	ttl  map[string]time.Duration
	down bool
	gets int
}

var errRedisDown = errors.New("dial tcp 127.0.0.1:6379: connect: connection refused")

func newFakeRedis() *fakeRedis {
	return &fakeRedis{data: map[string]string{}, ttl: map[string]time.Duration{}}
}

func (f *fakeRedis) Get(_ context.Context, key string) *redis.StringCmd {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gets++
	if f.down {
		return redis.NewStringResult("", errRedisDown)
	}
	v, ok := f.data[key]
	if !ok {
		return redis.NewStringResult("", redis.Nil)
	}
	return redis.NewStringResult(v, nil)
}

func (f *fakeRedis) Set(_ context.Context, key string, value any, ttl time.Duration) *redis.StatusCmd {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return redis.NewStatusResult("", errRedisDown)
	}
	f.data[key], f.ttl[key] = value.(string), ttl
	return redis.NewStatusResult("OK", nil)
}

func (f *fakeRedis) Exists(_ context.Context, keys ...string) *redis.IntCmd {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return redis.NewIntResult(0, errRedisDown)
	}
	var n int64
	for _, k := range keys {
		if _, ok := f.data[k]; ok {
			n++
		}
	}
	return redis.NewIntResult(n, nil)
}

func (f *fakeRedis) Del(_ context.Context, keys ...string) *redis.IntCmd {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return redis.NewIntResult(0, errRedisDown)
	}
	n := 0
	for _, k := range keys {
		if _, ok := f.data[k]; ok {
			delete(f.data, k)
			n++
		}
	}
	return redis.NewIntResult(int64(n), nil)
}

func (f *fakeRedis) setDown(down bool) {
	f.mu.Lock()
	f.down = down
	f.mu.Unlock()
}

func (f *fakeRedis) keys() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for k := range f.data {
		out = append(out, k)
	}
	return out
}

var discardLogger = slog.New(slog.DiscardHandler)

// signedInSession stores a signed-in user in st and returns the cookie that
// names the session.
func signedInSession(t testing.TB, st *SessionStore) *http.Cookie {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	s, err := st.load(r, discardLogger)
	if err != nil {
		t.Fatal(err)
	}
	s.user.Claims = identity.Claims{"name": "Alice", "preferred_username": "alice@demo.test"}
	s.user.HomeAccountID = "uid.utid"
	s.user.TokenCache = []byte(`{"RefreshToken":{"k":{"secret":"refresh-token-in-the-clear"}}}`)
	rec := httptest.NewRecorder()
	if err := st.renew(rec, r, s); err != nil {
		t.Fatal(err)
	}
	for _, c := range rec.Result().Cookies() {
		if c.Name == SessionCookieName {
			return c
		}
	}
	t.Fatal("saving a session set no cookie")
	return nil
}

func requestWith(c *http.Cookie) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	if c != nil {
		r.AddCookie(c)
	}
	return r
}

func TestRedisStoreKeepsSessionsEncryptedWithTheirLifetime(t *testing.T) {
	fake := newFakeRedis()
	st := NewSessionStore(newRedisStore(fake, testSecret))
	c := signedInSession(t, st)

	keys := fake.keys()
	if len(keys) != 1 || !strings.HasPrefix(keys[0], RedisKeyPrefix) {
		t.Fatalf("keys after one sign-in: %q", keys)
	}
	if strings.Contains(c.Value, strings.TrimPrefix(keys[0], RedisKeyPrefix)) {
		t.Error("the cookie carries the bare session id: it must be signed")
	}
	stored := fake.data[keys[0]]
	for _, plain := range []string{"refresh-token-in-the-clear", "alice@demo.test", "uid.utid"} {
		if strings.Contains(stored, plain) {
			t.Errorf("Redis holds %q in the clear", plain)
		}
	}
	if got := fake.ttl[keys[0]]; got != SessionLifetime {
		t.Errorf("key TTL %v, want the session lifetime %v", got, SessionLifetime)
	}
	if !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" {
		t.Errorf("cookie attributes: %+v", c)
	}

	s, err := st.load(requestWith(c), discardLogger)
	if err != nil {
		t.Fatal(err)
	}
	if !s.user.SignedIn() || s.user.Claims.String("name") != "Alice" {
		t.Fatalf("loaded session: %+v", s.user)
	}
}

// Sign-in renews the id (session fixation) and deletes the old record;
// sign-out deletes the record and expires the cookie.
func TestRedisStoreRenewAndDestroy(t *testing.T) {
	fake := newFakeRedis()
	st := NewSessionStore(newRedisStore(fake, testSecret))
	first := signedInSession(t, st)
	oldKeys := fake.keys()

	s, err := st.load(requestWith(first), discardLogger)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	if err := st.renew(rec, requestWith(first), s); err != nil {
		t.Fatal(err)
	}
	newKeys := fake.keys()
	if len(newKeys) != 1 || newKeys[0] == oldKeys[0] {
		t.Fatalf("keys before renewal %q, after %q: want one new key", oldKeys, newKeys)
	}
	if s2, _ := st.load(requestWith(first), discardLogger); s2.user.SignedIn() {
		t.Error("the id from before the renewal still opens the session")
	}

	second := rec.Result().Cookies()[0]
	s, _ = st.load(requestWith(second), discardLogger)
	rec = httptest.NewRecorder()
	if err := st.destroy(rec, requestWith(second), s); err != nil {
		t.Fatal(err)
	}
	if keys := fake.keys(); len(keys) != 0 {
		t.Errorf("keys after sign-out: %q", keys)
	}
	expired := rec.Result().Cookies()
	if len(expired) != 1 || expired[0].MaxAge >= 0 || expired[0].Value != "" || !expired[0].Secure || !expired[0].HttpOnly {
		t.Errorf("sign-out cookie: %+v", expired)
	}
}

// A record that is gone or corrupted means signed out; Redis not answering
// is an outage, reported as such and not mistaken for a sign-out.
func TestRedisStoreMissingCorruptedAndDown(t *testing.T) {
	fake := newFakeRedis()
	st := NewSessionStore(newRedisStore(fake, testSecret))

	c := signedInSession(t, st)
	key := fake.keys()[0]
	fake.data[key] = "garbage"
	s, err := st.load(requestWith(c), discardLogger)
	if err != nil || s.user.SignedIn() || !s.gs.IsNew || s.gs.ID != "" {
		t.Fatalf("corrupted record: err %v, signed in %v, new %v, id %q", err, s.user.SignedIn(), s.gs.IsNew, s.gs.ID)
	}

	delete(fake.data, key)
	s, err = st.load(requestWith(c), discardLogger)
	if err != nil || s.user.SignedIn() || s.gs.ID != "" {
		t.Fatalf("deleted record: err %v, signed in %v, id %q", err, s.user.SignedIn(), s.gs.ID)
	}

	c = signedInSession(t, st)
	fake.setDown(true)
	if _, err := st.load(requestWith(c), discardLogger); !errors.Is(err, ErrStoreUnavailable) {
		t.Fatalf("Redis down: load error %v, want ErrStoreUnavailable", err)
	}
	// A visitor without a cookie needs no Redis call at all.
	before := fake.gets
	s, err = st.load(requestWith(nil), discardLogger)
	if err != nil || s.user.SignedIn() || fake.gets != before {
		t.Fatalf("no cookie while Redis is down: err %v, Redis GETs %d", err, fake.gets-before)
	}
	if err := st.save(httptest.NewRecorder(), requestWith(c), &requestSession{gs: s.gs, user: &identity.UserSession{HomeAccountID: "x"}}); !errors.Is(err, ErrStoreUnavailable) {
		t.Fatalf("Redis down: save error %v", err)
	}

	fake.setDown(false)
	if s, err := st.load(requestWith(c), discardLogger); err != nil || !s.user.SignedIn() {
		t.Fatalf("Redis back: err %v, signed in %v", err, s != nil && s.user.SignedIn())
	}
}

// The page a request gets while the store is down: 503, in the layout,
// without a stack or the store's error.
func TestSessionOutageShowsErrorPage(t *testing.T) {
	fake := newFakeRedis()
	var logs bytes.Buffer
	app, err := New(Options{
		Logger:         slog.New(slog.NewTextHandler(&logs, nil)),
		Files:          testFiles(),
		RedirectPath:   "/auth/redirect",
		ConfigProblems: []string{"unused"},
		Sessions:       NewSessionStore(newRedisStore(fake, testSecret)),
	})
	if err != nil {
		t.Fatal(err)
	}
	c := signedInSession(t, app.Sessions)
	fake.setDown(true)
	reached := false
	h := app.requestID(app.loadSession(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached = true })))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, requestWith(c))
	body, _ := io.ReadAll(rec.Body)
	if rec.Code != http.StatusServiceUnavailable || reached {
		t.Fatalf("status %d, handler reached %v", rec.Code, reached)
	}
	if !strings.Contains(string(body), "Session storage unavailable") || strings.Contains(string(body), "connection refused") {
		t.Errorf("page: %s", body)
	}
	if !strings.Contains(logs.String(), "connection refused") {
		t.Error("the store's error is not in the log")
	}
}

// A session file the app cannot read is an outage too; a deleted one is a
// sign-out.
func TestFilesystemStoreUnreadableAndDeleted(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Log("running as root: file permissions do not stop reads, so only deletion is tested")
	}
	dir := t.TempDir()
	st, err := NewFilesystemSessionStore(dir, testSecret)
	if err != nil {
		t.Fatal(err)
	}
	c := signedInSession(t, st)
	files, _ := filepath.Glob(filepath.Join(dir, "session_*"))
	if len(files) != 1 {
		t.Fatalf("session files: %q", files)
	}
	if os.Geteuid() != 0 {
		os.Chmod(files[0], 0)
		if _, err := st.load(requestWith(c), discardLogger); !storeUnavailable(err) {
			t.Errorf("unreadable file: %v, want an outage", err)
		}
		os.Chmod(files[0], 0o600)
	}
	os.Remove(files[0])
	s, err := st.load(requestWith(c), discardLogger)
	if err != nil || s.user.SignedIn() {
		t.Fatalf("deleted file: err %v, signed in %v", err, s.user.SignedIn())
	}
}
