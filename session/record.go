// Record: the format of a stored session, one AEAD over one compressed encoding of its values.

package session

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
)

// A record is what a store keeps for one session:
//
//	version (1 byte) || AES-256-GCM( DEFLATE( values ) ), additional data: version || session id
//
// where values is, for each value in key order, uvarint(len(key)) key
// uvarint(len(value)) value. The values are bytes as the app gave them (the
// user's MSAL cache as MSAL wrote it), so nothing inside is base64 or gob;
// the one compression runs over everything, the JSON field names that repeat
// between the claims and the token cache included. Binding the session id
// into the AEAD makes a record copied under another id unreadable.
const recordVersion = 1

// MaxRecordSize bounds a stored record and, decompressed, its values: a
// signed-in session with Entra-sized tokens takes about 3 KB.
const MaxRecordSize = 64 << 10

const maxValuesSize = 1 << 20

// Values are a session's values as the record keeps them: gorilla's
// map[any]any restricted to string keys and []byte values.
type Values map[string][]byte

// sealRecord encodes, compresses and seals values for the session id.
func sealRecord(s *Sealer, id string, values Values) ([]byte, error) {
	plain, err := compress(encodeValues(values))
	if err != nil {
		return nil, err
	}
	record := append([]byte{recordVersion}, s.Seal(plain, recordAD(id))...)
	if len(record) > MaxRecordSize {
		return nil, fmt.Errorf("session: the record is %d bytes, more than the %d a store keeps", len(record), MaxRecordSize)
	}
	return record, nil
}

// openRecord reverses sealRecord. stale is true when the record was sealed
// with the previous secret.
func openRecord(s *Sealer, id string, record []byte) (values Values, stale bool, err error) {
	if len(record) == 0 || len(record) > MaxRecordSize || record[0] != recordVersion {
		return nil, false, fmt.Errorf("%w: not a session record", ErrInvalid)
	}
	compressed, stale, err := s.Open(record[1:], recordAD(id))
	if err != nil {
		return nil, false, err
	}
	plain, err := decompress(compressed)
	if err != nil {
		return nil, false, err
	}
	values, err = decodeValues(plain)
	return values, stale, err
}

func recordAD(id string) []byte { return append([]byte{recordVersion}, id...) }

// encodeValues writes values in key order, so that the same values always
// encode to the same bytes: LoadAndSave compares encodings to see whether a
// session changed.
func encodeValues(values Values) []byte {
	keys := make([]string, 0, len(values))
	size := 0
	for k, v := range values {
		keys = append(keys, k)
		size += len(k) + len(v) + 2*binary.MaxVarintLen32
	}
	slices.Sort(keys)
	out := make([]byte, 0, size)
	for _, k := range keys {
		out = binary.AppendUvarint(out, uint64(len(k)))
		out = append(out, k...)
		out = binary.AppendUvarint(out, uint64(len(values[k])))
		out = append(out, values[k]...)
	}
	return out
}

var errMalformed = fmt.Errorf("%w: malformed session values", ErrInvalid)

func decodeValues(data []byte) (Values, error) {
	values := Values{}
	next := func() ([]byte, bool) {
		n, size := binary.Uvarint(data)
		if size <= 0 || n > uint64(len(data)-size) {
			return nil, false
		}
		field := data[size : size+int(n)]
		data = data[size+int(n):]
		return field, true
	}
	for len(data) > 0 {
		k, ok1 := next()
		v, ok2 := next()
		if !ok1 || !ok2 {
			return nil, errMalformed
		}
		if _, dup := values[string(k)]; dup {
			return nil, errMalformed
		}
		values[string(k)] = bytes.Clone(v)
	}
	return values, nil
}

// Compressors are large (hundreds of KB of tables): reuse them.
var (
	writers = sync.Pool{New: func() any { w, _ := flate.NewWriter(nil, flate.BestSpeed); return w }}
	readers = sync.Pool{New: func() any { return flate.NewReader(nil) }}
)

func compress(plain []byte) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(len(plain)/2 + 64)
	w := writers.Get().(*flate.Writer)
	defer writers.Put(w)
	w.Reset(&buf)
	if _, err := w.Write(plain); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func decompress(data []byte) ([]byte, error) {
	r := readers.Get().(io.ReadCloser)
	defer readers.Put(r)
	if err := r.(flate.Resetter).Reset(bytes.NewReader(data), nil); err != nil {
		return nil, err
	}
	plain, err := io.ReadAll(io.LimitReader(r, maxValuesSize+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if len(plain) > maxValuesSize {
		return nil, errors.Join(ErrInvalid, errors.New("session: the values are too large"))
	}
	return plain, nil
}
