// Tests of the suite itself: it passes the example's backend, and fails backends that each break one promise of the interface.

package sessiontest_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"ms-identity-go-webapp/session"
	"ms-identity-go-webapp/session/sessiontest"
)

// The example's backend passes: the example is run, not only compiled.
func TestExample(t *testing.T) {
	testMeteredBackend(t)
}

// brokenBackends each break one promise of session.Backend, over the
// example's backend, with the cases of the suite that must fail them.
var brokenBackends = map[string]struct {
	wrap  func(session.Backend) session.Backend
	fails []string
}{
	"Update writes a record that is gone": {
		func(b session.Backend) session.Backend { return updateAnyway{b} },
		[]string{"update", "a_front-channel_sign-out_is_not_undone_by_a_request_in_flight"},
	},
	"an outage reads as not found": {
		func(b session.Backend) session.Backend { return outageNotFound{b} },
		[]string{"outage"},
	},
	"records do not expire": {
		func(b session.Backend) session.Backend { return neverExpire{b} },
		[]string{"expiry"},
	},
	"Unindex leaves the entry": {
		func(b session.Backend) session.Backend { return keepEntries{b} },
		[]string{"index", "an_entry_goes_with_its_session"},
	},
}

// The suite fails each broken backend, in the cases that check what it
// broke. Each runs in a child process (TestBrokenBackend): a failing
// subtest fails its parent, and this test must pass.
func TestSuiteFailsBrokenBackends(t *testing.T) {
	if os.Getenv("SESSIONTEST_BROKEN") != "" {
		t.Skip("in the child process")
	}
	for name, broken := range brokenBackends {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestBrokenBackend$", "-test.v", "-test.count=1")
			cmd.Env = append(os.Environ(), "SESSIONTEST_BROKEN="+name)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) {
				t.Fatalf("the suite passed the backend (%v):\n%s", err, out)
			}
			for _, c := range broken.fails {
				if !strings.Contains(string(out), "--- FAIL: TestBrokenBackend/"+c+" (") {
					t.Errorf("the case %q did not fail:\n%s", c, out)
				}
			}
		})
	}
}

// TestBrokenBackend runs the suite over the broken backend that
// SESSIONTEST_BROKEN names, in TestSuiteFailsBrokenBackends's child
// process; without it, it does nothing.
func TestBrokenBackend(t *testing.T) {
	name := os.Getenv("SESSIONTEST_BROKEN")
	if name == "" {
		t.Skip("run by TestSuiteFailsBrokenBackends")
	}
	sessiontest.Run(t, func(t testing.TB) sessiontest.Harness {
		h := newMeteredHarness(t)
		h.Backend = brokenBackends[name].wrap(h.Backend)
		return h
	})
}

// updateAnyway writes whether or not the record is still there: a request
// in flight brings back a session that was signed out.
type updateAnyway struct{ session.Backend }

func (b updateAnyway) Update(ctx context.Context, id string, record []byte, expiry time.Time, index string) (bool, error) {
	if index != "" {
		if err := b.Index(ctx, index, id, expiry); err != nil {
			return false, err
		}
	}
	return true, b.Save(ctx, id, record, expiry)
}

// outageNotFound reports a record it cannot read as absent: an outage
// signs everyone out.
type outageNotFound struct{ session.Backend }

func (b outageNotFound) Find(ctx context.Context, id string) ([]byte, error) {
	record, err := b.Backend.Find(ctx, id)
	if errors.Is(err, session.ErrUnavailable) {
		return nil, session.ErrNotFound
	}
	return record, err
}

// neverExpire keeps a record saved with an expiry in the past.
type neverExpire struct{ session.Backend }

func (b neverExpire) Save(ctx context.Context, id string, record []byte, expiry time.Time) error {
	return b.Backend.Save(ctx, id, record, time.Now().Add(time.Hour))
}

// keepEntries removes no index entry.
type keepEntries struct{ session.Backend }

func (keepEntries) Unindex(context.Context, string, string) error { return nil }
