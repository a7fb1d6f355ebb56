// Errors: handlers return an error, and one function turns any error into the right page.

package handlers

import (
	"errors"
	"fmt"
	"net/http"

	"ms-identity-go-webapp/identity"
	"ms-identity-go-webapp/session"
)

// handlerFunc is a handler that returns its error instead of answering it,
// as in pkgsite's frontend and tailscale's tsweb.ReturnHandler: a handler
// never writes two answers, and every error gets the same treatment.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// handle adapts a handlerFunc to net/http: an error becomes serveError's page.
func (app *Application) handle(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			app.serveError(w, r, err)
		}
	}
}

// pageError is an error a person is told about as it is: a page that does
// not exist, a method a page does not take, a role the user lacks.
type pageError struct {
	status           int
	heading, message string
}

func (e *pageError) Error() string { return fmt.Sprintf("%d %s", e.status, e.heading) }

var errNotFound = &pageError{http.StatusNotFound, "Page not found", "There is no page at this address."}

// graphError is a failed Graph call, described for the page.
type graphError struct {
	status int // the page's status: 502 for a bad answer, 504 for none in time
	detail string
	err    error
}

func (e *graphError) Error() string {
	if e.err != nil {
		return e.detail + ": " + e.err.Error()
	}
	return e.detail
}

// serveError answers a request with the page for err, and logs what the
// operator needs: the identity provider's error codes, the store's or
// Graph's failure, or an unexpected error with the request. Internal errors
// never reach the browser.
func (app *Application) serveError(w http.ResponseWriter, r *http.Request, err error) {
	id := requestIDFrom(r.Context())
	var (
		page        *pageError
		authErr     *identity.AuthError
		unavailable *identity.UnavailableError
		graphErr    *graphError
	)
	if ch, ok := asChallenge(err); ok {
		app.answerChallenge(w, r, ch)
		return
	}
	switch {
	case errors.As(err, &page):
		app.errorPage(w, r, page.status, page.heading, page.message, "")
	case errors.As(err, &authErr):
		app.logger.Warn("sign-in failed", "request_id", id,
			"error", authErr.Code, "description", authErr.Description, "correlation_id", authErr.CorrelationID)
		data := app.newTemplateData(r)
		data.AuthError = authErr
		app.renderPage(w, r, http.StatusBadRequest, "auth_error", data)
	case errors.As(err, &unavailable):
		app.logger.Warn("identity provider unavailable", "path", r.URL.Path, "request_id", id, "err", err)
		app.errorPage(w, r, http.StatusServiceUnavailable, "Cannot reach the identity provider",
			"Signing in needs Microsoft Entra ID, which did not answer or answered with an error. Please try again in a moment.", "")
	case errors.Is(err, session.ErrUnavailable):
		// Nothing the user did is lost that was not already stored, and
		// the next request tries the store again.
		app.logger.Error("session store error", "path", r.URL.Path, "request_id", id, "err", err)
		app.errorPage(w, r, http.StatusServiceUnavailable, "Session storage unavailable",
			"The app could not read or store your session. Please try again in a moment.", "")
	case errors.As(err, &graphErr):
		status := graphErr.status
		if status == 0 {
			status = http.StatusBadGateway
		}
		app.logger.Warn("graph call failed", "request_id", id, "err", graphErr.Error())
		app.errorPage(w, r, status, "Microsoft Graph call failed",
			"The app signed you in and got a token, but the call to Microsoft Graph failed. The app keeps working; try again in a moment.",
			graphErr.detail)
	default:
		app.logger.Error("server error", "method", r.Method, "path", r.URL.Path, "request_id", id, "err", err)
		app.errorPage(w, r, http.StatusInternalServerError, "Something went wrong",
			"The app hit an unexpected error. It has been logged; please try again.", "")
	}
}

// errorPage renders the error page with a heading and a message for people.
// If the error page itself fails to render, the answer is plain text.
func (app *Application) errorPage(w http.ResponseWriter, r *http.Request, status int, heading, message, detail string) {
	data := app.newTemplateData(r)
	data.Status, data.Heading, data.Message, data.Detail = status, heading, message, detail
	app.renderPage(w, r, status, "error", data)
}

// renderPage renders a page for serveError; a page that fails to render
// (a broken template) falls back to the plain-text status.
func (app *Application) renderPage(w http.ResponseWriter, r *http.Request, status int, page string, data templateData) {
	if err := app.render(w, status, page, data); err != nil {
		app.logger.Error("rendering an error page", "page", page, "err", err, "request_id", data.RequestID)
		http.Error(w, http.StatusText(status), status)
	}
}
