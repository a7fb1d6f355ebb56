package identity

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
)

// FuzzDecodeClaims feeds the ID token decoder arbitrary tokens, and arbitrary
// payloads in a well-formed token. It must never panic, must accept exactly
// the payloads that are JSON objects, and the claim helpers and checks must
// cope with any claim types an identity provider could send.
func FuzzDecodeClaims(f *testing.F) {
	for _, seed := range []string{
		`{"aud":"c","iss":"i","exp":1800000000,"name":"Ada","roles":["admin"]}`,
		`{"exp":"soon","nbf":[1],"roles":"admin","aud":["a",1,null],"name":7}`,
		`{"exp":1e308,"nbf":-1e308,"iat":null}`,
		`{"nested":{"deep":[{"a":[[[]]]}]},"tid":"{tenantid}"}`,
		`{}`, `null`, `[]`, `"str"`, `42`, `{"a":1}{"b":2}`,
		"eyJhbGciOiJub25lIn0.e30.",
		"a.b.c", "..", "a.!!!.c", "a.e30=.c", "a.e30==.c",
	} {
		f.Add(seed)
	}
	now := time.Unix(1_800_000_000, 0)
	f.Fuzz(func(t *testing.T, input string) {
		// input as a whole token...
		if c, err := DecodeClaims(input); err == nil {
			exercise(t, c, now)
		}
		// ...and as the payload of a well-formed one.
		token := "eyJhbGciOiJSUzI1NiJ9." + base64.RawURLEncoding.EncodeToString([]byte(input)) + ".c2ln"
		c, err := DecodeClaims(token)
		var object map[string]any
		isObject := json.Unmarshal([]byte(input), &object) == nil && object != nil
		if len(token) <= maxTokenSize && isObject != (err == nil) {
			t.Fatalf("payload %q: decode error %v, but JSON object = %v", input, err, isObject)
		}
		if err == nil {
			exercise(t, c, now)
		}
	})
}

// exercise calls everything the app does with claims.
func exercise(t *testing.T, c Claims, now time.Time) {
	t.Helper()
	if c == nil {
		t.Fatal("no error, but nil claims")
	}
	_ = c.String("name") + c.String("preferred_username")
	_ = c.Strings("roles")
	_ = c.HasRole("admin")
	_, _ = c.Time("exp")
	_ = c.Expired(now, 5*time.Minute)
	_ = validateClaims(c, "https://idp.test/{tenantid}/v2.0", "client", "nonce", now, 5*time.Minute)
	_ = validateClaims(c, "", "", "", now, 0)
}

// failingTransport answers every request with a network error, so that the
// fuzzed sessions below never reach a network.
type failingTransport struct{}

func (failingTransport) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("no network in this test")
}

// FuzzUnmarshalUserSession feeds the session decoder arbitrary bytes, then
// gives whatever it accepted to the code that reads a session: MSAL's cache
// (through AcquireToken and EnsureFresh) included. Nothing may panic, a
// rejected session is empty, an accepted one survives a round trip, and a
// session that is not signed in never gets a token.
func FuzzUnmarshalUserSession(f *testing.F) {
	// Seeds in the stored format: the JSON of the claims and account, then
	// MSAL's cache as it is.
	for _, seed := range []struct{ meta, cache string }{
		{``, ``}, {`{}`, ``}, {`null`, ``}, {`[]`, `{}`}, {`{"claims":{"name":"x"}}`, ``},
		{`{"claims":{"name":"Ada","exp":1},"home_account_id":"uid.utid"}`, `{}`},
		{`{"claims":{"exp":9999999999},"home_account_id":"u.t"}`, `{"Account":{}}`},
		{`{"claims":{"exp":9999999999},"home_account_id":"u.t"}`, `not json`},
		{`{"claims":{"exp":9999999999},"home_account_id":"u.t","token_cache":"e30="}`, ``},
		{`{"home_account_id":5}`, `{"RefreshToken":{"k":{"secret":"x"}}}`},
	} {
		data := binary.AppendUvarint(nil, uint64(len(seed.meta)))
		f.Add(append(append(data, seed.meta...), seed.cache...))
	}
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Add([]byte("\x05{}"))
	c, err := New(Config{
		Authority:   "https://idp.test/tenant",
		ClientID:    "client",
		Credential:  secretCredential(f, "secret"),
		RedirectURI: "https://app.test/auth/redirect",
		Scopes:      []string{"User.Read"},
		HTTPClient:  &http.Client{Transport: failingTransport{}, Timeout: time.Second},
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := UnmarshalUserSession(data)
		if s == nil {
			t.Fatal("nil session")
		}
		if err != nil {
			if s.SignedIn() || s.TokenCache != nil {
				t.Fatalf("a rejected session kept data: %+v", s)
			}
			return
		}
		again, err := s.Marshal()
		if err != nil {
			t.Fatalf("an accepted session does not encode: %v", err)
		}
		back, err := UnmarshalUserSession(again)
		if err != nil || back.SignedIn() != s.SignedIn() || back.HomeAccountID != s.HomeAccountID ||
			!bytes.Equal(back.TokenCache, s.TokenCache) {
			t.Fatalf("round trip changed the session: %+v -> %+v (%v)", s, back, err)
		}

		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		signedIn := s.SignedIn()
		tok, err := c.AcquireToken(ctx, s, nil)
		if !signedIn && !errors.Is(err, ErrInteractionRequired) {
			t.Fatalf("a session that is not signed in: AcquireToken = %v", err)
		}
		if err == nil && tok.AccessToken == "" {
			t.Fatal("AcquireToken succeeded with no token")
		}
		_ = c.EnsureFresh(ctx, back)
	})
}

func secretCredential(t testing.TB, secret string) confidential.Credential {
	t.Helper()
	cred, err := confidential.NewCredFromSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	return cred
}
