// Tests of the store and LoadAndSave: what a request loads and stores, over every backend.

package session

import (
	"bytes"
	"compress/flate"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/sessions"
)

const testSecret = "test-session-secret-0123456789abcdef"

// counting wraps a backend and counts the writes that reach it.
type counting struct {
	Backend
	saves, deletes atomic.Int64
}

func (c *counting) Save(ctx context.Context, id string, record []byte, expiry time.Time) error {
	c.saves.Add(1)
	return c.Backend.Save(ctx, id, record, expiry)
}

// Update is a write too: the one that writes a loaded session back.
func (c *counting) Update(ctx context.Context, id string, record []byte, expiry time.Time, index string) (bool, error) {
	c.saves.Add(1)
	return c.Backend.Update(ctx, id, record, expiry, index)
}

func (c *counting) Delete(ctx context.Context, id string) error {
	c.deletes.Add(1)
	return c.Backend.Delete(ctx, id)
}

func newTestStore(t testing.TB, b Backend, secret, previous string) *Store {
	t.Helper()
	keys, err := NewKeys(secret, previous)
	if err != nil {
		t.Fatal(err)
	}
	return NewStore(b, keys)
}

// app is LoadAndSave around a handler that runs change on the session.
type app struct {
	t       *testing.T
	store   *Store
	change  func(gs *sessions.Session)
	errs    []error
	invalid []error
}

func (a *app) handler() http.Handler {
	return a.store.LoadAndSave(func(w http.ResponseWriter, r *http.Request, err error) {
		a.errs = append(a.errs, err)
		http.Error(w, "session storage unavailable", http.StatusServiceUnavailable)
	}, func(r *http.Request, err error) { a.invalid = append(a.invalid, err) })(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.change != nil {
			a.change(FromContext(r.Context()))
		}
		w.Header().Set("X-Handler", "ran")
		w.Write([]byte("page"))
	}))
}

// do sends one request with cookie (nil for none) and returns the response
// and the session cookie it sets, if any.
func (a *app) do(cookie *http.Cookie, change func(gs *sessions.Session)) (*httptest.ResponseRecorder, *http.Cookie) {
	a.t.Helper()
	a.change = change
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	if cookie != nil {
		r.AddCookie(cookie)
	}
	rec := httptest.NewRecorder()
	a.handler().ServeHTTP(rec, r)
	for _, c := range rec.Result().Cookies() {
		if c.Name == CookieName {
			return rec, c
		}
	}
	return rec, nil
}

func set(key, value string) func(*sessions.Session) {
	return func(gs *sessions.Session) { gs.Values[key] = []byte(value) }
}

func get(gs *sessions.Session, key string) string {
	v, _ := gs.Values[key].([]byte)
	return string(v)
}

func TestLoadAndSave(t *testing.T) {
	for _, bt := range backends {
		t.Run(bt.name, func(t *testing.T) { testLoadAndSave(t, bt.new) })
	}
}

func testLoadAndSave(t *testing.T, newBackend func(t testing.TB) backendUnderTest) {
	ctx := context.Background()

	t.Run("a visitor stores nothing", func(t *testing.T) {
		b := &counting{Backend: newBackend(t).backend}
		a := &app{t: t, store: newTestStore(t, b, testSecret, "")}
		rec, c := a.do(nil, nil)
		if c != nil || b.saves.Load() != 0 || rec.Body.String() != "page" {
			t.Fatalf("cookie %v, %d saves, body %q", c, b.saves.Load(), rec.Body)
		}
		// Nor does one whose handler looks at the session and leaves it empty.
		if _, c := a.do(nil, func(gs *sessions.Session) { _ = get(gs, "identity") }); c != nil || b.saves.Load() != 0 {
			t.Fatalf("cookie %v, %d saves", c, b.saves.Load())
		}
	})

	t.Run("values are stored, loaded, and saved only when changed", func(t *testing.T) {
		b := &counting{Backend: newBackend(t).backend}
		a := &app{t: t, store: newTestStore(t, b, testSecret, "")}
		rec, c := a.do(nil, set("identity", "alice"))
		if c == nil || b.saves.Load() != 1 || rec.Header().Get("X-Handler") != "ran" {
			t.Fatalf("first save: cookie %v, %d saves", c, b.saves.Load())
		}
		if !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.MaxAge != int(Lifetime/time.Second) {
			t.Errorf("cookie attributes: %+v", c)
		}
		var seen string
		_, again := a.do(c, func(gs *sessions.Session) { seen = get(gs, "identity") })
		if seen != "alice" || again != nil || b.saves.Load() != 1 {
			t.Fatalf("unchanged session: loaded %q, cookie %v, %d saves", seen, again, b.saves.Load())
		}
		_, again = a.do(c, set("identity", "alice, refreshed"))
		if b.saves.Load() != 2 || again == nil {
			t.Fatalf("changed session: %d saves, cookie %v", b.saves.Load(), again)
		}
		a.do(c, func(gs *sessions.Session) { seen = get(gs, "identity") })
		if seen != "alice, refreshed" {
			t.Fatalf("loaded %q", seen)
		}
		id, _, _, err := a.store.Load(ctx, c.Value)
		if err != nil || strings.Contains(c.Value, id) {
			t.Errorf("the cookie carries the bare session id (%v)", err)
		}
	})

	t.Run("renewal and destruction", func(t *testing.T) {
		b := newBackend(t).backend
		a := &app{t: t, store: newTestStore(t, b, testSecret, "")}
		_, first := a.do(nil, set("identity", "alice"))
		_, second := a.do(first, func(gs *sessions.Session) { Renew(gs) })
		if second == nil || second.Value == first.Value {
			t.Fatal("renewal set no new cookie")
		}
		if _, _, _, err := a.store.Load(ctx, first.Value); !errors.Is(err, ErrNotFound) {
			t.Errorf("the id from before the renewal still opens a session: %v", err)
		}
		var seen string
		a.do(second, func(gs *sessions.Session) { seen = get(gs, "identity") })
		if seen != "alice" {
			t.Errorf("renewed session holds %q", seen)
		}
		_, expired := a.do(second, func(gs *sessions.Session) { Destroy(gs) })
		if expired == nil || expired.MaxAge >= 0 || expired.Value != "" || !expired.Secure || !expired.HttpOnly {
			t.Errorf("sign-out cookie: %+v", expired)
		}
		if _, _, _, err := a.store.Load(ctx, second.Value); !errors.Is(err, ErrNotFound) {
			t.Errorf("a destroyed session still loads: %v", err)
		}
	})

	t.Run("a session emptied by the handler is deleted", func(t *testing.T) {
		b := newBackend(t).backend
		a := &app{t: t, store: newTestStore(t, b, testSecret, "")}
		_, c := a.do(nil, set("identity", "alice"))
		_, expired := a.do(c, func(gs *sessions.Session) { delete(gs.Values, "identity") })
		if expired == nil || expired.MaxAge >= 0 {
			t.Errorf("cookie after emptying: %+v", expired)
		}
		if _, _, _, err := a.store.Load(ctx, c.Value); !errors.Is(err, ErrNotFound) {
			t.Errorf("an empty session is still stored: %v", err)
		}
	})

	t.Run("a sign-out is not undone by a request in flight", func(t *testing.T) {
		b := newBackend(t).backend
		a := &app{t: t, store: newTestStore(t, b, testSecret, "")}
		_, c := a.do(nil, set("identity", "alice"))
		// The request in flight has loaded the session; the sign-out in
		// another tab ends it while the handler runs; the handler then
		// changes the session (a refreshed token).
		a.do(c, func(gs *sessions.Session) {
			other := &app{t: t, store: a.store}
			other.do(c, func(gs *sessions.Session) { Destroy(gs) })
			gs.Values["identity"] = []byte("alice, refreshed")
		})
		if _, _, _, err := a.store.Load(ctx, c.Value); !errors.Is(err, ErrNotFound) {
			t.Fatalf("the request in flight wrote the ended session back: %v", err)
		}
	})

	t.Run("unusable cookies and records read as signed out", func(t *testing.T) {
		bt := newBackend(t)
		a := &app{t: t, store: newTestStore(t, bt.backend, testSecret, "")}
		_, c := a.do(nil, set("identity", "alice"))
		id, _, _, _ := a.store.Load(ctx, c.Value)
		_, other := a.do(nil, set("identity", "mallory"))
		otherID, _, _, _ := a.store.Load(ctx, other.Value)
		otherRecord, _ := bt.backend.Find(ctx, otherID)
		record, _ := bt.backend.Find(ctx, id)
		foreign := newTestStore(t, bt.backend, "another-secret-0123456789abcdefghij", "")
		foreignRecord, _ := sealRecord(foreign.records, id, Values{"identity": []byte("mallory")})

		tampered := []byte(c.Value)
		tampered[len(tampered)/2] ^= 1
		flipped := bytes.Clone(record)
		flipped[len(flipped)/2] ^= 1
		for _, tt := range []struct {
			name   string
			cookie string
			record []byte // replaces the stored record, when not nil
		}{
			{"tampered cookie", string(tampered), nil},
			{"garbage cookie", "garbage", nil},
			{"oversized cookie", strings.Repeat("A", 5000), nil},
			{"truncated record", c.Value, record[:len(record)/2]},
			{"flipped bit", c.Value, flipped},
			{"empty record", c.Value, []byte{}},
			{"another session's record", c.Value, otherRecord},
			{"record sealed with another secret", c.Value, foreignRecord},
		} {
			t.Run(tt.name, func(t *testing.T) {
				if tt.record != nil {
					if err := bt.backend.Save(ctx, id, tt.record, time.Now().Add(time.Hour)); err != nil {
						t.Fatal(err)
					}
					defer bt.backend.Save(ctx, id, record, time.Now().Add(time.Hour))
				}
				a.errs, a.invalid = nil, nil
				var seen string
				rec, _ := a.do(&http.Cookie{Name: CookieName, Value: tt.cookie}, func(gs *sessions.Session) { seen = get(gs, "identity") })
				if rec.Code != http.StatusOK || seen != "" || len(a.errs) != 0 || len(a.invalid) != 1 {
					t.Fatalf("status %d, loaded %q, errors %v, reported %v", rec.Code, seen, a.errs, a.invalid)
				}
			})
		}
		bt.backend.Delete(ctx, id)
		a.invalid = nil
		if rec, _ := a.do(c, nil); rec.Code != http.StatusOK || len(a.invalid) != 1 || !errors.Is(a.invalid[0], ErrNotFound) {
			t.Fatalf("deleted record: status %d, reported %v", rec.Code, a.invalid)
		}
	})

	t.Run("outage", func(t *testing.T) {
		bt := newBackend(t)
		a := &app{t: t, store: newTestStore(t, bt.backend, testSecret, "")}
		_, c := a.do(nil, set("identity", "alice"))
		repair := bt.breakIt(t)
		rec, _ := a.do(c, nil)
		if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("X-Handler") != "" || len(a.errs) != 1 || !errors.Is(a.errs[0], ErrUnavailable) {
			t.Fatalf("load while down: status %d, handler ran %q, errors %v", rec.Code, rec.Header().Get("X-Handler"), a.errs)
		}
		// A visitor without a cookie needs no store at all...
		if rec, _ := a.do(nil, nil); rec.Code != http.StatusOK {
			t.Fatalf("visitor while down: %d", rec.Code)
		}
		// ...until something must be stored: then the handler's page is
		// held back for the error page.
		a.errs = nil
		rec, _ = a.do(nil, set("identity", "bob"))
		if rec.Code != http.StatusServiceUnavailable || strings.Contains(rec.Body.String(), "page") || rec.Header().Get("X-Handler") != "" || len(a.errs) != 1 {
			t.Fatalf("save while down: status %d, body %q, handler's header %q, errors %v", rec.Code, rec.Body, rec.Header().Get("X-Handler"), a.errs)
		}
		repair()
		if rec, c := a.do(nil, set("identity", "bob")); rec.Code != http.StatusOK || c == nil {
			t.Fatalf("after the repair: %d, cookie %v", rec.Code, c)
		}
	})

	t.Run("secret rotation", func(t *testing.T) {
		b := &counting{Backend: newBackend(t).backend}
		const newSecret = "the-new-session-secret-0123456789abcdef"
		before := &app{t: t, store: newTestStore(t, b, testSecret, "")}
		during := &app{t: t, store: newTestStore(t, b, newSecret, testSecret)}
		after := &app{t: t, store: newTestStore(t, b, newSecret, "")}
		_, c := before.do(nil, set("identity", "alice"))

		if _, _, _, err := after.store.Load(ctx, c.Value); err == nil {
			t.Fatal("a store without the previous secret opened the old session")
		}
		var seen string
		saves := b.saves.Load()
		_, resealed := during.do(c, func(gs *sessions.Session) { seen = get(gs, "identity") })
		if seen != "alice" || resealed == nil || b.saves.Load() != saves+1 {
			t.Fatalf("with the previous secret: loaded %q, cookie %v, %d saves", seen, resealed, b.saves.Load()-saves)
		}
		// Sealed again with the new secret, record and cookie: the old
		// secret can go.
		seen = ""
		after.do(resealed, func(gs *sessions.Session) { seen = get(gs, "identity") })
		if seen != "alice" {
			t.Fatalf("after the rotation: loaded %q", seen)
		}
		saves = b.saves.Load()
		during.do(resealed, nil)
		if b.saves.Load() != saves {
			t.Error("a session already sealed with the new secret was saved again")
		}
	})

	t.Run("secret rotation: a stale record behind a fresh cookie", func(t *testing.T) {
		// The cookie was sealed with the new secret, the record with the
		// old one (an instance still on the old secret wrote it back). The
		// record alone must be enough to seal it again: else it would
		// stay on the old secret until the session next changed, and be
		// lost once the old secret goes.
		b := &counting{Backend: newBackend(t).backend}
		const newSecret = "the-new-session-secret-0123456789abcdef"
		before := &app{t: t, store: newTestStore(t, b, testSecret, "")}
		during := &app{t: t, store: newTestStore(t, b, newSecret, testSecret)}
		after := &app{t: t, store: newTestStore(t, b, newSecret, "")}
		_, c := before.do(nil, set("identity", "alice"))
		id, _, _, err := before.store.Load(ctx, c.Value)
		if err != nil {
			t.Fatal(err)
		}
		fresh, err := during.store.keys.encodeCookie(CookieName, id)
		if err != nil {
			t.Fatal(err)
		}
		freshCookie := &http.Cookie{Name: CookieName, Value: fresh}
		if _, staleCookie, err := during.store.decodeCookie(fresh); err != nil || staleCookie {
			t.Fatalf("the cookie is not sealed with the new secret: stale %v, %v", staleCookie, err)
		}
		if _, _, _, err := after.store.Load(ctx, fresh); err == nil {
			t.Fatal("a store without the previous secret opened the old record")
		}

		var seen string
		saves := b.saves.Load()
		during.do(freshCookie, func(gs *sessions.Session) { seen = get(gs, "identity") })
		if seen != "alice" || b.saves.Load() != saves+1 {
			t.Fatalf("with the previous secret: loaded %q, %d saves, want the record sealed again", seen, b.saves.Load()-saves)
		}
		seen = ""
		after.do(freshCookie, func(gs *sessions.Session) { seen = get(gs, "identity") })
		if seen != "alice" {
			t.Fatalf("after the rotation: loaded %q, want the session, its record sealed with the new secret", seen)
		}
	})
}

// A record holds its values compressed, in one encoding, sealed: nothing in
// it is readable, and it is much smaller than the values.
func TestRecordIsCompressedAndSealed(t *testing.T) {
	keys, _ := NewKeys(testSecret, "")
	sealer := keys.Sealer("session record")
	claims := `{"claims":{"name":"Alice Smith","preferred_username":"alice@demo.test","oid":"00000000-0000-0000-0000-000000000001"}}`
	cache := `{"AccessToken":{"uid.utid-login.microsoftonline.com-accesstoken-client-tenant-user.read":{"home_account_id":"uid.utid",` +
		`"environment":"login.microsoftonline.com","credential_type":"AccessToken","secret":"` + strings.Repeat("eyJ0eXAiOiJKV1QiLCJhbGciOi", 40) + `"}}}`
	values := Values{"identity": []byte(claims + cache)}
	id := newID()
	record, err := sealRecord(sealer, id, values)
	if err != nil {
		t.Fatal(err)
	}
	plain := encodeValues(values)
	if len(record) >= len(plain)/2 {
		t.Errorf("record %d bytes for %d bytes of values: not compressed", len(record), len(plain))
	}
	// Compressed bytes never hold the text itself, sealed or not: the
	// check inflates them, as someone reading the store would.
	for _, s := range []string{"alice", "Alice", "AccessToken", "eyJ"} {
		if bytes.Contains(inflateAnywhere(record), []byte(s)) {
			t.Errorf("the record gives %q away when inflated", s)
		}
	}
	back, stale, err := openRecord(sealer, id, record)
	if err != nil || stale || !bytes.Equal(back["identity"], values["identity"]) {
		t.Fatalf("round trip: %v %v", err, stale)
	}
	if _, _, err := openRecord(sealer, newID(), record); !errors.Is(err, ErrInvalid) {
		t.Errorf("a record opened under another id: %v", err)
	}
	if _, _, err := openRecord(keys.Sealer("sign-in cookie"), id, record); !errors.Is(err, ErrInvalid) {
		t.Errorf("a record opened with another purpose's key: %v", err)
	}

	// A compressed bomb inside a genuine seal is refused, not inflated.
	var bomb bytes.Buffer
	w, _ := flate.NewWriter(&bomb, flate.BestCompression)
	w.Write(make([]byte, maxValuesSize+10))
	w.Close()
	sealedBomb := append([]byte{recordVersion}, sealer.Seal(bomb.Bytes(), recordAD(id))...)
	if _, _, err := openRecord(sealer, id, sealedBomb); !errors.Is(err, ErrInvalid) {
		t.Errorf("decompression bomb: %v", err)
	}
	// Values that are not bytes under string keys are refused at save.
	if _, err := recordValues(map[any]any{"n": 1}); err == nil {
		t.Error("an int value was accepted")
	}
}

// A panic in the handler, or in the save after it, leaves none of the
// handler's headers on the page that replaces its answer (the app's
// recoverPanic writes a 500).
func TestLoadAndSavePanicKeepsNoHeaders(t *testing.T) {
	for _, where := range []string{"handler", "save"} {
		t.Run(where, func(t *testing.T) {
			var backend Backend = panickingSave{backends[0].new(t).backend}
			store := newTestStore(t, backend, testSecret, "")
			h := store.LoadAndSave(func(w http.ResponseWriter, r *http.Request, err error) { t.Errorf("onError: %v", err) },
				func(*http.Request, error) {})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Location", "/somewhere")
				w.Write([]byte("half a page"))
				if where == "handler" {
					panic("handler bug")
				}
				FromContext(r.Context()).Values["identity"] = []byte("alice") // saved, and the save panics
			}))
			rec := httptest.NewRecorder()
			rec.Header().Set("X-Before", "kept")
			func() {
				defer func() {
					if recover() == nil {
						t.Fatal("the panic was swallowed")
					}
					http.Error(rec, "something went wrong", http.StatusInternalServerError)
				}()
				h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
			}()
			if rec.Code != http.StatusInternalServerError || rec.Header().Get("Location") != "" || rec.Header().Get("X-Before") != "kept" || strings.Contains(rec.Body.String(), "half") {
				t.Fatalf("status %d, Location %q, X-Before %q, body %q", rec.Code, rec.Header().Get("Location"), rec.Header().Get("X-Before"), rec.Body)
			}
		})
	}
}

// panickingSave is a backend whose Save panics, as a bug in a store would.
type panickingSave struct{ Backend }

func (panickingSave) Save(context.Context, string, []byte, time.Time) error { panic("store bug") }

// A held answer goes out with its length, not in HTTP/1.1 chunks, however
// large: net/http works the length out by itself only up to 2 KB.
func TestLoadAndSaveSendsTheLength(t *testing.T) {
	store := newTestStore(t, backends[0].new(t).backend, testSecret, "")
	page := strings.Repeat("a page of some size. ", 300)
	srv := httptest.NewServer(store.LoadAndSave(func(w http.ResponseWriter, r *http.Request, err error) { t.Errorf("onError: %v", err) },
		func(*http.Request, error) {})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(page[:3000]))
		w.Write([]byte(page[3000:]))
	})))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if string(body) != page || resp.ContentLength != int64(len(page)) || len(resp.TransferEncoding) != 0 {
		t.Fatalf("%d bytes, Content-Length %d, Transfer-Encoding %q", len(body), resp.ContentLength, resp.TransferEncoding)
	}
}
