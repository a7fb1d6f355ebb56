// Package reqstate is what the middleware learns about one request, put in
// its context once: where the browser reached the app (the server's proxy
// resolution), the request id, and the sign-in package's state of the
// request. Every context value is a copy of the whole request, so the
// layers share one.
package reqstate

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"time"

	"ms-identity-go-webapp/internal/forwarded"
)

// State is a request's state, for the handlers and the log.
type State struct {
	Public   forwarded.Request
	Resolved bool // Public is set
	ID       string
	// User is the sign-in package's user of the request; nil outside its
	// middleware.
	User any
	// AccessToken and TokenExpiresOn are the access token a gate got for
	// the page, when HasToken.
	AccessToken    string
	TokenExpiresOn time.Time
	HasToken       bool
}

type key struct{}

// From returns the request's state, or nil outside the middleware.
func From(ctx context.Context) *State {
	st, _ := ctx.Value(key{}).(*State)
	return st
}

// With returns the request's state, and the request carrying it, which is r
// itself when it already does.
func With(r *http.Request) (*State, *http.Request) {
	if st := From(r.Context()); st != nil {
		return st, r
	}
	st := &State{}
	return st, r.WithContext(context.WithValue(r.Context(), key{}, st))
}

// ID returns the request's id, "" when none was given.
func ID(ctx context.Context) string {
	if st := From(ctx); st != nil {
		return st.ID
	}
	return ""
}

// NewID returns a random request id: shown on error pages and in every log
// line about the request. An incoming X-Request-Id is never used: a client
// must not be able to choose what appears in the log.
func NewID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
