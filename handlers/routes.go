// Routes: every URL of the app and the middleware around it, in one place.

package handlers

import (
	"io/fs"
	"net/http"

	"github.com/go-chi/chi/v5"
)

// Routes returns the app's handler.
func (app *Application) Routes() http.Handler {
	r := chi.NewRouter()
	r.Use(app.requestID, app.logRequest, app.recoverPanic, secureHeaders)
	r.NotFound(app.notFound)
	r.MethodNotAllowed(app.methodNotAllowed)

	static, _ := fs.Sub(app.Files, "static")
	r.Handle("/static/*", http.StripPrefix("/static/", staticFiles(static)))

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
// new build, so browsers may keep them for an hour.
func staticFiles(fsys fs.FS) http.Handler {
	files := http.FileServerFS(fsys)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "" || r.URL.Path[len(r.URL.Path)-1] == '/' {
			http.NotFound(w, r) // no directory listings
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	})
}
