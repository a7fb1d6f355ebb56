// Package handlers serves the sample's own pages: home, /graph, /calendar,
// /admin and /token_details, and their rendering. Sign-in, sessions and the
// gates in front of the pages come from package entra.
package handlers

import (
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"ms-identity-go-webapp/entra"
	"ms-identity-go-webapp/internal/reqstate"
	"ms-identity-go-webapp/internal/webpage"
	"ms-identity-go-webapp/internal/webserver"
)

// Config is the sample's own settings (app_config.go reads them).
type Config struct {
	// Graph is Microsoft Graph: its base URL and the scopes of /graph.
	Graph entra.API
	// MeEndpoint is what /graph calls (GRAPH_ENDPOINT; default Graph's
	// /me), and CalendarEndpoint what /calendar calls with a token for
	// CalendarScopes (CALENDAR_ENDPOINT; default Graph's /me/events).
	MeEndpoint, CalendarEndpoint string
	CalendarScopes               []string
	// AdminRole is the app role /admin requires (ADMIN_ROLE).
	AdminRole string
	// AdminAuthContext, when set, is the authentication context /admin
	// requires in the ID token's acrs claim (ADMIN_AUTH_CONTEXT, e.g. c1).
	AdminAuthContext string
	// Demo is true when the app signs in against the local emulator: the
	// pages say so.
	Demo bool
}

// Handlers serves the pages; its methods are the handlers.
type Handlers struct {
	cfg Config
	// meURL and calendarURL are what /graph and /calendar call, meAPI and
	// calendarAPI the APIs they call them on.
	meURL, calendarURL string
	meAPI, calendarAPI entra.API
	files              fs.FS
	auth               *entra.Auth
	pages              *webpage.Set
	now                func() time.Time
}

// New parses the pages in files (templates/*.html) for auth's pages, or,
// with a nil auth, for the configuration page alone.
func New(auth *entra.Auth, cfg Config, files fs.FS) (*Handlers, error) {
	pages, err := webpage.ParseGlob(files, "templates/base.html", "templates/*.html", nil)
	if err != nil {
		return nil, err
	}
	// A missing page stops start-up instead of failing its requests.
	for _, page := range []string{"index", "config_error", "graph", "admin", "token_details", "calendar"} {
		if !pages.Has(page) {
			return nil, fmt.Errorf("handlers: template %s.html is missing", page)
		}
	}
	h := &Handlers{cfg: cfg, files: files, auth: auth, pages: pages, now: time.Now,
		meURL: cfg.Graph.URL(cfg.MeEndpoint), calendarURL: calendarURL(cfg.Graph.URL(cfg.CalendarEndpoint))}
	// GRAPH_ENDPOINT and CALENDAR_ENDPOINT may name another host than the
	// base URL (a proxy, a national cloud): each page's API is its own
	// URL, so that CallAPI sends the token there and nowhere else.
	h.meAPI, h.calendarAPI = cfg.Graph, cfg.Graph
	h.meAPI.BaseURL, h.calendarAPI.BaseURL = withoutQuery(h.meURL), withoutQuery(h.calendarURL)
	return h, nil
}

// Handler is the whole app inside the server's middleware: the static
// files, and the pages behind the sign-in (Routes). With sign-in settings
// missing, every page is the configuration page instead.
func (h *Handlers) Handler(missing []string) http.Handler {
	fsys, _ := fs.Sub(h.files, "static")
	var pages http.Handler
	var notFound http.HandlerFunc
	if len(missing) > 0 {
		pages = h.configProblems(missing)
		notFound = pages.ServeHTTP
	} else {
		pages = h.Routes()
		notFound = func(w http.ResponseWriter, r *http.Request) { h.auth.ServeError(w, r, entra.ErrNotFound) }
	}
	static := http.StripPrefix("/static/", webserver.Static(fsys, notFound))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/static/") {
			static.ServeHTTP(w, r)
			return
		}
		pages.ServeHTTP(w, r)
	})
}

// ServeError answers a request with entra's page for err; without sign-in
// settings (every page is the configuration page, and there is no entra to
// render its error page), with a plain 500 that still gives the request id
// to quote.
func (h *Handlers) ServeError(w http.ResponseWriter, r *http.Request, err error) {
	if h.auth == nil {
		http.Error(w, "Something went wrong. Request ID: "+reqstate.ID(r.Context()), http.StatusInternalServerError)
		return
	}
	h.auth.ServeError(w, r, err)
}

// Routes are the sample's pages and the gates in front of them, in one
// place, inside the sign-in's middleware.
func (h *Handlers) Routes() http.Handler {
	auth := h.auth
	r := chi.NewRouter()
	// HEAD gets what GET would, without the body: link checkers and
	// monitors send it.
	r.Use(middleware.GetHead)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) { auth.ServeError(w, r, entra.ErrNotFound) })
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		auth.ServeError(w, r, &entra.HTTPError{Status: http.StatusMethodNotAllowed, Heading: "Method not allowed",
			Message: "This page does not accept " + r.Method + " requests."})
	})

	r.Get("/", h.handle(h.index))
	r.With(auth.LoginRequired).Get("/token_details", h.handle(h.tokenDetails))
	r.With(auth.ScopesRequired(h.cfg.Graph.Scopes...)).Get("/graph", h.handle(h.graph))
	// Asks for Calendars.Read only when the user first opens it.
	r.With(auth.ScopesRequired(h.cfg.CalendarScopes...)).Get("/calendar", h.handle(h.calendar))
	// The step-up comes first: a user without the role steps up too, and
	// then gets the 403.
	r.With(auth.AuthContextRequired(h.cfg.AdminAuthContext), auth.RolesRequired(h.cfg.AdminRole)).Get("/admin", h.handle(h.admin))
	return auth.Middleware(r)
}

// withoutQuery is an absolute URL without its query.
func withoutQuery(raw string) string {
	base, _, _ := strings.Cut(raw, "?")
	return base
}

// configProblems answers every page with the configuration page: what the
// app lacks before it can sign anyone in.
func (h *Handlers) configProblems(problems []string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		data := templateData{ConfigProblems: problems}
		data.App = Layout(h.cfg)(r)
		if err := h.pages.Render(w, http.StatusServiceUnavailable, "config_error", &data, data.Layout); err != nil {
			http.Error(w, http.StatusText(http.StatusServiceUnavailable), http.StatusServiceUnavailable)
		}
	})
}

// handle adapts a handler that returns an error: the error becomes
// entra's page for it.
func (h *Handlers) handle(f func(w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := f(w, r); err != nil {
			h.auth.ServeError(w, r, err)
		}
	}
}

// layout is what the sample's layout shows besides the user (entra.Layout's
// App): the demo banner, the year and the versions in the footer.
type layout struct {
	Demo                    bool
	Year                    int
	AppVersion, MSALVersion string
}

// Layout returns what the layout shows of a request besides the user
// (entra.Config.LayoutData). The value changes once a year: it is kept, so
// that a page does not box a new one.
func Layout(cfg Config) func(*http.Request) any {
	var kept atomic.Pointer[keptLayout]
	return func(*http.Request) any {
		year := time.Now().Year()
		if k := kept.Load(); k != nil && k.year == year {
			return k.value
		}
		k := &keptLayout{year: year, value: layout{Demo: cfg.Demo, Year: year, AppVersion: versions.app, MSALVersion: versions.msal}}
		kept.Store(k)
		return k.value
	}
}

// keptLayout is the layout's value for one year.
type keptLayout struct {
	year  int
	value any
}

// templateData is the data of the sample's pages: entra's (the layout, the
// request id) and each page's own fields.
type templateData struct {
	entra.Page

	ConfigProblems []string

	GraphEndpoint  string
	GraphJSON      template.HTML // indented and escaped by prettyJSON
	TokenExpiresIn int64

	Claims    []Claim
	AdminRole string

	Events []Event // calendar.go
}

func (h *Handlers) newTemplateData(r *http.Request) templateData {
	return templateData{Page: h.auth.Page(r)}
}

// render writes a page; nothing is written when it returns an error.
func (h *Handlers) render(w http.ResponseWriter, status int, page string, data *templateData) error {
	return h.pages.Render(w, status, page, data, data.Layout)
}
