// Command ms-identity-go-webapp is a web app that signs users in with
// Microsoft Entra ID, calls Microsoft Graph and gates a page on an app role.
// It is the Go port of Microsoft's Python Flask sign-in samples.
//
// Run it with ./run.dev.sh (your tenant, settings from .env) or
// ./run.dev.sh --demo (the local Entra ID emulator, no tenant needed).
package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"embed"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/joho/godotenv"
	"github.com/redis/go-redis/v9"

	"ms-identity-go-webapp/emulator"
	"ms-identity-go-webapp/handlers"
	"ms-identity-go-webapp/identity"
	"ms-identity-go-webapp/internal/httpsserver"
	"ms-identity-go-webapp/session"
)

// files holds the templates and static files, built into the binary. The
// embed directive lives here because embed cannot reach a parent directory.
//
//go:embed templates static
var files embed.FS

func main() {
	demo := flag.Bool("demo", false, "sign in against the local Entra ID emulator, started in this process (no tenant needed)")
	emulatorAddr := flag.String("emulator-addr", "127.0.0.1:5001", "address of the emulator in -demo mode (loopback)")
	flag.Parse()

	// Ctrl-C stops at once; SIGTERM, what platforms send before replacing
	// an instance, drains first (see serve).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)

	if err := run(ctx, term, *demo, *emulatorAddr); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

// run loads the configuration, builds the app and serves it until ctx ends
// or a SIGTERM arrives on term.
func run(ctx context.Context, term <-chan os.Signal, demo bool, emulatorAddr string) error {
	// .env is optional: the environment may already hold the settings. Values
	// already in the environment win over .env, as with python-dotenv.
	if err := godotenv.Load(); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf(".env: %w", err)
	}
	lookup := os.LookupEnv
	if demo {
		lookup = demoEnv(os.LookupEnv, emulatorAddr)
	}
	cfg, err := LoadConfigEnv(lookup)
	if err != nil {
		return err
	}
	logger := newLogger(cfg.LogFormat, os.Stderr)
	// go-redis reports connection trouble (Redis down, reconnecting) through
	// a package-wide logger: send it to the app's log.
	redis.SetLogger(redisLogger{logger})

	// The certificate is needed to serve HTTPS, and in demo mode for the
	// emulator, whatever TLS says.
	var cert tls.Certificate
	if cfg.TLS || demo {
		if cert, err = tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey); err != nil {
			return fmt.Errorf("loading the HTTPS certificate (TLS_CERT=%s, TLS_KEY=%s): %w; create one with ssl/generate-local-cert.sh",
				cfg.TLSCert, cfg.TLSKey, err)
		}
	}

	outbound, err := outboundClient(demo, cfg.TLSCert)
	if err != nil {
		return err
	}
	if demo {
		emu, err := startEmulator(ctx, logger, emulatorAddr, cert, cfg.RedirectURI, cfg.Origin()+handlers.FrontChannelLogoutPath)
		if err != nil {
			return err
		}
		printDemo(emu, cfg)
	}

	app, err := buildApp(ctx, cfg, logger, outbound, demo)
	if err != nil {
		return err
	}

	if app.Sessions != nil {
		// After serve: requests still finishing during the graceful
		// shutdown need their sessions.
		defer app.Sessions.Close()
	}

	srv := newServer(app.Routes(), cert, logger)
	if !cfg.TLS {
		srv.TLSConfig = nil // plain HTTP for the TLS-terminating proxy in front
	}
	ln, err := net.Listen("tcp", cfg.ListenAddr())
	if err != nil {
		return err
	}
	printListening(cfg)
	logger.Info("listening", "addr", cfg.ListenAddr(), "tls", cfg.TLS, "origin", cfg.Origin(),
		"trusted_proxies", cfg.TrustedProxies.String(), "sessions", cfg.SessionType)
	for _, p := range cfg.Problems {
		fmt.Println("Configuration needed:", p)
	}
	err = serve(ctx, srv, ln, term, cfg.DrainPeriod, app.StartDrain, logger)
	logger.Info("stopped")
	return err
}

// buildApp wires the configuration into the app's handlers.
func buildApp(ctx context.Context, cfg Config, logger *slog.Logger, outbound *http.Client, demo bool) (*handlers.Application, error) {
	opts := handlers.Options{
		Origin:                cfg.Origin(),
		TrustedProxies:        cfg.TrustedProxies,
		Logger:                logger,
		Files:                 files,
		GraphClient:           outbound,
		GraphEndpoint:         cfg.GraphEndpoint,
		GraphTimeout:          cfg.GraphTimeout,
		CalendarEndpoint:      cfg.CalendarEndpoint,
		CalendarScopes:        cfg.CalendarScopes,
		AdminRole:             cfg.AdminRole,
		AdminAuthContext:      cfg.AdminAuthContext,
		RedirectPath:          cfg.RedirectPath(),
		PostLogoutRedirectURI: cfg.Origin() + "/",
		IdentityOrigin:        originOf(cfg.Authority),
		ConfigProblems:        cfg.Problems,
		Demo:                  demo,
	}
	if len(cfg.Problems) == 0 {
		cred, err := loadCredential(cfg, time.Now())
		if err != nil {
			return nil, err
		}
		if logger != nil {
			logger.Info("client credential", "type", cred.kind)
			if cred.warning != "" {
				logger.Warn(cred.warning)
			}
		}
		id, err := identity.New(identity.Config{
			Authority:   cfg.Authority,
			ClientID:    cfg.ClientID,
			Credential:  cred.cred,
			SendX5C:     cred.sendX5C,
			RedirectURI: cfg.RedirectURI,
			Scopes:      cfg.Scopes,
			HTTPClient:  outbound,
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
		opts.Identity, opts.Sessions = id, store
		opts.SessionsReady = store.Ping
	}
	return handlers.New(opts)
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
// SESSION_SECRET_PREVIOUS while a secret is rotated out. The caller closes
// the store after the server stops.
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

// outboundClient is the HTTP client for Entra ID and Graph. It trusts the
// system's roots (and SSL_CERT_FILE, as Go does); in demo mode also the local
// certificate, which the emulator serves.
func outboundClient(demo bool, certFile string) (*http.Client, error) {
	var extraRoots []byte
	if demo {
		pem, err := os.ReadFile(certFile)
		if err != nil {
			return nil, err
		}
		extraRoots = pem
	}
	client, err := httpsserver.NewClient(extraRoots)
	if err != nil {
		return nil, fmt.Errorf("%s %w", certFile, err)
	}
	return client, nil
}

// newServer returns the app's HTTPS server. Its write timeout is long enough
// for the slowest page: a discovery fetch and a token refresh at their 30 s
// timeouts, then Graph at GRAPH_TIMEOUT.
func newServer(h http.Handler, cert tls.Certificate, logger *slog.Logger) *http.Server {
	return httpsserver.New(h, cert, 75*time.Second, logger)
}

// demoEnv overrides the identity settings so the app signs in against the
// local emulator; the other settings (PORT, TLS_CERT, ...) still apply.
func demoEnv(lookup func(string) (string, bool), emulatorAddr string) func(string) (string, bool) {
	_, port, _ := net.SplitHostPort(emulatorAddr)
	base := "https://localhost:" + port
	secret := make([]byte, 32)
	rand.Read(secret)
	demo := map[string]string{
		"AUTHORITY":         base + "/" + emulator.DefaultTenant,
		"CLIENT_ID":         emulator.DemoClientID,
		"CLIENT_SECRET":     emulator.DemoClientSecret,
		"GRAPH_ENDPOINT":    base + "/v1.0/me",
		"CALENDAR_ENDPOINT": base + "/v1.0/me/events",
		"SESSION_SECRET":    hex.EncodeToString(secret), // sessions end with the process
		"SCOPE":             "User.Read",
		// The demo signs in with the emulator's client secret, whatever
		// credential the environment names for a real tenant.
		"CLIENT_CERTIFICATE_PATH":     "",
		"CLIENT_CERTIFICATE_PASSWORD": "",
		"CLIENT_CERTIFICATE_SEND_X5C": "",
		"CLIENT_ASSERTION_FILE":       "",
		"AZURE_FEDERATED_TOKEN_FILE":  "",
	}
	return func(name string) (string, bool) {
		if v, ok := demo[name]; ok {
			return v, v != ""
		}
		if name == "TENANT_ID" {
			return "", false
		}
		return lookup(name)
	}
}

// startEmulator serves the Entra ID emulator on addr over HTTPS with the
// app's certificate, until ctx ends. The demo app is registered with its
// redirect URI and front-channel logout URL.
func startEmulator(ctx context.Context, logger *slog.Logger, addr string, cert tls.Certificate, redirectURI, frontChannelLogoutURL string) (*emulator.Emulator, error) {
	emu, err := emulator.New(emulator.Config{
		RedirectURIs:          append([]string{redirectURI}, emulator.DemoRedirectURIs...),
		FrontChannelLogoutURL: frontChannelLogoutURL,
		Logger:                logger.With("component", "emulator"),
	})
	if err != nil {
		return nil, fmt.Errorf("emulator: %w", err)
	}
	// Long enough for injected delays ("hang for 5 s").
	srv := httpsserver.New(emu.Handler(), cert, 2*time.Minute, logger)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("emulator: %w", err)
	}
	go func() {
		if err := httpsserver.Serve(ctx, srv, ln, 5*time.Second); err != nil {
			logger.Error("emulator stopped", "err", err)
		}
	}()
	return emu, nil
}

func printDemo(emu *emulator.Emulator, cfg Config) {
	var b strings.Builder
	fmt.Fprintf(&b, "Demo mode: signing in against the local Entra ID emulator (not Microsoft) at %s\n", cfg.Authority)
	fmt.Fprintf(&b, "Open https://localhost:%d and sign in with one of these demo accounts:\n", cfg.Port)
	for _, u := range emu.Users() {
		roles := "no app role"
		if len(u.Roles) > 0 {
			roles = "app roles: " + strings.Join(u.Roles, ", ")
		}
		fmt.Fprintf(&b, "  %-20s password %-16s (%s)\n", u.Username, u.Password, roles)
	}
	fmt.Print(b.String())
}

// redisLogger passes go-redis's messages to the app's log as warnings.
type redisLogger struct{ logger *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	msg := strings.TrimSpace(fmt.Sprintf(format, v...))
	if !strings.HasPrefix(msg, "redis:") {
		msg = "redis: " + msg
	}
	l.logger.WarnContext(ctx, msg)
}
