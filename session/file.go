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
type FileBackend struct {
	dir string
	now func() time.Time
}

const (
	filePrefix = "session_"
	tempPrefix = ".tmp-session_"
	headerSize = 8
)

// NewFileBackend creates dir (mode 0700) if needed.
func NewFileBackend(dir string) (*FileBackend, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("SESSION_DIR %q: %w", dir, err)
	}
	return &FileBackend{dir: dir, now: time.Now}, nil
}

func (b *FileBackend) path(id string) string { return filepath.Join(b.dir, filePrefix+id) }

// fileError tells a missing record from a store that cannot be read.
func fileError(op string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return ErrNotFound
	}
	return fmt.Errorf("%w: %s a session file: %w", ErrUnavailable, op, err)
}

func (b *FileBackend) Find(_ context.Context, id string) ([]byte, error) {
	if !validID(id) {
		return nil, ErrNotFound
	}
	data, err := os.ReadFile(b.path(id))
	if err != nil {
		return nil, fileError("reading", err)
	}
	expiry, ok := fileExpiry(data)
	if !ok || !b.now().Before(expiry) {
		return nil, ErrNotFound
	}
	return data[headerSize:], nil
}

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
	f, err := os.CreateTemp(b.dir, tempPrefix+id+"-*")
	if err != nil {
		return fileError("creating", err)
	}
	data := binary.BigEndian.AppendUint64(make([]byte, 0, headerSize+len(record)), uint64(expiry.Unix()))
	data = append(data, record...)
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), b.path(id))
	}
	if err != nil {
		os.Remove(f.Name())
		return fileError("writing", err)
	}
	return nil
}

func (b *FileBackend) Delete(_ context.Context, id string) error {
	if !validID(id) {
		return nil
	}
	if err := os.Remove(b.path(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fileError("deleting", err)
	}
	return nil
}

func (b *FileBackend) Exists(_ context.Context, id string) (bool, error) {
	if !validID(id) {
		return false, nil
	}
	f, err := os.Open(b.path(id))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fileError("looking up", err)
	}
	defer f.Close()
	header := make([]byte, headerSize)
	n, err := io.ReadFull(f, header)
	if err != nil && n == 0 && !errors.Is(err, io.EOF) {
		return false, fileError("looking up", err)
	}
	expiry, ok := fileExpiry(header[:n])
	return ok && b.now().Before(expiry), nil
}

func (b *FileBackend) Close() error { return nil }

// Ping creates and removes a file in the session directory: a directory
// that is gone, read-only or on a full disk cannot take sessions.
func (b *FileBackend) Ping(context.Context) error {
	f, err := os.CreateTemp(b.dir, tempPrefix+"ping-*")
	if err != nil {
		return fmt.Errorf("%w: writing to the session directory: %w", ErrUnavailable, err)
	}
	f.Close()
	return os.Remove(f.Name())
}

// Clean deletes the files of expired sessions, files that hold no valid
// header, and temporary files left by a write that was interrupted (a crash
// between create and rename) more than a minute ago. It returns how many it
// deleted. main runs it every quarter of an hour; Redis expires its keys
// itself.
func (b *FileBackend) Clean(now time.Time) (int, error) {
	entries, err := os.ReadDir(b.dir)
	if err != nil {
		return 0, err
	}
	removed := 0
	for _, e := range entries {
		path := filepath.Join(b.dir, e.Name())
		var stale bool
		switch {
		case e.IsDir():
			continue
		case strings.HasPrefix(e.Name(), tempPrefix):
			info, err := e.Info()
			stale = err == nil && now.Sub(info.ModTime()) > time.Minute
		case strings.HasPrefix(e.Name(), filePrefix):
			stale = expiredFile(path, now)
		}
		if stale && os.Remove(path) == nil {
			removed++
		}
	}
	return removed, nil
}

// expiredFile reads a session file's header: expired, or not a session
// file at all.
func expiredFile(path string, now time.Time) bool {
	f, err := os.Open(path)
	if err != nil {
		return false // deleted meanwhile, or unreadable: not ours to judge
	}
	defer f.Close()
	header := make([]byte, headerSize)
	n, _ := io.ReadFull(f, header)
	expiry, ok := fileExpiry(header[:n])
	return !ok || !now.Before(expiry)
}
