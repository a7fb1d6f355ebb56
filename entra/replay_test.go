package entra

import (
	"fmt"
	"testing"
	"time"
)

// A used sign-in is refused until its cookie expires, then forgotten; the
// memory for it stays within maxUsedSignIns however many sign-ins come
// back, and what it forgets first is what expires first.
func TestUsedSignInsBounded(t *testing.T) {
	var u usedSignIns
	now := time.Unix(1_800_000_000, 0)
	if !u.first("state-a", now.Add(time.Minute), now) || u.first("state-a", now.Add(time.Minute), now) {
		t.Fatal("a sign-in is first once, then refused")
	}
	if !u.first("state-a", now.Add(2*time.Minute), now.Add(time.Minute)) {
		t.Error("a sign-in whose cookie has expired is still remembered")
	}
	u.first("expires-last", now.Add(time.Hour), now)
	for i := range maxUsedSignIns + 10 {
		u.first(fmt.Sprint("state-", i), now.Add(10*time.Minute), now)
		if len(u.seen) > maxUsedSignIns {
			t.Fatalf("%d used sign-ins kept, more than %d", len(u.seen), maxUsedSignIns)
		}
	}
	if u.first("expires-last", now.Add(time.Hour), now) {
		t.Error("the entry that expires last was forgotten to make room")
	}
}
