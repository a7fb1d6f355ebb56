// Store: a gorilla sessions.Store over a Backend, with the session id in a securecookie cookie and the values in a sealed record.

package session

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gorilla/sessions"
)

// CookieName is the name of the cookie that carries the session id.
// Browsers accept a __Host- cookie only when it is Secure, has Path=/ and no
// Domain, so a sibling subdomain cannot plant one to fix a user's session.
const CookieName = "__Host-session"

// Lifetime is how long a session lives after it last changed.
const Lifetime = 7 * 24 * time.Hour

// DefaultAbsoluteLifetime is how long a session lives after the sign-in
// that created it, however active its user (Store.AbsoluteLifetime): NIST
// SP 800-63B asks for reauthentication at least every 12 hours at AAL2,
// whatever the activity. Single sign-on at the identity provider makes
// that sign-in quick.
const DefaultAbsoluteLifetime = 12 * time.Hour

// DefaultMaxPerOwner is how many live sessions one owner keeps at most
// (Store.MaxPerOwner): a user with a phone, a laptop and a few browsers is
// far from it, while sessions made by the hundred through single sign-on
// (a script, a stolen refresh of the provider's session) are not kept.
const DefaultMaxPerOwner = 10

// keepAfterEnd is how long past the absolute lifetime a backend keeps a
// record: long enough for the load that ends the session to find it, and
// delete it with its index entries, rather than find it already gone; a
// session nobody loads again is then removed by the backend itself.
const keepAfterEnd = time.Minute

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
	// AbsoluteLifetime ends a session this long after it was created,
	// however often it is used: a session is created when it is first
	// saved, and again under a new id when it is renewed at sign-in
	// (Renew). The load that finds it older ends it as a sign-out does
	// (its record and index entries are deleted, and LoadAndSave expires
	// its cookie) and reports ErrTooOld: its user signs in again. NewStore
	// sets DefaultAbsoluteLifetime; zero or less means none. Set it before
	// the store is used.
	AbsoluteLifetime time.Duration
	// MaxPerOwner is how many live sessions one owner (SetOwner) keeps:
	// when a session is first saved with an owner, the owner's oldest
	// other sessions are ended, as a sign-out ends them, until no more
	// than MaxPerOwner are left, the new one among them. NewStore sets
	// DefaultMaxPerOwner; zero or less means no limit. Set it before the
	// store is used.
	MaxPerOwner int
	// Warn, when set, is told of what went wrong without failing the
	// request: the per-owner limit that could not be applied.
	Warn func(msg string, err error)
	now  func() time.Time
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
		AbsoluteLifetime: DefaultAbsoluteLifetime,
		MaxPerOwner:      DefaultMaxPerOwner,
		now:              time.Now,
		cache:            newRecordCache(maxCacheBytes),
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
		}
		if !storeName(k) {
			gs.Values[k] = v
		}
	}
	// The store's other values (owner, creation time) are read from the
	// values as loaded when the session is written again: copying them
	// into gorilla's map would cost allocations on every request, and a
	// map goes into an interface without one.
	gs.Values[loadedValue{}] = values
	if _, ok := values[createdName]; !ok {
		// Stored before sessions had a creation time: its absolute
		// lifetime starts now, and the session, changed, is written back
		// with it.
		gs.Values[createdValue{}] = s.now()
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
// not the very record last opened or saved under id (see recordCache). A
// session older than AbsoluteLifetime is ended here, and is ErrTooOld.
func (s *Store) LoadID(ctx context.Context, id string) (values Values, stale bool, err error) {
	record, err := s.backend.Find(ctx, id)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			s.cache.drop(id)
		}
		return nil, false, err
	}
	values, stale, ok := s.cache.get(id, record)
	if !ok {
		values, stale, err = openRecord(s.records, id, record)
		if err != nil {
			s.cache.drop(id)
			return nil, false, err
		}
		s.cache.put(id, record, values, stale)
	}
	if s.tooOld(values) {
		if err := s.remove(ctx, id, string(values[indexName]), string(values[ownerName])); err != nil {
			return nil, false, err
		}
		return nil, false, fmt.Errorf("%w (%s)", ErrTooOld, s.AbsoluteLifetime)
	}
	return values, stale, nil
}

// tooOld reports whether the session of values has reached the absolute
// lifetime. It only reads a value already decoded, on every request: no
// backend call, no allocation. A session without a creation time (stored
// before sessions had one) gets one when load writes it back.
func (s *Store) tooOld(values Values) bool {
	if s.AbsoluteLifetime <= 0 {
		return false
	}
	created, ok := createdTime(values[createdName])
	return ok && !s.now().Before(created.Add(s.AbsoluteLifetime))
}

// Save stores the session and sets its cookie. With a MaxAge below zero
// it deletes the record (and its index entries) and expires the cookie, as
// gorilla's stores do. A session without an id (new, or renewed at sign-in)
// gets a new random one. Values must have string keys and []byte values.
func (s *Store) Save(r *http.Request, w http.ResponseWriter, gs *sessions.Session) error {
	if gs.Options.MaxAge < 0 {
		if gs.ID != "" {
			if err := s.remove(r.Context(), gs.ID, IndexOf(gs), OwnerOf(gs)); err != nil {
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
// without an id gets a new one, and is created now (AbsoluteLifetime). With
// update, it writes only if the session's record still exists
// (Backend.Update), and reports whether it wrote: a session that another
// request ended meanwhile gets no record, no index entry and no cookie. A
// session saved with an owner for the first time is filed under it, and
// the owner's oldest sessions beyond MaxPerOwner are ended.
func (s *Store) write(ctx context.Context, w http.ResponseWriter, gs *sessions.Session, update bool) (bool, error) {
	now := s.now()
	fresh := gs.ID == ""
	if _, known := createdOf(gs.Values); fresh || !known {
		gs.Values[createdValue{}] = now
	}
	values, err := recordValues(gs.Values)
	if err != nil {
		return false, err
	}
	if fresh {
		gs.ID = newID()
	}
	record, err := sealRecord(s.records, gs.ID, values)
	if err != nil {
		return false, err
	}
	created, _ := createdOf(gs.Values)
	expiry := now.Add(time.Duration(gs.Options.MaxAge) * time.Second)
	ownerExpiry := expiry
	if s.AbsoluteLifetime > 0 {
		// The record goes with its absolute lifetime even if nobody
		// loads it again; the owner's entry lasts as long as the record
		// can, however often it is written.
		ownerExpiry = created.Add(s.AbsoluteLifetime + keepAfterEnd)
		if ownerExpiry.Before(expiry) {
			expiry = ownerExpiry
		}
	}
	index, owner := IndexOf(gs), OwnerOf(gs)
	loadedOwner := loadedOwnerOf(gs.Values)
	newOwner := owner != "" && (fresh || owner != loadedOwner)
	if update {
		written, err := s.backend.Update(ctx, gs.ID, record, expiry, index)
		if err != nil || !written {
			s.cache.drop(gs.ID)
			return false, err
		}
		// Filed under a new owner, or (without an absolute lifetime)
		// keeping the owner's entry as long as the record.
		if owner != "" && (newOwner || s.AbsoluteLifetime <= 0) {
			if err := s.backend.Index(ctx, owner, gs.ID, ownerExpiry); err != nil {
				return false, err
			}
		}
		if loadedOwner != "" && loadedOwner != owner {
			if err := s.backend.Unindex(ctx, loadedOwner, gs.ID); err != nil {
				return false, err
			}
		}
	} else {
		// The index entries first: a session stored but not yet indexed
		// could not be found by a front-channel sign-out, nor counted
		// among its owner's.
		if index != "" {
			if err := s.backend.Index(ctx, index, gs.ID, expiry); err != nil {
				return false, err
			}
		}
		if owner != "" {
			if err := s.backend.Index(ctx, owner, gs.ID, ownerExpiry); err != nil {
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
	if newOwner {
		// The session is stored: a failure to end the owner's oldest ones
		// does not undo the sign-in (the next sign-in tries again).
		if err := s.limitOwner(ctx, owner, gs.ID); err != nil && s.Warn != nil {
			s.Warn("ending a user's oldest sessions beyond the limit failed; the next sign-in tries again", err)
		}
	}
	cookie, err := s.keys.encodeCookie(gs.Name(), gs.ID)
	if err != nil {
		return false, fmt.Errorf("session: encoding the cookie: %w", err)
	}
	http.SetCookie(w, sessions.NewCookie(gs.Name(), cookie, gs.Options))
	gs.IsNew = false
	return true, nil
}

// limitOwner ends the oldest of owner's sessions but keep (the one just
// filed under owner) until no more than MaxPerOwner are left, keep among
// them. Entries whose session is gone are dropped. A session whose record
// does not open with this store's keys (sealed with a secret only another
// instance has yet, while it is rotated) is neither counted nor ended. It
// reads the owner's records only when there are more entries than the
// limit: at sign-in, never per request.
func (s *Store) limitOwner(ctx context.Context, owner, keep string) error {
	if s.MaxPerOwner <= 0 {
		return nil
	}
	ids, err := s.backend.Indexed(ctx, owner)
	if err != nil || len(ids) <= s.MaxPerOwner {
		return err
	}
	type live struct {
		id, index string
		created   time.Time
	}
	var others []live
	for _, id := range ids {
		if id == keep {
			continue
		}
		values, _, err := s.LoadID(ctx, id)
		switch {
		case errors.Is(err, ErrInvalid):
			continue
		case err == nil && string(values[ownerName]) == owner:
			created, _ := createdTime(values[createdName])
			others = append(others, live{id: id, index: string(values[indexName]), created: created})
			continue
		case err != nil && !signedOut(err):
			return err
		}
		// Gone (signed out, expired, ended at its absolute lifetime by
		// LoadID), or since filed under another owner.
		if err := s.backend.Unindex(ctx, owner, id); err != nil {
			return err
		}
	}
	excess := len(others) + 1 - s.MaxPerOwner
	if excess <= 0 {
		return nil
	}
	slices.SortFunc(others, func(a, b live) int {
		return cmp.Or(a.created.Compare(b.created), strings.Compare(a.id, b.id))
	})
	for _, o := range others[:excess] {
		if err := s.remove(ctx, o.id, o.index, owner); err != nil {
			return err
		}
	}
	return nil
}

// remove deletes the record of id, then its entries under index and owner
// ("" for none). In that order: an entry without a record only costs a
// lookup, while a record without its entry could not be found by sid.
func (s *Store) remove(ctx context.Context, id, index, owner string) error {
	s.cache.drop(id)
	if err := s.backend.Delete(ctx, id); err != nil {
		return err
	}
	for _, key := range []string{index, owner} {
		if key != "" {
			if err := s.backend.Unindex(ctx, key, id); err != nil {
				return err
			}
		}
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

// SetOwner files the session under the key of its owner when it is next
// saved, as SetIndex does under an index key, and, the first time the
// session is saved with that owner, ends the owner's oldest sessions beyond
// Store.MaxPerOwner. The key is kept in the record. The handlers make it
// from the signed-in user's tenant and object ids. An empty key files the
// session under no owner.
func SetOwner(gs *sessions.Session, key string) { gs.Values[ownerValue{}] = key }

// OwnerOf returns the key of the session's owner, "" for none.
func OwnerOf(gs *sessions.Session) string { return ownerOf(gs.Values) }

// The keys, among gorilla's values, of the store's own values: types of
// their own, so that no value a handler stores can be taken for them. The
// record keeps them under names that start with a NUL byte (storeName),
// which recordValues refuses to handlers.
type (
	// indexValue is the index key (SetIndex), a string.
	indexValue struct{}
	// ownerValue is the owner's key when SetOwner set it, a string;
	// otherwise it is the loaded record's.
	ownerValue struct{}
	// createdValue is the creation time when it was set since the
	// session was loaded (a new session, or one stored without it), a
	// time.Time; otherwise it is the loaded record's.
	createdValue struct{}
	// loadedValue is the record's values as loaded (Values), where the
	// owner and the creation time are found.
	loadedValue struct{}
)

const (
	indexName   = "\x00index"
	ownerName   = "\x00owner"
	createdName = "\x00created" // Unix nanoseconds, 8 bytes big-endian
)

// storeName reports whether a record's value name is one of the store's
// own.
func storeName(name string) bool { return strings.HasPrefix(name, "\x00") }

// ownerOf returns the owner of the session whose gorilla values are v.
func ownerOf(v map[any]any) string {
	if key, ok := v[ownerValue{}].(string); ok {
		return key
	}
	return loadedOwnerOf(v)
}

// loadedOwnerOf returns the owner the session had when it was loaded.
func loadedOwnerOf(v map[any]any) string {
	loaded, _ := v[loadedValue{}].(Values)
	return string(loaded[ownerName])
}

// createdOf returns the creation time of the session whose gorilla values
// are v, and whether it has one.
func createdOf(v map[any]any) (time.Time, bool) {
	if t, ok := v[createdValue{}].(time.Time); ok {
		return t, true
	}
	loaded, _ := v[loadedValue{}].(Values)
	return createdTime(loaded[createdName])
}

// createdTime decodes a record's creation time.
func createdTime(b []byte) (time.Time, bool) {
	if len(b) != 8 {
		return time.Time{}, false
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(b))), true
}

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
		// Read for its owner, whose entry goes too.
		values, _, err := s.LoadID(ctx, id)
		if err != nil && !signedOut(err) {
			return 0, err
		}
		if err := s.remove(ctx, id, key, string(values[ownerName])); err != nil {
			return 0, err
		}
	}
	return len(ids), nil
}

// holdsValues reports whether a session holds anything of the handlers':
// the store's own values alone are not worth keeping.
func holdsValues(v map[any]any) bool {
	for k := range v {
		switch k.(type) {
		case indexValue, ownerValue, createdValue, loadedValue:
		default:
			return true
		}
	}
	return false
}

// recordValues converts gorilla's values to what a record holds.
func recordValues(v map[any]any) (Values, error) {
	values := make(Values, len(v))
	for k, val := range v {
		switch k.(type) {
		case indexValue:
			if key, ok := val.(string); ok && key != "" {
				values[indexName] = []byte(key)
			}
			continue
		case ownerValue, createdValue, loadedValue:
			continue // below
		}
		ks, ok1 := k.(string)
		vb, ok2 := val.([]byte)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("session: value %v is %T under a %T key; a session keeps []byte under string keys", k, val, k)
		}
		if storeName(ks) {
			return nil, fmt.Errorf("session: %q is the store's own value name", ks)
		}
		values[ks] = vb
	}
	if owner := ownerOf(v); owner != "" {
		values[ownerName] = []byte(owner)
	}
	if created, ok := createdOf(v); ok {
		values[createdName] = binary.BigEndian.AppendUint64(nil, uint64(created.UnixNano()))
	}
	return values, nil
}

// signedOut reports whether a load error only means that the user is
// signed out (rather than that the store is down).
func signedOut(err error) bool {
	return errors.Is(err, ErrInvalid) || errors.Is(err, ErrNotFound) || errors.Is(err, ErrTooOld)
}
