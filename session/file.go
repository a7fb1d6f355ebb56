// File backend: one file per session in a directory, like the Python samples' SESSION_TYPE=filesystem.

package session

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// FileBackend keeps each record in dir/session_<id>, after an 8-byte
// header with its expiry (Unix seconds), so that Clean can find expired
// files without any key. Records are written to a temporary file and
// renamed into place: a reader never sees half a record.
//
// An index key is a directory, dir/index_<SHA-256 of the key>, holding one
// file per entry, named by the session id, that is only the 8-byte expiry
// header: adding and removing an entry is creating and removing a file,
// which needs no lock between instances sharing the directory.
type FileBackend struct {
	dir string
	now func() time.Time
}

const (
	filePrefix  = "session_"
	tempPrefix  = ".tmp-session_"
	indexPrefix = "index_"
	headerSize  = 8
)

// NewFileBackend creates dir (mode 0700) if needed and checks that it can
// write a file there: a directory on a read-only file system (a container's
// root without a volume) stops start-up with one line saying what to do,
// rather than failing every sign-in.
func NewFileBackend(dir string) (*FileBackend, error) {
	b := &FileBackend{dir: dir, now: time.Now}
	err := os.MkdirAll(dir, 0o700)
	if err == nil {
		err = writable(dir)
	}
	if err != nil {
		return nil, fmt.Errorf("SESSION_DIR %q cannot be written (%w): file sessions need a writable directory there, such as a mounted volume; or use Redis sessions (SESSION_TYPE=redis and REDIS_URL)", dir, err)
	}
	return b, nil
}

func (b *FileBackend) path(id string) string { return filepath.Join(b.dir, filePrefix+id) }

// fileError tells a missing record from a store that cannot be read.
func fileError(op string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return ErrNotFound
	}
	// The path names the session id: keep it out of the error, which is
	// logged.
	var pathErr *fs.PathError
	if errors.As(err, &pathErr) {
		err = fmt.Errorf("%s: %w", pathErr.Op, pathErr.Err)
	}
	return fmt.Errorf("%w: %s a session file: %w", ErrUnavailable, op, err)
}

func (b *FileBackend) Find(_ context.Context, id string) ([]byte, error) {
	if !validID(id) {
		return nil, ErrNotFound
	}
	data, err := readRecordFile(b.path(id))
	if errors.Is(err, errNotRecord) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fileError("reading", err)
	}
	expiry, ok := fileExpiry(data)
	if !ok || !b.now().Before(expiry) {
		return nil, ErrNotFound
	}
	return data[headerSize:], nil
}

// maxRecordFile bounds what Find reads: the expiry header and the largest
// record Save writes. A larger file is no record.
const maxRecordFile = headerSize + MaxRecordSize

var errNotRecord = errors.New("not a session record")

func fileExpiry(data []byte) (time.Time, bool) {
	if len(data) < headerSize {
		return time.Time{}, false
	}
	return time.Unix(int64(binary.BigEndian.Uint64(data)), 0), true
}

func (b *FileBackend) Save(_ context.Context, id string, record []byte, expiry time.Time) error {
	if !validID(id) {
		return fmt.Errorf("session: invalid id")
	}
	data := binary.BigEndian.AppendUint64(make([]byte, 0, headerSize+len(record)), uint64(expiry.Unix()))
	data = append(data, record...)
	if err := writeFileAtomic(b.dir, tempPrefix+id+"-*", b.path(id), data); err != nil {
		return fileError("writing", err)
	}
	return nil
}

// Delete unlinks the record under its lock (see lockRecord), so that it
// cannot land inside an Update of the same session and be undone by it.
func (b *FileBackend) Delete(_ context.Context, id string) error {
	if !validID(id) {
		return nil
	}
	unlock, found, err := lockRecord(b.path(id))
	if err != nil {
		return fileError("deleting", err)
	}
	if !found {
		return nil
	}
	defer unlock()
	if err := os.Remove(b.path(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fileError("deleting", err)
	}
	return nil
}

// Update holds the record's lock from the check that the record is there
// to the rename of the new one over it, and Delete takes the same lock: a
// Delete either finishes before the check, and Update writes nothing, or
// waits for the new record and deletes it. On platforms without flock the
// two may interleave (filelock_other.go).
func (b *FileBackend) Update(ctx context.Context, id string, record []byte, expiry time.Time, index string) (bool, error) {
	if !validID(id) {
		return false, fmt.Errorf("session: invalid id")
	}
	unlock, found, err := lockRecord(b.path(id))
	if err != nil {
		return false, fileError("writing", err)
	}
	if !found {
		return false, nil
	}
	defer unlock()
	// An expired record is as good as deleted: Clean removes it, under
	// the same lock, after looking at its expiry again.
	expired, err := expiredEntry(b.path(id), b.now())
	if errors.Is(err, fs.ErrNotExist) || err == nil && expired {
		return false, nil
	}
	if err != nil {
		return false, fileError("writing", err)
	}
	if index != "" {
		if err := b.Index(ctx, index, id, expiry); err != nil {
			return false, err
		}
	}
	if err := b.Save(ctx, id, record, expiry); err != nil {
		return false, err
	}
	return true, nil
}

func (b *FileBackend) indexDir(key string) string {
	return filepath.Join(b.dir, indexPrefix+indexHash(key))
}

func (b *FileBackend) Index(_ context.Context, key, id string, expiry time.Time) error {
	if !validID(id) {
		return fmt.Errorf("session: invalid id")
	}
	dir := b.indexDir(key)
	header := binary.BigEndian.AppendUint64(nil, uint64(expiry.Unix()))
	// Unindex removes the directory with its last entry, so another
	// instance may remove it between MkdirAll and the write: try again.
	var err error
	for range 3 {
		if err = os.MkdirAll(dir, 0o700); err != nil {
			break
		}
		if err = writeFileAtomic(dir, tempPrefix+id+"-*", filepath.Join(dir, id), header); !errors.Is(err, fs.ErrNotExist) {
			break
		}
	}
	if err != nil {
		// Not fileError: a missing directory here is an outage, not an
		// absent record.
		return fmt.Errorf("%w: indexing a session file: %w", ErrUnavailable, err)
	}
	return nil
}

func (b *FileBackend) Indexed(_ context.Context, key string) ([]string, error) {
	dir := b.indexDir(key)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fileError("reading the index of", err)
	}
	now := b.now()
	var ids []string
	for _, e := range entries {
		if !validID(e.Name()) {
			continue // a temporary file being written
		}
		if expired, err := expiredEntry(filepath.Join(dir, e.Name()), now); err == nil && !expired {
			ids = append(ids, e.Name())
		}
	}
	return ids, nil
}

func (b *FileBackend) Unindex(_ context.Context, key, id string) error {
	if !validID(id) {
		return nil
	}
	dir := b.indexDir(key)
	if err := os.Remove(filepath.Join(dir, id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fileError("unindexing", err)
	}
	// The key's last entry takes the directory with it. Removing a
	// directory that still has entries fails, and should.
	os.Remove(dir)
	return nil
}

// writeFileAtomic writes data to a temporary file in dir and renames it to
// path.
func writeFileAtomic(dir, pattern, path string, data []byte) error {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// expiredEntry reads the expiry header of a session or index file.
// removeExpiredRecord removes the record file at path if it is still expired
// under the record's lock (see lockRecord). An Update holds that lock from
// its own expiry check to the rename of the renewed record: without it, a
// record renewed just as it expired could be read as expired here and then
// removed once renewed, signing its user out early.
func removeExpiredRecord(path string, now time.Time) bool {
	unlock, found, err := lockRecord(path)
	if err != nil || !found {
		return false
	}
	defer unlock()
	if expired, err := expiredEntry(path, now); err != nil || !expired {
		return false
	}
	return os.Remove(path) == nil
}

func expiredEntry(path string, now time.Time) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	header := make([]byte, headerSize)
	n, _ := io.ReadFull(f, header)
	expiry, ok := fileExpiry(header[:n])
	return !ok || !now.Before(expiry), nil
}

func (b *FileBackend) Close() error { return nil }

// Ping creates and removes a file in the session directory: a directory
// that is gone, read-only or on a full disk cannot take sessions.
func (b *FileBackend) Ping(context.Context) error {
	if err := writable(b.dir); err != nil {
		return fmt.Errorf("%w: writing to the session directory: %w", ErrUnavailable, err)
	}
	return nil
}

// writable creates and removes a file in dir.
func writable(dir string) error {
	f, err := os.CreateTemp(dir, tempPrefix+"ping-*")
	if err != nil {
		return err
	}
	f.Close()
	return os.Remove(f.Name())
}

// Clean deletes the files of expired sessions and index entries, files
// that hold no valid header, temporary files left by a write that was
// interrupted (a crash between create and rename) more than a minute ago,
// and index directories left empty. It returns how many files it deleted.
// main runs it every quarter of an hour; Redis expires its keys itself.
func (b *FileBackend) Clean(now time.Time) (int, error) {
	removed, err := cleanDir(b.dir, filePrefix, now)
	if err != nil {
		return removed, err
	}
	entries, err := os.ReadDir(b.dir)
	if err != nil {
		return removed, err
	}
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), indexPrefix) {
			continue
		}
		dir := filepath.Join(b.dir, e.Name())
		n, _ := cleanDir(dir, "", now)
		removed += n
		os.Remove(dir) // only when empty
	}
	return removed, nil
}

// cleanDir deletes the expired or headerless files in dir whose names
// start with prefix, and stale temporary files.
func cleanDir(dir, prefix string, now time.Time) (int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	removed := 0
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		var stale bool
		switch {
		case e.IsDir():
			continue
		case strings.HasPrefix(e.Name(), tempPrefix):
			info, err := e.Info()
			stale = err == nil && now.Sub(info.ModTime()) > time.Minute
		case strings.HasPrefix(e.Name(), prefix):
			// Deleted meanwhile, or unreadable: not ours to judge.
			expired, err := expiredEntry(path, now)
			stale = err == nil && expired
		}
		if !stale {
			continue
		}
		if prefix == filePrefix && strings.HasPrefix(e.Name(), filePrefix) {
			if removeExpiredRecord(path, now) {
				removed++
			}
			continue
		}
		if os.Remove(path) == nil {
			removed++
		}
	}
	return removed, nil
}
