// Middleware: panic recovery, request ids and logging, security headers, sessions and sign-in checks.

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

type requestIDKey struct{}

// requestID gives every request a random id, shown on error pages and in
// every log line about the request. An incoming X-Request-Id is ignored: a
// client must not be able to choose what appears in the log.
func (app *Application) requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := make([]byte, 8)
		rand.Read(b)
		id := hex.EncodeToString(b)
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id)))
	})
}

func requestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
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
		app.logger.Log(r.Context(), level, "request", "method", r.Method, "path", r.URL.Path, "status", ww.Status(),
			"bytes", ww.BytesWritten(), "duration", time.Since(start).Round(time.Microsecond),
			"client", client, "request_id", requestIDFrom(r.Context()))
	})
}

// contentSecurityPolicy allows only the app's own styles and images, no
// scripts at all, and no framing.
const contentSecurityPolicy = "default-src 'none'; style-src 'self'; img-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// secureHeaders sets the security headers on every response.
func secureHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("Strict-Transport-Security", "max-age=31536000")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		// The sign-in callback's URL holds the authorization code: never
		// send it on as a Referer.
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

// noStore keeps pages out of every cache: they show a user's data.
func noStore(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// requireConfig shows the configuration page instead of every page while
// the app lacks a setting it needs to sign anyone in.
func (app *Application) requireConfig(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(app.ConfigProblems) > 0 {
			data := app.newTemplateData(r)
			data.ConfigProblems = app.ConfigProblems
			app.render(w, r, http.StatusServiceUnavailable, "config_error", data)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// loadSession puts the browser's session in the request's context.
func (app *Application) loadSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := app.Sessions.load(r, app.logger)
		if err != nil {
			app.sessionError(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), sessionContextKey{}, s)))
	})
}

// saveSession stores the request's session if it changed. It must run
// before the response is written, since it may set the cookie.
func (app *Application) saveSession(w http.ResponseWriter, r *http.Request) bool {
	if err := app.Sessions.save(w, r, sessionFrom(r.Context())); err != nil {
		app.sessionError(w, r, err)
		return false
	}
	return true
}

// sessionError shows that the session store failed (a full disk, Redis
// down). Nothing the user did is lost that was not already stored, and the
// next request tries the store again.
func (app *Application) sessionError(w http.ResponseWriter, r *http.Request, err error) {
	app.logger.Error("session store error", "path", r.URL.Path,
		"request_id", requestIDFrom(r.Context()), "err", err)
	app.errorPage(w, r, http.StatusServiceUnavailable, "Session storage unavailable",
		"The app could not read or store your session. Please try again in a moment.", "")
}

// requireLogin lets signed-in users through. Anyone else starts the sign-in
// and comes back to the page they asked for. A user whose ID token expired
// stays signed in while a token can still be had silently.
func (app *Application) requireLogin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := sessionFrom(r.Context())
		err := app.Identity.EnsureFresh(r.Context(), s.user)
		var unavailable *identity.UnavailableError
		switch {
		case err == nil:
		case errors.Is(err, identity.ErrInteractionRequired):
			app.startSignIn(w, r, r.URL.RequestURI())
			return
		case errors.As(err, &unavailable):
			app.unavailable(w, r, err)
			return
		default:
			app.serverError(w, r, err)
			return
		}
		if !app.saveSession(w, r) { // a renewal may have brought new claims
			return
		}
		next.ServeHTTP(w, r)
	})
}

// requireRole lets through only users whose ID token has the app role.
func (app *Application) requireRole(role string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !sessionFrom(r.Context()).user.Claims.HasRole(role) {
				app.errorPage(w, r, http.StatusForbidden, "User is missing a required role.",
					fmt.Sprintf("This page needs the %q app role. An administrator assigns it in the Microsoft Entra admin center: "+
						"Enterprise applications → this app → Users and groups → Add user/group, then the user and the %q role. "+
						"Sign out and in again afterwards: roles arrive in a new ID token.", role, role), "")
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}
