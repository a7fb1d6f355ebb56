package identity

import (
	"context"
	"errors"
	"net/url"
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

// A provider error ends the sign-in it answers: its state cannot be used
// again with a code.
func TestProviderErrorConsumesTheFlow(t *testing.T) {
	c := &Client{now: time.Now}
	s := &UserSession{Flows: map[string]Flow{"st": {Nonce: "n", Verifier: "v", Created: time.Now()}}}
	_, err := c.CompleteSignIn(context.Background(), s, url.Values{"error": {"access_denied"}, "state": {"st"}})
	var authErr *AuthError
	if !errors.As(err, &authErr) || authErr.Code != "access_denied" {
		t.Fatalf("CompleteSignIn: %v", err)
	}
	if len(s.Flows) != 0 {
		t.Fatal("the flow survived the provider's error")
	}
	_, err = c.CompleteSignIn(context.Background(), s, url.Values{"code": {"c"}, "state": {"st"}})
	if !errors.As(err, &authErr) || authErr.Code != "state_mismatch" {
		t.Fatalf("replayed state after an error: %v", err)
	}
}
