package identity

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	msalerrors "github.com/AzureAD/microsoft-authentication-library-for-go/apps/errors"
)

// tokenEndpointError is what MSAL Go returns for an error answer of the
// token endpoint: a CallErr holding the whole body.
func tokenEndpointError(body string) error {
	return msalerrors.CallErr{
		Resp: &http.Response{StatusCode: http.StatusBadRequest, Body: io.NopCloser(strings.NewReader(body))},
		Err:  errors.New("http call(https://login.example/token)(POST) error: reply status code was 400"),
	}
}

// A missing consent is told apart from a dead refresh token by the body of
// MSAL's CallErr, also once AcquireToken has wrapped it.
func TestConsentRequiredReadsTheTokenEndpointBody(t *testing.T) {
	for _, tt := range []struct {
		name string
		body string
		want bool
	}{
		{"AADSTS65001 with suberror", `{"error":"invalid_grant","error_description":"AADSTS65001: The user or administrator has not consented.","error_codes":[65001],"suberror":"consent_required"}`, true},
		{"suberror alone", `{"error":"invalid_grant","error_description":"Consent is missing.","suberror":"consent_required"}`, true},
		{"code alone", `{"error":"invalid_grant","error_description":"No consent.","error_codes":[65001]}`, true},
		{"expired refresh token", `{"error":"invalid_grant","error_description":"AADSTS700082: The refresh token has expired.","error_codes":[700082]}`, false},
		{"revoked refresh token", `{"error":"invalid_grant","error_description":"AADSTS50173: The provided grant has expired due to it being revoked.","error_codes":[50173],"suberror":"bad_token"}`, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := classify("refreshing the access token", tokenEndpointError(tt.body))
			wrapped := fmt.Errorf("%w: %w", ErrInteractionRequired, err)
			if got := ConsentRequired(wrapped); got != tt.want {
				t.Errorf("ConsentRequired(%v) = %v, want %v", wrapped, got, tt.want)
			}
			if !errors.Is(wrapped, ErrInteractionRequired) {
				t.Error("the wrapped error is no longer ErrInteractionRequired")
			}
		})
	}
	if ConsentRequired(ErrInteractionRequired) || ConsentRequired(errors.New("AADSTS65001")) {
		t.Error("an error that is not the provider's counts as a missing consent")
	}
}

// What the redirect URI brings back after the consent page.
func TestConsentDeclined(t *testing.T) {
	for _, tt := range []struct {
		err  *AuthError
		want bool
	}{
		{&AuthError{Code: "access_denied", Description: "AADSTS65004: User declined to consent to access the app."}, true},
		{&AuthError{Code: "consent_required", Description: "AADSTS65001: The user or administrator has not consented."}, true},
		{&AuthError{Code: "access_denied", Description: "AADSTS500121: Authentication failed during strong authentication request."}, false},
		{&AuthError{Code: "login_required", Description: "AADSTS50058: A silent sign-in request was sent but no user is signed in."}, false},
		{&AuthError{Code: "state_mismatch"}, false},
	} {
		if got := ConsentDeclined(tt.err); got != tt.want {
			t.Errorf("ConsentDeclined(%s %q) = %v, want %v", tt.err.Code, tt.err.Description, got, tt.want)
		}
	}
}

// The consent sign-in names the user and their kind of account, and asks
// no prompt.
func TestConsentSignIn(t *testing.T) {
	work := &UserSession{Claims: Claims{"preferred_username": "alice@contoso.com", "tid": "c0ffee00-0000-4000-a000-000000000001"}, HomeAccountID: "a.b"}
	got := ConsentSignIn(work, "/calendar", []string{"Calendars.Read"})
	if got.LoginHint != "alice@contoso.com" || got.DomainHint != "organizations" || got.Prompt != "" ||
		got.Next != "/calendar" || strings.Join(got.Scopes, " ") != "Calendars.Read" {
		t.Errorf("work account: %+v", got)
	}
	personal := &UserSession{Claims: Claims{"preferred_username": "bob@outlook.com", "tid": "9188040D-6C67-4C5B-B112-36A304B66DAD"}, HomeAccountID: "a.b"}
	if got := ConsentSignIn(personal, "/", []string{"Calendars.Read"}); got.DomainHint != "consumers" {
		t.Errorf("personal account: domain_hint %q, want consumers", got.DomainHint)
	}
}
