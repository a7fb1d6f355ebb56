// Tests of the session decoder: each request gets its own session, and a changed session is always encoded again.

package identity

import (
	"bytes"
	"reflect"
	"testing"
	"time"
)

func TestSessionDecoder(t *testing.T) {
	var d SessionDecoder
	s := &UserSession{Claims: Claims{"name": "Alice", "roles": []any{"reader"}}, HomeAccountID: "uid.utid", TokenCache: []byte(`{"AccessToken":{}}`)}
	data, err := s.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	first, err := d.Decode("id", data)
	if err != nil || first.HomeAccountID != "uid.utid" || first.Claims.String("name") != "Alice" {
		t.Fatalf("Decode: %+v %v", first, err)
	}
	// A request that changes its session in place changes only its own.
	first.Claims["name"] = "changed"
	second, _ := d.Decode("id", data)
	if second.Claims.String("name") != "Alice" {
		t.Fatalf("a second request got the first one's change: %q", second.Claims.String("name"))
	}
	if got, _ := d.Encode("id", second, data); &got[0] != &data[0] {
		t.Error("an unchanged session was encoded again")
	}

	for name, change := range map[string]func(s *UserSession){
		"claim changed in place": func(s *UserSession) { s.Claims["name"] = "Alice Smith" },
		"claim added":            func(s *UserSession) { s.Claims["acrs"] = []any{"c1"} },
		"new claims":             func(s *UserSession) { s.Claims = Claims{"name": "Alice", "roles": []any{"admin"}} },
		"refreshed token cache":  func(s *UserSession) { s.TokenCache = []byte(`{"AccessToken":{"new":{}}}`) },
		"another account":        func(s *UserSession) { s.HomeAccountID = "other.utid" },
		"claims answered": func(s *UserSession) {
			s.RememberAnswered(`{"id_token":{"acrs":{"essential":true,"value":"c1"}}}`, time.Now())
		},
	} {
		u, _ := d.Decode("id", data)
		change(u)
		got, err := d.Encode("id", u, data)
		want, _ := u.Marshal()
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: Encode gave the stored encoding back, not the changed session's", name)
		}
	}

	// Another encoding under the same id (changed on another instance) is
	// decoded afresh.
	s.HomeAccountID = "refreshed.utid"
	changed, _ := s.Marshal()
	if u, _ := d.Decode("id", changed); u.HomeAccountID != "refreshed.utid" {
		t.Errorf("decoded %q from a changed encoding", u.HomeAccountID)
	}
	// Bad data is still refused, and a request without a session id is
	// decoded as it comes.
	if _, err := d.Decode("id", []byte{0xff}); err == nil {
		t.Error("bad data decoded")
	}
	if u, err := d.Decode("", data); err != nil || u.HomeAccountID != "uid.utid" {
		t.Errorf("no id: %+v %v", u, err)
	}
}

// TestClaimsEqual holds the decoder's comparison of claims to what
// reflect.DeepEqual says, for the values an ID token's JSON decodes to: a
// comparison that called two different sets of claims equal would keep the
// stored session when a sign-in or a refresh brought new claims.
func TestClaimsEqual(t *testing.T) {
	values := []any{
		nil, "", "a", "b", 0.0, 1.0, true, false,
		[]any{}, []any(nil), []any{"reader"}, []any{"admin"}, []any{"reader", "admin"}, []any{1.0, "x"},
		map[string]any{}, map[string]any(nil), map[string]any{"essential": true}, map[string]any{"essential": false},
		map[string]any{"value": []any{"c1"}}, map[string]any{"value": []any{"c2"}},
		int64(1), []string{"a"},
	}
	for _, a := range values {
		for _, b := range values {
			ca, cb := Claims{"k": a, "name": "Alice"}, Claims{"k": b, "name": "Alice"}
			if got, want := claimsEqual(ca, cb), reflect.DeepEqual(ca, cb); got != want {
				t.Errorf("claimsEqual(%#v, %#v) = %v, reflect.DeepEqual says %v", a, b, got, want)
			}
		}
	}
	for _, c := range []struct{ a, b Claims }{
		{Claims{"name": "Alice"}, Claims{"name": "Alice", "roles": []any{"admin"}}},
		{Claims{"name": "Alice", "oid": "1"}, Claims{"name": "Alice", "sub": "1"}},
		{Claims{}, nil},
	} {
		if claimsEqual(c.a, c.b) || claimsEqual(c.b, c.a) {
			t.Errorf("claimsEqual(%v, %v) = true", c.a, c.b)
		}
	}
}
