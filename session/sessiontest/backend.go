// The cases of the Backend interface, operation by operation.

package sessiontest

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"ms-identity-go-webapp/session"
)

// testBackend checks each operation of the interface as session.Backend
// documents it.
func testBackend(t *testing.T, newHarness func(t testing.TB) Harness) {
	ctx := context.Background()
	hour := time.Now().Add(time.Hour)

	t.Run("absent", func(t *testing.T) {
		b := newHarness(t).Backend
		id := newID()
		if _, err := b.Find(ctx, id); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("Find: %v, want session.ErrNotFound", err)
		}
		if err := b.Delete(ctx, id); err != nil {
			t.Errorf("Delete: %v", err)
		}
	})

	t.Run("save, replace, find, delete", func(t *testing.T) {
		b := newHarness(t).Backend
		id, other := newID(), newID()
		if err := b.Save(ctx, id, []byte("first\x00record"), hour); err != nil {
			t.Fatal(err)
		}
		if err := b.Save(ctx, other, []byte("other"), hour); err != nil {
			t.Fatal(err)
		}
		if got, err := b.Find(ctx, id); err != nil || string(got) != "first\x00record" {
			t.Fatalf("Find: %q %v", got, err)
		}
		if err := b.Save(ctx, id, []byte("second"), hour); err != nil {
			t.Fatal(err)
		}
		if got, err := b.Find(ctx, id); err != nil || string(got) != "second" {
			t.Fatalf("Find after replace: %q %v", got, err)
		}
		if err := b.Delete(ctx, id); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Find(ctx, id); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("Find after Delete: %v", err)
		}
		if got, err := b.Find(ctx, other); err != nil || string(got) != "other" {
			t.Errorf("another record was touched: %q %v", got, err)
		}
	})

	t.Run("update", func(t *testing.T) {
		h := newHarness(t)
		b := h.Backend
		id, deleted, expired := newID(), newID(), newID()
		// Never stored, stored and deleted, stored and expired: Update
		// writes neither the record nor the index entry.
		if err := b.Save(ctx, deleted, []byte("r"), hour); err != nil {
			t.Fatal(err)
		}
		if err := b.Delete(ctx, deleted); err != nil {
			t.Fatal(err)
		}
		if err := b.Save(ctx, expired, []byte("r"), time.Now().Add(-time.Second)); err != nil {
			t.Fatal(err)
		}
		for _, gone := range []string{id, deleted, expired} {
			if ok, err := b.Update(ctx, gone, []byte("back"), hour, "sid:a"); ok || err != nil {
				t.Errorf("Update of an absent record: %v %v, want false", ok, err)
			}
			if _, err := b.Find(ctx, gone); !errors.Is(err, session.ErrNotFound) {
				t.Errorf("Update brought an absent record back: %v", err)
			}
		}
		if ids, err := b.Indexed(ctx, "sid:a"); err != nil || len(ids) != 0 {
			t.Errorf("Update of absent records indexed %v (%v)", ids, err)
		}
		b.Delete(ctx, expired)
		if left := h.Stored(t); len(left) != 0 {
			t.Errorf("Update of absent records left %v", left)
		}

		if err := b.Save(ctx, id, []byte("first"), hour); err != nil {
			t.Fatal(err)
		}
		if ok, err := b.Update(ctx, id, []byte("second"), hour, ""); !ok || err != nil {
			t.Fatalf("Update of a stored record: %v %v, want true", ok, err)
		}
		if got, err := b.Find(ctx, id); err != nil || string(got) != "second" {
			t.Fatalf("Find after Update: %q %v", got, err)
		}
		if ids, _ := b.Indexed(ctx, "sid:a"); len(ids) != 0 {
			t.Errorf("Update without an index key indexed %v", ids)
		}
		if ok, err := b.Update(ctx, id, []byte("third"), hour, "sid:a"); !ok || err != nil {
			t.Fatalf("Update with an index key: %v %v", ok, err)
		}
		if got, _ := b.Find(ctx, id); string(got) != "third" {
			t.Errorf("Find after the second Update: %q", got)
		}
		if ids, err := b.Indexed(ctx, "sid:a"); err != nil || !sameIDs(ids, id) {
			t.Errorf("Indexed after Update = %v %v, want %s", ids, err, id)
		}
		// An expiry in the past ends the record, as with Save.
		if _, err := b.Update(ctx, id, []byte("r"), time.Now().Add(-time.Second), ""); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Find(ctx, id); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("Find after an Update that expired the record: %v", err)
		}
		if _, err := b.Update(ctx, "../escape", []byte("r"), hour, ""); err == nil {
			t.Error("an id newID cannot make was updated")
		}
	})

	t.Run("large record", func(t *testing.T) {
		b := newHarness(t).Backend
		id := newID()
		big := bytes.Repeat([]byte{0xa5}, session.MaxRecordSize)
		if err := b.Save(ctx, id, big, hour); err != nil {
			t.Fatal(err)
		}
		if got, err := b.Find(ctx, id); err != nil || !bytes.Equal(got, big) {
			t.Fatalf("Find: %d bytes, %v", len(got), err)
		}
	})

	t.Run("expiry", func(t *testing.T) {
		b := newHarness(t).Backend
		id := newID()
		if err := b.Save(ctx, id, []byte("r"), time.Now().Add(-time.Second)); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Find(ctx, id); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("Find of an expired record: %v", err)
		}
	})

	t.Run("outage", func(t *testing.T) {
		h := newHarness(t)
		b := h.Backend
		id := newID()
		if err := b.Save(ctx, id, []byte("r"), hour); err != nil {
			t.Fatal(err)
		}
		repair := h.Break(t)
		start := time.Now()
		if _, err := b.Find(ctx, id); !errors.Is(err, session.ErrUnavailable) {
			t.Errorf("Find: %v, want session.ErrUnavailable", err)
		}
		if err := b.Save(ctx, id, []byte("r"), hour); !errors.Is(err, session.ErrUnavailable) {
			t.Errorf("Save: %v, want session.ErrUnavailable", err)
		}
		if _, err := b.Update(ctx, id, []byte("r"), hour, "sid:x"); !errors.Is(err, session.ErrUnavailable) {
			t.Errorf("Update: %v, want session.ErrUnavailable", err)
		}
		if err := b.Delete(ctx, id); !errors.Is(err, session.ErrUnavailable) {
			t.Errorf("Delete: %v, want session.ErrUnavailable", err)
		}
		if err := b.Index(ctx, "sid:x", id, hour); !errors.Is(err, session.ErrUnavailable) {
			t.Errorf("Index: %v, want session.ErrUnavailable", err)
		}
		if _, err := b.Indexed(ctx, "sid:x"); !errors.Is(err, session.ErrUnavailable) {
			t.Errorf("Indexed: %v, want session.ErrUnavailable", err)
		}
		if err := b.Unindex(ctx, "sid:x", id); !errors.Is(err, session.ErrUnavailable) {
			t.Errorf("Unindex: %v, want session.ErrUnavailable", err)
		}
		if err := b.Ping(ctx); !errors.Is(err, session.ErrUnavailable) {
			t.Errorf("Ping: %v, want session.ErrUnavailable", err)
		}
		if took := time.Since(start); took > 18*time.Second {
			t.Errorf("eight operations took %s to report the outage", took)
		}
		repair()
		// Recovers by itself: the next operations work.
		if err := b.Ping(ctx); err != nil {
			t.Errorf("Ping after the repair: %v", err)
		}
		if err := b.Save(ctx, id, []byte("again"), hour); err != nil {
			t.Fatalf("Save after the repair: %v", err)
		}
		if got, err := b.Find(ctx, id); err != nil || string(got) != "again" {
			t.Fatalf("Find after the repair: %q %v", got, err)
		}
	})

	t.Run("index", func(t *testing.T) {
		h := newHarness(t)
		b := h.Backend
		a, a2, other := newID(), newID(), newID()
		if ids, err := b.Indexed(ctx, "sid:unknown"); err != nil || len(ids) != 0 {
			t.Fatalf("Indexed of an unknown key: %v %v", ids, err)
		}
		for _, e := range []struct{ key, id string }{{"sid:a", a}, {"sid:a", a2}, {"sid:b", other}} {
			if err := b.Index(ctx, e.key, e.id, hour); err != nil {
				t.Fatal(err)
			}
		}
		// Filing an id again only renews its entry.
		if err := b.Index(ctx, "sid:a", a, hour.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if ids, err := b.Indexed(ctx, "sid:a"); err != nil || !sameIDs(ids, a, a2) {
			t.Fatalf("Indexed(sid:a) = %v %v, want %s and %s", ids, err, a, a2)
		}
		if err := b.Unindex(ctx, "sid:a", a); err != nil {
			t.Fatal(err)
		}
		if err := b.Unindex(ctx, "sid:a", a); err != nil {
			t.Errorf("Unindex of an absent entry: %v", err)
		}
		if ids, _ := b.Indexed(ctx, "sid:a"); !sameIDs(ids, a2) {
			t.Fatalf("after Unindex: %v, want %s", ids, a2)
		}
		if ids, _ := b.Indexed(ctx, "sid:b"); !sameIDs(ids, other) {
			t.Fatalf("another key was touched: %v", ids)
		}
		b.Unindex(ctx, "sid:a", a2)
		b.Unindex(ctx, "sid:b", other)
		if left := h.Stored(t); len(left) != 0 {
			t.Errorf("the backend still holds %v after every entry was removed", left)
		}
	})

	t.Run("index entries expire", func(t *testing.T) {
		h := newHarness(t)
		b := h.Backend
		live, expired := newID(), newID()
		if err := b.Index(ctx, "sid:a", expired, time.Now().Add(-time.Second)); err != nil {
			t.Fatal(err)
		}
		if ids, err := b.Indexed(ctx, "sid:a"); err != nil || len(ids) != 0 {
			t.Fatalf("an expired entry is found: %v %v", ids, err)
		}
		if err := b.Index(ctx, "sid:a", live, hour); err != nil {
			t.Fatal(err)
		}
		if ids, _ := b.Indexed(ctx, "sid:a"); !sameIDs(ids, live) {
			t.Fatalf("Indexed = %v, want only %s", ids, live)
		}
	})

	t.Run("index keys are any string", func(t *testing.T) {
		b := newHarness(t).Backend
		id := newID()
		for _, key := range []string{"", "../../etc/passwd", "a/b\x00c", strings.Repeat("k", 10000), "sid:ünïcode"} {
			if err := b.Index(ctx, key, id, hour); err != nil {
				t.Fatalf("Index(%.20q): %v", key, err)
			}
			if ids, err := b.Indexed(ctx, key); err != nil || !sameIDs(ids, id) {
				t.Fatalf("Indexed(%.20q) = %v %v", key, ids, err)
			}
			if err := b.Unindex(ctx, key, id); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.Index(ctx, "sid:a", "../escape", hour); err == nil {
			t.Error("an id newID cannot make was indexed")
		}
	})

	t.Run("ids", func(t *testing.T) {
		b := newHarness(t).Backend
		for _, id := range []string{"", "../../etc/passwd", "a/b", "short"} {
			if _, err := b.Find(ctx, id); err == nil {
				t.Errorf("Find(%q) found something", id)
			}
		}
	})
}
