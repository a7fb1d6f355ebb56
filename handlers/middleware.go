// Middleware: panic recovery, request ids and logging, security headers, the user of the session, and sign-in checks.

package handlers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/go-chi/chi/v5/middleware"

	"ms-identity-go-webapp/identity"
	"ms-identity-go-webapp/session"
)

// recoverPanic turns a panic into the 500 page. The stack goes to the log,
// never to the browser.
func (app *Application) recoverPanic(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v) // net/http's way to abort a response; let it do so
				}
				app.logger.Error("panic", "method", r.Method, "path", r.URL.Path,
					"request_id", requestIDFrom(r.Context()), "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				w.Header().Set("Connection", "close")
				app.errorPage(w, r, http.StatusInternalServerError, "Something went wrong",
					"The app hit an unexpected error. It has been logged; please try again.", "")
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// requestID gives every request a random id, shown on error pages and in
// every log line about the request. An incoming X-Request-Id is ignored: a
// client must not be able to choose what appears in the log.
func (app *Application) requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b [8]byte
		rand.Read(b[:])
		st, r := withState(r)
		st.id = hex.EncodeToString(b[:])
		w.Header()["X-Request-Id"] = []string{st.id}
		next.ServeHTTP(w, r)
	})
}

func requestIDFrom(ctx context.Context) string {
	if st := stateOf(ctx); st != nil {
		return st.id
	}
	return ""
}

// logRequest logs one line per request. It logs the path without the query
// string: the sign-in callback's query carries the authorization code. The
// client is the browser's address as the nearest trusted proxy saw it, or
// the peer's. Successful health probes, which platforms send every few
// seconds, are logged at debug level only.
func (app *Application) logRequest(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		next.ServeHTTP(ww, r)
		level := slog.LevelInfo
		if isProbe(r) && ww.Status() == http.StatusOK {
			level = slog.LevelDebug
		}
		client := ""
		if addr := publicRequest(r).Client; addr.IsValid() {
			client = addr.String()
		}
		// LogAttrs with typed attributes: the same line as Log's key-value
		// pairs, without boxing each value for every request.
		app.logger.LogAttrs(r.Context(), level, "request", slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", ww.Status()), slog.Int("bytes", ww.BytesWritten()),
			slog.Duration("duration", time.Since(start).Round(time.Microsecond)),
			slog.String("client", client), slog.String("request_id", requestIDFrom(r.Context())))
	})
}

// contentSecurityPolicy allows only the app's own styles and images, no
// scripts at all, and framing only by frameAncestors ('none' but for the
// front-channel logout). Forms may be sent to the app and, when idp is set,
// on to the identity provider: Chromium applies form-action to the
// redirects that follow a form's submission too, and the sign-out form's
// POST is answered with a redirect to the provider's end-session endpoint.
func contentSecurityPolicy(idp, frameAncestors string) string {
	formAction := "'self'"
	if idp != "" {
		formAction += " " + idp
	}
	return "default-src 'none'; style-src 'self'; img-src 'self'; " +
		"form-action " + formAction + "; frame-ancestors " + frameAncestors + "; base-uri 'none'"
}

// secureHeaders sets the security headers on every response.
// frontChannelLogout alone replaces the framing ones. The values are built
// once and shared by every response: a header is only ever replaced, never
// changed in place, and each slice is full (appending copies it).
func (app *Application) secureHeaders(next http.Handler) http.Handler {
	fields := []struct {
		name   string
		values []string
	}{
		{"Content-Security-Policy", []string{app.csp}},
		{"Strict-Transport-Security", []string{"max-age=31536000"}},
		{"X-Content-Type-Options", []string{"nosniff"}},
		{"X-Frame-Options", []string{"DENY"}},
		// The sign-in callback's URL holds the authorization code: never
		// send it on as a Referer.
		{"Referrer-Policy", []string{"no-referrer"}},
		{"Cross-Origin-Opener-Policy", []string{"same-origin"}},
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		for _, f := range fields {
			h[f.name] = f.values
		}
		next.ServeHTTP(w, r)
	})
}

// noStoreValue is Cache-Control's value on every page, shared like the
// security headers'.
var noStoreValue = []string{"no-store"}

// noStore keeps pages out of every cache: they show a user's data.
func noStore(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Cache-Control"] = noStoreValue
		next.ServeHTTP(w, r)
	})
}

// crossOriginRefused answers a POST (or other unsafe request) that
// http.CrossOriginProtection found to come from another site, by
// Sec-Fetch-Site or Origin: a link or form elsewhere must not sign anyone
// out. Nothing was done, and the session was not even loaded.
func (app *Application) crossOriginRefused(w http.ResponseWriter, r *http.Request) {
	app.logger.Warn("cross-origin request refused", "method", r.Method, "path", r.URL.Path,
		"sec_fetch_site", r.Header.Get("Sec-Fetch-Site"), "origin", r.Header.Get("Origin"),
		"request_id", requestIDFrom(r.Context()))
	app.serveError(w, r, errCrossOrigin)
}

var errCrossOrigin = &pageError{http.StatusForbidden, "Request refused",
	"This request came from another site, so the app did not act on it: no other site may sign you out or change anything here. " +
		"Use the buttons on this app's own pages."}

// requireConfig shows the configuration page instead of every page while
// the app lacks a setting it needs to sign anyone in.
func (app *Application) requireConfig(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(app.ConfigProblems) > 0 {
			data := app.newTemplateData(r)
			data.ConfigProblems = app.ConfigProblems
			app.renderPage(w, r, http.StatusServiceUnavailable, "config_error", data)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// UserSessionKey is the session value that holds the encoded
// identity.UserSession.
const UserSessionKey = "identity"

// StoredUser decodes the user from the values of a stored session, as
// loadUser does for each request: for the tools and tests that read the
// session store from outside the app.
func StoredUser(values session.Values) (*identity.UserSession, error) {
	return identity.UnmarshalUserSession(values[UserSessionKey])
}

// userFrom returns the request's user, as loadUser decoded it; a request
// outside loadUser has a signed-out one.
func userFrom(ctx context.Context) *identity.UserSession {
	if st := stateOf(ctx); st != nil && st.user != nil {
		return st.user
	}
	return &identity.UserSession{}
}

// loadUser decodes the user from the request's session (which
// session.LoadAndSave loaded) for the handlers, and encodes it back after
// them, for LoadAndSave to store if it changed: a token refresh, new claims,
// a sign-in. A user who is not signed in leaves nothing in the session, so
// LoadAndSave stores nothing for them.
func (app *Application) loadUser(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gs := session.FromContext(r.Context())
		raw, _ := gs.Values[UserSessionKey].([]byte)
		user, err := app.users.Decode(gs.ID, raw)
		if err != nil {
			app.logger.Info("session content unreadable; continuing signed out", "request_id", requestIDFrom(r.Context()))
		}
		st, r := withState(r)
		st.user = user
		// Outside loadUser the request has no user, as before it: the
		// page that replaces the answer when the session cannot be saved,
		// or when the handler panicked, must not greet a user whose
		// sign-in was not kept.
		func() {
			defer func() { st.user = nil }()
			next.ServeHTTP(w, r)
		}()
		if !user.SignedIn() {
			delete(gs.Values, UserSessionKey)
			return
		}
		data, err := app.users.Encode(gs.ID, user, raw)
		if err != nil {
			app.logger.Error("encoding the session; it keeps its previous content", "request_id", requestIDFrom(r.Context()), "err", err)
			return
		}
		gs.Values[UserSessionKey] = data
	})
}

// logInvalidSession logs why a request's session cookie named no session
// it could use (signed out elsewhere, expired, tampered); the request goes
// on signed out.
func (app *Application) logInvalidSession(r *http.Request, err error) {
	app.logger.Info("session not loaded; continuing signed out", "reason", err.Error(),
		"request_id", requestIDFrom(r.Context()))
}

// requireLogin lets signed-in users through. Anyone else starts the sign-in
// and comes back to the page they asked for. A user whose ID token expired
// stays signed in while a token can still be had silently.
func (app *Application) requireLogin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := app.Identity.EnsureFresh(r.Context(), userFrom(r.Context()))
		switch {
		case errors.Is(err, identity.ErrInteractionRequired):
			err = app.startSignIn(w, r, r.URL.RequestURI())
		case err == nil:
			next.ServeHTTP(w, r)
		}
		if err != nil {
			app.serveError(w, r, err)
		}
	})
}

// requireRole lets through only users whose ID token has the app role.
func (app *Application) requireRole(role string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !userFrom(r.Context()).Claims.HasRole(role) {
				app.serveError(w, r, &pageError{http.StatusForbidden, "User is missing a required role.",
					fmt.Sprintf("This page needs the %q app role. An administrator assigns it in the Microsoft Entra admin center: "+
						"Enterprise applications → this app → Users and groups → Add user/group, then the user and the %q role. "+
						"Sign out and in again afterwards: roles arrive in a new ID token.", role, role)})
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}
