// Routes: every URL of the app and the middleware around it, in one place.

package handlers

import (
	"fmt"
	"io/fs"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
)

// Routes returns the app's handler.
func (app *Application) Routes() http.Handler {
	r := chi.NewRouter()
	// HEAD gets what GET would, without the body: link checkers and
	// monitors send it, and chi routes HEAD to a Get route only so asked.
	r.Use(app.resolveProxy, app.requestID, app.logRequest, app.recoverPanic, app.secureHeaders, app.oneOrigin, middleware.GetHead)
	notFound := func(w http.ResponseWriter, r *http.Request) { app.serveError(w, r, errNotFound) }
	r.NotFound(notFound)
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		app.serveError(w, r, &pageError{http.StatusMethodNotAllowed, "Method not allowed",
			fmt.Sprintf("This page does not accept %s requests.", r.Method)})
	})

	// The platform's probes reach the instance by its own address, not the
	// public origin: oneOrigin lets them through, and they touch no session.
	r.Get(healthPath, app.healthz)
	r.Get(readyPath, app.readyz)

	static, _ := fs.Sub(app.Files, "static")
	r.Handle("/static/*", http.StripPrefix("/static/", staticFiles(static, notFound)))

	// The identity provider's front-channel logout comes in a cross-site
	// iframe, without the browser's cookies: it touches no session of the
	// request's, only those filed under its sid.
	r.With(app.requireConfig, noStore).Get(FrontChannelLogoutPath, app.handle(app.frontChannelLogout))

	r.Group(func(r chi.Router) {
		// Cross-site unsafe requests are refused before the session is
		// even loaded.
		r.Use(app.requireConfig, noStore, app.crossOrigin.Handler)
		if app.Sessions != nil { // nil only with ConfigProblems, when requireConfig answers everything
			r.Use(app.Sessions.LoadAndSave(app.serveError, app.logInvalidSession), app.loadUser)
		}

		r.Get("/", app.handle(app.index))
		r.Get("/login", app.handle(app.login))
		r.Get(app.RedirectPath, app.handle(app.authRedirect))
		r.Get("/logout", app.handle(app.logoutPage))
		r.Post("/logout", app.handle(app.logout))

		r.Group(func(r chi.Router) {
			r.Use(app.requireLogin)
			r.Get("/graph", app.handle(app.graph))
			r.Get("/token_details", app.handle(app.tokenDetails))
			// The step-up comes first: a user without the role steps up
			// too, and then gets the 403 (stepup.go).
			r.With(app.requireAuthContext(app.AdminAuthContext), app.requireRole(app.AdminRole)).Get("/admin", app.handle(app.admin))
			// Asks for Calendars.Read only when the user first opens it.
			r.With(app.requireScopes(app.CalendarScopes...)).Get("/calendar", app.handle(app.calendar))
		})
	})
	return r
}

// staticFiles serves the embedded CSS and images. They change only with a
// new build, so browsers may keep them for an hour. A missing file or a
// directory gets the app's own 404 page, not a listing or a plain-text 404.
func staticFiles(fsys fs.FS, notFound http.HandlerFunc) http.Handler {
	files := http.FileServerFS(fsys)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/")
		if info, err := fs.Stat(fsys, name); name == "" || err != nil || info.IsDir() {
			notFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	})
}
