// Tests of sessions filed under an index key: found and ended without their cookies, and never left behind.

package session

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/sessions"
)

func TestIndexedSessions(t *testing.T) {
	for _, bt := range backends {
		t.Run(bt.name, func(t *testing.T) { testIndexedSessions(t, bt.new) })
	}
}

// signInAs stores a session for user filed under key, as the sign-in
// callback does.
func signInAs(user, key string) func(*sessions.Session) {
	return func(gs *sessions.Session) {
		Renew(gs)
		gs.Values["identity"] = []byte(user)
		SetIndex(gs, key)
	}
}

func testIndexedSessions(t *testing.T, newBackend func(t testing.TB) backendUnderTest) {
	ctx := context.Background()

	t.Run("DeleteIndexed ends the key's sessions and no other", func(t *testing.T) {
		bt := newBackend(t)
		a := &app{t: t, store: newTestStore(t, bt.backend, testSecret, "")}
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
			if _, _, _, err := a.store.Load(ctx, c); !errors.Is(err, ErrNotFound) {
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
		a.do(bob, func(gs *sessions.Session) { seen = IndexOf(gs) })
		if seen != "sid:2" {
			t.Errorf("IndexOf = %q, want sid:2", seen)
		}
		if n, _ := a.store.DeleteIndexed(ctx, "sid:1"); n != 0 {
			t.Errorf("a second DeleteIndexed ended %d sessions", n)
		}
	})

	t.Run("an entry goes with its session", func(t *testing.T) {
		bt := newBackend(t)
		a := &app{t: t, store: newTestStore(t, bt.backend, testSecret, "")}
		ended := map[string]func(*sessions.Session){
			"sign-out":        Destroy,
			"emptied":         func(gs *sessions.Session) { delete(gs.Values, "identity") },
			"signed in again": signInAs("alice", "sid:other"),
			"renewed, no key": func(gs *sessions.Session) { Renew(gs); delete(gs.Values, indexValue{}) },
			"refreshed, new key": func(gs *sessions.Session) {
				gs.Values["identity"] = []byte("alice, refreshed")
				SetIndex(gs, "sid:other")
			},
		}
		for name, end := range ended {
			t.Run(name, func(t *testing.T) {
				_, c := a.do(nil, signInAs("alice", "sid:1"))
				_, after := a.do(c, end)
				if ids, err := bt.backend.Indexed(ctx, "sid:1"); err != nil || len(ids) != 0 {
					t.Fatalf("sid:1 still lists %v (%v)", ids, err)
				}
				// Whatever the session became is cleaned up as well.
				if after != nil && after.MaxAge >= 0 {
					a.do(after, Destroy)
				}
				if left := bt.stored(t); len(left) != 0 {
					t.Errorf("the backend still holds %v", left)
				}
			})
		}
	})

	t.Run("a front-channel sign-out is not undone by a request in flight", func(t *testing.T) {
		bt := newBackend(t)
		a := &app{t: t, store: newTestStore(t, bt.backend, testSecret, "")}
		_, c := a.do(nil, signInAs("alice", "sid:1"))
		// The request in flight has loaded the session; the identity
		// provider's front-channel sign-out ends it while the handler
		// runs; the handler then changes the session (a refreshed token).
		a.do(c, func(gs *sessions.Session) {
			if n, err := a.store.DeleteIndexed(ctx, "sid:1"); n != 1 || err != nil {
				t.Fatalf("DeleteIndexed: %d %v", n, err)
			}
			gs.Values["identity"] = []byte("alice, refreshed")
		})
		if _, _, _, err := a.store.Load(ctx, c.Value); !errors.Is(err, ErrNotFound) {
			t.Fatalf("the request in flight wrote the ended session back: %v", err)
		}
		if left := bt.stored(t); len(left) != 0 {
			t.Errorf("the backend still holds %v", left)
		}
	})

	// The same, with the sign-out landing at each moment a backend call
	// lets it land: right after the request loaded its session, and after
	// the request's last read, just before it writes the session back.
	for _, at := range []string{"after load", "before write-back"} {
		signOuts := map[string]func(t *testing.T, other *Store, c *http.Cookie){
			"front-channel sign-out": func(t *testing.T, other *Store, _ *http.Cookie) {
				if n, err := other.DeleteIndexed(ctx, "sid:1"); n != 1 || err != nil {
					t.Errorf("DeleteIndexed: %d %v", n, err)
				}
			},
			"sign-out in another tab": func(t *testing.T, other *Store, c *http.Cookie) {
				tab := &app{t: t, store: other}
				if _, out := tab.do(c, Destroy); out == nil || out.MaxAge >= 0 || len(tab.errs) != 0 {
					t.Errorf("the other tab's sign-out: cookie %v, errors %v", out, tab.errs)
				}
			},
		}
		for name, signOut := range signOuts {
			t.Run(name+", "+at+", is not undone", func(t *testing.T) {
				bt := newBackend(t)
				gap := &signOutGap{Backend: bt.backend, at: at}
				a := &app{t: t, store: newTestStore(t, gap, testSecret, "")}
				_, c := a.do(nil, signInAs("alice", "sid:1"))
				// Another instance of the app, over the same storage,
				// signs the user out.
				other := newTestStore(t, bt.backend, testSecret, "")
				gap.signOut = func() { signOut(t, other, c) }
				rec, after := a.do(c, func(gs *sessions.Session) {
					gs.Values["identity"] = []byte("alice, refreshed")
				})
				if !gap.fired {
					t.Fatal("the sign-out never landed")
				}
				if rec.Code != http.StatusOK || len(a.errs) != 0 {
					t.Errorf("the request in flight: status %d, errors %v", rec.Code, a.errs)
				}
				if after != nil {
					t.Errorf("the request in flight set a cookie for a session that ended: %v", after)
				}
				if _, _, _, err := a.store.Load(ctx, c.Value); !errors.Is(err, ErrNotFound) {
					t.Errorf("the request in flight wrote the ended session back: %v", err)
				}
				if ids, err := bt.backend.Indexed(ctx, "sid:1"); err != nil || len(ids) != 0 {
					t.Errorf("the request in flight filed the ended session again: %v %v", ids, err)
				}
				if left := bt.stored(t); len(left) != 0 {
					t.Errorf("the backend still holds %v", left)
				}
			})
		}
	}

	t.Run("the store's own value name is refused to handlers", func(t *testing.T) {
		a := &app{t: t, store: newTestStore(t, newBackend(t).backend, testSecret, "")}
		rec, _ := a.do(nil, set(indexName, "sid:forged"))
		if len(a.errs) != 1 || rec.Code == 200 {
			t.Errorf("a handler value named %q was stored: status %d, errors %v", indexName, rec.Code, a.errs)
		}
	})
}

// signOutGap wraps a backend and runs signOut once, at the moment at names:
// "after load" is right after the first Find returns, "before write-back"
// is right before the request's first write (Index, Save or Update), the
// last moment another request could end the session before this one writes
// it back.
type signOutGap struct {
	Backend
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
