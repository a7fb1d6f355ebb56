// Command ms-identity-go-webapp is a web app that signs users in with
// Microsoft Entra ID, calls Microsoft Graph and gates a page on an app role:
// the Go port of Microsoft's Python Flask sign-in samples, on package entra
// as they are on the identity library.
//
// Run it with ./run.dev.sh (your tenant, settings from .env) or
// ./run.dev.sh --demo (the local Entra ID emulator, no tenant needed).
package main

import (
	"context"
	"crypto/tls"
	"embed"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/joho/godotenv"

	"ms-identity-go-webapp/emulator/demo"
	"ms-identity-go-webapp/entra"
	"ms-identity-go-webapp/handlers"
	"ms-identity-go-webapp/internal/healthcheck"
	"ms-identity-go-webapp/internal/httpsserver"
	"ms-identity-go-webapp/internal/webserver"
)

// files holds the templates and static files, built into the binary. The
// embed directive lives here because embed cannot reach a parent directory.
//
//go:embed templates static
var files embed.FS

func main() {
	demoMode := flag.Bool("demo", false, "sign in against the local Entra ID emulator, started in this process (no tenant needed)")
	emulatorAddr := flag.String("emulator-addr", "127.0.0.1:5001", "address of the emulator in -demo mode (loopback)")
	healthCheck := flag.Bool("healthcheck", false, "check that the app on HOST and PORT answers /healthz, and exit 0 if it does, 1 if not (the container's HEALTHCHECK)")
	flag.Parse()

	// Ctrl-C stops at once; SIGTERM, what platforms send before replacing
	// an instance, drains first (webserver.Serve).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)

	if err := run(ctx, term, *demoMode, *emulatorAddr, *healthCheck); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, term <-chan os.Signal, demoMode bool, emulatorAddr string, healthCheck bool) error {
	// .env is optional: the environment may already hold the settings.
	// Values already in the environment win over .env, as with
	// python-dotenv.
	if err := godotenv.Load(); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf(".env: %w", err)
	}
	if healthCheck {
		// The container's HEALTHCHECK: the image has no shell and no curl.
		os.Exit(healthcheck.Main(os.LookupEnv, os.Stderr))
	}
	lookup := os.LookupEnv
	if demoMode {
		lookup = demo.Env(lookup, emulatorAddr)
	}
	cfg, err := loadConfig(lookup)
	if err != nil {
		return err
	}
	logger := webserver.NewLogger(cfg.Server.LogFormat, os.Stderr)
	entra.SetRedisLogger(logger)
	cfg.Entra.Logger = logger
	cfg.Pages.Demo = demoMode

	// The certificate serves HTTPS, and in demo mode the emulator, which
	// the app's outbound client then trusts.
	var cert *tls.Certificate
	var extraRoots []byte
	if cfg.Server.TLS || demoMode {
		c, err := tls.LoadX509KeyPair(cfg.Server.TLSCert, cfg.Server.TLSKey)
		if err != nil {
			return fmt.Errorf("loading the HTTPS certificate (TLS_CERT=%s, TLS_KEY=%s): %w; create one with ssl/generate-local-cert.sh",
				cfg.Server.TLSCert, cfg.Server.TLSKey, err)
		}
		cert = &c
	}
	if demoMode {
		if extraRoots, err = os.ReadFile(cfg.Server.TLSCert); err != nil {
			return err
		}
		emu, err := demo.Start(ctx, logger, emulatorAddr, *cert, cfg.Entra.RedirectURI, cfg.Entra.Origin()+entra.DefaultFrontChannelLogoutPath)
		if err != nil {
			return err
		}
		demo.Print(os.Stdout, emu, cfg.Entra.Authority, cfg.Entra.Origin())
	}
	if cfg.Entra.HTTPClient, err = httpsserver.NewClient(extraRoots); err != nil {
		return fmt.Errorf("%s %w", cfg.Server.TLSCert, err)
	}

	// The sign-in, then the pages with their gates (handlers.Routes), in
	// the server's middleware. Missing sign-in settings make every page the
	// configuration page instead.
	var auth *entra.Auth
	var ready func(context.Context) error = func(context.Context) error { return errors.New("configuration incomplete") }
	csp := entra.ContentSecurityPolicy("", "'none'")
	if len(cfg.Missing) == 0 {
		cfg.Entra.LayoutData = handlers.Layout(cfg.Pages)
		cfg.Entra.Templates, _ = fs.Sub(files, "templates")
		if auth, err = entra.New(cfg.Entra); err != nil {
			return err
		}
		defer auth.Close()
		ready, csp = auth.Ready, entra.ContentSecurityPolicy(auth.IdentityOrigin(), "'none'")
	}
	pages, err := handlers.New(auth, cfg.Pages, files)
	if err != nil {
		return err
	}
	srv := webserver.New(webserver.Options{Logger: logger, Origin: cfg.Entra.Origin(), TrustedProxies: cfg.Server.TrustedProxies,
		ContentSecurityPolicy: csp, ErrorPage: pages.ServeError, Ready: ready})

	ln, err := net.Listen("tcp", cfg.Server.ListenAddr())
	if err != nil {
		return err
	}
	printListening(cfg)
	logger.Info("listening", "addr", cfg.Server.ListenAddr(), "tls", cfg.Server.TLS, "origin", cfg.Entra.Origin(),
		"trusted_proxies", cfg.Server.TrustedProxies.String(), "sessions", cfg.Entra.SessionType)
	for _, p := range cfg.Missing {
		fmt.Println("Configuration needed:", p)
	}
	if !cfg.Server.TLS {
		cert = nil
	}
	err = srv.Serve(ctx, ln, srv.Handler(pages.Handler(cfg.Missing)), cert, term, cfg.Server.DrainPeriod)
	logger.Info("stopped")
	return err
}

// printListening says where the app listens and where to open it.
func printListening(cfg config) {
	if cfg.Server.TLS {
		fmt.Printf("Listening on %s over HTTPS: open %s (redirect URI %s, %s sessions)\n",
			cfg.Server.ListenAddr(), cfg.Entra.Origin(), cfg.Entra.RedirectURI, cfg.Entra.SessionType)
		return
	}
	fmt.Printf("Listening on %s over plain HTTP behind the proxies %s: open %s (redirect URI %s, %s sessions)\n",
		cfg.Server.ListenAddr(), cfg.Server.TrustedProxies, cfg.Entra.Origin(), cfg.Entra.RedirectURI, cfg.Entra.SessionType)
}
