// Package app wires the configuration into a running app: the identity
// client, the session store, the handlers and the server. main and the
// end-to-end tests both build the app here, so the tests run the production
// wiring.
package app

import (
	"cmp"
	"context"
	"crypto/tls"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"ms-identity-go-webapp/handlers"
	"ms-identity-go-webapp/identity"
	"ms-identity-go-webapp/internal/httpsserver"
	"ms-identity-go-webapp/session"
)

// Options are what the app needs besides its configuration.
type Options struct {
	// Logger receives the app's log; nil discards it.
	Logger *slog.Logger
	// Files holds templates/*.html and static/*: main embeds them.
	Files fs.FS
	// Outbound is the HTTP client for Entra ID and Graph (see
	// OutboundClient).
	Outbound *http.Client
	// Demo is true when the app signs in against the local emulator.
	Demo bool
}

// App is one instance of the app, built from a Config.
type App struct {
	cfg      Config
	logger   *slog.Logger
	handlers *handlers.Application
	routes   http.Handler
}

// New builds the app from cfg: the client credential, the identity client,
// the session store and the handlers. A configuration with Problems builds
// an app that shows them on every page. ctx bounds the background work (the
// clean-up of expired session files); Close releases the session store.
func New(ctx context.Context, cfg Config, opts Options) (*App, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	hopts := handlers.Options{
		Origin:                cfg.Origin(),
		TrustedProxies:        cfg.TrustedProxies,
		Logger:                logger,
		Files:                 opts.Files,
		GraphClient:           opts.Outbound,
		GraphEndpoint:         cfg.GraphEndpoint,
		GraphTimeout:          cfg.GraphTimeout,
		CalendarEndpoint:      cfg.CalendarEndpoint,
		CalendarScopes:        cfg.CalendarScopes,
		AdminRole:             cfg.AdminRole,
		AdminAuthContext:      cfg.AdminAuthContext,
		RedirectPath:          cfg.RedirectPath(),
		PostLogoutRedirectURI: cfg.Origin() + "/",
		IdentityOrigin:        originOf(cmp.Or(cfg.Authority, cfg.OIDCAuthority)),
		ConfigProblems:        cfg.Problems,
		Demo:                  opts.Demo,
	}
	if len(cfg.Problems) == 0 {
		cred, err := loadCredential(cfg, time.Now())
		if err != nil {
			return nil, err
		}
		logger.Info("client credential", "type", cred.kind)
		if cred.warning != "" {
			logger.Warn(cred.warning)
		}
		id, err := identity.New(identity.Config{
			Authority:     cfg.Authority,
			OIDCAuthority: cfg.OIDCAuthority,
			ClientID:      cfg.ClientID,
			Credential:    cred.cred,
			SendX5C:       cred.sendX5C,
			RedirectURI:   cfg.RedirectURI,
			Scopes:        cfg.Scopes,
			HTTPClient:    opts.Outbound,
			// The app answers claims challenges (handlers/challenge.go).
			ClientCapabilities: cfg.ClientCapabilities,
		})
		if err != nil {
			return nil, err
		}
		store, err := newSessionStore(ctx, cfg, logger)
		if err != nil {
			return nil, err
		}
		hopts.Identity, hopts.Sessions = id, store
		hopts.SessionsReady = store.Ping
	}
	h, err := handlers.New(hopts)
	if err != nil {
		if hopts.Sessions != nil {
			hopts.Sessions.Close()
		}
		return nil, err
	}
	return &App{cfg: cfg, logger: logger, handlers: h, routes: h.Routes()}, nil
}

// Handler is the app's router, with all its middleware. Tests may add
// routes of their own to it (it is a chi.Router) before serving.
func (a *App) Handler() http.Handler { return a.routes }

// Sessions is the app's session store; nil when the configuration has
// problems.
func (a *App) Sessions() *session.Store { return a.handlers.Sessions }

// Serve serves the app on ln, over HTTPS with cert (plain HTTP when the
// configuration says TLS=off), until ctx ends, which stops it at once, or a
// signal arrives on term, which drains first (see serve). term may be nil.
func (a *App) Serve(ctx context.Context, ln net.Listener, cert tls.Certificate, term <-chan os.Signal) error {
	// The write timeout is long enough for the slowest page: a discovery
	// fetch and a token refresh at their 30 s timeouts, then Graph at
	// GRAPH_TIMEOUT.
	srv := httpsserver.New(a.routes, cert, 75*time.Second, a.logger)
	if !a.cfg.TLS {
		srv.TLSConfig = nil // plain HTTP for the TLS-terminating proxy in front
	}
	return serve(ctx, srv, ln, term, a.cfg.DrainPeriod, a.handlers.StartDrain, a.logger)
}

// Close releases the session store. Call it after Serve has returned:
// requests still finishing during the graceful shutdown need their sessions.
func (a *App) Close() error {
	if s := a.handlers.Sessions; s != nil {
		return s.Close()
	}
	return nil
}

// originOf returns the scheme and host of an absolute URL, "" for anything
// else (an AUTHORITY not set yet).
func originOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// newSessionStore opens the configured session store: files in SESSION_DIR
// (and the clean-up of expired ones), or Redis at REDIS_URL, which must
// answer at start-up. Its keys come from SESSION_SECRET, and from
// SESSION_SECRET_PREVIOUS while a secret is rotated out.
func newSessionStore(ctx context.Context, cfg Config, logger *slog.Logger) (*session.Store, error) {
	keys, err := session.NewKeys(cfg.SessionSecret, cfg.SessionSecretPrevious)
	if err != nil {
		return nil, err
	}
	if cfg.SessionType == "redis" {
		backend, err := session.NewRedisBackend(ctx, cfg.RedisURL)
		if err != nil {
			return nil, err
		}
		return session.NewStore(backend, keys), nil
	}
	backend, err := session.NewFileBackend(cfg.SessionDir)
	if err != nil {
		return nil, err
	}
	go cleanSessions(ctx, backend, logger)
	return session.NewStore(backend, keys), nil
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

// OutboundClient is the HTTP client for Entra ID and Graph
// (httpsserver.NewClient): it trusts the system's roots and, when
// extraRoots is not empty, the PEM certificates in it: the local
// certificate the emulator serves in demo mode, or a test's.
func OutboundClient(extraRoots []byte) (*http.Client, error) {
	return httpsserver.NewClient(extraRoots)
}

// SetRedisLogger sends what go-redis reports about connection trouble
// (Redis down, reconnecting) through its package-wide logger to logger, as
// warnings.
func SetRedisLogger(logger *slog.Logger) { redis.SetLogger(redisLogger{logger}) }

// redisLogger passes go-redis's messages to the app's log as warnings.
type redisLogger struct{ logger *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	msg := strings.TrimSpace(fmt.Sprintf(format, v...))
	if !strings.HasPrefix(msg, "redis:") {
		msg = "redis: " + msg
	}
	l.logger.WarnContext(ctx, msg)
}
