// Package demo runs the app's demo mode: the Entra ID emulator in the app's
// own process, and the settings that point the app at it.
package demo

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"ms-identity-go-webapp/emulator"
	"ms-identity-go-webapp/internal/httpsserver"
)

// Env overrides the identity settings of lookup so that the app signs in
// against the emulator at emulatorAddr; the other settings (PORT, TLS_CERT,
// ...) still apply.
func Env(lookup func(string) (string, bool), emulatorAddr string) func(string) (string, bool) {
	_, port, _ := net.SplitHostPort(emulatorAddr)
	base := "https://localhost:" + port
	secret := make([]byte, 32)
	rand.Read(secret)
	demo := map[string]string{
		"AUTHORITY":         base + "/" + emulator.DefaultTenant,
		"CLIENT_ID":         emulator.DemoClientID,
		"CLIENT_SECRET":     emulator.DemoClientSecret,
		"GRAPH_BASE_URL":    base + "/v1.0",
		"GRAPH_ENDPOINT":    "",
		"CALENDAR_ENDPOINT": "",
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

// Start serves the emulator on addr over HTTPS with cert, until ctx ends.
// The demo app is registered with its redirect URI and front-channel logout
// URL.
func Start(ctx context.Context, logger *slog.Logger, addr string, cert tls.Certificate, redirectURI, frontChannelLogoutURL string) (*emulator.Emulator, error) {
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

// Print says where the emulator is and which demo accounts sign in.
func Print(w io.Writer, emu *emulator.Emulator, authority, appOrigin string) {
	var b strings.Builder
	fmt.Fprintf(&b, "Demo mode: signing in against the local Entra ID emulator (not Microsoft) at %s\n", authority)
	fmt.Fprintf(&b, "Open %s and sign in with one of these demo accounts:\n", appOrigin)
	for _, u := range emu.Users() {
		roles := "no app role"
		if len(u.Roles) > 0 {
			roles = "app roles: " + strings.Join(u.Roles, ", ")
		}
		fmt.Fprintf(&b, "  %-20s password %-16s (%s)\n", u.Username, u.Password, roles)
	}
	fmt.Fprint(w, b.String())
}
