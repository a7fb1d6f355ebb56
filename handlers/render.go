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
	"ms-identity-go-webapp/internal/bounded"
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

	AuthURL   string
	SignUpURL string // the login page's "Create an account" (External ID only)

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
	defer func() { putRenderBuffer(buf) }()
	if err := executePage(buf, t, page, &data); err != nil {
		return fmt.Errorf("rendering %s: %w", page, err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if _, err := w.Write(buf.Bytes()); err != nil {
		// The client went away mid-answer. An HTTP/2 write that failed
		// may still be queued with these bytes: the buffer is not reused.
		buf = nil
	}
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
	if b == nil || b.Cap() > 64<<10 {
		return
	}
	b.Reset()
	renderBuffers.Put(b)
}

// executePage writes what the page's "base" template writes: the layout,
// then the page's main block, then the rest of the layout. The layout is
// the same on every page a user sees of one kind, yet it was most of what
// rendering a page cost (html/template calls its escapers through
// reflection, for each value): so it is rendered once per user and page and
// kept (layouts), and only the main block is executed for each request.
//
// This writes the very bytes "base" would, escaped alike: "base" calls
// layout_top, main and layout_bottom each in HTML text, the context each is
// escaped in when executed alone (TestLayoutCache holds every page to that).
// A base template without the two layout parts is executed as it is.
func executePage(w *bytes.Buffer, t *template.Template, page string, data *templateData) error {
	if t.Lookup("layout_top") == nil || t.Lookup("layout_bottom") == nil {
		return t.ExecuteTemplate(w, "base", data)
	}
	l, err := layouts.get(t, newLayoutKey(page, data))
	if err != nil {
		return err
	}
	w.Write(l.top)
	w.WriteByte('\n')
	if err := t.ExecuteTemplate(w, "main", data); err != nil {
		return err
	}
	w.WriteByte('\n')
	w.Write(l.bottom)
	return nil
}

// layoutKey is everything the layout templates show: the page (its title),
// the user, the demo banner, the year, the versions and, on error pages,
// the heading in the title. The layout is rendered from these alone (see
// data), so a kept layout can never show another request's values.
type layoutKey struct {
	t            *template.Template // the page's templates, one set per app
	page         string
	user         User
	signedIn     bool
	demo         bool
	year         int
	app, msal    string
	errorHeading string
}

func newLayoutKey(page string, d *templateData) layoutKey {
	k := layoutKey{page: page, demo: d.Demo, year: d.CurrentYear, app: d.AppVersion, msal: d.MSALVersion, errorHeading: d.Heading}
	if d.User != nil {
		k.user, k.signedIn = *d.User, true
	}
	return k
}

// data is the page data the layout is rendered from.
func (k layoutKey) data() templateData {
	d := templateData{Demo: k.demo, CurrentYear: k.year, AppVersion: k.app, MSALVersion: k.msal, Heading: k.errorHeading}
	if k.signedIn {
		u := k.user
		d.User = &u
	}
	return d
}

// layouts keeps rendered layouts: about 1.6 KB each, at most
// maxLayouts of them (the most recent users and pages), 1.6 MB.
var layouts = &layoutCache{}

const maxLayouts = 1024

type layoutCache struct {
	entries bounded.Map[layoutKey, *renderedLayout]
}

// renderedLayout is a layout's output before and after the main block.
type renderedLayout struct{ top, bottom []byte }

// get returns the layout of k from page templates t, rendering it the first
// time.
func (c *layoutCache) get(t *template.Template, k layoutKey) (*renderedLayout, error) {
	k.t = t
	if l, ok := c.entries.Get(k); ok {
		return l, nil
	}
	data := k.data()
	var top, bottom bytes.Buffer
	if err := t.ExecuteTemplate(&top, "layout_top", data); err != nil {
		return nil, err
	}
	if err := t.ExecuteTemplate(&bottom, "layout_bottom", data); err != nil {
		return nil, err
	}
	l := &renderedLayout{top: top.Bytes(), bottom: bottom.Bytes()}
	c.entries.Put(k, l, 0, bounded.Limit{Entries: maxLayouts})
	return l, nil
}
