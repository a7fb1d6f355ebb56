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
	"sync"

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
	GraphJSON      template.HTML // indented and escaped by prettyJSON
	TokenExpiresIn int64

	Claims    []Claim
	AdminRole string

	Events      []Event      // calendar.go
	Permissions []Permission // the scopes a page needs (scopes.go)
	Next        string       // the page to try again

	// AppVersion and MSALVersion are shown in the footer (version.go).
	AppVersion, MSALVersion string

	// Blocked explains a call Conditional Access blocked (challenge.go).
	Blocked *blockedDetails

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
	for _, want := range []string{"index", "login", "auth_error", "config_error", "graph", "admin", "token_details", "error", "calendar", "consent_declined", "logout", "frontchannel_logout"} {
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
		AppVersion:  versions.app,
		MSALVersion: versions.msal,
	}
	if user := userFrom(r.Context()); user.SignedIn() {
		data.User = &User{Name: user.Claims.String("name"), Username: user.Claims.String("preferred_username")}
		if data.User.Name == "" {
			data.User.Name = data.User.Username
		}
	}
	return data
}

// render executes a page into a buffer first, so that a template error
// becomes a clean error page instead of half a page: nothing is written when
// it returns an error.
func (app *Application) render(w http.ResponseWriter, status int, page string, data templateData) error {
	t, ok := app.templates[page]
	if !ok {
		return fmt.Errorf("handlers: no template %q", page)
	}
	buf := renderBuffers.Get().(*bytes.Buffer)
	defer putRenderBuffer(buf)
	if err := t.ExecuteTemplate(buf, "base", data); err != nil {
		return fmt.Errorf("rendering %s: %w", page, err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
	return nil
}

// renderBuffers are the buffers pages are rendered into. A page is a few
// kilobytes: a buffer of its own, grown from nothing, took half a dozen
// allocations and copies for every page.
var renderBuffers = sync.Pool{New: func() any {
	b := new(bytes.Buffer)
	b.Grow(16 << 10)
	return b
}}

// putRenderBuffer returns a buffer to renderBuffers, unless an unusually
// large page grew it: the pool then does not keep that memory.
func putRenderBuffer(b *bytes.Buffer) {
	if b.Cap() > 64<<10 {
		return
	}
	b.Reset()
	renderBuffers.Put(b)
}
