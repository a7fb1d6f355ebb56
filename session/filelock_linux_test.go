// Tests that Update, Delete and Clean of one session file wait for each other's lock (Linux: waiters show in /proc/locks).

//go:build linux

package session

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestFileLockOrdersUpdateAndDelete holds the lock of a record as the other
// operation would between its check and its write, and starts Update or
// Delete: each must wait for the lock (seen in /proc/locks), so that the
// one holding it finishes first and the end result is the one a user
// expects: the session signed out.
func TestFileLockOrdersUpdateAndDelete(t *testing.T) {
	if _, err := os.ReadFile("/proc/locks"); err != nil {
		t.Skipf("no /proc/locks: %v", err)
	}
	ctx := context.Background()
	hour := time.Now().Add(time.Hour)

	t.Run("a Delete waits for an Update that checked, then deletes what it wrote", func(t *testing.T) {
		b, id := storedRecord(t)
		unlock, found, err := lockRecord(b.path(id))
		if err != nil || !found {
			t.Fatalf("lockRecord: %v %v", found, err)
		}
		done := make(chan error, 1)
		go func() { done <- b.Delete(ctx, id) }()
		waitForLockWaiter(t, b.path(id), done)
		// The Update holding the lock writes its record and lets go.
		if err := b.Save(ctx, id, []byte("written back"), hour); err != nil {
			t.Fatal(err)
		}
		unlock()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if _, err := b.Find(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Errorf("the record survived the Delete: %v", err)
		}
	})

	t.Run("an Update waits for a Delete, then writes nothing", func(t *testing.T) {
		b, id := storedRecord(t)
		unlock, found, err := lockRecord(b.path(id))
		if err != nil || !found {
			t.Fatalf("lockRecord: %v %v", found, err)
		}
		type result struct {
			ok  bool
			err error
		}
		done := make(chan result, 1)
		go func() {
			ok, err := b.Update(ctx, id, []byte("written back"), hour, "sid:a")
			done <- result{ok, err}
		}()
		waitForLockWaiter(t, b.path(id), done)
		// The Delete holding the lock unlinks the record and lets go.
		if err := os.Remove(b.path(id)); err != nil {
			t.Fatal(err)
		}
		unlock()
		if r := <-done; r.ok || r.err != nil {
			t.Fatalf("Update after the Delete: %v %v, want false", r.ok, r.err)
		}
		if _, err := b.Find(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Errorf("the Update brought the record back: %v", err)
		}
		if ids, _ := b.Indexed(ctx, "sid:a"); len(ids) != 0 {
			t.Errorf("the Update indexed %v", ids)
		}
	})

	t.Run("Clean waits for an Update that renews an expired record, then keeps it", func(t *testing.T) {
		b, id := storedRecord(t)
		if err := b.Save(ctx, id, []byte("expired"), time.Now().Add(-time.Second)); err != nil {
			t.Fatal(err)
		}
		unlock, found, err := lockRecord(b.path(id))
		if err != nil || !found {
			t.Fatalf("lockRecord: %v %v", found, err)
		}
		done := make(chan error, 1)
		go func() { _, err := b.Clean(time.Now()); done <- err }()
		waitForLockWaiter(t, b.path(id), done)
		// The Update holding the lock renews the record and lets go.
		if err := b.Save(ctx, id, []byte("renewed"), hour); err != nil {
			t.Fatal(err)
		}
		unlock()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if got, err := b.Find(ctx, id); err != nil || string(got) != "renewed" {
			t.Errorf("after Clean: %q, %v; want the renewed record", got, err)
		}
	})

	t.Run("an Update that waited on a replaced record waits for the new one's Delete, then writes nothing", func(t *testing.T) {
		// One request's write-back holds the lock of the record file; a
		// second request's write-back waits for it.
		b, id := storedRecord(t)
		unlockOld, found, err := lockRecord(b.path(id))
		if err != nil || !found {
			t.Fatalf("lockRecord: %v %v", found, err)
		}
		type result struct {
			ok  bool
			err error
		}
		done := make(chan result, 1)
		go func() {
			ok, err := b.Update(ctx, id, []byte("written back late"), hour, "sid:a")
			done <- result{ok, err}
		}()
		waitForLockWaiter(t, b.path(id), done)
		// The first write-back renames its new record over the path: the
		// waiting one now waits on a file that is no longer the record.
		if err := b.Save(ctx, id, []byte("written back"), hour); err != nil {
			t.Fatal(err)
		}
		// A sign-out in another tab locks the new record file, as Delete
		// does before it unlinks it.
		unlockNew, found, err := lockRecord(b.path(id))
		if err != nil || !found {
			t.Fatalf("lockRecord of the new file: %v %v", found, err)
		}
		unlockOld()
		// The waiting Update must now wait for the sign-out's lock on the
		// new file; had it taken the old file's lock for the record's, it
		// would write its record back under the sign-out's feet.
		waitForLockWaiter(t, b.path(id), done)
		if err := os.Remove(b.path(id)); err != nil {
			t.Fatal(err)
		}
		unlockNew()
		if r := <-done; r.ok || r.err != nil {
			t.Fatalf("Update after the sign-out: %v %v, want false", r.ok, r.err)
		}
		if _, err := b.Find(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Errorf("the late write-back undid the sign-out: %v", err)
		}
		if ids, _ := b.Indexed(ctx, "sid:a"); len(ids) != 0 {
			t.Errorf("the late write-back indexed %v", ids)
		}
	})
}

func storedRecord(t *testing.T) (*FileBackend, string) {
	t.Helper()
	b, err := NewFileBackend(filepath.Join(t.TempDir(), "sessions"))
	if err != nil {
		t.Fatal(err)
	}
	id := newID()
	if err := b.Save(context.Background(), id, []byte("r"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	return b, id
}

// waitForLockWaiter returns once /proc/locks shows a process blocked on
// the flock of the file at path. It fails the test if the operation being
// watched finishes first (it did not wait for the lock), or after ten
// seconds.
func waitForLockWaiter[T any](t *testing.T, path string, done <-chan T) {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	inode := fmt.Sprintf(":%d ", info.Sys().(*syscall.Stat_t).Ino)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case r := <-done:
			t.Fatalf("finished without waiting for the lock: %v", r)
		default:
		}
		locks, err := os.ReadFile("/proc/locks")
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(locks), "\n") {
			if strings.Contains(line, "-> FLOCK") && strings.Contains(line, inode) {
				return
			}
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("no process waited for the lock within ten seconds")
}
