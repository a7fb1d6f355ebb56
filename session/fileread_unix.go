// Reading a session file on Unix: one open, fstat, read and close, without an *os.File.

//go:build unix

package session

import (
	"errors"
	"io/fs"
	"syscall"
)

// readRecordFile reads the record file at path, as os.ReadFile does, in
// fewer system calls: every signed-in page reads its session's file.
// os.ReadFile also registers the file with the network poller (which
// refuses regular files) and reads once more to find the end. Here fstat's
// size is the end: records are only ever replaced by renaming a complete
// new file over the old one, never written in place, so the file an open
// descriptor reads keeps its size. Should one come up shorter all the same,
// it is read again, up to four times.
func readRecordFile(path string) ([]byte, error) {
	var err error
	for range 4 {
		var data []byte
		if data, err = readOnce(path); !errors.Is(err, errShortRead) {
			return data, err
		}
	}
	return nil, &fs.PathError{Op: "read", Path: path, Err: err}
}

var errShortRead = errors.New("the file ended before the size fstat gave")

func readOnce(path string) ([]byte, error) {
	var fd int
	var err error
	for {
		fd, err = syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer syscall.Close(fd)
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return nil, &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		// A directory or a device where a record should be: the store is
		// damaged, as os.ReadFile would report.
		return nil, &fs.PathError{Op: "read", Path: path, Err: syscall.EISDIR}
	}
	if st.Size > maxRecordFile {
		return nil, errNotRecord
	}
	data := make([]byte, st.Size)
	for n := 0; n < len(data); {
		m, err := syscall.Read(fd, data[n:])
		switch {
		case errors.Is(err, syscall.EINTR):
			continue
		case err != nil:
			return nil, &fs.PathError{Op: "read", Path: path, Err: err}
		case m == 0:
			return nil, errShortRead
		}
		n += m
	}
	return data, nil
}
