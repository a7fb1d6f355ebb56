// How the tests build the app: from settings read as app_config.go reads
// them, then as run (main.go) does: entra.New for the sign-in,
// handlers.New for the pages and their gates, webserver around them.

package e2e

import (
	"context"
	"crypto/tls"
	"errors"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"ms-identity-go-webapp/entra"
	"ms-identity-go-webapp/handlers"
	"ms-identity-go-webapp/internal/testutil"
	"ms-identity-go-webapp/internal/webserver"
)

// appConfig is every setting of the app, as app_config.go's config.
type appConfig struct {
	entra.Config
	Server  webserver.Config
	Pages   handlers.Config
	Missing []string
}

// loadAppConfig reads the settings through lookup, as app_config.go's
// loadConfig does.
func loadAppConfig(lookup func(string) (string, bool)) (appConfig, error) {
	var cfg appConfig
	var errs []error
	var cerr *entra.ConfigError
	var err error
	if cfg.Config, err = entra.ConfigFromLookup(lookup); errors.As(err, &cerr) {
		errs, cfg.Missing = append(errs, cerr.Invalid...), cerr.Missing
	}
	var more []error
	cfg.Server, more = webserver.ConfigFromLookup(lookup)
	errs = append(errs, more...)
	cfg.Pages, more = handlers.ConfigFromLookup(lookup, cfg.Scopes)
	errs = append(errs, more...)
	return cfg, errors.Join(errs...)
}

// loadAppConfigMap reads the settings from a map, as the environment.
func loadAppConfigMap(env map[string]string) (appConfig, error) {
	return loadAppConfig(func(k string) (string, bool) { v, ok := env[k]; return v, ok && v != "" })
}

// appOptions are what run hands the app besides its settings.
type appOptions struct {
	Logger   *slog.Logger
	Outbound *http.Client // the client for Entra ID and Graph
	Files    fs.FS        // nil: the source tree's templates and static files
}

// sampleApp is one built instance of the app.
type sampleApp struct {
	cfg    appConfig
	auth   *entra.Auth // nil with settings missing
	server *webserver.Server
	app    http.Handler // the pages and static files
	// extra takes the test-only routes a test adds, under /test/.
	extra chi.Router
}

// newSampleApp builds the app as run does.
func newSampleApp(cfg appConfig, opts appOptions) (*sampleApp, error) {
	if opts.Files == nil {
		opts.Files = files
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Config.Logger, cfg.Config.HTTPClient = opts.Logger, opts.Outbound
	a := &sampleApp{cfg: cfg}
	ready := func(context.Context) error { return errors.New("configuration incomplete") }
	csp := entra.ContentSecurityPolicy("", "'none'")
	if len(cfg.Missing) == 0 {
		cfg.Config.LayoutData = handlers.Layout(cfg.Pages)
		cfg.Config.Templates, _ = fs.Sub(opts.Files, "templates")
		auth, err := entra.New(cfg.Config)
		if err != nil {
			return nil, err
		}
		a.auth, ready, csp = auth, auth.Ready, entra.ContentSecurityPolicy(auth.IdentityOrigin(), "'none'")
	}
	pages, err := handlers.New(a.auth, cfg.Pages, opts.Files)
	if err != nil {
		a.Close()
		return nil, err
	}
	a.server = webserver.New(webserver.Options{Logger: opts.Logger, Origin: cfg.Origin(), TrustedProxies: cfg.Server.TrustedProxies,
		ContentSecurityPolicy: csp, ErrorPage: pages.ServeError, Ready: ready})
	a.app, a.extra = pages.Handler(cfg.Missing), chi.NewRouter()
	return a, nil
}

// Handler is the app with the server's middleware, and the test's own
// routes under /test/ beside it.
func (a *sampleApp) Handler() http.Handler {
	return a.server.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/test/") {
			a.extra.ServeHTTP(w, r)
			return
		}
		a.app.ServeHTTP(w, r)
	}))
}

// Serve serves the app on ln as run does, over HTTPS with cert (plain
// HTTP with TLS=off).
func (a *sampleApp) Serve(ctx context.Context, ln net.Listener, cert tls.Certificate, term <-chan os.Signal) error {
	c := &cert
	if !a.cfg.Server.TLS {
		c = nil
	}
	return a.server.Serve(ctx, ln, a.Handler(), c, term, a.cfg.Server.DrainPeriod)
}

// Close releases the session store.
func (a *sampleApp) Close() error {
	if a.auth != nil {
		return a.auth.Close()
	}
	return nil
}

// serveApp builds the app from cfg, as main does, lets prepare change it
// (test-only routes), and serves it on ln over HTTPS with the test
// certificate, until stop is called; stop returns once the app has stopped
// and its session store is closed.
func serveApp(t testing.TB, ln net.Listener, cfg appConfig, opts appOptions, prepare ...func(*sampleApp)) (a *sampleApp, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	a, err := newSampleApp(cfg, opts)
	if err != nil {
		cancel()
		ln.Close()
		t.Fatal(err)
	}
	for _, p := range prepare {
		p(a)
	}
	served := make(chan error, 1)
	go func() { served <- a.Serve(ctx, ln, testutil.SharedCert().TLS, nil) }()
	var stopped bool
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-served; err != nil {
			t.Errorf("serving the app: %v", err)
		}
		a.Close()
	}
	return a, stop
}
