// Tests of the absolute lifetime and of the limit of sessions per owner, over every backend, on a clock the test moves.

package session

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/gorilla/sessions"
)

// clock is the store's clock in these tests: it moves only when told.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

// newClockedApp is an app over a new backend whose store tells time by the
// returned clock, which starts at the real time: the backends expire
// records by their own clocks, and must see them as live.
func newClockedApp(t *testing.T, b Backend) (*app, *clock) {
	t.Helper()
	c := &clock{t: time.Now()}
	store := newTestStore(t, b, testSecret, "")
	store.now = c.now
	return &app{t: t, store: store}, c
}

// signInAs is the sign-in callback as entra does it: a new session id for
// the user, filed under the sid and under the user as its owner.
func signInAs(user, sid string) func(*sessions.Session) {
	return func(gs *sessions.Session) {
		Renew(gs)
		gs.Values["identity"] = []byte(user)
		SetIndex(gs, "sid:"+sid)
		SetOwner(gs, "user:"+user)
	}
}

// identityOf returns who the cookie's session is signed in as, "" for
// nobody, as the next request would load it.
func (a *app) identityOf(c *http.Cookie) string {
	a.t.Helper()
	var seen string
	a.do(c, func(gs *sessions.Session) { seen = get(gs, "identity") })
	return seen
}

// indexed returns the ids filed under key.
func indexed(t *testing.T, b Backend, key string) []string {
	t.Helper()
	ids, err := b.Indexed(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(ids)
	return ids
}

// idOf returns the session id a cookie carries.
func (a *app) idOf(c *http.Cookie) string {
	a.t.Helper()
	id, _, err := a.store.keys.decodeCookie(CookieName, c.Value)
	if err != nil {
		a.t.Fatal(err)
	}
	return id
}

// A session ends AbsoluteLifetime after the sign-in that created it, used
// or not: the request that finds it older is signed out, its cookie is
// expired, and nothing of it is left in the backend. Signing in again
// starts a new lifetime.
func TestAbsoluteLifetime(t *testing.T) {
	for _, bt := range backends {
		t.Run(bt.name, func(t *testing.T) {
			u := bt.new(t)
			a, clock := newClockedApp(t, u.backend)
			if a.store.AbsoluteLifetime != 12*time.Hour {
				t.Fatalf("the default absolute lifetime is %s, want 12h", a.store.AbsoluteLifetime)
			}
			_, c := a.do(nil, signInAs("alice", "1"))
			_, bob := a.do(nil, signInAs("bob", "2"))

			// Active all along: every hour a request, and the session
			// changes (a refreshed token) and is written again.
			for hour := 1; hour <= 11; hour++ {
				clock.advance(time.Hour)
				if who := a.identityOf(c); who != "alice" {
					t.Fatalf("after %d hours the session holds %q", hour, who)
				}
				a.do(c, set("identity", "alice"))
				if hour == 2 {
					_, bob = a.do(bob, signInAs("bob", "2")) // a new session, a new lifetime
				}
			}
			clock.advance(time.Hour - time.Second)
			if who := a.identityOf(c); who != "alice" {
				t.Fatalf("a second before its end, the session holds %q", who)
			}

			clock.advance(time.Second)
			a.invalid = nil
			rec, expired := a.do(c, func(gs *sessions.Session) {
				if len(gs.Values) != 0 || gs.ID != "" {
					t.Errorf("the handler got the ended session: %d values, id %q", len(gs.Values), gs.ID)
				}
			})
			if rec.Code != http.StatusOK || len(a.invalid) != 1 || !errors.Is(a.invalid[0], ErrTooOld) {
				t.Fatalf("at its end: status %d, reported %v, want ErrTooOld", rec.Code, a.invalid)
			}
			if expired == nil || expired.MaxAge >= 0 || expired.Value != "" {
				t.Errorf("the cookie of the ended session is not expired: %+v", expired)
			}
			if _, _, _, err := a.store.Load(context.Background(), c.Value); !errors.Is(err, ErrNotFound) {
				t.Errorf("the ended session still loads: %v", err)
			}
			if ids := indexed(t, u.backend, "sid:1"); len(ids) != 0 {
				t.Errorf("the ended session is still filed under its sid: %v", ids)
			}
			if ids := indexed(t, u.backend, "user:alice"); len(ids) != 0 {
				t.Errorf("the ended session is still filed under its owner: %v", ids)
			}

			// Bob signed in again two hours in: his lifetime began then.
			if who := a.identityOf(bob); who != "bob" {
				t.Fatalf("bob's session, renewed at his second sign-in, holds %q", who)
			}
			clock.advance(2 * time.Hour)
			if who := a.identityOf(bob); who != "" {
				t.Fatalf("bob's session outlived its lifetime: %q", who)
			}
			if left := u.stored(t); len(left) != 0 {
				t.Errorf("after both sessions ended the backend holds %v", left)
			}

			// Signing in again gives a full lifetime.
			_, again := a.do(expired, signInAs("alice", "3"))
			clock.advance(12*time.Hour - time.Second)
			if who := a.identityOf(again); who != "alice" {
				t.Errorf("the new session holds %q", who)
			}
		})
	}
}

// A session stored before sessions had a creation time gets one at its
// next load, and is written back with it: it ends AbsoluteLifetime after
// that load instead of living for ever while used.
func TestAbsoluteLifetimeOfAnOlderSession(t *testing.T) {
	for _, bt := range backends {
		t.Run(bt.name, func(t *testing.T) {
			ctx := context.Background()
			b := &counting{Backend: bt.new(t).backend}
			a, clock := newClockedApp(t, b)
			// The record as the store wrote it before: the user's values
			// and the sid, no creation time.
			id := newID()
			record, err := sealRecord(a.store.records, id, Values{"identity": []byte("alice"), indexName: []byte("sid:1")})
			if err != nil {
				t.Fatal(err)
			}
			if err := b.Index(ctx, "sid:1", id, clock.t.Add(Lifetime)); err != nil {
				t.Fatal(err)
			}
			if err := b.Save(ctx, id, record, clock.t.Add(Lifetime)); err != nil {
				t.Fatal(err)
			}
			value, err := a.store.keys.encodeCookie(CookieName, id)
			if err != nil {
				t.Fatal(err)
			}
			c := &http.Cookie{Name: CookieName, Value: value}

			clock.advance(30 * 24 * time.Hour) // however old it is
			saves := b.saves.Load()
			if who := a.identityOf(c); who != "alice" {
				t.Fatalf("the older session holds %q", who)
			}
			if b.saves.Load() != saves+1 {
				t.Fatalf("%d writes at its first load, want 1: the creation time written back", b.saves.Load()-saves)
			}
			if _, values, _, err := a.store.Load(ctx, c.Value); err != nil || len(values[createdName]) != 8 || string(values[indexName]) != "sid:1" {
				t.Fatalf("after its first load the record holds %q (%v)", values, err)
			}
			saves = b.saves.Load()
			clock.advance(12*time.Hour - time.Second)
			if who := a.identityOf(c); who != "alice" || b.saves.Load() != saves {
				t.Fatalf("before its end: %q, %d writes", who, b.saves.Load()-saves)
			}
			clock.advance(time.Second)
			if who := a.identityOf(c); who != "" {
				t.Fatalf("the older session lives on: %q", who)
			}
			if ids := indexed(t, b, "sid:1"); len(ids) != 0 {
				t.Errorf("the ended session is still filed under its sid: %v", ids)
			}
		})
	}
}

// The record's backend expiry follows the absolute lifetime: a session
// nobody loads again leaves the backend shortly after its end, not a week
// after its last change.
func TestAbsoluteLifetimeBoundsTheRecordsExpiry(t *testing.T) {
	ctx := context.Background()
	b := &expiries{Backend: backends[0].new(t).backend, at: map[string]time.Time{}}
	a, clock := newClockedApp(t, b)
	start := clock.t
	_, c := a.do(nil, signInAs("alice", "1"))
	clock.advance(11 * time.Hour)
	a.do(c, set("identity", "alice, refreshed"))
	id := a.idOf(c)
	end := start.Add(12*time.Hour + keepAfterEnd)
	for _, key := range []string{"record", "sid:1", "user:alice"} {
		if got := b.at[key]; !got.Equal(end) {
			t.Errorf("%s expires at start + %s, want start + %s", key, got.Sub(start), end.Sub(start))
		}
	}
	if _, err := b.Find(ctx, id); err != nil {
		t.Fatal(err)
	}
}

// expiries wraps a backend and remembers the last expiry given to the
// record (any) and to each index key.
type expiries struct {
	Backend
	at map[string]time.Time
}

func (e *expiries) Save(ctx context.Context, id string, record []byte, expiry time.Time) error {
	e.at["record"] = expiry
	return e.Backend.Save(ctx, id, record, expiry)
}

func (e *expiries) Update(ctx context.Context, id string, record []byte, expiry time.Time, index string) (bool, error) {
	e.at["record"] = expiry
	if index != "" {
		e.at[index] = expiry
	}
	return e.Backend.Update(ctx, id, record, expiry, index)
}

func (e *expiries) Index(ctx context.Context, key, id string, expiry time.Time) error {
	e.at[key] = expiry
	return e.Backend.Index(ctx, key, id, expiry)
}

// An owner keeps at most MaxPerOwner sessions: a sign-in beyond it ends the
// owner's oldest session by creation time, as a sign-out does, and no
// other owner's. Entries whose session is gone are dropped, not counted.
func TestMaxPerOwner(t *testing.T) {
	for _, bt := range backends {
		t.Run(bt.name, func(t *testing.T) {
			ctx := context.Background()
			u := bt.new(t)
			a, clock := newClockedApp(t, u.backend)
			if a.store.MaxPerOwner != 10 {
				t.Fatalf("the default limit is %d, want 10", a.store.MaxPerOwner)
			}
			a.store.MaxPerOwner = 3
			signIn := func(c *http.Cookie, user, sid string) *http.Cookie {
				t.Helper()
				clock.advance(time.Minute)
				_, c = a.do(c, signInAs(user, sid))
				if c == nil {
					t.Fatalf("%s's sign-in set no cookie", user)
				}
				return c
			}
			first := signIn(nil, "alice", "1")
			second := signIn(nil, "alice", "2")
			third := signIn(nil, "alice", "3")
			bob := signIn(nil, "bob", "4")
			// The first browser signs in again: a new session, now the
			// newest; still three.
			first = signIn(first, "alice", "1")
			for name, c := range map[string]*http.Cookie{"first": first, "second": second, "third": third} {
				if who := a.identityOf(c); who != "alice" {
					t.Fatalf("at the limit, the %s browser's session holds %q", name, who)
				}
			}

			fourth := signIn(nil, "alice", "5")
			if who := a.identityOf(second); who != "" {
				t.Errorf("the oldest session (the second browser's) was kept: %q", who)
			}
			for name, c := range map[string]*http.Cookie{"first": first, "third": third, "fourth": fourth} {
				if who := a.identityOf(c); who != "alice" {
					t.Errorf("the %s browser's session holds %q", name, who)
				}
			}
			if who := a.identityOf(bob); who != "bob" {
				t.Errorf("another owner's session holds %q", who)
			}
			want := []string{a.idOf(first), a.idOf(third), a.idOf(fourth)}
			slices.Sort(want)
			if got := indexed(t, u.backend, "user:alice"); !slices.Equal(got, want) {
				t.Errorf("alice's entries are %v, want her three sessions %v", got, want)
			}
			if ids := indexed(t, u.backend, "sid:2"); len(ids) != 0 {
				t.Errorf("the ended session is still filed under its sid: %v", ids)
			}

			// A session gone without its owner's entry (deleted by the
			// backend) leaves a stale entry: dropped at the next sign-in,
			// and not counted, so that no live session ends for it.
			if err := u.backend.Delete(ctx, a.idOf(third)); err != nil {
				t.Fatal(err)
			}
			fifth := signIn(nil, "alice", "6")
			for name, c := range map[string]*http.Cookie{"first": first, "fourth": fourth, "fifth": fifth} {
				if who := a.identityOf(c); who != "alice" {
					t.Errorf("after a stale entry, the %s browser's session holds %q", name, who)
				}
			}
			if got := indexed(t, u.backend, "user:alice"); len(got) != 3 || slices.Contains(got, a.idOf(third)) {
				t.Errorf("alice's entries are %v: the stale one should be gone", got)
			}

			// Signing out removes the owner's entry with the session.
			for _, c := range []*http.Cookie{first, fourth, fifth, bob} {
				a.do(c, func(gs *sessions.Session) { Destroy(gs) })
			}
			// The sid entry of the record deleted by hand.
			u.backend.Unindex(ctx, "sid:3", a.idOf(third))
			if left := u.stored(t); len(left) != 0 {
				t.Errorf("after every sign-out the backend holds %v", left)
			}
		})
	}
}

// SetOwner on a session that already exists files it under the owner at
// its next save, moves it from an owner it had, and applies the limit
// then; an empty owner takes it out of its owner's.
func TestSetOwnerOnALoadedSession(t *testing.T) {
	for _, bt := range backends {
		t.Run(bt.name, func(t *testing.T) {
			u := bt.new(t)
			a, clock := newClockedApp(t, u.backend)
			a.store.MaxPerOwner = 1
			_, older := a.do(nil, signInAs("alice", "1"))
			clock.advance(time.Minute)
			_, c := a.do(nil, set("identity", "alice"))
			a.do(c, func(gs *sessions.Session) { SetOwner(gs, "user:alice") })
			if who := a.identityOf(older); who != "" {
				t.Errorf("the older session was kept past the limit of 1: %q", who)
			}
			if got := indexed(t, u.backend, "user:alice"); !slices.Equal(got, []string{a.idOf(c)}) {
				t.Errorf("alice's entries: %v", got)
			}
			a.do(c, func(gs *sessions.Session) { SetOwner(gs, "user:carol") })
			if got := indexed(t, u.backend, "user:alice"); len(got) != 0 {
				t.Errorf("the session moved to another owner is still alice's: %v", got)
			}
			var owner string
			a.do(c, func(gs *sessions.Session) { owner = OwnerOf(gs) })
			if owner != "user:carol" || a.identityOf(c) != "alice" {
				t.Errorf("after the move: owner %q", owner)
			}
			a.do(c, func(gs *sessions.Session) { SetOwner(gs, "") })
			if got := indexed(t, u.backend, "user:carol"); len(got) != 0 {
				t.Errorf("a session without an owner is still filed under one: %v", got)
			}
			a.do(c, func(gs *sessions.Session) { Destroy(gs) })
			if left := u.stored(t); len(left) != 0 {
				t.Errorf("after sign-out the backend holds %v", left)
			}
		})
	}
}

// A front-channel sign-out (DeleteIndexed) takes the ended sessions' owner
// entries too.
func TestDeleteIndexedUnfilesTheOwner(t *testing.T) {
	for _, bt := range backends {
		t.Run(bt.name, func(t *testing.T) {
			u := bt.new(t)
			a, _ := newClockedApp(t, u.backend)
			a.do(nil, signInAs("alice", "1"))
			if n, err := a.store.DeleteIndexed(context.Background(), "sid:1"); n != 1 || err != nil {
				t.Fatalf("DeleteIndexed: %d %v", n, err)
			}
			if left := u.stored(t); len(left) != 0 {
				t.Errorf("after the front-channel sign-out the backend holds %v", left)
			}
		})
	}
}

// The absolute lifetime and the owner cost a signed-in request nothing:
// the same one backend call (Find), no write, and no allocation more than
// a session without them. The check reads a value already decoded.
func TestLimitsCostNothingPerRequest(t *testing.T) {
	b := &calls{Backend: backends[0].new(t).backend}
	allocs := func(lifetime time.Duration, owned bool) float64 {
		store := newTestStore(t, b, testSecret, "")
		store.AbsoluteLifetime = lifetime
		h := store.LoadAndSave(func(w http.ResponseWriter, r *http.Request, err error) { t.Fatal(err) },
			func(r *http.Request, err error) { t.Fatal(err) })(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			gs := FromContext(r.Context())
			if len(gs.Values) == 0 {
				gs.Values["identity"] = signedInValues()["identity"]
				SetIndex(gs, "sid:1")
				if owned {
					SetOwner(gs, "user:alice")
				}
			}
		}))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
		r := httptest.NewRequest("GET", "/", nil)
		r.AddCookie(w.Result().Cookies()[0])
		h.ServeHTTP(httptest.NewRecorder(), r) // the cookie cache filled
		b.n, b.others = 0, 0
		// 101 requests: AllocsPerRun warms up with one.
		n := testing.AllocsPerRun(100, func() { h.ServeHTTP(httptest.NewRecorder(), r) })
		if b.n != 101 || b.others != 0 {
			t.Errorf("101 requests made %d Finds and %d other backend calls", b.n, b.others)
		}
		return n
	}
	without := allocs(0, false)
	with := allocs(12*time.Hour, true)
	t.Logf("allocations per request: %.0f without an absolute lifetime or owner, %.0f with both", without, with)
	if with > without {
		t.Errorf("a request allocates %.0f times with the absolute lifetime and an owner, %.0f without", with, without)
	}
}

// calls counts a backend's Finds, and every other call.
type calls struct {
	Backend
	n, others int
}

func (c *calls) Find(ctx context.Context, id string) ([]byte, error) {
	c.n++
	return c.Backend.Find(ctx, id)
}

func (c *calls) Save(ctx context.Context, id string, record []byte, expiry time.Time) error {
	c.others++
	return c.Backend.Save(ctx, id, record, expiry)
}

func (c *calls) Update(ctx context.Context, id string, record []byte, expiry time.Time, index string) (bool, error) {
	c.others++
	return c.Backend.Update(ctx, id, record, expiry, index)
}

func (c *calls) Delete(ctx context.Context, id string) error {
	c.others++
	return c.Backend.Delete(ctx, id)
}

func (c *calls) Index(ctx context.Context, key, id string, expiry time.Time) error {
	c.others++
	return c.Backend.Index(ctx, key, id, expiry)
}

func (c *calls) Indexed(ctx context.Context, key string) ([]string, error) {
	c.others++
	return c.Backend.Indexed(ctx, key)
}

func (c *calls) Unindex(ctx context.Context, key, id string) error {
	c.others++
	return c.Backend.Unindex(ctx, key, id)
}
