// Package session is the app's session layer: sessions only for signed-in
// users, kept server-side in files or Redis behind one small interface, in a
// record format of its own, and loaded and saved once per request around the
// handlers. The handlers see gorilla/sessions' *sessions.Session.
package session

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"time"
)

// Backend keeps records by session id: files (FileBackend) or Redis
// (RedisBackend). Records are opaque to it; every backend passes the same
// conformance suite (package session/sessiontest), which a new backend can
// run too.
type Backend interface {
	// Find returns the record of id. A record that is absent or expired is
	// ErrNotFound.
	Find(ctx context.Context, id string) ([]byte, error)
	// Save stores the record of id until expiry, replacing any other.
	Save(ctx context.Context, id string, record []byte, expiry time.Time) error
	// Delete removes the record of id; an absent record is no error.
	Delete(ctx context.Context, id string) error
	// Update stores the record of id until expiry, and files id under
	// index (as Index does) unless index is "", only if id still has a
	// record; it reports whether it wrote. Check and write are one step: a
	// Delete lands either before it, and Update writes nothing, or after
	// it. A request writes a session it loaded back with Update, so that it
	// cannot bring back a session that a sign-out in another tab, or the
	// identity provider's front-channel sign-out, ended meanwhile.
	Update(ctx context.Context, id string, record []byte, expiry time.Time, index string) (bool, error)
	// Ping reports whether the backend answers and can take a write: what
	// /readyz asks before a load balancer sends the instance users.
	Ping(ctx context.Context) error

	// An index files session ids under a key, so that the sessions can be
	// found without their cookies: front-channel logout names the identity
	// provider's session (sid), and the app must end every session that
	// signed in with it. Each entry expires on its own, as its session
	// does. Keys are any string; backends store only a hash of them.

	// Index files id under key until expiry, replacing the expiry of an
	// entry already there.
	Index(ctx context.Context, key, id string, expiry time.Time) error
	// Indexed returns the ids filed under key whose entries have not
	// expired, in no particular order; none for an unknown key.
	Indexed(ctx context.Context, key string) ([]string, error)
	// Unindex removes the entry of id under key; an absent one is no error.
	// When a key's last entry goes, nothing of the key is left behind.
	Unindex(ctx context.Context, key, id string) error
	// Close releases the backend's connections.
	Close() error
}

// ErrNotFound means a session id has no record: deleted (signed out),
// expired, or lost (Redis restarted without persistence).
var ErrNotFound = errors.New("session: record not found")

// ErrTooOld means a session reached its store's absolute lifetime
// (Store.AbsoluteLifetime): the load that found it ended it as a sign-out
// does, and its user signs in again.
var ErrTooOld = errors.New("session: ended at its absolute lifetime")

// ErrUnavailable means the backend could not be read or written: Redis down
// or too slow, a session directory the app cannot read. It is an outage, not
// a sign that the user is signed out: the request gets the "Session storage
// unavailable" page, and the next one tries again.
var ErrUnavailable = errors.New("session store unavailable")

// newID returns a new random session id: 256 bits, base32 without padding,
// so that it is safe in a file name and a Redis key.
func newID() string {
	b := make([]byte, 32)
	rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return idEncoding.EncodeToString(b)
}

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// validID reports whether id has the shape newID gives. Backends refuse
// other ids, so that no id can name a file outside the session directory.
func validID(id string) bool {
	if len(id) != idEncoding.EncodedLen(32) {
		return false
	}
	for _, c := range id {
		if (c < 'A' || c > 'Z') && (c < '2' || c > '7') {
			return false
		}
	}
	return true
}

// indexHash is the name a backend stores an index key under: fixed length,
// safe in a file name and a Redis key, whatever the key holds, and without
// the key itself (a sid is worth keeping out of directory listings).
func indexHash(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}
