// Rendering: the template cache, the data every page gets, and the error pages.

package handlers

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"

	"ms-identity-go-webapp/identity"
)

// User is the signed-in user as the pages show them.
type User struct {
	Name     string
	Username string
}

// Claim is one ID token claim, formatted for a page.
type Claim struct {
	Name  string
	Value string
}

// templateData is the data of every page; each page fills what it shows.
type templateData struct {
	CurrentYear int
	User        *User
	Demo        bool
	CSRFToken   string

	AuthURL string

	AuthError *identity.AuthError

	ConfigProblems []string

	GraphEndpoint  string
	GraphJSON      string
	TokenExpiresIn int64

	Claims    []Claim
	AdminRole string

	Status    int
	Heading   string
	Message   string
	Detail    string
	RequestID string
}

// parseTemplates parses each page with the base layout, once at start-up, so
// a broken template stops the app instead of failing a request.
func parseTemplates(files fs.FS) (map[string]*template.Template, error) {
	pages, err := fs.Glob(files, "templates/*.html")
	if err != nil {
		return nil, err
	}
	cache := map[string]*template.Template{}
	for _, page := range pages {
		name := strings.TrimSuffix(path.Base(page), ".html")
		if name == "base" {
			continue
		}
		t, err := template.New(name).ParseFS(files, "templates/base.html", page)
		if err != nil {
			return nil, fmt.Errorf("handlers: parsing %s: %w", page, err)
		}
		cache[name] = t
	}
	for _, want := range []string{"index", "login", "auth_error", "config_error", "graph", "admin", "token_details", "error"} {
		if cache[want] == nil {
			return nil, fmt.Errorf("handlers: template %s.html is missing", want)
		}
	}
	return cache, nil
}

// newTemplateData fills the fields every page needs.
func (app *Application) newTemplateData(r *http.Request) templateData {
	data := templateData{
		CurrentYear: app.now().Year(),
		Demo:        app.Demo,
		RequestID:   requestIDFrom(r.Context()),
	}
	if s := sessionFrom(r.Context()); s != nil && s.user.SignedIn() {
		data.User = &User{Name: s.user.Claims.String("name"), Username: s.user.Claims.String("preferred_username")}
		if data.User.Name == "" {
			data.User.Name = data.User.Username
		}
	}
	return data
}

// render executes a page into a buffer first, so that a template error
// becomes a clean 500 page instead of half a page.
func (app *Application) render(w http.ResponseWriter, r *http.Request, status int, page string, data templateData) {
	t, ok := app.templates[page]
	if !ok {
		app.serverError(w, r, fmt.Errorf("handlers: no template %q", page))
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "base", data); err != nil {
		if page == "error" {
			// The error page itself failed: fall back to plain text.
			app.logger.Error("rendering the error page", "err", err, "request_id", data.RequestID)
			http.Error(w, http.StatusText(status), status)
			return
		}
		app.serverError(w, r, fmt.Errorf("rendering %s: %w", page, err))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	buf.WriteTo(w)
}

// errorPage renders the error page with a heading and a message for people.
func (app *Application) errorPage(w http.ResponseWriter, r *http.Request, status int, heading, message, detail string) {
	data := app.newTemplateData(r)
	data.Status, data.Heading, data.Message, data.Detail = status, heading, message, detail
	app.render(w, r, status, "error", data)
}

// serverError logs err with the request and shows a generic 500 page: the
// details are for the log, never for the browser.
func (app *Application) serverError(w http.ResponseWriter, r *http.Request, err error) {
	app.logger.Error("server error", "method", r.Method, "path", r.URL.Path,
		"request_id", requestIDFrom(r.Context()), "err", err)
	app.errorPage(w, r, http.StatusInternalServerError, "Something went wrong",
		"The app hit an unexpected error. It has been logged; please try again.", "")
}

func (app *Application) notFound(w http.ResponseWriter, r *http.Request) {
	app.errorPage(w, r, http.StatusNotFound, "Page not found",
		"There is no page at this address.", "")
}

func (app *Application) methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	app.errorPage(w, r, http.StatusMethodNotAllowed, "Method not allowed",
		fmt.Sprintf("This page does not accept %s requests.", r.Method), "")
}

// unavailable shows that the identity provider could not be reached.
func (app *Application) unavailable(w http.ResponseWriter, r *http.Request, err error) {
	app.logger.Warn("identity provider unavailable", "path", r.URL.Path,
		"request_id", requestIDFrom(r.Context()), "err", err)
	app.errorPage(w, r, http.StatusServiceUnavailable, "Cannot reach the identity provider",
		"Signing in needs Microsoft Entra ID, which did not answer or answered with an error. Please try again in a moment.", "")
}
