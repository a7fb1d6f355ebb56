// Fuzzing the load path: arbitrary cookies and stored bytes never sign anyone in and are never taken for an outage.

package session

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// FuzzSessionLoad feeds the store an arbitrary cookie, and a genuine cookie
// whose stored record was replaced by arbitrary bytes (disk or Redis
// corruption, or an attacker with access to either). Nothing may panic, bad
// input is never reported as an outage, and no value comes out of bytes the
// app did not seal.
func FuzzSessionLoad(f *testing.F) {
	for _, seed := range []struct {
		cookie string
		stored []byte
	}{
		{"", nil},
		{"MTIzNDU2Nzg5MHxhYmN8ZGVm", []byte("garbage")},
		{"a|b|c", []byte{recordVersion}},
		{strings.Repeat("A", 5000), append([]byte{recordVersion}, make([]byte, 28)...)},
		{"\x00\xff", []byte{recordVersion, 0xff, 0xff}},
		{"__Host-session=nested; other=1", []byte(`null`)},
		{"%3Cscript%3E", make([]byte, 100)},
	} {
		f.Add(seed.cookie, seed.stored)
	}
	backend, err := NewFileBackend(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	keys, _ := NewKeys(testSecret, "")
	store := NewStore(backend, keys)
	ctx := context.Background()
	id := newID()
	genuine, err := keys.encodeCookie(CookieName, id)
	if err != nil {
		f.Fatal(err)
	}

	f.Fuzz(func(t *testing.T, cookie string, stored []byte) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Cookie", CookieName+"="+cookie)
		gs, err := store.New(r, CookieName)
		if err != nil && !signedOut(err) {
			t.Fatalf("a bad cookie was reported as an outage: %v", err)
		}
		if len(gs.Values) != 0 || (err == nil && !gs.IsNew) {
			t.Fatalf("an unsealed cookie loaded a session: %v", gs.Values)
		}

		if err := backend.Save(ctx, id, stored, time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		_, values, _, err := store.Load(ctx, genuine)
		if err == nil || !errors.Is(err, ErrInvalid) || len(values) != 0 {
			t.Fatalf("stored bytes the app did not seal: values %v, err %v", values, err)
		}
	})
}
