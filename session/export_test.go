// Test code of package session for conformance_test.go, which is package session_test and sees only what is exported.

package session

import "testing"

// BackendUnderTest is a backend of backends (backend_test.go) for
// conformance_test.go: that file imports sessiontest, which imports
// session, so it is package session_test and cannot reach unexported test
// code. New returns the parts of a sessiontest.Harness.
type BackendUnderTest struct {
	Name string
	New  func(t testing.TB) (b Backend, breakIt func(t testing.TB) (repair func()), stored func(t testing.TB) []string)
}

// BackendsUnderTest returns the backends that every test of the package
// runs over, set up the same way.
func BackendsUnderTest() []BackendUnderTest {
	var all []BackendUnderTest
	for _, bt := range backends {
		all = append(all, BackendUnderTest{Name: bt.name, New: func(t testing.TB) (Backend, func(testing.TB) func(), func(testing.TB) []string) {
			u := bt.new(t)
			return u.backend, u.breakIt, u.stored
		}})
	}
	return all
}
