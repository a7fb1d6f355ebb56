// Package handlers serves the app's pages: routes, middleware, page handlers
// and rendering. OAuth protocol details live in package identity, and the
// storage of sessions in package session.
package handlers

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"ms-identity-go-webapp/identity"
	"ms-identity-go-webapp/internal/forwarded"
	"ms-identity-go-webapp/session"
)

// Options are the dependencies and settings of an Application.
type Options struct {
	Logger *slog.Logger
	// Files holds templates/*.html and static/*; main embeds them.
	Files fs.FS
	// Identity signs users in. It is nil when the configuration has Problems.
	Identity *identity.Client
	// Sessions keeps each signed-in user's server-side session, and its
	// keys seal the sign-in cookies. It may be nil when the configuration
	// has Problems.
	Sessions *session.Store
	// GraphClient calls the downstream API (Microsoft Graph).
	GraphClient   *http.Client
	GraphEndpoint string
	GraphTimeout  time.Duration
	// CalendarEndpoint is Graph's /me/events, which /calendar calls with a
	// token for CalendarScopes (default Calendars.Read).
	CalendarEndpoint string
	CalendarScopes   []string
	AdminRole        string
	// AdminAuthContext, when set, is the authentication context (e.g. c1)
	// that /admin requires in the ID token's acrs claim (stepup.go).
	AdminAuthContext string
	// RedirectPath is the path of REDIRECT_URI, where the sign-in comes back.
	RedirectPath string
	// PostLogoutRedirectURI is where the identity provider sends the browser
	// after sign-out: the app's home page.
	PostLogoutRedirectURI string
	// IdentityOrigin is the identity provider's origin, AUTHORITY's scheme
	// and host (https://login.microsoftonline.com). Its signed-out page is
	// the only page that may frame the front-channel logout, and the
	// sign-out form's redirect goes there. Empty: neither.
	IdentityOrigin string
	// ConfigProblems, when any, are shown on every page instead of the app.
	ConfigProblems []string
	// Demo is true when the app signs in against the local emulator.
	Demo bool

	// Origin is the scheme and host of REDIRECT_URI, where users reach the
	// app. A GET or HEAD that reached it under another origin is
	// redirected there. Empty turns the redirect off.
	Origin string
	// TrustedProxies are the peers whose forwarding headers are believed.
	TrustedProxies *forwarded.Proxies
	// SessionsReady reports whether the session store answers; /readyz
	// calls it. Nil means the store needs no check.
	SessionsReady func(ctx context.Context) error
}

// Application holds the dependencies of the handlers; handlers, helpers and
// middleware are its methods.
type Application struct {
	Options
	logger    *slog.Logger
	templates map[string]*template.Template
	now       func() time.Time
	// draining is set on SIGTERM: /readyz answers 503 from then on.
	draining atomic.Bool
	signIns  *session.Sealer // seals the sign-in cookies (signin.go)

	// csp is every page's Content-Security-Policy; frontChannelCSP the
	// front-channel logout's, which the identity provider may frame.
	csp, frontChannelCSP string
	// crossOrigin refuses unsafe requests (the sign-out's POST) sent by
	// other sites.
	crossOrigin *http.CrossOriginProtection
	// users decodes the user of each request's session (loadUser).
	users identity.SessionDecoder
}

// New checks the options and parses the templates.
func New(opts Options) (*Application, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Files == nil {
		return nil, errors.New("handlers: Files is required")
	}
	if len(opts.ConfigProblems) == 0 && (opts.Identity == nil || opts.Sessions == nil) {
		return nil, errors.New("handlers: Identity and Sessions are required unless the configuration has problems")
	}
	if opts.GraphClient == nil {
		opts.GraphClient = &http.Client{}
	}
	if opts.GraphTimeout <= 0 {
		opts.GraphTimeout = 10 * time.Second
	}
	if len(opts.CalendarScopes) == 0 {
		opts.CalendarScopes = []string{"Calendars.Read"}
	}
	if opts.AdminRole == "" {
		opts.AdminRole = "admin"
	}
	if opts.RedirectPath == "" || opts.RedirectPath == "/" {
		return nil, fmt.Errorf("handlers: the redirect path must not be %q", opts.RedirectPath)
	}
	if opts.PostLogoutRedirectURI == "" {
		opts.PostLogoutRedirectURI = "/"
	}
	templates, err := parseTemplates(opts.Files)
	if err != nil {
		return nil, err
	}
	app := &Application{Options: opts, logger: opts.Logger, templates: templates, now: time.Now}
	if opts.Sessions != nil {
		app.signIns = opts.Sessions.Keys().Sealer("sign-in cookie")
	}
	idp := ""
	if opts.IdentityOrigin != "" {
		if idp = canonicalOrigin(opts.IdentityOrigin); idp == "" {
			return nil, fmt.Errorf("handlers: the identity provider's origin %q is not scheme://host[:port]", opts.IdentityOrigin)
		}
	}
	app.csp = contentSecurityPolicy(idp, "'none'")
	app.frontChannelCSP = app.csp
	if idp != "" {
		app.frontChannelCSP = contentSecurityPolicy(idp, idp)
	}
	app.crossOrigin = http.NewCrossOriginProtection()
	if opts.Origin != "" {
		// Behind a proxy that does not pass the Host header on, a browser
		// without Sec-Fetch-Site still sends this Origin.
		if err := app.crossOrigin.AddTrustedOrigin(canonicalOrigin(opts.Origin)); err != nil {
			return nil, fmt.Errorf("handlers: the app's origin %q: %w", opts.Origin, err)
		}
	}
	app.crossOrigin.SetDenyHandler(http.HandlerFunc(app.crossOriginRefused))
	return app, nil
}
