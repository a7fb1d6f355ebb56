// The cases of sessions filed under an index key, through a session.Store as the app uses it: found and ended without their cookies, never brought back by a request in flight, and never left behind.

package sessiontest

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"ms-identity-go-webapp/session"
)

// testSecret is the session secret of the stores the cases make.
const testSecret = "sessiontest-session-secret-0123456789abcdef"

// testIndexedSessions checks the backend under a session.Store: its index
// and its Update as DeleteIndexed, sign-out and LoadAndSave's write-back
// use them.
func testIndexedSessions(t *testing.T, newHarness func(t testing.TB) Harness) {
	ctx := context.Background()

	t.Run("DeleteIndexed ends the key's sessions and no other", func(t *testing.T) {
		h := newHarness(t)
		a := &app{t: t, store: newStore(t, h.Backend)}
		_, alice := a.do(nil, signInAs("alice", "sid:1"))
		_, aliceAgain := a.do(nil, signInAs("alice", "sid:1")) // a second browser profile, same provider session
		_, bob := a.do(nil, signInAs("bob", "sid:2"))
		_, carol := a.do(nil, set("identity", "carol")) // filed under nothing

		if n, err := a.store.DeleteIndexed(ctx, "sid:unknown"); n != 0 || err != nil {
			t.Fatalf("an unknown key ended %d sessions (%v)", n, err)
		}
		if n, err := a.store.DeleteIndexed(ctx, "sid:1"); n != 2 || err != nil {
			t.Fatalf("DeleteIndexed(sid:1) ended %d sessions (%v), want 2", n, err)
		}
		for _, c := range []string{alice.Value, aliceAgain.Value} {
			if _, _, _, err := a.store.Load(ctx, c); !errors.Is(err, session.ErrNotFound) {
				t.Errorf("a session filed under sid:1 still loads: %v", err)
			}
		}
		for name, c := range map[string]string{"bob": bob.Value, "carol": carol.Value} {
			if _, values, _, err := a.store.Load(ctx, c); err != nil || string(values["identity"]) != name {
				t.Errorf("%s's session: %q %v", name, values["identity"], err)
			}
		}
		// What the handlers see of a loaded session: their values, and the
		// key under its own accessor.
		var seen string
		a.do(bob, func(r *http.Request) { seen = session.IndexOf(session.FromContext(r.Context())) })
		if seen != "sid:2" {
			t.Errorf("IndexOf = %q, want sid:2", seen)
		}
		if n, _ := a.store.DeleteIndexed(ctx, "sid:1"); n != 0 {
			t.Errorf("a second DeleteIndexed ended %d sessions", n)
		}
	})

	t.Run("an entry goes with its session", func(t *testing.T) {
		h := newHarness(t)
		a := &app{t: t, store: newStore(t, h.Backend)}
		ended := map[string]func(*http.Request){
			"sign-out":        destroy,
			"emptied":         func(r *http.Request) { delete(session.FromContext(r.Context()).Values, "identity") },
			"signed in again": signInAs("alice", "sid:other"),
			"renewed, no key": func(r *http.Request) {
				gs := session.FromContext(r.Context())
				session.Renew(gs)
				session.SetIndex(gs, "")
			},
			"refreshed, new key": func(r *http.Request) {
				gs := session.FromContext(r.Context())
				gs.Values["identity"] = []byte("alice, refreshed")
				session.SetIndex(gs, "sid:other")
			},
		}
		for name, end := range ended {
			t.Run(name, func(t *testing.T) {
				_, c := a.do(nil, signInAs("alice", "sid:1"))
				_, after := a.do(c, end)
				if ids, err := h.Backend.Indexed(ctx, "sid:1"); err != nil || len(ids) != 0 {
					t.Fatalf("sid:1 still lists %v (%v)", ids, err)
				}
				// Whatever the session became is cleaned up as well.
				if after != nil && after.MaxAge >= 0 {
					a.do(after, destroy)
				}
				if left := h.Stored(t); len(left) != 0 {
					t.Errorf("the backend still holds %v", left)
				}
			})
		}
	})

	t.Run("an owner keeps at most MaxPerOwner sessions, the newest", func(t *testing.T) {
		h := newHarness(t)
		a := &app{t: t, store: newStore(t, h.Backend)}
		a.store.MaxPerOwner = 2
		owned := func(user, sid string) func(*http.Request) {
			return func(r *http.Request) {
				signInAs(user, sid)(r)
				session.SetOwner(session.FromContext(r.Context()), "user:"+user)
			}
		}
		_, first := a.do(nil, owned("alice", "sid:1"))
		_, second := a.do(nil, owned("alice", "sid:2"))
		_, bob := a.do(nil, owned("bob", "sid:3"))
		_, third := a.do(nil, owned("alice", "sid:4"))
		if _, _, _, err := a.store.Load(ctx, first.Value); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("alice's oldest session, past the limit, still loads: %v", err)
		}
		if ids, err := h.Backend.Indexed(ctx, "sid:1"); err != nil || len(ids) != 0 {
			t.Errorf("the ended session is still filed under its sid: %v %v", ids, err)
		}
		for name, c := range map[string]*http.Cookie{"alice": second, "alice again": third, "bob": bob} {
			if _, _, _, err := a.store.Load(ctx, c.Value); err != nil {
				t.Errorf("%s's session: %v", name, err)
			}
		}
		for _, c := range []*http.Cookie{second, third, bob} {
			a.do(c, destroy)
		}
		if left := h.Stored(t); len(left) != 0 {
			t.Errorf("after every sign-out the backend holds %v", left)
		}
	})

	t.Run("a front-channel sign-out is not undone by a request in flight", func(t *testing.T) {
		h := newHarness(t)
		a := &app{t: t, store: newStore(t, h.Backend)}
		_, c := a.do(nil, signInAs("alice", "sid:1"))
		// The request in flight has loaded the session; the identity
		// provider's front-channel sign-out ends it while the handler
		// runs; the handler then changes the session (a refreshed token).
		a.do(c, func(r *http.Request) {
			if n, err := a.store.DeleteIndexed(ctx, "sid:1"); n != 1 || err != nil {
				t.Fatalf("DeleteIndexed: %d %v", n, err)
			}
			session.FromContext(r.Context()).Values["identity"] = []byte("alice, refreshed")
		})
		if _, _, _, err := a.store.Load(ctx, c.Value); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("the request in flight wrote the ended session back: %v", err)
		}
		if left := h.Stored(t); len(left) != 0 {
			t.Errorf("the backend still holds %v", left)
		}
	})

	// The same, with the sign-out landing at each moment a backend call
	// lets it land: right after the request loaded its session, and after
	// the request's last read, just before it writes the session back.
	for _, at := range []string{"after load", "before write-back"} {
		signOuts := map[string]func(t *testing.T, other *session.Store, c *http.Cookie){
			"front-channel sign-out": func(t *testing.T, other *session.Store, _ *http.Cookie) {
				if n, err := other.DeleteIndexed(ctx, "sid:1"); n != 1 || err != nil {
					t.Errorf("DeleteIndexed: %d %v", n, err)
				}
			},
			"sign-out in another tab": func(t *testing.T, other *session.Store, c *http.Cookie) {
				tab := &app{t: t, store: other}
				if _, out := tab.do(c, destroy); out == nil || out.MaxAge >= 0 || len(tab.errs) != 0 {
					t.Errorf("the other tab's sign-out: cookie %v, errors %v", out, tab.errs)
				}
			},
		}
		for name, signOut := range signOuts {
			t.Run(name+", "+at+", is not undone", func(t *testing.T) {
				h := newHarness(t)
				gap := &signOutGap{Backend: h.Backend, at: at}
				a := &app{t: t, store: newStore(t, gap)}
				_, c := a.do(nil, signInAs("alice", "sid:1"))
				// Another instance of the app, over the same storage,
				// signs the user out.
				other := newStore(t, h.Backend)
				gap.signOut = func() { signOut(t, other, c) }
				rec, after := a.do(c, set("identity", "alice, refreshed"))
				if !gap.fired {
					t.Fatal("the sign-out never landed")
				}
				if rec.Code != http.StatusOK || len(a.errs) != 0 {
					t.Errorf("the request in flight: status %d, errors %v", rec.Code, a.errs)
				}
				if after != nil {
					t.Errorf("the request in flight set a cookie for a session that ended: %v", after)
				}
				if _, _, _, err := a.store.Load(ctx, c.Value); !errors.Is(err, session.ErrNotFound) {
					t.Errorf("the request in flight wrote the ended session back: %v", err)
				}
				if ids, err := h.Backend.Indexed(ctx, "sid:1"); err != nil || len(ids) != 0 {
					t.Errorf("the request in flight filed the ended session again: %v %v", ids, err)
				}
				if left := h.Stored(t); len(left) != 0 {
					t.Errorf("the backend still holds %v", left)
				}
			})
		}
	}
}

// newStore returns a store over b, as the app makes one.
func newStore(t testing.TB, b session.Backend) *session.Store {
	t.Helper()
	keys, err := session.NewKeys(testSecret, "")
	if err != nil {
		t.Fatal(err)
	}
	return session.NewStore(b, keys)
}

// app is the store's LoadAndSave around a handler that runs change on the
// request's session, as the app's router and handlers do.
type app struct {
	t     *testing.T
	store *session.Store
	errs  []error // what LoadAndSave gave its error page
}

// do sends one request with cookie (nil for none) to a handler that runs
// change, and returns the response and the session cookie it sets, if any.
func (a *app) do(cookie *http.Cookie, change func(r *http.Request)) (*httptest.ResponseRecorder, *http.Cookie) {
	a.t.Helper()
	h := a.store.LoadAndSave(func(w http.ResponseWriter, r *http.Request, err error) {
		a.errs = append(a.errs, err)
		http.Error(w, "session storage unavailable", http.StatusServiceUnavailable)
	}, func(*http.Request, error) {})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if change != nil {
			change(r)
		}
		w.Write([]byte("page"))
	}))
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	if cookie != nil {
		r.AddCookie(cookie)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	for _, c := range rec.Result().Cookies() {
		if c.Name == session.CookieName {
			return rec, c
		}
	}
	return rec, nil
}

// set is a handler storing value under key in the session.
func set(key, value string) func(*http.Request) {
	return func(r *http.Request) { session.FromContext(r.Context()).Values[key] = []byte(value) }
}

// signInAs is the sign-in callback: a new session id, the user, and the
// session filed under key.
func signInAs(user, key string) func(*http.Request) {
	return func(r *http.Request) {
		gs := session.FromContext(r.Context())
		session.Renew(gs)
		gs.Values["identity"] = []byte(user)
		session.SetIndex(gs, key)
	}
}

// destroy is the sign-out handler.
func destroy(r *http.Request) { session.Destroy(session.FromContext(r.Context())) }

// signOutGap wraps a backend and runs signOut once, at the moment at names:
// "after load" is right after the first Find returns, "before write-back"
// is right before the request's first write (Index, Save or Update), the
// last moment another request could end the session before this one writes
// it back.
type signOutGap struct {
	session.Backend
	at      string
	signOut func()
	fired   bool
}

func (g *signOutGap) fire(moment string) {
	if g.signOut != nil && !g.fired && moment == g.at {
		g.fired = true
		g.signOut()
	}
}

func (g *signOutGap) Find(ctx context.Context, id string) ([]byte, error) {
	record, err := g.Backend.Find(ctx, id)
	g.fire("after load")
	return record, err
}

func (g *signOutGap) Index(ctx context.Context, key, id string, expiry time.Time) error {
	g.fire("before write-back")
	return g.Backend.Index(ctx, key, id, expiry)
}

func (g *signOutGap) Save(ctx context.Context, id string, record []byte, expiry time.Time) error {
	g.fire("before write-back")
	return g.Backend.Save(ctx, id, record, expiry)
}

func (g *signOutGap) Update(ctx context.Context, id string, record []byte, expiry time.Time, index string) (bool, error) {
	g.fire("before write-back")
	return g.Backend.Update(ctx, id, record, expiry, index)
}
