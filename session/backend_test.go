// The backends the package's tests run over, files and a real redis-server, and the file backend's own tests; the suite every Backend passes is package sessiontest (conformance_test.go).

package session

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ms-identity-go-webapp/internal/testutil"
)

// backendUnderTest is a backend and a way to make it fail as an outage would:
// a sessiontest.Harness, which this package's own tests cannot import.
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
