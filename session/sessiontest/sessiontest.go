// Package sessiontest is the conformance suite of [session.Backend]: the
// tests that the file and Redis backends pass, for a new store (PostgreSQL,
// DynamoDB, ...) to prove itself with before the app keeps sessions in it.
//
// To run it, give [Run] a function that makes a [Harness]: a new, empty
// backend, a way to take its storage away, and a way to list what the
// storage holds. In a _test.go file of the new backend's package:
//
//	func TestConformance(t *testing.T) {
//		sessiontest.Run(t, func(t testing.TB) sessiontest.Harness {
//			db := startTestDatabase(t) // a database, schema or table of its own
//			b, err := postgres.New(context.Background(), db.URL())
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { b.Close() })
//			return sessiontest.Harness{
//				Backend: b,
//				Break:   func(t testing.TB) func() { db.Stop(); return db.Start },
//				Stored:  func(t testing.TB) []string { return db.Rows(t) },
//			}
//		})
//	}
//
// The package's example does the same for a backend that wraps the file
// backend.
//
// The suite checks the backend in two ways. Directly, each operation as
// [session.Backend] documents it:
//   - records saved, replaced, found and deleted, of up to
//     [session.MaxRecordSize] bytes, and expired;
//   - Update, which writes only a record that still exists;
//   - index entries filed, listed, removed and expired, under keys that are
//     any string;
//   - ids of another shape than the store's refused;
//   - an outage reported as [session.ErrUnavailable], never as
//     [session.ErrNotFound], and recovered from without a new backend;
//   - nothing left in the storage once every record and entry is gone.
//
// And under a [session.Store], as the app uses it: the sessions filed under
// an index key are ended by DeleteIndexed, and no other; an index entry goes
// with its session, however the session ends; an owner's oldest sessions
// beyond Store.MaxPerOwner are ended; and a request in flight does
// not bring back a session that a sign-out in another tab, or the identity
// provider's front-channel sign-out, ended meanwhile, whichever backend call
// the sign-out lands after.
//
// The suite hands the backend session ids of the shape the store makes: 32
// random bytes in base32 without padding (52 characters of A-Z and 2-7).
// Errors are checked with errors.Is, so a backend may wrap
// session.ErrNotFound and session.ErrUnavailable with its own detail.
package sessiontest

import (
	"crypto/rand"
	"encoding/base32"
	"slices"
	"strings"
	"testing"

	"ms-identity-go-webapp/session"
)

// Harness is one backend under test, as the function given to [Run] makes
// it for each case. Every field is required: Run fails a harness that lacks
// one, or whose storage is not empty, before its case starts.
type Harness struct {
	// Backend is the backend under test. It must be new and empty, and
	// share its storage with no other harness: the cases check what it
	// holds (Stored), and they make one harness after another, each
	// expecting a store of its own. The function that made the harness
	// releases it when the test ends (with t.Cleanup): Close, the
	// database, table or directory behind it.
	Backend session.Backend

	// Break makes every operation of Backend fail as an outage does (the
	// server stopped, the disk gone) until the function it returns,
	// repair, is called. repair brings the storage back as a restart
	// would; the records may be lost. The suite needs it to check that an
	// outage is reported as session.ErrUnavailable, never as
	// session.ErrNotFound (a store that takes an outage for a missing
	// record signs every user out, rather than showing that session
	// storage is unavailable), that the eight operations it tries report
	// it within 18 seconds in all rather than holding requests, and that
	// the same Backend works again after the repair, without being made
	// anew.
	Break func(t testing.TB) (repair func())

	// Stored lists everything the storage behind Backend holds: file
	// names, keys, rows; anything at all, in any form, and nothing when
	// the storage is empty. The suite needs it to check that nothing is
	// left behind: a record that was deleted, or an index key whose last
	// entry went (see Backend.Unindex), must leave no trace, or the store
	// grows with every session that ever lived.
	Stored func(t testing.TB) []string
}

// Run runs the conformance suite over the backends newHarness makes: one
// subtest a case, each over a Harness of its own that newHarness makes with
// the subtest's t (a case that plays two instances of the app gives both
// the same Harness). newHarness may skip the case (t.Skip) when the storage
// is not available, as the Redis tests of package session do without
// redis-server.
//
// The cases run one after another; they take well under a second over
// files, and as long as the backend takes to report an outage over a
// network.
func Run(t *testing.T, newHarness func(t testing.TB) Harness) {
	t.Helper()
	newChecked := func(t testing.TB) Harness {
		t.Helper()
		h := newHarness(t)
		var missing []string
		for _, f := range []struct {
			name   string
			absent bool
		}{{"Backend", h.Backend == nil}, {"Break", h.Break == nil}, {"Stored", h.Stored == nil}} {
			if f.absent {
				missing = append(missing, f.name)
			}
		}
		if len(missing) > 0 {
			t.Fatalf("sessiontest: the harness has no %s", strings.Join(missing, ", "))
		}
		if left := h.Stored(t); len(left) != 0 {
			t.Fatalf("sessiontest: the harness's storage is not empty: it holds %v", left)
		}
		return h
	}
	testBackend(t, newChecked)
	testIndexedSessions(t, newChecked)
}

// newID returns a session id of the shape session.Store makes: 256 random
// bits, base32 without padding.
func newID() string {
	b := make([]byte, 32)
	rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b)
}

// sameIDs reports whether ids holds exactly want, in any order.
func sameIDs(ids []string, want ...string) bool {
	return len(ids) == len(want) && !slices.ContainsFunc(want, func(id string) bool { return !slices.Contains(ids, id) })
}
