// Pages: the package's own pages, the app's versions of them, and the data they get.

package entra

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"

	"ms-identity-go-webapp/internal/reqstate"
	"ms-identity-go-webapp/internal/webpage"
)

// defaultTemplates are the package's plain pages and their layout.
//
//go:embed templates/*.html
var defaultTemplates embed.FS

// pageNames are the pages the package renders; an app's templates may
// replace any of them (Config.Templates).
var pageNames = []string{"login", "logout", "auth_error", "consent_declined", "conditional_access", "error", "frontchannel_logout"}

// Page is what the package's pages get, and what an app's page data may
// embed to share the layout: the layout's values, the request id, and
// each page's own fields.
type Page struct {
	Layout
	// RequestID is the request's id, shown on error pages and in the log.
	RequestID string

	AuthURL     string       // login: the identity provider's sign-in URL
	SignUpURL   string       // login: "Create an account" (External ID only)
	AuthError   *AuthError   // auth_error, consent_declined: what failed
	Permissions []Permission // consent_declined: what the page asked for
	Next        string       // consent_declined: the page to try again
	Blocked     *Blocked     // conditional_access: what was blocked

	// error: the status, and a message and detail under Layout.Heading.
	Status          int
	Message, Detail string
}

// Layout is what an app's layout shows: the signed-in user, the heading (in
// the title of error pages) and the app's own values (Config.LayoutData).
// It is comparable: a layout is rendered once for each value and kept, and
// renders from these fields alone.
type Layout struct {
	User     PageUser // zero when nobody is signed in
	SignedIn bool
	Heading  string
	App      any
	// LoginPath and LogoutPath are where the layout's sign-in link and
	// sign-out form go (Config.LoginPath, Config.LogoutPath).
	LoginPath, LogoutPath string
}

// PageUser is the signed-in user as a page shows them.
type PageUser struct {
	Name     string // the display name, else the username
	Username string // preferred_username, e.g. alice@contoso.com
}

// Permission is one scope a page asked for and what it allows, in words.
type Permission struct {
	Scope string
	Words string
}

// Page returns the data every page of the request gets: the layout's
// values and the request id. An app's handlers start their page data from
// it, so that their pages and the package's share one layout.
func (a *Auth) Page(r *http.Request) Page {
	p := Page{RequestID: reqstate.ID(r.Context())}
	p.LoginPath, p.LogoutPath = a.cfg.LoginPath, a.cfg.LogoutPath
	if a.cfg.LayoutData != nil {
		p.App = a.cfg.LayoutData(r)
	}
	if user := userOf(r.Context()); user.SignedIn() {
		p.SignedIn = true
		p.User = PageUser{Name: user.Claims.String("name"), Username: user.Claims.String("preferred_username")}
		if p.User.Name == "" {
			p.User.Name = p.User.Username
		}
	}
	return p
}

// parsePages parses the package's pages: each in the app's layout and its
// own version when app (Config.Templates) gives them, else in the
// package's.
func parsePages(app fs.FS, funcs template.FuncMap) (*webpage.Set, error) {
	pages := map[string]*template.Template{}
	layoutFS, layout := fs.FS(defaultTemplates), "templates/base.html"
	if app != nil {
		if _, err := fs.Stat(app, "base.html"); err != nil {
			return nil, fmt.Errorf("entra: Templates has no base.html: %w", err)
		}
		layoutFS, layout = app, "base.html"
	}
	for _, name := range pageNames {
		pageFS, file := fs.FS(defaultTemplates), "templates/"+name+".html"
		if app != nil {
			own := "identity/" + name + ".html"
			if _, err := fs.Stat(app, own); err == nil {
				pageFS, file = app, own
			} else if !errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("entra: %s: %w", own, err)
			}
		}
		t, err := template.New(name).Funcs(funcs).ParseFS(layoutFS, layout)
		if err == nil {
			t, err = t.ParseFS(pageFS, file)
		}
		if err != nil {
			return nil, fmt.Errorf("entra: parsing the %s page: %w", name, err)
		}
		pages[name] = t
	}
	return webpage.New(pages), nil
}

// checkPages renders each page once, with every field set, so that a
// template that cannot render (it reads a field Page does not have, or an
// App value LayoutData does not give) stops New instead of turning every
// page into a plain-text error.
func (a *Auth) checkPages() error {
	r, err := http.NewRequest(http.MethodGet, "/", nil)
	if err != nil {
		return err
	}
	p := a.Page(r)
	p.RequestID, p.AuthURL, p.SignUpURL, p.Next = "request-id", "https://login.example/authorize", "/login?prompt=create", "/"
	p.AuthError = &AuthError{Code: "access_denied", Description: "AADSTS65004", CorrelationID: "id", Hint: "hint"}
	p.Permissions = []Permission{{Scope: "User.Read", Words: "Sign you in"}}
	p.Blocked = &Blocked{Resource: "Microsoft Graph", AuthContext: "c1"}
	p.Status, p.Heading, p.Message, p.Detail = http.StatusInternalServerError, "Heading", "Message", "Detail"
	for _, name := range pageNames {
		var buf bytes.Buffer
		if err := a.pages.Execute(&buf, name, &p, p.Layout); err != nil {
			return fmt.Errorf("entra: the %s page does not render (do Config.Templates and Config.LayoutData agree?): %w", name, err)
		}
	}
	return nil
}

// render writes one of the package's pages. Nothing is written when it
// returns an error.
func (a *Auth) render(w http.ResponseWriter, status int, page string, data *Page) error {
	return a.pages.Render(w, status, page, data, data.Layout)
}

// renderPage renders a page for ServeError; a page that fails to render (a
// broken template) falls back to the plain-text status.
func (a *Auth) renderPage(w http.ResponseWriter, r *http.Request, status int, page string, data *Page) {
	if err := a.render(w, status, page, data); err != nil {
		a.logger.Error("rendering an error page", "page", page, "err", err, "request_id", data.RequestID)
		http.Error(w, http.StatusText(status), status)
	}
}
