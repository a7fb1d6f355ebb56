// Store: a gorilla sessions.Store over a Backend, with the session id in a securecookie cookie and the values in a sealed record.

package session

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gorilla/sessions"
)

// CookieName is the name of the cookie that carries the session id.
// Browsers accept a __Host- cookie only when it is Secure, has Path=/ and no
// Domain, so a sibling subdomain cannot plant one to fix a user's session.
const CookieName = "__Host-session"

// Lifetime is how long a session lives after it last changed.
const Lifetime = 7 * 24 * time.Hour

// Store implements gorilla's sessions.Store: the cookie holds only the
// session id, signed and encrypted by securecookie, so a token cache of
// 5-10 KB never overflows it; the values live in the Backend, sealed in a
// record (record.go). Handlers do not call it: LoadAndSave loads the
// request's session before them and saves it after them.
type Store struct {
	backend Backend
	keys    *Keys
	records *Sealer
	// Options are the cookie's attributes for new sessions.
	Options *sessions.Options
	now     func() time.Time
	// The sessions and cookies this instance decoded last (cache.go).
	cache   *recordCache
	cookies cookieCache
}

// NewStore returns a store over backend with the keys derived from the
// session secret.
func NewStore(backend Backend, keys *Keys) *Store {
	return &Store{
		backend: backend,
		keys:    keys,
		records: keys.Sealer("session record"),
		Options: &sessions.Options{
			Path:     "/",
			MaxAge:   int(Lifetime / time.Second),
			Secure:   true,
			HttpOnly: true,
			// Lax, not Strict: a user who follows a link to the app from
			// elsewhere arrives signed in.
			SameSite: http.SameSiteLaxMode,
		},
		now:   time.Now,
		cache: newRecordCache(maxCacheBytes),
	}
}

// Keys returns the keys the store was made with, for the other values the
// app seals with them (the sign-in cookies).
func (s *Store) Keys() *Keys { return s.keys }

// Backend returns the store's backend.
func (s *Store) Backend() Backend { return s.backend }

// Ping reports whether the backend answers (see Backend.Ping).
func (s *Store) Ping(ctx context.Context) error { return s.backend.Ping(ctx) }

// Close releases the backend's connections.
func (s *Store) Close() error { return s.backend.Close() }

// Get returns the request's session through gorilla's per-request registry:
// the same session however often it is asked for.
func (s *Store) Get(r *http.Request, name string) (*sessions.Session, error) {
	return sessions.GetRegistry(r).Get(s, name)
}

// New loads the session the request's cookie names. Without a cookie it
// returns a new, empty session and asks the backend nothing. A cookie or
// record that cannot be used (tampered, foreign, expired, deleted) gives a
// new session and an error wrapping ErrInvalid or ErrNotFound: the user is
// signed out. A backend that does not answer gives an error wrapping
// ErrUnavailable.
func (s *Store) New(r *http.Request, name string) (*sessions.Session, error) {
	gs, _, _, err := s.load(r, name)
	return gs, err
}

// load is New, also returning the values as loaded and reporting whether
// the cookie or the record was sealed with the previous secret.
func (s *Store) load(r *http.Request, name string) (gs *sessions.Session, values Values, stale bool, err error) {
	gs = sessions.NewSession(s, name)
	opts := *s.Options
	gs.Options = &opts
	gs.IsNew = true
	c, err := r.Cookie(name)
	if err != nil {
		return gs, nil, false, nil
	}
	id, values, stale, err := s.Load(r.Context(), c.Value)
	if err != nil {
		return gs, nil, false, err
	}
	gs.ID, gs.IsNew = id, false
	for k, v := range values {
		if k == indexName {
			gs.Values[indexValue{}] = string(v)
			continue
		}
		gs.Values[k] = v
	}
	return gs, values, stale, nil
}

// Load returns the id and values of the session a cookie value names: what
// a request carrying that cookie loads. Tests and the benchmark use it to
// look at stored sessions as the app sees them.
func (s *Store) Load(ctx context.Context, cookie string) (id string, values Values, stale bool, err error) {
	if len(cookie) > 4096 {
		return "", nil, false, fmt.Errorf("%w: the session cookie is too long", ErrInvalid)
	}
	id, staleCookie, err := s.decodeCookie(cookie)
	if err != nil {
		return "", nil, false, err
	}
	values, staleRecord, err := s.LoadID(ctx, id)
	return id, values, staleCookie || staleRecord, err
}

// decodeCookie is Keys.decodeCookie for the session cookie, answered from
// the cookie cache when this very value was decoded before.
func (s *Store) decodeCookie(cookie string) (id string, stale bool, err error) {
	if e, ok := s.cookies.get(cookie); ok {
		return e.id, e.stale, nil
	}
	id, stale, err = s.keys.decodeCookie(CookieName, cookie)
	if err == nil {
		s.cookies.put(cookie, cookieEntry{id: id, stale: stale})
	}
	return id, stale, err
}

// LoadID returns the values of the session id from the backend. The record
// is read from the backend every time; it is opened again only when it is
// not the very record last opened or saved under id (see recordCache).
func (s *Store) LoadID(ctx context.Context, id string) (values Values, stale bool, err error) {
	record, err := s.backend.Find(ctx, id)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			s.cache.drop(id)
		}
		return nil, false, err
	}
	if values, stale, ok := s.cache.get(id, record); ok {
		return values, stale, nil
	}
	values, stale, err = openRecord(s.records, id, record)
	if err != nil {
		s.cache.drop(id)
		return nil, false, err
	}
	s.cache.put(id, record, values, stale)
	return values, stale, nil
}

// Save stores the session and sets its cookie. With a MaxAge below zero
// it deletes the record (and its index entry) and expires the cookie, as
// gorilla's stores do. A session without an id (new, or renewed at sign-in)
// gets a new random one. Values must have string keys and []byte values.
func (s *Store) Save(r *http.Request, w http.ResponseWriter, gs *sessions.Session) error {
	if gs.Options.MaxAge < 0 {
		if gs.ID != "" {
			if err := s.remove(r.Context(), gs.ID, IndexOf(gs)); err != nil {
				return err
			}
		}
		http.SetCookie(w, sessions.NewCookie(gs.Name(), "", gs.Options))
		return nil
	}
	_, err := s.write(r.Context(), w, gs, false)
	return err
}

// write seals the session and stores it, then sets its cookie. A session
// without an id gets a new one. With update, it writes only if the
// session's record still exists (Backend.Update), and reports whether it
// wrote: a session that another request ended meanwhile gets no record,
// no index entry and no cookie.
func (s *Store) write(ctx context.Context, w http.ResponseWriter, gs *sessions.Session, update bool) (bool, error) {
	values, err := recordValues(gs.Values)
	if err != nil {
		return false, err
	}
	if gs.ID == "" {
		gs.ID = newID()
	}
	record, err := sealRecord(s.records, gs.ID, values)
	if err != nil {
		return false, err
	}
	expiry := s.now().Add(time.Duration(gs.Options.MaxAge) * time.Second)
	index := IndexOf(gs)
	if update {
		written, err := s.backend.Update(ctx, gs.ID, record, expiry, index)
		if err != nil || !written {
			s.cache.drop(gs.ID)
			return false, err
		}
	} else {
		// The index entry first: a session stored but not yet indexed
		// could not be found by a front-channel sign-out.
		if index != "" {
			if err := s.backend.Index(ctx, index, gs.ID, expiry); err != nil {
				return false, err
			}
		}
		if err := s.backend.Save(ctx, gs.ID, record, expiry); err != nil {
			s.cache.drop(gs.ID)
			return false, err
		}
	}
	// The next request of this browser reads back this very record.
	s.cache.put(gs.ID, record, values, false)
	cookie, err := s.keys.encodeCookie(gs.Name(), gs.ID)
	if err != nil {
		return false, fmt.Errorf("session: encoding the cookie: %w", err)
	}
	http.SetCookie(w, sessions.NewCookie(gs.Name(), cookie, gs.Options))
	gs.IsNew = false
	return true, nil
}

// remove deletes the record of id, then its entry under index ("" for
// none). In that order: an entry without a record only costs a lookup,
// while a record without its entry could not be found by sid.
func (s *Store) remove(ctx context.Context, id, index string) error {
	s.cache.drop(id)
	if err := s.backend.Delete(ctx, id); err != nil {
		return err
	}
	if index != "" {
		return s.backend.Unindex(ctx, index, id)
	}
	return nil
}

// SetIndex files the session under key when it is next saved, for
// DeleteIndexed to find without its cookie; the key is kept in the record
// and its entry expires and is deleted with the session. The handlers file
// a session under the sid it signed in with (front-channel logout).
// An empty key files it under nothing.
func SetIndex(gs *sessions.Session, key string) {
	if key == "" {
		delete(gs.Values, indexValue{})
		return
	}
	gs.Values[indexValue{}] = key
}

// IndexOf returns the key the session is filed under, "" for none.
func IndexOf(gs *sessions.Session) string {
	key, _ := gs.Values[indexValue{}].(string)
	return key
}

// indexValue is the key, among gorilla's values, of the session's index
// key: a type of its own, so that no value a handler stores can be taken
// for it. The record keeps it under indexName, a name that recordValues
// refuses to handlers.
type indexValue struct{}

const indexName = "\x00index"

// DeleteIndexed ends every session filed under key, without any cookie:
// their records and index entries are deleted. A request in flight that
// loaded one of them does not write it back (LoadAndSave writes with
// Backend.Update, which writes only a record that still exists), and the sessions' next requests, on any
// instance, find no record: signed out. It returns how many sessions it
// ended; an unknown key ends none and is no error.
func (s *Store) DeleteIndexed(ctx context.Context, key string) (int, error) {
	ids, err := s.backend.Indexed(ctx, key)
	if err != nil {
		return 0, err
	}
	for _, id := range ids {
		if err := s.remove(ctx, id, key); err != nil {
			return 0, err
		}
	}
	return len(ids), nil
}

// holdsValues reports whether a session holds anything of the handlers':
// an index key alone is not worth keeping.
func holdsValues(v map[any]any) bool {
	for k := range v {
		if k != (indexValue{}) {
			return true
		}
	}
	return false
}

// recordValues converts gorilla's values to what a record holds.
func recordValues(v map[any]any) (Values, error) {
	values := make(Values, len(v))
	for k, v := range v {
		if k == (indexValue{}) {
			if key, ok := v.(string); ok && key != "" {
				values[indexName] = []byte(key)
			}
			continue
		}
		ks, ok1 := k.(string)
		vb, ok2 := v.([]byte)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("session: value %v is %T under a %T key; a session keeps []byte under string keys", k, v, k)
		}
		if ks == indexName {
			return nil, fmt.Errorf("session: %q is the store's own value name", ks)
		}
		values[ks] = vb
	}
	return values, nil
}

// signedOut reports whether a load error only means that the user is
// signed out (rather than that the store is down).
func signedOut(err error) bool {
	return errors.Is(err, ErrInvalid) || errors.Is(err, ErrNotFound)
}
