package identity

import (
	"context"
	"errors"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	msalerrors "github.com/AzureAD/microsoft-authentication-library-for-go/apps/errors"
)

// MSAL's JSON decoding errors quote the whole answer, tokens included;
// classify must not pass that text on to a log line.
func TestClassifyDropsUnparsableBodies(t *testing.T) {
	raw := msalerrors.InvalidJsonErr{Err: errors.New(`json decode error: x
raw message was: {"access_token":"eyJSECRETTOKEN","refresh_token":"0.SECRETREFRESH"}`)}
	err := classify("redeeming the authorization code", raw)
	if strings.Contains(err.Error(), "SECRET") {
		t.Fatalf("classified error quotes the tokens: %v", err)
	}
}

// The callback refuses a response that names no flow of this browser,
// another of its flows, or one that took too long, before any code is
// redeemed (the client here has no identity provider to redeem it with).
func TestCompleteSignInChecksTheFlow(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	c := &Client{now: func() time.Time { return now }, skew: 5 * time.Minute}
	flow := &Flow{State: "st", Nonce: "n", Verifier: "v", Next: "/graph", Created: now.Add(-time.Minute)}
	expired := *flow
	expired.Created = now.Add(-FlowTTL - time.Second)
	for _, tt := range []struct {
		name  string
		flow  *Flow
		query url.Values
		want  string
	}{
		{"provider error", flow, url.Values{"error": {"access_denied"}, "state": {"st"}}, "access_denied"},
		{"no flow", nil, url.Values{"code": {"c"}, "state": {"st"}}, "state_mismatch"},
		{"no state", flow, url.Values{"code": {"c"}}, "state_mismatch"},
		{"another flow's state", flow, url.Values{"code": {"c"}, "state": {"other"}}, "state_mismatch"},
		{"expired", &expired, url.Values{"code": {"c"}, "state": {"st"}}, "flow_expired"},
		{"no code", flow, url.Values{"state": {"st"}}, "invalid_request"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := &UserSession{}
			_, err := c.CompleteSignIn(context.Background(), s, tt.flow, tt.query)
			var authErr *AuthError
			if !errors.As(err, &authErr) || authErr.Code != tt.want {
				t.Fatalf("CompleteSignIn: %v, want %s", err, tt.want)
			}
		})
	}
}

// A flow survives its cookie's encoding; anything else is refused.
func TestFlowEncoding(t *testing.T) {
	f := Flow{State: "s", Nonce: "n", Verifier: "v", Next: "/graph?x=1", Created: time.Unix(1_800_000_000, 0),
		Scopes: []string{"Calendars.Read", "User.Read"}, Claims: `{"id_token":{"acrs":{"essential":true,"value":"c1"}}}`}
	data, err := f.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	back, err := UnmarshalFlow(data)
	if err != nil || !reflect.DeepEqual(back, f) {
		t.Fatalf("round trip: %+v, %v", back, err)
	}
	for _, bad := range [][]byte{nil, {0}, {flowVersion}, data[:len(data)-1], append(data, 0), append([]byte{1}, data[1:]...)} {
		if _, err := UnmarshalFlow(bad); err == nil {
			t.Errorf("%q decoded", bad)
		}
	}
}
