// Auth: the sign-in of one app, its middleware, and the user of each request.

package entra

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"ms-identity-go-webapp/identity"
	"ms-identity-go-webapp/internal/forwarded"
	"ms-identity-go-webapp/internal/httpsserver"
	"ms-identity-go-webapp/internal/reqstate"
	"ms-identity-go-webapp/internal/webpage"
	"ms-identity-go-webapp/session"
)

// Auth signs users in to one app. Build it with New; it is safe for
// concurrent use.
type Auth struct {
	cfg      Config
	logger   *slog.Logger
	identity *identity.Client
	sessions *session.Store
	signIns  *session.Sealer // seals the sign-in cookies (signincookie.go)
	// usedSignIns refuses a sign-in cookie that comes back twice.
	usedSignIns usedSignIns
	users       identity.SessionDecoder
	pages       *webpage.Set
	outbound    *http.Client
	now         func() time.Time

	redirectPath string
	// csp is the Content-Security-Policy of the front-channel logout page,
	// which the identity provider may frame.
	frontChannelCSP string
	// crossOrigin refuses unsafe requests (the sign-out's POST) sent by
	// other sites.
	crossOrigin *http.CrossOriginProtection
	// protected is the middleware's chain for everything but the
	// front-channel logout: no-store, the cross-origin check, the session
	// and its user.
	protected func(next http.Handler) http.Handler
	// identityOrigin is the identity provider's scheme and host.
	identityOrigin string

	stopCleaning context.CancelFunc
	closeOnce    sync.Once
	closeErr     error
}

// New checks cfg, reads the credential it names and opens the session
// store: files in SessionDir, or Redis, which must answer. It makes no
// request to the identity provider, so it is safe in an app factory and a
// test, and an identity provider that is down at start-up does not stop the
// app. An incomplete or malformed cfg gives a *ConfigError naming every
// setting at fault.
func New(cfg Config) (*Auth, error) {
	if err := cfg.check(&ConfigError{Invalid: cfg.checkCredential()}); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	outbound := cfg.HTTPClient
	if outbound == nil {
		var err error
		if outbound, err = httpsserver.NewClient(nil); err != nil {
			return nil, err
		}
	}
	cred, err := loadCredential(cfg, time.Now())
	if err != nil {
		return nil, err
	}
	logger.Info("client credential", "type", cred.kind)
	if cred.warning != "" {
		logger.Warn(cred.warning)
	}
	id, err := identity.New(identity.Config{
		Authority:          cfg.Authority,
		OIDCAuthority:      cfg.OIDCAuthority,
		ClientID:           cfg.ClientID,
		Credential:         cred.cred,
		SendX5C:            cred.sendX5C,
		RedirectURI:        cfg.RedirectURI,
		Scopes:             cfg.Scopes,
		HTTPClient:         outbound,
		ClientCapabilities: cfg.ClientCapabilities,
	})
	if err != nil {
		return nil, err
	}
	pages, err := parsePages(cfg.Templates, cfg.TemplateFuncs)
	if err != nil {
		return nil, err
	}
	a := &Auth{
		cfg:            cfg,
		logger:         logger,
		identity:       id,
		pages:          pages,
		outbound:       outbound,
		now:            time.Now,
		redirectPath:   cfg.RedirectPath(),
		identityOrigin: forwarded.CanonicalOrigin(originOf(cmp.Or(cfg.Authority, cfg.OIDCAuthority))),
	}
	if err := a.checkPages(); err != nil {
		return nil, err
	}
	a.frontChannelCSP = frontChannelCSPFor(a.identityOrigin)
	a.crossOrigin = http.NewCrossOriginProtection()
	// Behind a proxy that does not pass the Host header on, a browser
	// without Sec-Fetch-Site still sends this Origin.
	if err := a.crossOrigin.AddTrustedOrigin(forwarded.CanonicalOrigin(cfg.Origin())); err != nil {
		return nil, fmt.Errorf("entra: the app's origin %q: %w", cfg.Origin(), err)
	}
	a.crossOrigin.SetDenyHandler(http.HandlerFunc(a.crossOriginRefused))

	ctx, cancel := context.WithCancel(context.Background())
	store, err := newSessionStore(ctx, cfg, logger)
	if err != nil {
		cancel()
		return nil, err
	}
	a.sessions, a.stopCleaning = store, cancel
	a.signIns = store.Keys().Sealer("sign-in cookie")
	loadAndSave := store.LoadAndSave(a.ServeError, a.logInvalidSession)
	a.protected = func(next http.Handler) http.Handler {
		return noStore(a.crossOrigin.Handler(loadAndSave(a.loadUser(next))))
	}
	return a, nil
}

// Close stops the clean-up of expired session files and releases the
// session store. Call it after the server has stopped: requests still
// finishing need their sessions.
func (a *Auth) Close() error {
	a.closeOnce.Do(func() {
		a.stopCleaning()
		a.closeErr = a.sessions.Close()
	})
	return a.closeErr
}

// Ready reports whether the app can sign users in now: the session store
// answers and the tenant's metadata was fetched (it is kept, so only the
// first call costs a request). For a readiness probe: the error is a short
// reason that names no host or address, such as "session store not
// answering"; the cause goes to the log.
func (a *Auth) Ready(ctx context.Context) error {
	if err := a.sessions.Ping(ctx); err != nil {
		a.logger.Warn("not ready: session store", "request_id", reqstate.ID(ctx), "err", err)
		return errors.New("session store not answering")
	}
	if _, err := a.identity.Metadata(ctx); err != nil {
		a.logger.Warn("not ready: tenant metadata", "request_id", reqstate.ID(ctx), "err", err)
		return errors.New("tenant metadata not fetched")
	}
	return nil
}

// IdentityOrigin is the identity provider's scheme and host, e.g.
// https://login.microsoftonline.com: the origin the sign-out form's
// redirect goes to, for the app's Content-Security-Policy.
func (a *Auth) IdentityOrigin() string { return a.identityOrigin }

// Middleware loads the signed-in user's session once per request and
// saves it after, when it changed; it puts the user in the request's
// context (UserFrom), keeps every answer out of caches, refuses unsafe
// requests from other sites, and answers the sign-in routes itself:
//
//   - GET LoginPath (?next=/page): the sign-in page;
//   - GET on RedirectURI's path: the identity provider's answer;
//   - GET LogoutPath: "Sign out?"; POST LogoutPath: the sign-out;
//   - GET FrontChannelLogoutPath: the identity provider's front-channel
//     sign-out, which ends the sessions of its sid.
//
// Everything else goes to next. A visitor who is not signed in stores
// nothing on the server. Each answer is held until the session is saved,
// so that a page never claims a change the store did not keep: serve
// streaming answers (server-sent events, websockets) outside it.
func (a *Auth) Middleware(next http.Handler) http.Handler {
	routes := a.protected(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h := a.route(r); h != nil {
			a.handle(h)(w, r)
			return
		}
		next.ServeHTTP(w, r)
	}))
	frontChannel := noStore(a.handle(a.frontChannelLogout))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st, r := reqstate.With(r)
		if st.ID == "" {
			st.ID = reqstate.NewID()
		}
		// The identity provider's front-channel logout comes in a
		// cross-site iframe, without the browser's cookies: it touches no
		// session of the request's, only those filed under its sid.
		if r.URL.Path == a.cfg.FrontChannelLogoutPath {
			if !getOrHead(r) {
				a.methodNotAllowed(w, r, "GET, HEAD")
				return
			}
			frontChannel.ServeHTTP(w, r)
			return
		}
		routes.ServeHTTP(w, r)
	})
}

// route returns the handler of a sign-in route, nil for any other request.
func (a *Auth) route(r *http.Request) handlerFunc {
	switch r.URL.Path {
	case a.cfg.LoginPath:
		if getOrHead(r) {
			return a.login
		}
		return a.notAllowed("GET, HEAD")
	case a.redirectPath:
		if getOrHead(r) {
			return a.authRedirect
		}
		return a.notAllowed("GET, HEAD")
	case a.cfg.LogoutPath:
		switch {
		case getOrHead(r):
			return a.logoutPage
		case r.Method == http.MethodPost:
			return a.logout
		}
		return a.notAllowed("GET, HEAD, POST")
	}
	return nil
}

func getOrHead(r *http.Request) bool {
	return r.Method == http.MethodGet || r.Method == http.MethodHead
}

func (a *Auth) notAllowed(allow string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		a.methodNotAllowed(w, r, allow)
		return nil
	}
}

// methodNotAllowed answers a method a sign-in route does not take.
func (a *Auth) methodNotAllowed(w http.ResponseWriter, r *http.Request, allow string) {
	w.Header().Set("Allow", allow)
	a.ServeError(w, r, &HTTPError{Status: http.StatusMethodNotAllowed, Heading: "Method not allowed",
		Message: fmt.Sprintf("This page does not accept %s requests.", r.Method)})
}

// The values of the headers every page gets, shared: a header is only ever
// replaced, never changed in place.
var (
	noStoreValue      = []string{"no-store"}
	denyFramingValue  = []string{"DENY"}
	noFramingCSPValue = []string{"frame-ancestors 'none'"}
)

// noStore keeps pages out of every cache: they show a user's data. Unless
// the app set its own, it also keeps them out of other sites' frames, so
// that no page can trick a user into pressing the sign-out button (the
// front-channel logout replaces these).
func noStore(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["Cache-Control"] = noStoreValue
		if _, ok := h["X-Frame-Options"]; !ok {
			h["X-Frame-Options"] = denyFramingValue
		}
		if _, ok := h["Content-Security-Policy"]; !ok {
			h["Content-Security-Policy"] = noFramingCSPValue
		}
		next.ServeHTTP(w, r)
	})
}

// crossOriginRefused answers a POST (or other unsafe request) that
// http.CrossOriginProtection found to come from another site, by
// Sec-Fetch-Site or Origin: a link or form elsewhere must not sign anyone
// out. Nothing was done, and the session was not even loaded.
func (a *Auth) crossOriginRefused(w http.ResponseWriter, r *http.Request) {
	a.logger.Warn("cross-origin request refused", "method", r.Method, "path", r.URL.Path,
		"sec_fetch_site", r.Header.Get("Sec-Fetch-Site"), "origin", r.Header.Get("Origin"),
		"request_id", reqstate.ID(r.Context()))
	a.ServeError(w, r, errCrossOrigin)
}

var errCrossOrigin = &HTTPError{Status: http.StatusForbidden, Heading: "Request refused",
	Message: "This request came from another site, so the app did not act on it: no other site may sign you out or change anything here. " +
		"Use the buttons on this app's own pages."}

// UserSessionKey is the session value that holds the signed-in user (an
// encoded identity.UserSession): for tools and tests that read the session
// store from outside the app.
const UserSessionKey = "identity"

// userOf returns the request's user, as loadUser decoded it; a request
// outside loadUser has a signed-out one.
func userOf(ctx context.Context) *identity.UserSession {
	if st := reqstate.From(ctx); st != nil {
		if u, ok := st.User.(*identity.UserSession); ok && u != nil {
			return u
		}
	}
	return &identity.UserSession{}
}

// loadUser decodes the user from the request's session (which
// session.LoadAndSave loaded) for the handlers, and encodes it back after
// them, for LoadAndSave to store if it changed: a token refresh, new claims,
// a sign-in. A user who is not signed in leaves nothing in the session, so
// LoadAndSave stores nothing for them.
func (a *Auth) loadUser(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gs := session.FromContext(r.Context())
		raw, _ := gs.Values[UserSessionKey].([]byte)
		user, err := a.users.Decode(gs.ID, raw)
		if err != nil {
			a.logger.Info("session content unreadable; continuing signed out", "request_id", reqstate.ID(r.Context()))
		}
		st, r := reqstate.With(r)
		st.User = user
		// Outside loadUser the request has no user, as before it: the
		// page that replaces the answer when the session cannot be saved,
		// or when the handler panicked, must not greet a user whose
		// sign-in was not kept.
		func() {
			defer func() { st.User, st.HasToken, st.AccessToken = nil, false, "" }()
			next.ServeHTTP(w, r)
		}()
		if !user.SignedIn() {
			delete(gs.Values, UserSessionKey)
			return
		}
		data, err := a.users.Encode(gs.ID, user, raw)
		if err != nil {
			a.logger.Error("encoding the session; it keeps its previous content", "request_id", reqstate.ID(r.Context()), "err", err)
			return
		}
		gs.Values[UserSessionKey] = data
	})
}

// logInvalidSession logs why a request's session cookie named no session
// it could use (signed out elsewhere, expired, tampered, or ended now at its
// absolute lifetime); the request goes on signed out.
func (a *Auth) logInvalidSession(r *http.Request, err error) {
	if errors.Is(err, session.ErrTooOld) {
		a.logger.Info("session ended at its absolute lifetime; the user signs in again",
			"lifetime", a.cfg.SessionAbsoluteLifetime.String(), "request_id", reqstate.ID(r.Context()))
		return
	}
	a.logger.Info("session not loaded; continuing signed out", "reason", err.Error(),
		"request_id", reqstate.ID(r.Context()))
}

// newSessionStore opens the configured session store: the app's own
// backend (Config.SessionBackend), files in SESSION_DIR
// (and the clean-up of expired ones, until ctx ends), or Redis at
// REDIS_URL, which must answer at start-up. Its keys come from
// SESSION_SECRET, and from SESSION_SECRET_PREVIOUS while a secret is rotated
// out; its sessions end at SESSION_ABSOLUTE_LIFETIME, and a user keeps at
// most SESSION_MAX_PER_USER of them, whatever the backend.
func newSessionStore(ctx context.Context, cfg Config, logger *slog.Logger) (*session.Store, error) {
	keys, err := session.NewKeys(cfg.SessionSecret, cfg.SessionSecretPrevious)
	if err != nil {
		return nil, err
	}
	var backend session.Backend
	switch {
	case cfg.SessionBackend != nil:
		backend = cfg.SessionBackend
	case cfg.SessionType == "redis":
		if backend, err = session.NewRedisBackend(ctx, cfg.RedisURL); err != nil {
			return nil, err
		}
	default:
		files, err := session.NewFileBackend(cfg.SessionDir)
		if err != nil {
			return nil, err
		}
		go cleanSessions(ctx, files, logger)
		backend = files
	}
	store := session.NewStore(backend, keys)
	store.AbsoluteLifetime = cfg.SessionAbsoluteLifetime
	store.MaxPerOwner = cfg.SessionMaxPerUser
	store.Warn = func(msg string, err error) { logger.Warn(msg, "err", err) }
	return store, nil
}

// userOwner is the key a user's sessions are filed under, so that the store
// keeps at most SessionMaxPerUser of them: the user's tenant and object
// ids, which stay the same across sign-ins and devices. "" (no limit) for
// an ID token without an oid.
func userOwner(user *identity.UserSession) string {
	oid := user.Claims.String("oid")
	if oid == "" {
		return ""
	}
	return "user:" + user.Claims.String("tid") + "." + oid
}

// cleanSessions deletes expired session files at start-up and every quarter
// of an hour.
func cleanSessions(ctx context.Context, files *session.FileBackend, logger *slog.Logger) {
	ticker := time.NewTicker(15 * time.Minute)
	defer ticker.Stop()
	for {
		if n, err := files.Clean(time.Now()); err != nil {
			logger.Warn("cleaning expired sessions", "err", err)
		} else if n > 0 {
			logger.Info("deleted expired sessions", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// originOf returns the scheme and host of an absolute URL, "" for anything
// else.
func originOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// ContentSecurityPolicy is the policy of the app's pages: only the app's own
// styles and images, no scripts at all, and framing only by frameAncestors
// ('none' but for the front-channel logout). Forms may be sent to the app
// and, when idp is set, on to the identity provider: Chromium applies
// form-action to the redirects that follow a form's submission too, and the
// sign-out form's POST is answered with a redirect to the provider's
// end-session endpoint.
func ContentSecurityPolicy(idp, frameAncestors string) string {
	formAction := "'self'"
	if idp != "" {
		formAction += " " + idp
	}
	return "default-src 'none'; style-src 'self'; img-src 'self'; " +
		"form-action " + formAction + "; frame-ancestors " + frameAncestors + "; base-uri 'none'"
}

// frontChannelCSPFor is the front-channel logout page's policy: the identity
// provider alone may frame it.
func frontChannelCSPFor(idp string) string {
	if idp == "" {
		return ContentSecurityPolicy("", "'none'")
	}
	return ContentSecurityPolicy(idp, idp)
}

// errNoUser is what a gate returns when it runs outside Middleware.
var errNoUser = errors.New("entra: a gate runs outside Auth.Middleware")

// SetRedisLogger sends what the Redis client reports about connection
// trouble (Redis down, reconnecting) to logger, as warnings. The client's
// logger is one for the whole process.
func SetRedisLogger(logger *slog.Logger) { session.SetRedisLogger(logger) }
