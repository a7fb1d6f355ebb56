package sessiontest_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"ms-identity-go-webapp/session"
	"ms-identity-go-webapp/session/sessiontest"
)

// meteredBackend is a Backend of its own: the file backend, counting the
// writes that reach it, as a store instrumented for metrics would.
type meteredBackend struct {
	session.Backend
	writes atomic.Int64
}

func (m *meteredBackend) Save(ctx context.Context, id string, record []byte, expiry time.Time) error {
	m.writes.Add(1)
	return m.Backend.Save(ctx, id, record, expiry)
}

func (m *meteredBackend) Update(ctx context.Context, id string, record []byte, expiry time.Time, index string) (bool, error) {
	m.writes.Add(1)
	return m.Backend.Update(ctx, id, record, expiry, index)
}

// newMeteredHarness is what the suite needs of the backend: a new, empty
// one for each case, a way to take its storage away, and a look at what
// the storage holds.
func newMeteredHarness(t testing.TB) sessiontest.Harness {
	dir := filepath.Join(t.TempDir(), "sessions")
	files, err := session.NewFileBackend(dir)
	if err != nil {
		t.Fatal(err)
	}
	b := &meteredBackend{Backend: files}
	t.Cleanup(func() { b.Close() })
	return sessiontest.Harness{
		Backend: b,
		// A session directory that is a file: every operation fails, and
		// none of them can take that for a missing record.
		Break: func(t testing.TB) (repair func()) {
			if err := os.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(dir, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			return func() {
				if err := os.Remove(dir); err != nil {
					t.Error(err)
				}
				if err := os.Mkdir(dir, 0o700); err != nil {
					t.Error(err)
				}
			}
		},
		// Everything under the session directory: records, index
		// directories and their entries, temporary files.
		Stored: func(t testing.TB) []string {
			var names []string
			err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
				if err == nil && path != dir {
					names = append(names, path[len(dir):])
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			return names
		},
	}
}

// testMeteredBackend runs the suite over the metered backend. In the
// backend's own package it is a test of its own:
//
//	func TestConformance(t *testing.T) { sessiontest.Run(t, newMeteredHarness) }
func testMeteredBackend(t *testing.T) {
	sessiontest.Run(t, newMeteredHarness)
}

// A custom backend, proven with the suite.
func Example() {
	// Run needs the *testing.T of a test: testMeteredBackend above is that
	// test, and this package's own tests run it (TestExample).
}
