// Errors: the package's handlers return an error, and ServeError turns any error into the right page.

package entra

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"

	"ms-identity-go-webapp/identity"
	"ms-identity-go-webapp/internal/reqstate"
	"ms-identity-go-webapp/session"
)

// handlerFunc is a handler that returns its error instead of answering it,
// as in pkgsite's frontend and tailscale's tsweb.ReturnHandler: a handler
// never writes two answers, and every error gets the same treatment.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// handle adapts a handlerFunc to net/http: an error becomes ServeError's
// page.
func (a *Auth) handle(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			a.ServeError(w, r, err)
		}
	}
}

// HTTPError is an error a person is told about as it is, on the error page:
// a page that does not exist, a method a page does not take, a role the
// user lacks, a failed call. Err, when set, goes to the log and never to
// the page.
type HTTPError struct {
	Status  int    // the page's status, e.g. 404; 500 when not 400 to 599
	Heading string // "Page not found"
	Message string // what happened and what to do, for people
	Detail  string // a technical detail worth showing (an API's error code)
	Err     error  // the cause, for the log
}

// Error is the status, heading, detail and cause, for the log.
func (e *HTTPError) Error() string {
	msg := fmt.Sprintf("%d %s", e.Status, e.Heading)
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the cause.
func (e *HTTPError) Unwrap() error { return e.Err }

// AuthError is a sign-in that failed for a reason the user can be told
// about: the identity provider's own error (error and error_description,
// as Entra sends them), or a check of the answer that failed.
type AuthError = identity.AuthError

// ErrNotFound is the 404 page's error. It is shared: do not change it.
var ErrNotFound error = &HTTPError{Status: http.StatusNotFound, Heading: "Page not found", Message: "There is no page at this address."}

// ServeError answers a request with the page for err, and logs what the
// operator needs: the identity provider's error codes, the store's or the
// API's failure, or an unexpected error with the request. Internal errors
// never reach the browser. A claims challenge from CallAPI is answered with
// the sign-in that satisfies it.
func (a *Auth) ServeError(w http.ResponseWriter, r *http.Request, err error) {
	id := reqstate.ID(r.Context())
	var (
		page        *HTTPError
		apiErr      *APIError
		authErr     *AuthError
		unavailable *identity.UnavailableError
	)
	if ch, ok := asChallenge(err); ok {
		a.answerChallenge(w, r, ch)
		return
	}
	switch {
	case errors.As(err, &apiErr):
		name := cmp.Or(apiErr.API, "The API")
		a.logger.Warn(name+" call failed", "request_id", id, "err", apiErr.Error())
		status := apiErr.Status
		if status < 400 || status > 599 {
			status = http.StatusBadGateway
		}
		a.errorPage(w, r, status, name+" call failed",
			"The app signed you in and got a token, but the call to "+name+" failed. The app keeps working; try again in a moment.",
			apiErr.Detail)
	case errors.As(err, &page):
		if page.Err != nil {
			a.logger.Warn(page.Heading, "path", r.URL.Path, "request_id", id, "err", page.Err)
		}
		status := page.Status
		if status < 400 || status > 599 {
			status = http.StatusInternalServerError // an HTTPError without its Status
		}
		a.errorPage(w, r, status, page.Heading, page.Message, page.Detail)
	case errors.As(err, &authErr):
		a.logger.Warn("sign-in failed", "request_id", id,
			"error", authErr.Code, "description", authErr.Description, "correlation_id", authErr.CorrelationID)
		data := a.Page(r)
		data.AuthError = authErr
		a.renderPage(w, r, http.StatusBadRequest, "auth_error", &data)
	case errors.As(err, &unavailable):
		a.logger.Warn("identity provider unavailable", "path", r.URL.Path, "request_id", id, "err", err)
		a.errorPage(w, r, http.StatusServiceUnavailable, "Cannot reach the identity provider",
			"Signing in needs Microsoft Entra ID, which did not answer or answered with an error. Please try again in a moment.", "")
	case errors.Is(err, session.ErrUnavailable):
		// Nothing the user did is lost that was not already stored, and
		// the next request tries the store again.
		a.logger.Error("session store error", "path", r.URL.Path, "request_id", id, "err", err)
		a.errorPage(w, r, http.StatusServiceUnavailable, "Session storage unavailable",
			"The app could not read or store your session. Please try again in a moment.", "")
	default:
		a.logger.Error("server error", "method", r.Method, "path", r.URL.Path, "request_id", id, "err", err)
		a.errorPage(w, r, http.StatusInternalServerError, "Something went wrong",
			"The app hit an unexpected error. It has been logged; please try again.", "")
	}
}

// errorPage renders the error page with a heading and a message for people.
// If the error page itself fails to render, the answer is plain text.
func (a *Auth) errorPage(w http.ResponseWriter, r *http.Request, status int, heading, message, detail string) {
	data := a.Page(r)
	data.Status, data.Heading, data.Message, data.Detail = status, heading, message, detail
	a.renderPage(w, r, status, "error", &data)
}
