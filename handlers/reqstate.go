// Request state: what the middleware learns about one request, put in its context once.

package handlers

import (
	"context"
	"net/http"

	"ms-identity-go-webapp/identity"
	"ms-identity-go-webapp/internal/forwarded"
)

// requestState is what the middleware learns about a request, for the
// handlers and the log: where the browser reached the app (resolveProxy),
// the request id (requestID) and the signed-in user (loadUser). It is put in
// the request's context once, by the first of them, and filled in by the
// others: every context value is a copy of the whole request.
type requestState struct {
	public   forwarded.Request
	resolved bool // public is set
	id       string
	user     *identity.UserSession
}

type requestStateKey struct{}

// stateOf returns the request's state, or nil outside the middleware.
func stateOf(ctx context.Context) *requestState {
	st, _ := ctx.Value(requestStateKey{}).(*requestState)
	return st
}

// withState returns the request's state, and the request carrying it,
// which is r itself when it already does.
func withState(r *http.Request) (*requestState, *http.Request) {
	if st := stateOf(r.Context()); st != nil {
		return st, r
	}
	st := &requestState{}
	return st, r.WithContext(context.WithValue(r.Context(), requestStateKey{}, st))
}
