// Sessions: each browser's server-side session (gorilla/sessions), holding its identity.UserSession.

package handlers

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"

	"ms-identity-go-webapp/identity"
)

// SessionCookieName is the name of the cookie that carries the session id.
// Browsers accept a __Host- cookie only when it is Secure, has Path=/ and no
// Domain, so a sibling subdomain cannot plant one to fix a user's session.
const SessionCookieName = "__Host-session"

// identityKey is the session value holding the encoded identity.UserSession.
const identityKey = "identity"

// SessionStore loads and saves sessions in a gorilla store that keeps the
// values server-side (a directory or Redis): the cookie carries only the
// signed session id, so a token cache of 5-10 KB never overflows it.
type SessionStore struct {
	store  sessions.Store
	maxAge int
	// exists reports whether a session's record is still stored; save uses
	// it so that a request cannot bring back a session that another request
	// ended (a sign-out in another tab). Nil for stores that cannot tell.
	exists func(ctx context.Context, id string) (bool, error)
	// clean deletes expired records, for stores that do not expire them
	// themselves (files; Redis expires its keys). Nil when there is nothing
	// to do.
	clean func(now time.Time) (int, error)
}

// SessionLifetime is how long a session lives after it last changed.
const SessionLifetime = 7 * 24 * time.Hour

// AbandonedSessionLifetime is how long a session that holds no signed-in user
// lives: only sign-ins in progress, which take minutes. Any visitor creates
// one by opening /login, so they must not pile up for a week.
const AbandonedSessionLifetime = time.Hour

// maxSessionSize bounds one stored session. gorilla's default of 4096 bytes
// is too small for a token cache with Entra-sized tokens.
const maxSessionSize = 64 << 10

// SessionKeys derives the signing and encryption keys of sessions from the
// SESSION_SECRET: tokens are encrypted at rest, and a tampered session fails
// its signature check.
func SessionKeys(secret string) (hashKey, blockKey []byte) {
	derive := func(label string) []byte {
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte(label))
		return m.Sum(nil)
	}
	return derive("session signing key"), derive("session encryption key")
}

// cookieOptions are the session cookie's attributes: HTTPS only, out of
// reach of scripts, and not sent on cross-site subrequests. Lax, not Strict:
// the browser must send it when Entra ID redirects back to the app.
func cookieOptions() *sessions.Options {
	return &sessions.Options{
		Path:     "/",
		MaxAge:   int(SessionLifetime / time.Second),
		Secure:   true,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	}
}

// NewFilesystemSessionStore keeps sessions as files in dir, like the Python
// samples' SESSION_TYPE=filesystem.
func NewFilesystemSessionStore(dir, secret string) (*SessionStore, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("SESSION_DIR %q: %w", dir, err)
	}
	hashKey, blockKey := SessionKeys(secret)
	fsStore := sessions.NewFilesystemStore(dir, hashKey, blockKey)
	fsStore.MaxAge(int(SessionLifetime / time.Second)) // the files' signatures expire with the sessions
	fsStore.Options = cookieOptions()
	fsStore.MaxLength(maxSessionSize)
	st := NewSessionStore(fsStore)
	st.clean = func(now time.Time) (int, error) { return cleanSessionFiles(dir, fsStore.Codecs, now) }
	st.exists = func(_ context.Context, id string) (bool, error) {
		// FilesystemStore keeps each session in "session_<id>".
		_, err := os.Stat(filepath.Join(dir, "session_"+id))
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, fs.ErrNotExist):
			return false, nil
		}
		return false, err
	}
	return st, nil
}

// NewSessionStore wraps a gorilla store whose Options are already set.
func NewSessionStore(store sessions.Store) *SessionStore {
	return &SessionStore{store: store, maxAge: int(SessionLifetime / time.Second)}
}

// requestSession is the session of the current request.
type requestSession struct {
	gs     *sessions.Session
	user   *identity.UserSession
	loaded []byte // the encoding as loaded, to save only when it changed
}

type sessionContextKey struct{}

func sessionFrom(ctx context.Context) *requestSession {
	s, _ := ctx.Value(sessionContextKey{}).(*requestSession)
	return s
}

// load reads the request's session. A session that cannot be read (a
// tampered or expired cookie, a corrupted or deleted record) is not an error
// for the user: they get a new, signed-out session, and the log says why. A
// store that does not answer is an error (wrapping ErrStoreUnavailable): the
// user is not signed out by an outage, they see an error page and try again.
func (st *SessionStore) load(r *http.Request, logger *slog.Logger) (*requestSession, error) {
	gs, err := st.store.Get(r, SessionCookieName)
	if err != nil {
		if storeUnavailable(err) {
			return nil, err
		}
		logger.Info("session not loaded; starting a new one", "reason", sessionErrorReason(err),
			"request_id", requestIDFrom(r.Context()))
		if gs == nil {
			gs = sessions.NewSession(st.store, SessionCookieName)
			gs.Options = cookieOptions()
		}
		gs.ID = ""
		gs.IsNew = true
		gs.Values = map[any]any{}
	}
	raw, _ := gs.Values[identityKey].([]byte)
	user, err := identity.UnmarshalUserSession(raw)
	if err != nil {
		logger.Info("session content unreadable; starting a new one", "request_id", requestIDFrom(r.Context()))
		raw = nil
	}
	return &requestSession{gs: gs, user: user, loaded: raw}, nil
}

// storeUnavailable tells an outage of the store from a session that is
// merely gone or invalid: Redis not answering, or a session file that exists
// but cannot be read (permissions, I/O errors).
func storeUnavailable(err error) bool {
	if errors.Is(err, ErrStoreUnavailable) {
		return true
	}
	var pathErr *fs.PathError
	return errors.As(err, &pathErr) && !errors.Is(err, fs.ErrNotExist)
}

// sessionErrorReason describes a load failure without echoing the cookie.
func sessionErrorReason(err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "session not found (signed out elsewhere, expired or deleted)"
	case strings.Contains(err.Error(), "securecookie"):
		return "cookie or stored session failed its signature check or has expired"
	}
	return "stored session unreadable"
}

// save stores the session if its content changed since it was loaded, and
// sets the cookie. A session that was never written and holds nothing
// (a visitor who only looked) is not stored at all.
func (st *SessionStore) save(w http.ResponseWriter, r *http.Request, s *requestSession) error {
	data, err := s.user.Marshal()
	if err != nil {
		return err
	}
	if bytes.Equal(data, s.loaded) && !s.gs.IsNew {
		return nil
	}
	if s.gs.IsNew && bytes.Equal(data, []byte("{}")) {
		return nil
	}
	if !s.gs.IsNew && s.gs.ID != "" && st.exists != nil {
		// Another request may have ended this session since this one
		// loaded it (sign-out in another tab while a page was refreshing a
		// token): writing it back would undo the sign-out.
		ok, err := st.exists(r.Context(), s.gs.ID)
		if err != nil {
			return fmt.Errorf("checking the session: %w", err)
		}
		if !ok {
			return nil
		}
	}
	s.gs.Values[identityKey] = data
	s.gs.Options.MaxAge = st.maxAge
	if !s.user.SignedIn() {
		s.gs.Options.MaxAge = int(AbandonedSessionLifetime / time.Second)
	}
	if err := st.store.Save(r, w, s.gs); err != nil {
		return fmt.Errorf("saving the session: %w", err)
	}
	s.loaded = data
	s.gs.IsNew = false
	return nil
}

// renew gives the session a new id and deletes the old one: done at sign-in,
// so that an id an attacker planted before sign-in (session fixation) is
// worth nothing after it.
func (st *SessionStore) renew(w http.ResponseWriter, r *http.Request, s *requestSession) error {
	if s.gs.ID != "" && !s.gs.IsNew {
		if err := st.delete(r, s.gs); err != nil {
			return err
		}
	}
	s.gs.ID = ""
	s.gs.IsNew = true
	s.loaded = nil
	return st.save(w, r, s)
}

// destroy deletes the session server-side and expires its cookie.
func (st *SessionStore) destroy(w http.ResponseWriter, r *http.Request, s *requestSession) error {
	s.user = &identity.UserSession{}
	if s.gs.IsNew {
		return nil
	}
	s.gs.Options.MaxAge = -1
	err := st.store.Save(r, w, s.gs)
	s.gs.Options.MaxAge = st.maxAge
	s.gs.ID = ""
	s.gs.IsNew = true
	s.loaded = nil
	return err
}

// delete removes a session's server-side record without touching the
// response's cookies: gorilla deletes on a save with MaxAge < 0, and the
// cookie that save writes goes to a throwaway header.
func (st *SessionStore) delete(r *http.Request, gs *sessions.Session) error {
	old := *gs.Options
	gs.Options.MaxAge = -1
	err := st.store.Save(r, discardWriter{header: http.Header{}}, gs)
	*gs.Options = old
	return err
}

// Close releases the store's connections (Redis); it does nothing for files.
func (st *SessionStore) Close() error {
	if c, ok := st.store.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

type discardWriter struct{ header http.Header }

func (d discardWriter) Header() http.Header         { return d.header }
func (d discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d discardWriter) WriteHeader(int)             {}

// Clean deletes the store's expired sessions and returns how many; see
// cleanSessionFiles. It does nothing for stores that expire their own.
func (st *SessionStore) Clean(now time.Time) (int, error) {
	if st.clean == nil {
		return 0, nil
	}
	return st.clean(now)
}

// cleanSessionFiles deletes the session files nobody can use any more: those
// last written more than SessionLifetime ago, whose cookies have expired, and
// those older than AbandonedSessionLifetime that hold no signed-in user (or
// cannot be read at all).
func cleanSessionFiles(dir string, codecs []securecookie.Codec, now time.Time) (int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	removed := 0
	for _, e := range entries {
		if e.IsDir() || !strings.HasPrefix(e.Name(), "session_") {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // deleted meanwhile
		}
		age := now.Sub(info.ModTime())
		path := filepath.Join(dir, e.Name())
		if age > SessionLifetime || (age > AbandonedSessionLifetime && !signedInFile(path, codecs)) {
			if err := os.Remove(path); err == nil {
				removed++
			}
		}
	}
	return removed, nil
}

// signedInFile reports whether a session file holds a signed-in user.
func signedInFile(path string, codecs []securecookie.Codec) bool {
	data, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	values := map[any]any{}
	if err := securecookie.DecodeMulti(SessionCookieName, string(data), &values, codecs...); err != nil {
		return false
	}
	raw, _ := values[identityKey].([]byte)
	user, err := identity.UnmarshalUserSession(raw)
	return err == nil && user.SignedIn()
}
