// HTML pages: parsing the embedded templates and rendering them safely.

package emulator

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"sort"
	"strings"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static/emulator.css
var stylesheet []byte

var pageNames = []string{"signin", "signup", "error", "signed_out", "form_post", "index", "pick_account", "consent", "second_factor", "device_code", "device_confirm", "device_done"}

// parsePages parses each page together with the layout, once, at New.
func parsePages() (map[string]*template.Template, error) {
	funcs := template.FuncMap{"join": strings.Join}
	pages := make(map[string]*template.Template, len(pageNames))
	for _, name := range pageNames {
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("parse page %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// page holds what the layout needs.
type page struct {
	Title  string
	Tenant string
}

// render executes a page into a buffer first, so a template error becomes
// a clean 500 instead of half a page, and sets strict headers: the pages
// load nothing but the emulator's own stylesheet and run no script.
func (e *Emulator) render(w http.ResponseWriter, status int, name string, data any) {
	e.renderFramed(w, status, name, data, nil)
}

// renderFramed is render for a page that frames other sites: its CSP's
// frame-src allows exactly frameOrigins (scheme://host:port each), and
// nothing at all when there are none.
func (e *Emulator) renderFramed(w http.ResponseWriter, status int, name string, data any, frameOrigins []string) {
	var buf bytes.Buffer
	if err := e.pages[name].ExecuteTemplate(&buf, "layout", data); err != nil {
		e.log.Error("render page", "page", name, "err", err)
		http.Error(w, "internal error rendering an emulator page", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	csp := "default-src 'none'; style-src 'self'; img-src 'self'; "
	if len(frameOrigins) > 0 {
		csp += "frame-src " + strings.Join(frameOrigins, " ") + "; "
	}
	h.Set("Content-Security-Policy", csp+"base-uri 'none'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

func handleCSS(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Write(stylesheet)
}

type signInError struct {
	UserMessage string
	Description string // "AADSTSnnnn: ..."
}

type signInPage struct {
	page
	Action   string // the authorize URL with the original query string
	Username string
	ClientID string
	Scopes   []string
	Error    *signInError
	Notice   string // why the password is asked although the account is signed in
	Accounts []User // listed only for the well-known demo accounts
	// SignUpURL is the same request with prompt=create: an External ID
	// tenant's sign-in page offers to create an account.
	SignUpURL string
}

// renderSignIn shows the sign-in form, with an error after a failed try.
// Entra answers a failed password with the form again (HTTP 200), not an
// error status.
func (e *Emulator) renderSignIn(w http.ResponseWriter, r *http.Request, req *authorizeRequest, username string, fail *aadError, notice string) {
	data := signInPage{
		page:     page{Title: "Sign in", Tenant: e.tenant},
		Action:   r.URL.Path + "?" + r.URL.RawQuery,
		Username: username,
		ClientID: req.clientID,
		Scopes:   strings.Fields(req.scope),
		Notice:   notice,
	}
	if e.externalID {
		data.SignUpURL = withPrompt(r.URL, "create")
	}
	if fail != nil {
		msg := "Your account or password is incorrect."
		if fail.code == 50034 {
			msg = "We couldn’t find an account with that username."
		}
		data.Error = &signInError{UserMessage: msg, Description: fail.description()}
	}
	if e.defaultUsers {
		data.Accounts = e.users
	}
	e.render(w, http.StatusOK, "signin", data)
}

type pickerPage struct {
	page
	Action   string
	ClientID string
	Accounts []User
}

// renderPicker shows the account picker: one button per account signed in
// in this browser, most recent first, and "Use another account".
func (e *Emulator) renderPicker(w http.ResponseWriter, r *http.Request, req *authorizeRequest, s browserSession) {
	data := pickerPage{
		page:     page{Title: "Pick an account", Tenant: e.tenant},
		Action:   r.URL.Path + "?" + r.URL.RawQuery,
		ClientID: req.clientID,
	}
	for _, a := range s.accounts {
		if u := e.user(a.username); u != nil {
			data.Accounts = append(data.Accounts, *u)
		}
	}
	e.render(w, http.StatusOK, "pick_account", data)
}

type consentPage struct {
	page
	Action      string
	Flow        string
	AppName     string
	ClientID    string
	Username    string
	Permissions []permission
}

// renderConsent shows the consent page for the permissions listed and
// parks the sign-in until its form comes back.
func (e *Emulator) renderConsent(w http.ResponseWriter, r *http.Request, req *authorizeRequest, in *interaction, permissions []string) {
	e.render(w, http.StatusOK, "consent", consentPage{
		page:        page{Title: "Permissions requested", Tenant: e.tenant},
		Action:      r.URL.Path + "?" + r.URL.RawQuery,
		Flow:        e.saveInteraction(in, stepConsent),
		AppName:     req.app.displayName,
		ClientID:    req.clientID,
		Username:    in.username,
		Permissions: describePermissions(permissions),
	})
}

type secondFactorPage struct {
	page
	Action   string
	Flow     string
	Username string
	Contexts []string
	Wrong    bool
	DemoCode string // shown only for the well-known demo accounts
}

// renderSecondFactor asks for the one-time code an authentication context
// requires, again with an error after a wrong one. Each rendering gets a
// new form id, so an old page cannot be submitted.
func (e *Emulator) renderSecondFactor(w http.ResponseWriter, r *http.Request, req *authorizeRequest, in *interaction, wrong bool) {
	data := secondFactorPage{
		page:     page{Title: "Verify your identity", Tenant: e.tenant},
		Action:   r.URL.Path + "?" + r.URL.RawQuery,
		Flow:     e.saveInteraction(in, stepSecondFactor),
		Username: in.username,
		Contexts: req.claims.acrs,
		Wrong:    wrong,
	}
	if u := e.user(in.username); u != nil && e.defaultUsers {
		data.DemoCode = u.OTC
	}
	e.render(w, http.StatusOK, "second_factor", data)
}

type errorPage struct {
	page
	Status      int
	Description string
	Trace       trace
	Hint        string
}

// renderError shows an error that must not be sent to the app.
func (e *Emulator) renderError(w http.ResponseWriter, r *http.Request, status int, a aadError) {
	data := errorPage{
		page:        page{Title: "Sign-in error", Tenant: e.tenant},
		Status:      status,
		Description: a.description(),
		Trace:       e.newTrace(r),
	}
	switch a.code {
	case 50011, 700016, 900971, 900144:
		data.Hint = "This error is shown here rather than sent back to the app because the app’s client ID or redirect URI could not be trusted, just as Entra ID does."
	}
	e.render(w, status, "error", data)
}

type signedOutPage struct {
	page
	SignedOut []string // the accounts signed out
	Frames    []string // front-channel logout URLs, each loaded in a hidden iframe
	Return    string   // post_logout_redirect_uri with state, when registered
	Wait      int      // seconds before the meta refresh to Return
	Rejected  string   // a post_logout_redirect_uri the emulator would not follow
}

type formField struct{ Name, Value string }

type formPostPage struct {
	page
	Action string
	Fields []formField
}

// renderFormPost delivers a response with response_mode=form_post. Without
// script the user presses Continue.
func (e *Emulator) renderFormPost(w http.ResponseWriter, r *http.Request, action string, params url.Values) {
	data := formPostPage{page: page{Title: "Continue", Tenant: e.tenant}, Action: action}
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, v := range params[k] {
			data.Fields = append(data.Fields, formField{k, v})
		}
	}
	e.render(w, http.StatusOK, "form_post", data)
}

type indexPage struct {
	page
	Authority     string
	ExternalID    bool   // an External ID tenant: the app takes Authority as OIDC_AUTHORITY
	Issuer        string // an External ID tenant's issuer
	Apps          []App
	Discovery     string
	GraphMe       string
	Accounts      []User
	ShowPasswords bool
}

func (e *Emulator) handleIndex(w http.ResponseWriter, r *http.Request) {
	authority := e.Authority(baseURL(r))
	e.render(w, http.StatusOK, "index", indexPage{
		page:          page{Title: "About", Tenant: e.tenant},
		Authority:     authority,
		ExternalID:    e.externalID,
		Issuer:        e.externalIDIssuerIf(r),
		Apps:          e.Apps(),
		Discovery:     authority + "/v2.0/.well-known/openid-configuration",
		GraphMe:       baseURL(r) + "/v1.0/me",
		Accounts:      e.users,
		ShowPasswords: e.defaultUsers,
	})
}
