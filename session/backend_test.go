// The test suite every Backend passes, run against the file backend and a real redis-server.

package session

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"ms-identity-go-webapp/internal/testutil"
)

// backendUnderTest is a backend and a way to make it fail as an outage would.
type backendUnderTest struct {
	backend Backend
	// breakIt makes every operation fail as an outage; the returned
	// function repairs it (the records may be lost, as with a Redis
	// restart without persistence).
	breakIt func(t testing.TB) (repair func())
	// stored lists everything the backend holds (file names, Redis keys),
	// to see that nothing is left behind.
	stored func(t testing.TB) []string
}

func newFileUnderTest(t testing.TB) backendUnderTest {
	dir := filepath.Join(t.TempDir(), "sessions")
	b, err := NewFileBackend(dir)
	if err != nil {
		t.Fatal(err)
	}
	return backendUnderTest{backend: b, breakIt: func(t testing.TB) func() {
		// A session directory that is not a directory any more: every
		// read and write fails, and none of them means "not found".
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dir, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		return func() { os.Remove(dir); os.Mkdir(dir, 0o700) }
	}, stored: func(t testing.TB) []string {
		var names []string
		filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err == nil && path != dir {
				names = append(names, strings.TrimPrefix(path, dir))
			}
			return nil
		})
		return names
	}}
}

func newRedisUnderTest(t testing.TB) backendUnderTest {
	rs := testutil.StartRedis(t, "")
	b, err := NewRedisBackend(context.Background(), rs.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return backendUnderTest{backend: b, breakIt: func(t testing.TB) func() {
		rs.Stop()
		return rs.Start
	}, stored: func(t testing.TB) []string {
		keys, err := rs.Client().Keys(context.Background(), "*").Result()
		if err != nil {
			t.Fatal(err)
		}
		return keys
	}}
}

var backends = []struct {
	name string
	new  func(t testing.TB) backendUnderTest
}{
	{"file", newFileUnderTest},
	{"redis", newRedisUnderTest},
}

func TestBackends(t *testing.T) {
	for _, bt := range backends {
		t.Run(bt.name, func(t *testing.T) { testBackend(t, bt.new) })
	}
}

func testBackend(t *testing.T, newBackend func(t testing.TB) backendUnderTest) {
	ctx := context.Background()
	hour := time.Now().Add(time.Hour)

	t.Run("absent", func(t *testing.T) {
		b := newBackend(t).backend
		id := newID()
		if _, err := b.Find(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Find: %v, want ErrNotFound", err)
		}
		if err := b.Delete(ctx, id); err != nil {
			t.Errorf("Delete: %v", err)
		}
	})

	t.Run("save, replace, find, delete", func(t *testing.T) {
		b := newBackend(t).backend
		id, other := newID(), newID()
		if err := b.Save(ctx, id, []byte("first\x00record"), hour); err != nil {
			t.Fatal(err)
		}
		if err := b.Save(ctx, other, []byte("other"), hour); err != nil {
			t.Fatal(err)
		}
		if got, err := b.Find(ctx, id); err != nil || string(got) != "first\x00record" {
			t.Fatalf("Find: %q %v", got, err)
		}
		if err := b.Save(ctx, id, []byte("second"), hour); err != nil {
			t.Fatal(err)
		}
		if got, err := b.Find(ctx, id); err != nil || string(got) != "second" {
			t.Fatalf("Find after replace: %q %v", got, err)
		}
		if err := b.Delete(ctx, id); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Find(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Find after Delete: %v", err)
		}
		if got, err := b.Find(ctx, other); err != nil || string(got) != "other" {
			t.Errorf("another record was touched: %q %v", got, err)
		}
	})

	t.Run("update", func(t *testing.T) {
		bt := newBackend(t)
		b := bt.backend
		id, deleted, expired := newID(), newID(), newID()
		// Never stored, stored and deleted, stored and expired: Update
		// writes neither the record nor the index entry.
		if err := b.Save(ctx, deleted, []byte("r"), hour); err != nil {
			t.Fatal(err)
		}
		if err := b.Delete(ctx, deleted); err != nil {
			t.Fatal(err)
		}
		if err := b.Save(ctx, expired, []byte("r"), time.Now().Add(-time.Second)); err != nil {
			t.Fatal(err)
		}
		for _, gone := range []string{id, deleted, expired} {
			if ok, err := b.Update(ctx, gone, []byte("back"), hour, "sid:a"); ok || err != nil {
				t.Errorf("Update of an absent record: %v %v, want false", ok, err)
			}
			if _, err := b.Find(ctx, gone); !errors.Is(err, ErrNotFound) {
				t.Errorf("Update brought an absent record back: %v", err)
			}
		}
		if ids, err := b.Indexed(ctx, "sid:a"); err != nil || len(ids) != 0 {
			t.Errorf("Update of absent records indexed %v (%v)", ids, err)
		}
		b.Delete(ctx, expired)
		if left := bt.stored(t); len(left) != 0 {
			t.Errorf("Update of absent records left %v", left)
		}

		if err := b.Save(ctx, id, []byte("first"), hour); err != nil {
			t.Fatal(err)
		}
		if ok, err := b.Update(ctx, id, []byte("second"), hour, ""); !ok || err != nil {
			t.Fatalf("Update of a stored record: %v %v, want true", ok, err)
		}
		if got, err := b.Find(ctx, id); err != nil || string(got) != "second" {
			t.Fatalf("Find after Update: %q %v", got, err)
		}
		if ids, _ := b.Indexed(ctx, "sid:a"); len(ids) != 0 {
			t.Errorf("Update without an index key indexed %v", ids)
		}
		if ok, err := b.Update(ctx, id, []byte("third"), hour, "sid:a"); !ok || err != nil {
			t.Fatalf("Update with an index key: %v %v", ok, err)
		}
		if got, _ := b.Find(ctx, id); string(got) != "third" {
			t.Errorf("Find after the second Update: %q", got)
		}
		if ids, err := b.Indexed(ctx, "sid:a"); err != nil || !sameIDs(ids, id) {
			t.Errorf("Indexed after Update = %v %v, want %s", ids, err, id)
		}
		// An expiry in the past ends the record, as with Save.
		if _, err := b.Update(ctx, id, []byte("r"), time.Now().Add(-time.Second), ""); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Find(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Find after an Update that expired the record: %v", err)
		}
		if _, err := b.Update(ctx, "../escape", []byte("r"), hour, ""); err == nil {
			t.Error("an id newID cannot make was updated")
		}
	})

	t.Run("large record", func(t *testing.T) {
		b := newBackend(t).backend
		id := newID()
		big := bytes.Repeat([]byte{0xa5}, MaxRecordSize)
		if err := b.Save(ctx, id, big, hour); err != nil {
			t.Fatal(err)
		}
		if got, err := b.Find(ctx, id); err != nil || !bytes.Equal(got, big) {
			t.Fatalf("Find: %d bytes, %v", len(got), err)
		}
	})

	t.Run("expiry", func(t *testing.T) {
		b := newBackend(t).backend
		id := newID()
		if err := b.Save(ctx, id, []byte("r"), time.Now().Add(-time.Second)); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Find(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Find of an expired record: %v", err)
		}
	})

	t.Run("outage", func(t *testing.T) {
		bt := newBackend(t)
		b := bt.backend
		id := newID()
		if err := b.Save(ctx, id, []byte("r"), hour); err != nil {
			t.Fatal(err)
		}
		repair := bt.breakIt(t)
		start := time.Now()
		if _, err := b.Find(ctx, id); !errors.Is(err, ErrUnavailable) {
			t.Errorf("Find: %v, want ErrUnavailable", err)
		}
		if err := b.Save(ctx, id, []byte("r"), hour); !errors.Is(err, ErrUnavailable) {
			t.Errorf("Save: %v, want ErrUnavailable", err)
		}
		if _, err := b.Update(ctx, id, []byte("r"), hour, "sid:x"); !errors.Is(err, ErrUnavailable) {
			t.Errorf("Update: %v, want ErrUnavailable", err)
		}
		if err := b.Delete(ctx, id); !errors.Is(err, ErrUnavailable) {
			t.Errorf("Delete: %v, want ErrUnavailable", err)
		}
		if err := b.Index(ctx, "sid:x", id, hour); !errors.Is(err, ErrUnavailable) {
			t.Errorf("Index: %v, want ErrUnavailable", err)
		}
		if _, err := b.Indexed(ctx, "sid:x"); !errors.Is(err, ErrUnavailable) {
			t.Errorf("Indexed: %v, want ErrUnavailable", err)
		}
		if err := b.Unindex(ctx, "sid:x", id); !errors.Is(err, ErrUnavailable) {
			t.Errorf("Unindex: %v, want ErrUnavailable", err)
		}
		if err := b.Ping(ctx); !errors.Is(err, ErrUnavailable) {
			t.Errorf("Ping: %v, want ErrUnavailable", err)
		}
		if took := time.Since(start); took > 18*time.Second {
			t.Errorf("nine operations took %s to report the outage", took)
		}
		repair()
		// Recovers by itself: the next operations work.
		if err := b.Ping(ctx); err != nil {
			t.Errorf("Ping after the repair: %v", err)
		}
		if err := b.Save(ctx, id, []byte("again"), hour); err != nil {
			t.Fatalf("Save after the repair: %v", err)
		}
		if got, err := b.Find(ctx, id); err != nil || string(got) != "again" {
			t.Fatalf("Find after the repair: %q %v", got, err)
		}
	})

	t.Run("index", func(t *testing.T) {
		bt := newBackend(t)
		b := bt.backend
		a, a2, other := newID(), newID(), newID()
		if ids, err := b.Indexed(ctx, "sid:unknown"); err != nil || len(ids) != 0 {
			t.Fatalf("Indexed of an unknown key: %v %v", ids, err)
		}
		for _, e := range []struct{ key, id string }{{"sid:a", a}, {"sid:a", a2}, {"sid:b", other}} {
			if err := b.Index(ctx, e.key, e.id, hour); err != nil {
				t.Fatal(err)
			}
		}
		// Filing an id again only renews its entry.
		if err := b.Index(ctx, "sid:a", a, hour.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if ids, err := b.Indexed(ctx, "sid:a"); err != nil || !sameIDs(ids, a, a2) {
			t.Fatalf("Indexed(sid:a) = %v %v, want %s and %s", ids, err, a, a2)
		}
		if err := b.Unindex(ctx, "sid:a", a); err != nil {
			t.Fatal(err)
		}
		if err := b.Unindex(ctx, "sid:a", a); err != nil {
			t.Errorf("Unindex of an absent entry: %v", err)
		}
		if ids, _ := b.Indexed(ctx, "sid:a"); !sameIDs(ids, a2) {
			t.Fatalf("after Unindex: %v, want %s", ids, a2)
		}
		if ids, _ := b.Indexed(ctx, "sid:b"); !sameIDs(ids, other) {
			t.Fatalf("another key was touched: %v", ids)
		}
		b.Unindex(ctx, "sid:a", a2)
		b.Unindex(ctx, "sid:b", other)
		if left := bt.stored(t); len(left) != 0 {
			t.Errorf("the backend still holds %v after every entry was removed", left)
		}
	})

	t.Run("index entries expire", func(t *testing.T) {
		bt := newBackend(t)
		b := bt.backend
		live, expired := newID(), newID()
		if err := b.Index(ctx, "sid:a", expired, time.Now().Add(-time.Second)); err != nil {
			t.Fatal(err)
		}
		if ids, err := b.Indexed(ctx, "sid:a"); err != nil || len(ids) != 0 {
			t.Fatalf("an expired entry is found: %v %v", ids, err)
		}
		if err := b.Index(ctx, "sid:a", live, hour); err != nil {
			t.Fatal(err)
		}
		if ids, _ := b.Indexed(ctx, "sid:a"); !sameIDs(ids, live) {
			t.Fatalf("Indexed = %v, want only %s", ids, live)
		}
	})

	t.Run("index keys are any string", func(t *testing.T) {
		b := newBackend(t).backend
		id := newID()
		for _, key := range []string{"", "../../etc/passwd", "a/b\x00c", strings.Repeat("k", 10000), "sid:ünïcode"} {
			if err := b.Index(ctx, key, id, hour); err != nil {
				t.Fatalf("Index(%.20q): %v", key, err)
			}
			if ids, err := b.Indexed(ctx, key); err != nil || !sameIDs(ids, id) {
				t.Fatalf("Indexed(%.20q) = %v %v", key, ids, err)
			}
			if err := b.Unindex(ctx, key, id); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.Index(ctx, "sid:a", "../escape", hour); err == nil {
			t.Error("an id newID cannot make was indexed")
		}
	})

	t.Run("ids", func(t *testing.T) {
		b := newBackend(t).backend
		for _, id := range []string{"", "../../etc/passwd", "a/b", "short"} {
			if _, err := b.Find(ctx, id); err == nil {
				t.Errorf("Find(%q) found something", id)
			}
		}
	})
}

// Clean deletes expired and headerless session files and stale temporary
// files, and nothing else.
func TestFileBackendClean(t *testing.T) {
	dir := t.TempDir()
	b, err := NewFileBackend(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	now := time.Now()
	live, expired := newID(), newID()
	if err := b.Save(ctx, live, []byte("r"), now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := b.Save(ctx, expired, []byte("r"), now.Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte, age time.Duration) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, now.Add(-age), now.Add(-age)); err != nil {
			t.Fatal(err)
		}
	}
	write("session_GARBAGE", []byte("short"), 0)
	write(tempPrefix+"OLD", []byte("half a record"), time.Hour)
	write(tempPrefix+"NEW", []byte("being written"), 0)
	write("unrelated", nil, 30*24*time.Hour)

	n, err := b.Clean(now)
	if err != nil || n != 3 {
		t.Fatalf("removed %d, err %v; want 3", n, err)
	}
	for name, keep := range map[string]bool{
		filePrefix + live: true, filePrefix + expired: false, "session_GARBAGE": false,
		tempPrefix + "OLD": false, tempPrefix + "NEW": true, "unrelated": true,
	} {
		if _, err := os.Stat(filepath.Join(dir, name)); (err == nil) != keep {
			t.Errorf("%s exists = %v, want %v", name, err == nil, keep)
		}
	}
}

// sameIDs reports whether ids holds exactly want, in any order.
func sameIDs(ids []string, want ...string) bool {
	return len(ids) == len(want) && !slices.ContainsFunc(want, func(id string) bool { return !slices.Contains(ids, id) })
}

// Find reads a record file exactly. A file larger than any record Save
// writes is no session, as a damaged one is: the visitor is signed out. A
// directory in its place is a store that cannot be read (see the e2e test
// TestSessionFileDeletedOrCorrupted).
func TestFileBackendFind(t *testing.T) {
	dir := t.TempDir()
	b, err := NewFileBackend(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	expiry := time.Now().Add(time.Hour)
	for _, size := range []int{1, 4000, MaxRecordSize} {
		id := newID()
		record := bytes.Repeat([]byte{0x5a}, size)
		if err := b.Save(ctx, id, record, expiry); err != nil {
			t.Fatal(err)
		}
		got, err := b.Find(ctx, id)
		if err != nil || !bytes.Equal(got, record) {
			t.Fatalf("%d-byte record: read %d bytes, err %v", size, len(got), err)
		}
	}
	header := binary.BigEndian.AppendUint64(nil, uint64(expiry.Unix()))
	tooBig, aDir := newID(), newID()
	if err := os.WriteFile(b.path(tooBig), append(header, make([]byte, MaxRecordSize+1)...), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(b.path(aDir), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Find(ctx, tooBig); !errors.Is(err, ErrNotFound) {
		t.Errorf("oversized: %v, want ErrNotFound", err)
	}
	if _, err := b.Find(ctx, aDir); !errors.Is(err, ErrUnavailable) {
		t.Errorf("directory: %v, want ErrUnavailable", err)
	}
}

// A SESSION_DIR that cannot be written stops start-up with one line that
// says what to do, rather than failing every sign-in (a container's
// read-only root file system without a volume; deploy/container_test.go
// runs that case).
func TestNewFileBackendNotWritable(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	dirs := map[string]string{"under a file": filepath.Join(file, "sessions")}
	if os.Geteuid() != 0 { // root writes to a read-only directory
		readOnly := t.TempDir()
		if err := os.Chmod(readOnly, 0o500); err != nil {
			t.Fatal(err)
		}
		dirs["read-only"] = readOnly
	}
	for name, dir := range dirs {
		_, err := NewFileBackend(dir)
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		msg := err.Error()
		for _, want := range []string{`SESSION_DIR "` + dir + `" cannot be written`, "mounted volume", "SESSION_TYPE=redis"} {
			if !strings.Contains(msg, want) {
				t.Errorf("%s: %q does not say %q", name, msg, want)
			}
		}
		if strings.Contains(msg, "\n") {
			t.Errorf("%s: more than one line: %q", name, msg)
		}
	}
}
