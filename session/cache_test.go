// Tests of the memory cache: it never answers for a record that changed or went away, on this instance or another, and stays bounded.

package session

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gorilla/sessions"
)

// Two instances share one backend. Each keeps its own cache; a change or a
// sign-out on one is what the other loads on its very next request.
func TestCacheFollowsOtherInstances(t *testing.T) {
	for _, bt := range backends {
		t.Run(bt.name, func(t *testing.T) {
			b := bt.new(t).backend
			one := &app{t: t, store: newTestStore(t, b, testSecret, "")}
			two := &app{t: t, store: newTestStore(t, b, testSecret, "")}
			_, c := one.do(nil, set("identity", "alice"))
			var seen string
			look := func(gs *sessions.Session) { seen = get(gs, "identity") }
			for _, want := range []string{"alice", "alice"} { // the second load is answered from the cache
				if two.do(c, look); seen != want {
					t.Fatalf("the other instance loaded %q, want %q", seen, want)
				}
			}
			// A token refreshed on one instance is what the other uses next.
			one.do(c, set("identity", "alice, refreshed"))
			if two.do(c, look); seen != "alice, refreshed" {
				t.Fatalf("after a change on the first instance the second loaded %q", seen)
			}
			if one.do(c, look); seen != "alice, refreshed" {
				t.Fatalf("the first instance loaded %q", seen)
			}
			// A sign-out on one instance is seen by the other.
			two.do(c, func(gs *sessions.Session) { Destroy(gs) })
			seen = ""
			if rec, again := one.do(c, look); seen != "" || again != nil || rec.Code != 200 {
				t.Fatalf("after a sign-out elsewhere: loaded %q, cookie %v", seen, again)
			}
			if _, _, _, err := one.store.Load(context.Background(), c.Value); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Load after a sign-out elsewhere: %v", err)
			}
		})
	}
}

// A record written straight into the backend under a cached id (a restore
// from a backup, another app version), even with the same values, is
// decoded, not taken from the cache.
func TestCacheComparesTheRecord(t *testing.T) {
	for _, bt := range backends {
		t.Run(bt.name, func(t *testing.T) {
			b := bt.new(t).backend
			s := newTestStore(t, b, testSecret, "")
			a := &app{t: t, store: s}
			_, c := a.do(nil, set("identity", "alice"))
			id, _, _, err := s.Load(context.Background(), c.Value)
			if err != nil {
				t.Fatal(err)
			}
			for _, value := range []string{"mallory", "mallory", "alice"} {
				record, err := sealRecord(s.records, id, Values{"identity": []byte(value)})
				if err != nil {
					t.Fatal(err)
				}
				if err := b.Save(context.Background(), id, record, time.Now().Add(time.Hour)); err != nil {
					t.Fatal(err)
				}
				// The values as loaded, and one more load from the cache.
				for range 2 {
					if _, values, _, err := s.Load(context.Background(), c.Value); err != nil || string(values["identity"]) != value {
						t.Fatalf("loaded %q, %v; want the record now stored, %q", values["identity"], err, value)
					}
				}
			}
		})
	}
}

// However many sessions are loaded, the cache holds at most its bound.
func TestRecordCacheIsBounded(t *testing.T) {
	const max = 64 << 10
	c := newRecordCache(max)
	value := make([]byte, 3000)
	for i := range 1000 {
		id := fmt.Sprintf("id-%d", i)
		c.put(id, make([]byte, 3000), Values{"identity": value}, false)
		if c.m.Bytes() > max {
			t.Fatalf("after %d sessions the cache holds %d bytes, more than %d", i+1, c.m.Bytes(), max)
		}
	}
	if n := c.m.Len(); n == 0 || n > max/6000 {
		t.Errorf("%d entries", n)
	}
	var cookies cookieCache
	for i := range 2 * maxCookies {
		cookies.put(fmt.Sprint(i), cookieEntry{id: "x"})
	}
	if cookies.m.Len() != maxCookies {
		t.Errorf("%d cookies cached, want %d", cookies.m.Len(), maxCookies)
	}
}
