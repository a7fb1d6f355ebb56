package bounded

import (
	"fmt"
	"testing"
)

// Put keeps the map within its limit of entries and of bytes, replaces
// what a key held, keeps no value larger than the byte limit, and keeps
// the newest entry whatever it evicts.
func TestMapStaysWithinItsLimit(t *testing.T) {
	for _, l := range []Limit{{Entries: 10}, {Bytes: 1000}, {Entries: 10, Bytes: 300}} {
		t.Run(fmt.Sprintf("%+v", l), func(t *testing.T) {
			var m Map[int, string]
			for i := range 100 {
				m.Put(i, fmt.Sprint(i), 100, l)
				if v, ok := m.Get(i); !ok || v != fmt.Sprint(i) {
					t.Fatalf("entry %d: %q %v, just put", i, v, ok)
				}
				if (l.Entries > 0 && m.Len() > l.Entries) || (l.Bytes > 0 && m.Bytes() > l.Bytes) {
					t.Fatalf("after %d puts: %d entries, %d bytes; limit %+v", i+1, m.Len(), m.Bytes(), l)
				}
			}
			if m.Bytes() != 100*m.Len() {
				t.Errorf("%d entries count %d bytes, want %d", m.Len(), m.Bytes(), 100*m.Len())
			}
		})
	}
	var m Map[string, int]
	l := Limit{Bytes: 100}
	m.Put("a", 1, 10, l)
	m.Put("a", 2, 20, l)
	if v, _ := m.Get("a"); v != 2 || m.Len() != 1 || m.Bytes() != 20 {
		t.Errorf("replaced: %d, %d entries, %d bytes", v, m.Len(), m.Bytes())
	}
	m.Put("a", 3, 101, l)
	if _, ok := m.Get("a"); ok || m.Bytes() != 0 {
		t.Errorf("a value over the byte limit is kept, or its key keeps the old one (%d bytes)", m.Bytes())
	}
	m.Put("b", 1, 10, l)
	m.Delete("b")
	if _, ok := m.Get("b"); ok || m.Len() != 0 || m.Bytes() != 0 {
		t.Errorf("after Delete: %d entries, %d bytes", m.Len(), m.Bytes())
	}
}
