// Errors: what can go wrong while signing in or getting a token, in terms a page can show.

package identity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	msalerrors "github.com/AzureAD/microsoft-authentication-library-for-go/apps/errors"
)

// AuthError is a sign-in that failed for a reason the user can be told about:
// the identity provider's own error (error and error_description, as Entra
// sends them), or a check of this app that the response did not pass.
type AuthError struct {
	Code          string // OAuth error code, e.g. "access_denied", "invalid_grant", "state_mismatch"
	Description   string // e.g. "AADSTS65004: User declined to consent to access the app."
	CorrelationID string // Entra's correlation id, for support requests
	Hint          string // one sentence of advice, when there is one
	// Codes are the AADSTS numbers of a token-endpoint error, and Suberror
	// its suberror (e.g. "consent_required"): what tells a missing consent
	// from a dead refresh token (see ConsentRequired).
	Codes    []int
	Suberror string
}

func (e *AuthError) Error() string {
	if e.Description == "" {
		return "sign-in failed: " + e.Code
	}
	return "sign-in failed: " + e.Code + ": " + e.Description
}

// ErrInteractionRequired means no token can be had silently: the user is not
// signed in, the refresh token is gone, or Entra rejected it. The caller starts
// a new sign-in.
var ErrInteractionRequired = errors.New("identity: the user must sign in again")

// UnavailableError means the identity provider could not be reached or
// answered with a server error. Signing in again would not help; trying again
// later would.
type UnavailableError struct {
	Op  string
	Err error
}

func (e *UnavailableError) Error() string {
	return "identity provider unavailable while " + e.Op + ": " + e.Err.Error()
}

func (e *UnavailableError) Unwrap() error { return e.Err }

// entraError is the JSON body of an Entra ID token-endpoint error.
type entraError struct {
	Error         string `json:"error"`
	Description   string `json:"error_description"`
	Codes         []int  `json:"error_codes"`
	Suberror      string `json:"suberror"`
	CorrelationID string `json:"correlation_id"`
}

// classify turns an error from MSAL into one of: *AuthError (the identity
// provider said no, with a reason), *UnavailableError (it could not be reached
// or failed), or the error itself for anything else.
func classify(op string, err error) error {
	if errors.As(err, &msalerrors.InvalidJsonErr{}) {
		// MSAL's message holds the raw answer it could not parse: for a
		// token response, the tokens themselves. It must reach no log.
		return fmt.Errorf("identity: %s: the identity provider's answer could not be parsed", op)
	}
	var call msalerrors.CallErr
	if !errors.As(err, &call) || call.Resp == nil {
		if isNetworkError(err) {
			return &UnavailableError{Op: op, Err: err}
		}
		return err
	}
	status := call.Resp.StatusCode
	var body entraError
	if call.Resp.Body != nil {
		data, _ := io.ReadAll(io.LimitReader(call.Resp.Body, 64<<10))
		_ = json.Unmarshal(data, &body)
	}
	if status >= 500 || status == http.StatusTooManyRequests || body.Error == "" {
		return &UnavailableError{Op: op, Err: fmt.Errorf("the token endpoint answered %d %s", status, body.Error)}
	}
	return &AuthError{
		Code:          body.Error,
		Description:   body.Description,
		CorrelationID: body.CorrelationID,
		Hint:          hintFor(body.Description),
		Codes:         body.Codes,
		Suberror:      body.Suberror,
	}
}

// isNetworkError reports whether err came from the transport rather than from
// an answer: connection refused, TLS failure, timeout.
func isNetworkError(err error) bool {
	var urlErr *url.Error
	return errors.As(err, &urlErr) ||
		errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, io.ErrUnexpectedEOF)
}

// hintFor gives advice for the AADSTS errors that people hit most when they
// register an app for the first time.
func hintFor(description string) string {
	switch {
	case strings.HasPrefix(description, "AADSTS50011"):
		return "The redirect URI this app sends does not match one registered for it: check REDIRECT_URI against the app registration's Authentication page."
	case strings.HasPrefix(description, "AADSTS7000215"), strings.HasPrefix(description, "AADSTS7000222"):
		return "The client secret is wrong or has expired: create a new one under Certificates & secrets and set CLIENT_SECRET."
	case strings.HasPrefix(description, "AADSTS700016"):
		return "No app with this client ID exists in the tenant: check CLIENT_ID and AUTHORITY."
	case strings.HasPrefix(description, "AADSTS65004"):
		return "You declined to give the app the permissions it asks for. Sign in again to accept them."
	case strings.HasPrefix(description, "AADSTS700027"):
		return "Entra ID does not accept the app's certificate: upload the certificate of CLIENT_CERTIFICATE_PATH (its .crt) to the app registration under Certificates & secrets → Certificates, and check that the thumbprint listed there is the one in this message."
	case strings.HasPrefix(description, "AADSTS700024"):
		return "The client assertion was outside its valid time: check this machine's clock, and with a federated token that the platform keeps renewing the file in CLIENT_ASSERTION_FILE or AZURE_FEDERATED_TOKEN_FILE."
	case strings.HasPrefix(description, "AADSTS700211"), strings.HasPrefix(description, "AADSTS700212"), strings.HasPrefix(description, "AADSTS700213"):
		return "No federated credential of the app matches the token the app presented: check the app registration's federated credential (Certificates & secrets → Federated credentials) against the token's issuer, subject and audience (api://AzureADTokenExchange)."
	case strings.HasPrefix(description, "AADSTS50027"):
		return "Entra ID could not read the app's client assertion: check that CLIENT_ASSERTION_FILE (or AZURE_FEDERATED_TOKEN_FILE) holds the token itself, a JWT, and nothing else."
	case strings.HasPrefix(description, "AADSTS7000218"):
		return "The app sent no client credential: set CLIENT_SECRET, CLIENT_CERTIFICATE_PATH or CLIENT_ASSERTION_FILE."
	case strings.HasPrefix(description, "AADSTS54005"), strings.HasPrefix(description, "AADSTS70008"):
		return "The sign-in took too long or was completed twice. Start it again."
	}
	return ""
}
