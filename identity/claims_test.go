// Tests of the claims challenge parser, the step-up claims request and the memory of answered claims.

package identity

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

const caeClaimsJSON = `{"access_token":{"nbf":{"essential":true, "value":"1700000000"}}}`

var (
	caeCompact = `{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}`
	caeStd     = base64.StdEncoding.EncodeToString([]byte(caeClaimsJSON))
)

func TestClaimsChallengeForms(t *testing.T) {
	raw := base64.RawStdEncoding.EncodeToString([]byte(caeClaimsJSON))
	url := base64.URLEncoding.EncodeToString([]byte(caeClaimsJSON))
	for _, tc := range []struct {
		name   string
		header []string
	}{
		{"Graph's own", []string{`Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000", error="insufficient_claims", claims="` + caeStd + `"`}},
		{"unquoted", []string{`Bearer realm="", error=insufficient_claims, claims=` + caeStd}},
		{"claims first", []string{`Bearer claims="` + caeStd + `", error="insufficient_claims"`}},
		{"case and spaces", []string{`bearer  ERROR = "Insufficient_Claims" ,CLAIMS= "` + caeStd + `"`}},
		{"unpadded", []string{`Bearer error="insufficient_claims", claims="` + raw + `"`}},
		{"URL alphabet", []string{`Bearer error="insufficient_claims", claims="` + url + `"`}},
		{"JSON itself", []string{`Bearer error="insufficient_claims", claims="` + strings.ReplaceAll(caeClaimsJSON, `"`, `\"`) + `"`}},
		{"after another challenge", []string{`Basic realm="x", Bearer error="insufficient_claims", claims="` + caeStd + `"`}},
		{"after a token68 challenge", []string{`Negotiate abc==, Bearer error="insufficient_claims", claims="` + caeStd + `"`}},
		{"a PoP challenge too", []string{`PoP realm="", nonce="n", Bearer error="insufficient_claims", claims="` + caeStd + `"`}},
		{"in a second header", []string{`Basic realm="x"`, `Bearer error="insufficient_claims", claims="` + caeStd + `"`}},
		{"no scheme", []string{`error="insufficient_claims", claims="` + caeStd + `"`}},
		{"escaped quote in another value", []string{`Bearer realm="a \"b\" c", error="insufficient_claims", claims="` + caeStd + `"`}},
		{"unterminated quote at the end", []string{`Bearer error="insufficient_claims", claims="` + caeStd}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			claims, found, err := ClaimsChallenge(tc.header)
			if !found || err != nil || claims != caeCompact {
				t.Errorf("ClaimsChallenge(%q) = %q, %v, %v; want %q", tc.header, claims, found, err, caeCompact)
			}
		})
	}
}

func TestClaimsChallengeNotOne(t *testing.T) {
	for _, header := range [][]string{
		nil,
		{""},
		{`Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"`},
		{`Bearer error="invalid_token", claims="` + caeStd + `"`},
		{`Bearer error="insufficient_claims"`},
		{`Bearer error="insufficient_claims", claims=""`},
		{`Basic error="insufficient_claims", claims="` + caeStd + `"`},
		{`Basic realm="x", error="insufficient_claims", claims="` + caeStd + `"`},
		{`=,,=="""\`},
	} {
		if claims, found, err := ClaimsChallenge(header); found || claims != "" || err != nil {
			t.Errorf("ClaimsChallenge(%q) = %q, %v, %v; want no challenge", header, claims, found, err)
		}
	}
}

func TestClaimsChallengeMalformedClaims(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for name, claims := range map[string]string{
		"not base64":      "!!!not-base64!!!",
		"not JSON":        b64("not json"),
		"a JSON array":    b64(`[1,2]`),
		"an empty object": b64(`{}`),
		"JSON null":       b64(`null`),
		"trailing data":   b64(`{"a":{}} x`),
		"too large":       b64(`{"access_token":{"x":"` + strings.Repeat("y", MaxChallengeClaims) + `"}}`),
	} {
		got, found, err := ClaimsChallenge([]string{`Bearer error="insufficient_claims", claims="` + claims + `"`})
		if !found || err != ErrMalformedClaims || got != "" {
			t.Errorf("%s: ClaimsChallenge = %q, %v, %v; want found with ErrMalformedClaims", name, got, found, err)
		}
	}
}

func TestAuthContextClaims(t *testing.T) {
	got := AuthContextClaims("c1")
	if got != `{"id_token":{"acrs":{"essential":true,"value":"c1"}}}` {
		t.Errorf("AuthContextClaims(c1) = %s", got)
	}
	// Whatever the id, the request stays one JSON value.
	var v map[string]any
	if err := json.Unmarshal([]byte(AuthContextClaims(`c1"}},"x":{`)), &v); err != nil || len(v) != 1 {
		t.Errorf("an id with quotes broke the claims request: %v %v", v, err)
	}
	c := Claims{"acrs": []any{"c2", "c1"}}
	if !c.HasAuthContext("c1") || c.HasAuthContext("c3") || (Claims{"acrs": "c1"}).HasAuthContext("c1") {
		t.Error("HasAuthContext reads acrs wrongly")
	}
}

func TestAnsweredRecently(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	s := &UserSession{}
	s.RememberAnswered(caeCompact, t0)
	for _, tc := range []struct {
		claims string
		at     time.Duration
		want   bool
	}{
		{caeCompact, 0, true},
		{caeCompact, ChallengeRepeatWindow - time.Second, true},
		{caeCompact, ChallengeRepeatWindow, false},
		{caeCompact, -30 * time.Second, true}, // another instance's clock behind
		{caeCompact, -2 * time.Minute, false},
		{strings.Replace(caeCompact, "1700000000", "1700000001", 1), 0, false},
	} {
		if got := s.AnsweredRecently(tc.claims, t0.Add(tc.at)); got != tc.want {
			t.Errorf("AnsweredRecently(%s, t0%+v) = %v, want %v", tc.claims, tc.at, got, tc.want)
		}
	}
	if strings.Contains(string(mustMarshal(t, s)), "1700000000") {
		t.Error("the session stores the claims themselves, not their hash")
	}
}

func mustMarshal(t *testing.T, s *UserSession) []byte {
	t.Helper()
	b, err := s.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The memory stays small: old entries expire, repeated claims are kept
// once, at most maxAnswered are kept, and a resource that alternates
// between claims is still caught.
func TestRememberAnsweredBounds(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	s := &UserSession{}
	for i := range 10 {
		s.RememberAnswered(AuthContextClaims("c"+string(rune('0'+i))), t0)
	}
	if len(s.Answered) != maxAnswered {
		t.Errorf("remembered %d, want at most %d", len(s.Answered), maxAnswered)
	}
	s = &UserSession{}
	a, b := AuthContextClaims("c1"), caeCompact
	s.RememberAnswered(a, t0)
	s.RememberAnswered(b, t0.Add(time.Second))
	s.RememberAnswered(a, t0.Add(2*time.Second))
	if len(s.Answered) != 2 || !s.AnsweredRecently(a, t0.Add(3*time.Second)) || !s.AnsweredRecently(b, t0.Add(3*time.Second)) {
		t.Errorf("alternating claims: %+v", s.Answered)
	}
	s.RememberAnswered(a, t0.Add(ChallengeRepeatWindow+2*time.Second))
	if len(s.Answered) != 1 {
		t.Errorf("expired entries kept: %+v", s.Answered)
	}
}

// What a session remembered survives a new sign-in of the same user only.
func TestAnsweredBeforeSameUserOnly(t *testing.T) {
	prev := []AnsweredClaims{{Hash: claimsHash(caeCompact), At: 1}}
	alice := Claims{"oid": "a", "tid": "t", "sub": "s"}
	bob := Claims{"oid": "b", "tid": "t", "sub": "s2"}
	if got := answeredBefore(prev, alice, alice); len(got) != 1 {
		t.Errorf("the same user lost the memory: %v", got)
	}
	if got := answeredBefore(prev, alice, bob); got != nil {
		t.Errorf("another user inherited the memory: %v", got)
	}
	if got := answeredBefore(prev, nil, alice); got != nil {
		t.Errorf("a signed-out session passed on its memory: %v", got)
	}
	s := &UserSession{Claims: alice, HomeAccountID: "x", Answered: prev}
	s.SignOut()
	if s.Answered != nil {
		t.Error("SignOut kept the answered claims")
	}
}

// FuzzClaimsChallenge feeds the parser arbitrary WWW-Authenticate values.
// It must never panic, and what it returns as claims must be a compact
// JSON object within the size bound, ready for MSAL's WithClaims.
func FuzzClaimsChallenge(f *testing.F) {
	for _, seed := range []string{
		`Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000", error="insufficient_claims", claims="` + caeStd + `"`,
		`Bearer error=insufficient_claims, claims=` + caeStd,
		`Basic realm="x", Bearer error="insufficient_claims", claims="e30="`,
		`Bearer error="insufficient_claims", claims="{\"a\":{}}"`,
		`Bearer error="insufficient_claims", claims="`, `"\`, `=`, `,,,`, ``,
		`Bearer error="insufficient_claims", claims=` + base64.StdEncoding.EncodeToString([]byte(`{"a":[1,{"b":null}]}`)),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, header string) {
		claims, found, err := ClaimsChallenge([]string{header})
		if !found {
			if claims != "" || err != nil {
				t.Fatalf("no challenge, yet %q, %v", claims, err)
			}
			return
		}
		if err != nil {
			if claims != "" {
				t.Fatalf("an error with claims %q", claims)
			}
			return
		}
		var obj map[string]json.RawMessage
		if len(claims) > MaxChallengeClaims || json.Unmarshal([]byte(claims), &obj) != nil || len(obj) == 0 {
			t.Fatalf("claims %q are not a bounded JSON object", claims)
		}
		var compact bytes.Buffer
		if json.Compact(&compact, []byte(claims)) != nil || compact.String() != claims {
			t.Fatalf("claims %q are not compact JSON", claims)
		}
	})
}
