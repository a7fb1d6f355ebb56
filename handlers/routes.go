// Routes: every URL of the app and the middleware around it, in one place.

package handlers

import (
	"io/fs"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"
)

// Routes returns the app's handler.
func (app *Application) Routes() http.Handler {
	r := chi.NewRouter()
	r.Use(app.resolveProxy, app.requestID, app.logRequest, app.recoverPanic, secureHeaders, app.oneOrigin)
	r.NotFound(app.notFound)
	r.MethodNotAllowed(app.methodNotAllowed)

	// The platform's probes reach the instance by its own address, not the
	// public origin: oneOrigin lets them through, and they touch no session.
	r.Get(healthPath, app.healthz)
	r.Get(readyPath, app.readyz)

	static, _ := fs.Sub(app.Files, "static")
	r.Handle("/static/*", http.StripPrefix("/static/", staticFiles(static, app.notFound)))

	r.Group(func(r chi.Router) {
		r.Use(app.requireConfig, noStore, app.loadSession)

		r.Get("/", app.index)
		r.Get("/login", app.login)
		r.Get(app.RedirectPath, app.authRedirect)
		r.Get("/logout", app.logout)

		r.Group(func(r chi.Router) {
			r.Use(app.requireLogin)
			r.Get("/graph", app.graph)
			r.Get("/token_details", app.tokenDetails)
			r.With(app.requireRole(app.AdminRole)).Get("/admin", app.admin)
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
