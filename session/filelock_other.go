// Session files without locks, on platforms that have no flock.

//go:build !unix

package session

import (
	"errors"
	"io/fs"
	"os"
)

// lockRecord reports whether the record file at path exists, and locks
// nothing: on these platforms Update checks that the record exists and then
// writes it, as two steps, so that a Delete landing between them is undone
// (a sign-out in another tab, at the very moment a request writes its
// session back). Run the app on Unix, or with SESSION_TYPE=redis, where
// Update is one atomic step.
func lockRecord(path string) (unlock func(), found bool, err error) {
	_, err = os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return func() {}, true, nil
}
