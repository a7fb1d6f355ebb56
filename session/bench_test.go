// Benchmarks of one session load and one save with a signed-in user's values, Entra-sized, with -benchmem allocations.

package session

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gorilla/sessions"
)

// signedInValues is a session as the app stores it for a user with
// Entra-sized tokens: claims, then MSAL's cache with an access token and a
// refresh token of about 2 KB each (random, so incompressible, as real
// signatures are).
func signedInValues() Values {
	token := func() string {
		b := make([]byte, 1500)
		rand.Read(b)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	claims := `{"claims":{"aud":"00000000-0000-0000-0000-000000000001","iss":"https://login.microsoftonline.com/tenant/v2.0",` +
		`"name":"Bench User","preferred_username":"user@bench.test","oid":"00000000-0000-0000-0000-000000000002"},"home_account_id":"uid.utid"}`
	cache := `{"AccessToken":{"uid.utid-login.microsoftonline.com-accesstoken-client-tenant-user.read":{"home_account_id":"uid.utid",` +
		`"environment":"login.microsoftonline.com","credential_type":"AccessToken","secret":"` + token() + `"}},` +
		`"RefreshToken":{"uid.utid-login.microsoftonline.com-refreshtoken-client--":{"secret":"` + token() + `"}}}`
	return Values{"identity": []byte(claims + cache)}
}

func BenchmarkSession(b *testing.B) {
	for _, bt := range backends {
		b.Run(bt.name, func(b *testing.B) {
			backend := bt.new(b).backend
			store := newTestStore(b, backend, testSecret, "")
			values := signedInValues()
			gs := sessions.NewSession(store, CookieName)
			gs.Options = &sessions.Options{MaxAge: int(Lifetime / time.Second)}
			for k, v := range values {
				gs.Values[k] = v
			}
			r := httptest.NewRequest("GET", "/", nil)
			w := httptest.NewRecorder()
			if err := store.Save(r, w, gs); err != nil {
				b.Fatal(err)
			}
			cookie := w.Result().Cookies()[0].Value
			ctx := context.Background()
			b.Run("load", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, _, _, err := store.Load(ctx, cookie); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("load, not cached", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					store.cache.drop(gs.ID)
					store.cookies = cookieCache{}
					if _, _, _, err := store.Load(ctx, cookie); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("save", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if err := store.Save(r, httptest.NewRecorder(), gs); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// BenchmarkRequest is one request of a signed-in user through LoadAndSave,
// its session filed under a sid and its owner, whose handler changes
// nothing: the path every page of the app takes. The absolute lifetime's
// check and the owner add no allocation to it.
func BenchmarkRequest(b *testing.B) {
	for _, bt := range backends {
		b.Run(bt.name, func(b *testing.B) {
			store := newTestStore(b, bt.new(b).backend, testSecret, "")
			h := store.LoadAndSave(func(w http.ResponseWriter, r *http.Request, err error) { b.Fatal(err) },
				func(r *http.Request, err error) { b.Fatal(err) })(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				gs := FromContext(r.Context())
				if len(gs.Values) == 0 {
					for k, v := range signedInValues() {
						gs.Values[k] = v
					}
					SetIndex(gs, "sid:00000000-0000-0000-0000-000000000003")
					SetOwner(gs, "user:00000000-0000-0000-0000-000000000004.00000000-0000-0000-0000-000000000002")
				}
			}))
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
			r := httptest.NewRequest("GET", "/", nil)
			r.AddCookie(w.Result().Cookies()[0])
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(httptest.NewRecorder(), r)
			}
		})
	}
}
