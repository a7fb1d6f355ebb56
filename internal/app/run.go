// Run: what the command does, from the environment to a serving app, with the demo mode's emulator.

package app

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"ms-identity-go-webapp/emulator"
	"ms-identity-go-webapp/handlers"
	"ms-identity-go-webapp/internal/httpsserver"
)

// RunOptions are the command's flags and what main hands over.
type RunOptions struct {
	// Lookup reads the settings (os.LookupEnv, after .env was loaded): it
	// tells a setting set to "" from one not set.
	Lookup func(string) (string, bool)
	// Files holds templates/*.html and static/*.
	Files fs.FS
	// Demo signs in against the local emulator, started in this process
	// on EmulatorAddr.
	Demo         bool
	EmulatorAddr string
}

// Run loads the configuration, builds the app and serves it until ctx ends
// or a signal (SIGTERM) arrives on term.
func Run(ctx context.Context, term <-chan os.Signal, opts RunOptions) error {
	lookup := opts.Lookup
	if opts.Demo {
		lookup = demoEnv(lookup, opts.EmulatorAddr)
	}
	cfg, err := LoadConfigEnv(lookup)
	if err != nil {
		return err
	}
	logger := newLogger(cfg.LogFormat, os.Stderr)
	SetRedisLogger(logger)

	// The certificate is needed to serve HTTPS, and in demo mode for the
	// emulator, whatever TLS says.
	var cert tls.Certificate
	if cfg.TLS || opts.Demo {
		if cert, err = tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey); err != nil {
			return fmt.Errorf("loading the HTTPS certificate (TLS_CERT=%s, TLS_KEY=%s): %w; create one with ssl/generate-local-cert.sh",
				cfg.TLSCert, cfg.TLSKey, err)
		}
	}

	var extraRoots []byte
	if opts.Demo {
		// The emulator serves the local certificate: the app trusts it.
		if extraRoots, err = os.ReadFile(cfg.TLSCert); err != nil {
			return err
		}
	}
	outbound, err := OutboundClient(extraRoots)
	if err != nil {
		return fmt.Errorf("%s %w", cfg.TLSCert, err)
	}
	if opts.Demo {
		emu, err := startEmulator(ctx, logger, opts.EmulatorAddr, cert, cfg.RedirectURI, cfg.Origin()+handlers.FrontChannelLogoutPath)
		if err != nil {
			return err
		}
		printDemo(emu, cfg)
	}

	a, err := New(ctx, cfg, Options{Logger: logger, Files: opts.Files, Outbound: outbound, Demo: opts.Demo})
	if err != nil {
		return err
	}
	defer a.Close()

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
	err = a.Serve(ctx, ln, cert, term)
	logger.Info("stopped")
	return err
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
