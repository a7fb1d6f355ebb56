// Incremental consent: telling a missing consent from the other reasons a token cannot be had silently, and the sign-in that asks a signed-in user for more scopes.

package identity

import (
	"errors"
	"slices"
	"strings"
)

// msaTenant is the tenant of personal Microsoft accounts (outlook.com,
// hotmail.com): their ID tokens carry it as tid.
const msaTenant = "9188040d-6c67-4c5b-b112-36a304b66dad"

// Entra's error numbers for consent.
const (
	codeConsentRequired = 65001 // the user or administrator has not consented
	codeConsentDeclined = 65004 // the user declined on the consent page
)

// ConsentRequired reports whether err says that the user has not consented
// to the scopes asked for: from the token endpoint, invalid_grant with
// AADSTS65001 and suberror consent_required (which MSAL Go reports only as
// the body of a CallErr, read by classify); at the redirect URI,
// error=consent_required.
func ConsentRequired(err error) bool {
	var authErr *AuthError
	if !errors.As(err, &authErr) {
		return false
	}
	return authErr.Suberror == "consent_required" || authErr.Code == "consent_required" ||
		slices.Contains(authErr.Codes, codeConsentRequired) ||
		strings.HasPrefix(authErr.Description, "AADSTS65001")
}

// ConsentDeclined reports whether a sign-in came back without the
// permissions it asked for: the user pressed Cancel on the consent page
// (access_denied, AADSTS65004), or consent was required and could not be
// asked for (consent_required).
func ConsentDeclined(err error) bool {
	var authErr *AuthError
	if !errors.As(err, &authErr) {
		return false
	}
	switch authErr.Code {
	case "consent_required":
		return true
	case "access_denied":
		return strings.HasPrefix(authErr.Description, "AADSTS65004") || slices.Contains(authErr.Codes, codeConsentDeclined)
	}
	return false
}

// ConsentSignIn is the sign-in that asks the signed-in user s to consent to
// scopes and then returns to next, as Microsoft.Identity.Web's
// AuthorizeForScopes does: the scopes of the page (StartSignIn adds openid,
// profile and offline_access), login_hint naming the user so Entra shows no
// account picker, domain_hint sending them straight to their kind of
// account, and no prompt, so that Entra asks only for what is new.
func ConsentSignIn(s *UserSession, next string, scopes []string) SignIn {
	return SignIn{
		Next:       next,
		Scopes:     slices.Clone(scopes),
		LoginHint:  s.Claims.String("preferred_username"),
		DomainHint: DomainHint(s.Claims.String("tid")),
	}
}

// DomainHint is the domain_hint for a user of tenant tid: "consumers" for
// a personal Microsoft account, "organizations" for a work or school one.
func DomainHint(tid string) string {
	if strings.EqualFold(tid, msaTenant) {
		return "consumers"
	}
	return "organizations"
}
