// The conformance suite of package sessiontest, run over the file backend and a real redis-server.

package session_test

import (
	"testing"

	"ms-identity-go-webapp/session"
	"ms-identity-go-webapp/session/sessiontest"
)

// TestConformance proves the file and Redis backends with the suite any
// Backend must pass. The Redis cases run on a redis-server started for
// each, and are skipped without one unless REQUIRE_REDIS=1.
func TestConformance(t *testing.T) {
	for _, bt := range session.BackendsUnderTest() {
		t.Run(bt.Name, func(t *testing.T) {
			sessiontest.Run(t, func(t testing.TB) sessiontest.Harness {
				b, breakIt, stored := bt.New(t)
				return sessiontest.Harness{Backend: b, Break: breakIt, Stored: stored}
			})
		})
	}
}
