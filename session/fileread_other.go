// Reading a session file where there is no Unix: os.ReadFile.

//go:build !unix

package session

import "os"

func readRecordFile(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err == nil && len(data) > maxRecordFile {
		return nil, errNotRecord
	}
	return data, err
}
