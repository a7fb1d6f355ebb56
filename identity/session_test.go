package identity

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/cache"
)

type recordingUnmarshaler struct {
	calls int
	got   []byte
}

func (r *recordingUnmarshaler) Unmarshal(b []byte) error {
	r.calls++
	r.got = b
	return nil
}

// Replace must call Unmarshal even for a new session with no cache: skipping
// it leaves the previous user's tokens in the client.
func TestSessionCacheReplaceAlwaysUnmarshals(t *testing.T) {
	for _, data := range [][]byte{nil, {}, []byte(`{"AccessToken":{}}`)} {
		u := &recordingUnmarshaler{}
		c := sessionCache{s: &UserSession{TokenCache: data}}
		if err := c.Replace(context.Background(), u, cache.ReplaceHints{}); err != nil {
			t.Fatal(err)
		}
		if u.calls != 1 || string(u.got) != string(data) {
			t.Errorf("data %q: Unmarshal called %d times with %q", data, u.calls, u.got)
		}
	}
}

func TestSessionCacheHonoursCancellation(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c := sessionCache{s: &UserSession{}}
	if err := c.Replace(ctx, &recordingUnmarshaler{}, cache.ReplaceHints{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Replace: %v", err)
	}
}

func TestUserSessionRoundTrip(t *testing.T) {
	s := &UserSession{HomeAccountID: "uid.utid", Claims: Claims{"name": "Ada", "roles": []any{"admin"}}, TokenCache: []byte("{}")}
	data, err := s.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := UnmarshalUserSession(data)
	if err != nil {
		t.Fatal(err)
	}
	if !back.SignedIn() || !back.Claims.HasRole("admin") || string(back.TokenCache) != "{}" {
		t.Errorf("round trip lost data: %+v", back)
	}
	if _, err := UnmarshalUserSession([]byte("{not json")); err == nil {
		t.Error("corrupt session decoded")
	}
	if s, err := UnmarshalUserSession(nil); err != nil || s.SignedIn() {
		t.Errorf("empty session: %v %+v", err, s)
	}
}

func TestAddFlowBoundsAndExpires(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	s := &UserSession{}
	s.addFlow("stale", Flow{Created: now.Add(-flowTTL - time.Second)}, now)
	for i := range maxFlows + 3 {
		s.addFlow(string(rune('a'+i)), Flow{Created: now.Add(time.Duration(i) * time.Second)}, now.Add(time.Duration(i)*time.Second))
	}
	if len(s.Flows) != maxFlows {
		t.Fatalf("%d flows kept, want %d", len(s.Flows), maxFlows)
	}
	if _, ok := s.Flows["stale"]; ok {
		t.Error("expired flow kept")
	}
	if _, ok := s.Flows["a"]; ok {
		t.Error("oldest flow kept past the bound")
	}
	if _, ok := s.Flows[string(rune('a'+maxFlows+2))]; !ok {
		t.Error("newest flow dropped")
	}
}
