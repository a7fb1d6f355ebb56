// Locking of session files on Unix: Update and Delete of one record exclude each other.

//go:build unix

package session

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// lockRecord takes an exclusive flock on the record file at path, so that
// an Update (check, then write) and a Delete of the same session, from this
// instance or another sharing the directory, cannot interleave. found is
// false when there is no record. unlock releases the lock.
//
// The lock belongs to the file the path names when it is taken: a write
// renames a new file over the path, and a delete unlinks it. So once the
// lock is held, the path is looked up again: if it names another file by
// now, the lock is on a file that is no longer the record, and is taken
// again on the new one.
func lockRecord(path string) (unlock func(), found bool, err error) {
	for range 16 {
		f, err := os.Open(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, false, nil
		}
		if err != nil {
			return nil, false, err
		}
		if err := flock(f); err != nil {
			f.Close()
			return nil, false, err
		}
		locked, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, false, err
		}
		current, err := os.Stat(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			// Deleted while this one waited for the lock.
			f.Close()
			return nil, false, nil
		case err != nil:
			f.Close()
			return nil, false, err
		case os.SameFile(locked, current):
			return func() { f.Close() }, true, nil
		}
		// Replaced while this one waited: lock the new file.
		f.Close()
	}
	return nil, false, fmt.Errorf("locking %s: the record kept being replaced", path)
}

// flock waits for an exclusive lock on f, retrying a wait that a signal
// interrupted.
func flock(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}
