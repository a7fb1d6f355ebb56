// Tests of the index key's place in a session: a value of the store's own, out of the handlers' reach.
//
// The cases of sessions filed under an index key (DeleteIndexed, sign-out, a
// sign-out while a request is in flight) are in package sessiontest, which
// every Backend passes: conformance_test.go runs them.

package session

import "testing"

// A handler cannot store a value under the name the record keeps the index
// key under: it would file the session under a key of the handler's choice.
// indexName is unexported, so the case is here rather than in sessiontest.
func TestIndexNameIsRefusedToHandlers(t *testing.T) {
	for _, bt := range backends {
		t.Run(bt.name, func(t *testing.T) {
			a := &app{t: t, store: newTestStore(t, bt.new(t).backend, testSecret, "")}
			rec, _ := a.do(nil, set(indexName, "sid:forged"))
			if len(a.errs) != 1 || rec.Code == 200 {
				t.Errorf("a handler value named %q was stored: status %d, errors %v", indexName, rec.Code, a.errs)
			}
		})
	}
}
