// Memory cache: the decoded sessions and session cookies this instance saw last, used only while they are provably current.

package session

import (
	"bytes"
	"maps"
	"strings"

	"ms-identity-go-webapp/internal/bounded"
)

// recordCache keeps, for recently loaded or saved sessions, the sealed
// record as the backend holds it and the values it opens to. A load still
// reads the record from the backend on every request (that is what makes a
// sign-out or a token refresh on another instance visible at once); only when
// the bytes read are exactly the bytes cached under the same id are they not
// decrypted, decompressed and decoded again. Equal bytes under the same id
// and keys open to equal values, so the cache can never answer for a record
// that changed: a record sealed again gets a fresh random nonce, so even the
// same values seal to different bytes.
//
// It is bounded by bytes (maxCacheBytes); when full, arbitrary entries make
// room. A cache miss costs only the decoding the store did before.
type recordCache struct {
	m   bounded.Map[string, *cachedRecord]
	max bounded.Limit
}

type cachedRecord struct {
	record []byte
	values Values // never changed after put; callers get a copy of the map
	stale  bool
}

// maxCacheBytes bounds the records and values the cache holds: about 10 KB
// for a signed-in session with Entra-sized tokens, so some 200 sessions, the
// ones most recently used, whatever the number stored. Together with the
// other caches it keeps the app under 64 MB with 10,000 stored sessions
// (cmd/bench -stored).
const maxCacheBytes = 2 << 20

// cacheOverhead is what an entry costs beyond its bytes: the map slot, the
// entry, its id and the values' map.
const cacheOverhead = 256

func newRecordCache(max int) *recordCache {
	return &recordCache{max: bounded.Limit{Bytes: max}}
}

// get returns the values of id's record if record is the very record they
// were decoded from.
func (c *recordCache) get(id string, record []byte) (values Values, stale, ok bool) {
	e, ok := c.m.Get(id)
	if !ok || !bytes.Equal(e.record, record) {
		return nil, false, false
	}
	return maps.Clone(e.values), e.stale, true
}

// put remembers that id's record opens to values. It keeps its own copy of
// both: the caller's slices may change after.
func (c *recordCache) put(id string, record []byte, values Values, stale bool) {
	e := &cachedRecord{record: bytes.Clone(record), values: make(Values, len(values)), stale: stale}
	size := cacheOverhead + len(id) + len(record)
	for k, v := range values {
		e.values[k] = bytes.Clone(v)
		size += len(k) + len(v)
	}
	c.m.Put(id, e, size, c.max)
}

// drop forgets id's record (deleted, or renewed under a new id).
func (c *recordCache) drop(id string) { c.m.Delete(id) }

// cookieCache remembers which session id a cookie value carries, so that
// the same cookie, sent with every request of a signed-in browser, is not
// verified and decrypted again each time. A value is cached only after it
// passed the signature check with this store's keys, and the check has no
// time in it (the record's expiry ends a session): the same bytes always
// decode to the same id.
type cookieCache struct {
	m bounded.Map[string, cookieEntry]
}

type cookieEntry struct {
	id    string
	stale bool
}

// maxCookies bounds the cookie cache: about 300 bytes a cookie, so 1.2 MB.
const maxCookies = 4096

func (c *cookieCache) get(value string) (cookieEntry, bool) { return c.m.Get(value) }

// put keeps its own copy of the value: the one a request parsed shares the
// memory of the request's whole Cookie header.
func (c *cookieCache) put(value string, e cookieEntry) {
	c.m.Put(strings.Clone(value), e, 0, bounded.Limit{Entries: maxCookies})
}
