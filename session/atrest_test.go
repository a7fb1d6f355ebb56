// Encryption at rest: what a file or Redis holds for a signed-in session opens with the session-record key alone.

package session

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"io"
	"os"
	"strings"
	"testing"
)

// storedBytes reads a session's record where the backend keeps it, past
// the backend's own API: the file on disk, the Redis key's value.
func storedBytes(t *testing.T, b Backend, id string) []byte {
	t.Helper()
	switch b := b.(type) {
	case *FileBackend:
		data, err := os.ReadFile(b.path(id))
		if err != nil {
			t.Fatal(err)
		}
		return data
	case *RedisBackend:
		data, err := b.client.Get(context.Background(), key(id)).Bytes()
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	t.Fatalf("no raw reader for %T", b)
	return nil
}

// openWithKey tries to open data, at every offset where a record could
// start inside what the backend stored, as AES-256-GCM with key and the
// record's additional data (or none), and to inflate what opens. It returns
// the values' bytes when that works.
func openWithKey(key []byte, id string, data []byte) ([]byte, bool) {
	block, _ := aes.NewCipher(key)
	aead, _ := cipher.NewGCMWithRandomNonce(block)
	for off := 0; off <= 16 && off < len(data); off++ {
		for _, ad := range [][]byte{recordAD(id), nil} {
			if plain, err := aead.Open(nil, nil, data[off:], ad); err == nil {
				if values, err := decompress(plain); err == nil {
					return values, true
				}
				return plain, true
			}
		}
	}
	return nil, false
}

// inflateAnywhere tries to read data as DEFLATE from every offset where a
// record could start: what an unencrypted record would give away.
func inflateAnywhere(data []byte) []byte {
	var all []byte
	for off := 0; off <= 16 && off < len(data); off++ {
		out, _ := io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(data[off:])), 1<<20))
		all = append(all, out...)
	}
	return all
}

// A signed-in session as the stores keep it: the file's or the Redis
// key's bytes hold no claim or token, in the clear or inflated, and open
// with the session-record key derived from SESSION_SECRET and with no other
// key the app derives, nor with the secret itself.
func TestStoredRecordsAreEncrypted(t *testing.T) {
	const claims = `{"claims":{"name":"Alice Smith","preferred_username":"alice@demo.test"},` +
		`"token_cache":{"RefreshToken":{"k":{"secret":"1.AQ-refresh-token-of-alice-0123456789"}}}}`
	readable := []string{"alice@demo.test", "Alice Smith", "RefreshToken", "refresh-token-of-alice"}
	secretKey := sha256.Sum256([]byte(testSecret))
	others := map[string][]byte{
		"the session cookie's signing key":    derive(testSecret, "session cookie signing key"),
		"the session cookie's encryption key": derive(testSecret, "session cookie encryption key"),
		"the sign-in cookies' key":            derive(testSecret, "sign-in cookie"),
		"SHA-256 of SESSION_SECRET":           secretKey[:],
		"SESSION_SECRET's first 32 bytes":     []byte(testSecret[:32]),
	}
	for _, bt := range backends {
		t.Run(bt.name, func(t *testing.T) {
			b := bt.new(t).backend
			store := newTestStore(t, b, testSecret, "")
			a := &app{t: t, store: store}
			_, c := a.do(nil, set("identity", claims))
			if c == nil {
				t.Fatal("no session was stored")
			}
			id, _, _, err := store.Load(context.Background(), c.Value)
			if err != nil {
				t.Fatal(err)
			}
			stored := storedBytes(t, b, id)

			for _, s := range readable {
				if bytes.Contains(stored, []byte(s)) {
					t.Errorf("the stored bytes hold %q in the clear", s)
				}
				if bytes.Contains(inflateAnywhere(stored), []byte(s)) {
					t.Errorf("the stored bytes give %q away when inflated, without any key", s)
				}
			}
			for name, k := range others {
				if _, ok := openWithKey(k, id, stored); ok {
					t.Errorf("the stored record opens with %s", name)
				}
			}
			// The control: the record key does open it, so the checks
			// above looked at a real record.
			values, ok := openWithKey(derive(testSecret, "session record"), id, stored)
			if !ok || !strings.Contains(string(values), "alice@demo.test") {
				t.Fatalf("the stored record does not open with the session-record key: %v %q", ok, values)
			}
		})
	}
}
