// Keys: every key of the session layer, derived from SESSION_SECRET (and the previous secret while it is rotated out).

package session

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/gorilla/securecookie"
)

// Keys holds the keys derived from the session secret. Each purpose has its
// own key, so that a value sealed for one (a sign-in cookie) can never be
// taken for another (a stored session).
//
// During a rotation Keys also holds the keys of the previous secret: what was
// sealed with them still opens, reported as stale so that it is sealed again
// with the current keys when next saved.
type Keys struct {
	secrets []string // current first
	cookies []securecookie.Codec
}

// NewKeys derives the keys from secret and, when it is not empty, from the
// previous secret.
func NewKeys(secret, previous string) (*Keys, error) {
	if secret == "" {
		return nil, errors.New("session: the secret is empty")
	}
	k := &Keys{secrets: []string{secret}}
	if previous != "" && previous != secret {
		k.secrets = append(k.secrets, previous)
	}
	for _, s := range k.secrets {
		codec := securecookie.New(derive(s, "session cookie signing key"), derive(s, "session cookie encryption key"))
		// The cookie carries only the session id; the record's own expiry
		// is what ends a session, so the cookie's timestamp is not checked.
		codec.MaxAge(0)
		// The id is already text: sign and encrypt its bytes as they are,
		// without securecookie's default gob encoding.
		codec.SetSerializer(securecookie.NopEncoder{})
		k.cookies = append(k.cookies, codec)
	}
	return k, nil
}

// derive returns the 32-byte key for purpose: HKDF-SHA256 over the secret.
func derive(secret, purpose string) []byte {
	key, err := hkdf.Key(sha256.New, []byte(secret), nil, "ms-identity-go-webapp "+purpose, 32)
	if err != nil {
		panic(err) // only for a length HKDF cannot produce; 32 bytes always works
	}
	return key
}

// Sealer returns the AEAD for purpose ("session record", "sign-in cookie").
func (k *Keys) Sealer(purpose string) *Sealer {
	s := &Sealer{}
	for _, secret := range k.secrets {
		block, err := aes.NewCipher(derive(secret, purpose))
		if err != nil {
			panic(err) // a 32-byte key is always a valid AES key
		}
		// A random 96-bit nonce for each seal: safe for far more seals than
		// one secret will ever see (NIST's limit is 2^32 per key).
		aead, err := cipher.NewGCMWithRandomNonce(block)
		if err != nil {
			panic(err)
		}
		s.aeads = append(s.aeads, aead)
	}
	return s
}

// Sealer encrypts and authenticates values with AES-256-GCM: the current
// key seals, the current and the previous key open.
type Sealer struct {
	aeads []cipher.AEAD // current first
}

// ErrInvalid means a cookie or a stored value failed to open: tampered,
// truncated, sealed for another purpose or session, or sealed with a secret
// this app does not know. For the user it means "signed out".
var ErrInvalid = errors.New("session: invalid or tampered value")

// Seal encrypts plain and binds it to ad (what it belongs to: a session id,
// a cookie name). The result is the nonce, the ciphertext and the tag.
func (s *Sealer) Seal(plain, ad []byte) []byte {
	return s.aeads[0].Seal(nil, nil, plain, ad)
}

// Open reverses Seal. stale is true when only the previous key opened it.
func (s *Sealer) Open(sealed, ad []byte) (plain []byte, stale bool, err error) {
	for i, aead := range s.aeads {
		if len(sealed) < aead.NonceSize()+aead.Overhead() {
			break
		}
		if plain, err := aead.Open(nil, nil, sealed, ad); err == nil {
			return plain, i > 0, nil
		}
	}
	return nil, false, ErrInvalid
}

// decodeCookie reads a session id from a cookie value written by
// encodeCookie; stale as for Open.
func (k *Keys) decodeCookie(name, value string) (id string, stale bool, err error) {
	for i, codec := range k.cookies {
		var raw []byte
		if err := codec.Decode(name, value, &raw); err == nil && validID(string(raw)) {
			return string(raw), i > 0, nil
		}
	}
	return "", false, fmt.Errorf("%w: the session cookie failed its signature check", ErrInvalid)
}

// encodeCookie signs and encrypts a session id for the cookie, with the
// current keys.
func (k *Keys) encodeCookie(name, id string) (string, error) {
	return k.cookies[0].Encode(name, []byte(id))
}
