// Package bounded is the map behind the app's in-memory caches: safe for
// concurrent use, and kept within a number of entries, a number of bytes, or
// both.
package bounded

import "sync"

// Limit bounds a Map: at most Entries entries and Bytes bytes, as the
// callers count them (zero: no bound of that kind).
type Limit struct{ Entries, Bytes int }

// Map is a map whose Put keeps it within a Limit: when a new entry would
// pass it, arbitrary other entries make room. It suits caches whose entries
// are answers that a miss only has to work out again. A zero Map is empty and
// ready to use.
type Map[K comparable, V any] struct {
	mu      sync.Mutex
	entries map[K]sized[V]
	bytes   int
}

type sized[V any] struct {
	v    V
	size int
}

// Get returns the value kept under k.
func (m *Map[K, V]) Get(k K) (V, bool) {
	m.mu.Lock()
	e, ok := m.entries[k]
	m.mu.Unlock()
	return e.v, ok
}

// Put keeps v under k, counting size bytes of it toward l.Bytes, in place of
// what k held. A value larger than l.Bytes is not kept at all.
func (m *Map[K, V]) Put(k K, v V, size int, l Limit) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.deleteLocked(k)
	if l.Bytes > 0 && size > l.Bytes {
		return
	}
	if m.entries == nil {
		m.entries = make(map[K]sized[V])
	}
	for other, o := range m.entries {
		if (l.Entries <= 0 || len(m.entries) < l.Entries) && (l.Bytes <= 0 || m.bytes+size <= l.Bytes) {
			break
		}
		m.bytes -= o.size
		delete(m.entries, other)
	}
	m.entries[k] = sized[V]{v, size}
	m.bytes += size
}

// Delete forgets k.
func (m *Map[K, V]) Delete(k K) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.deleteLocked(k)
}

func (m *Map[K, V]) deleteLocked(k K) {
	if old, ok := m.entries[k]; ok {
		m.bytes -= old.size
		delete(m.entries, k)
	}
}

// Len is how many entries the map holds, and Bytes how many bytes they
// count.
func (m *Map[K, V]) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.entries)
}

func (m *Map[K, V]) Bytes() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.bytes
}
