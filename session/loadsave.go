// LoadAndSave: the request side of sessions, loaded once before the handler and saved after it only when they changed.

package session

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"

	"github.com/gorilla/sessions"
)

// ErrorFunc answers a request whose session could not be loaded or saved.
type ErrorFunc func(w http.ResponseWriter, r *http.Request, err error)

// state is what LoadAndSave remembers about the request's session.
type state struct {
	gs          *sessions.Session
	loadedID    string // the id the session was loaded with, "" for none
	loadedIndex string // the key it was filed under then (SetIndex), "" for none
	loaded      Values // its values when loaded
	stale       bool   // loaded with the previous secret: save again with the current one
	// tooOld is set when the cookie named a session that the load ended
	// at its absolute lifetime: its cookie is expired.
	tooOld bool
}

// loadedOwner is the owner the session was filed under when loaded.
func (st *state) loadedOwner() string { return string(st.loaded[ownerName]) }

type contextKey struct{}

// FromContext returns the session of the request, as LoadAndSave loaded it.
func FromContext(ctx context.Context) *sessions.Session {
	if st, ok := ctx.Value(contextKey{}).(*state); ok {
		return st.gs
	}
	return nil
}

// Renew gives the session a new id when it is saved, and deletes the
// record under the old one: done at sign-in, so that an id an attacker
// planted before (session fixation) is worth nothing after.
func Renew(gs *sessions.Session) { gs.ID = "" }

// Destroy ends the session when it is saved: its record is deleted and its
// cookie expired (gorilla's MaxAge < 0).
func Destroy(gs *sessions.Session) { gs.Options.MaxAge = -1 }

// LoadAndSave loads the request's session once, before next, and saves it
// after next only when it changed, as scs's LoadAndSave does: handlers change
// the *sessions.Session that FromContext returns and never save it
// themselves.
//
// next's answer is held back until the session is saved: the save may set
// the cookie, and when it fails (the store went down) the browser must get
// onError's page rather than a page that claims a change was kept.
//
// A session that holds no values is not stored at all: a visitor who only
// looks, opens /login or follows a broken link creates no record. A cookie
// that names no usable session is treated as no cookie; onInvalid (for the
// log) is told why.
func (s *Store) LoadAndSave(onError ErrorFunc, onInvalid func(r *http.Request, err error)) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			gs, values, stale, err := s.load(r, CookieName)
			switch {
			case err == nil:
			case signedOut(err):
				onInvalid(r, err)
			default:
				onError(w, r, err)
				return
			}
			st := &state{gs: gs, loadedID: gs.ID, loadedIndex: IndexOf(gs), loaded: values, stale: stale,
				tooOld: err != nil && errors.Is(err, ErrTooOld)}
			buf := newBufferedWriter(w)
			answered := false
			defer func() {
				if !answered {
					// The handler or the save panicked: the page that
					// replaces the answer gets none of its headers either.
					buf.discard()
				}
				buf.release()
			}()
			next.ServeHTTP(buf, r.WithContext(context.WithValue(r.Context(), contextKey{}, st)))
			if err := s.commit(buf, r, st); err != nil {
				buf.discard()
				answered = true
				onError(w, r, err)
				return
			}
			answered = true
			buf.flush()
		})
	}
}

// commit saves the session after the handler, if there is anything to do.
func (s *Store) commit(w http.ResponseWriter, r *http.Request, st *state) error {
	gs := st.gs
	if gs.Options.MaxAge < 0 || !holdsValues(gs.Values) {
		// Ended (sign-out, or at its absolute lifetime), or nothing left
		// worth keeping (a user signed out because their tokens were
		// revoked): no record, no index entry, no cookie.
		if st.loadedID == "" && gs.Options.MaxAge >= 0 && !st.tooOld {
			return nil
		}
		if st.loadedID != "" {
			if err := s.remove(r.Context(), st.loadedID, st.loadedIndex, st.loadedOwner()); err != nil {
				return err
			}
		}
		gs.Options.MaxAge = -1
		http.SetCookie(w, sessions.NewCookie(gs.Name(), "", gs.Options))
		return nil
	}
	if gs.ID != "" && gs.ID == st.loadedID && !st.stale && sameValues(gs.Values, st.loaded) {
		return nil // unchanged
	}
	if _, err := recordValues(gs.Values); err != nil {
		return err
	}
	switch {
	case gs.ID == "" || gs.ID != st.loadedID:
		// New, or renewed at sign-in: a fresh id, and the old record goes,
		// with its index entries.
		if st.loadedID != "" {
			if err := s.remove(r.Context(), st.loadedID, st.loadedIndex, st.loadedOwner()); err != nil {
				return err
			}
		}
		gs.ID = ""
	default:
		// Another request may have ended this session since this one
		// loaded it (a sign-out in another tab, or the identity provider's
		// front-channel sign-out, while this page refreshed a token):
		// writing it back would undo the sign-out. Update writes it only
		// if its record is still there, in one step with the check.
		written, err := s.write(r.Context(), w, gs, true)
		if err != nil || !written {
			return err
		}
		// The old index entry goes once the session is filed under its
		// new key: were the write to fail, the session would keep the old
		// key in its record and must stay findable under it.
		if st.loadedIndex != "" && st.loadedIndex != IndexOf(gs) {
			return s.backend.Unindex(r.Context(), st.loadedIndex, gs.ID)
		}
		return nil
	}
	_, err := s.write(r.Context(), w, gs, false)
	return err
}

// sameValues reports whether the handler left the session's values as they
// were loaded: the same keys, each with the same bytes, and the same index
// key and owner (which the record keeps under indexName and ownerName). A
// creation time set since the load (a session stored without one) is a
// change. It runs on every request: it allocates nothing.
func sameValues(now map[any]any, loaded Values) bool {
	handlers := 0
	for k, v := range now {
		switch k.(type) {
		case indexValue:
			key, ok := v.(string)
			if !ok || key != string(loaded[indexName]) {
				return false
			}
			continue
		case ownerValue:
			key, ok := v.(string)
			if !ok || key != string(loaded[ownerName]) {
				return false
			}
			continue
		case createdValue:
			return false
		case loadedValue:
			continue
		}
		ks, ok1 := k.(string)
		vb, ok2 := v.([]byte)
		lv, ok3 := loaded[ks]
		if !ok1 || !ok2 || !ok3 || !bytes.Equal(vb, lv) {
			return false
		}
		handlers++
	}
	for k := range loaded {
		if !storeName(k) {
			handlers--
		}
	}
	// No handler value dropped, and no index key either.
	_, filed := now[indexValue{}]
	return handlers == 0 && filed == (len(loaded[indexName]) > 0)
}

// bufferedWriter holds a handler's answer until the session is saved. The
// handler sets its headers on the real writer's header map, which nothing
// sends before flush; discard puts the map back as it was, for the error
// page that replaces the answer. Writers and their buffers are reused
// across requests: a page is some 2 KB, written on every request.
type bufferedWriter struct {
	w           http.ResponseWriter
	before      []headerField // the headers as they were before the handler
	status      int
	wroteHeader bool
	body        bytes.Buffer
}

type headerField struct {
	name   string
	values []string
}

var bufferedWriters = sync.Pool{New: func() any { return new(bufferedWriter) }}

// maxPooledBody keeps an unusually large answer's buffer out of the pool.
const maxPooledBody = 64 << 10

func newBufferedWriter(w http.ResponseWriter) *bufferedWriter {
	b := bufferedWriters.Get().(*bufferedWriter)
	b.w, b.status, b.wroteHeader = w, http.StatusOK, false
	for name, values := range w.Header() {
		b.before = append(b.before, headerField{name, values})
	}
	return b
}

func (b *bufferedWriter) Header() http.Header { return b.w.Header() }

func (b *bufferedWriter) WriteHeader(status int) {
	if !b.wroteHeader {
		b.status, b.wroteHeader = status, true
	}
}

func (b *bufferedWriter) Write(p []byte) (int, error) {
	b.wroteHeader = true
	return b.body.Write(p)
}

// flush sends the held answer, with its length: net/http only works it out
// for a body of up to 2 KB written at once, and sends a larger one over
// HTTP/1.1 in chunks.
func (b *bufferedWriter) flush() {
	h := b.w.Header()
	if b.body.Len() > 0 && h["Content-Length"] == nil && h["Transfer-Encoding"] == nil {
		h["Content-Length"] = []string{strconv.Itoa(b.body.Len())}
	}
	b.w.WriteHeader(b.status)
	if _, err := b.body.WriteTo(b.w); err != nil {
		// The client went away mid-answer. An HTTP/2 write that failed
		// may still be queued with these bytes: the buffer is not reused.
		b.body = bytes.Buffer{}
	}
}

// discard drops the held answer and the headers the handler set.
func (b *bufferedWriter) discard() {
	h := b.w.Header()
	clear(h)
	for _, f := range b.before {
		h[f.name] = f.values
	}
}

// release returns b to the pool, once its answer was sent or discarded.
func (b *bufferedWriter) release() {
	b.w = nil
	clear(b.before)
	b.before = b.before[:0]
	if b.body.Cap() > maxPooledBody {
		b.body = bytes.Buffer{}
	}
	b.body.Reset()
	bufferedWriters.Put(b)
}
