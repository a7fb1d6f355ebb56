// Command ms-identity-go-webapp is a web app that signs users in with
// Microsoft Entra ID, calls Microsoft Graph and gates a page on an app role.
// It is the Go port of Microsoft's Python Flask sign-in samples.
//
// Run it with ./run.dev.sh (your tenant, settings from .env) or
// ./run.dev.sh --demo (the local Entra ID emulator, no tenant needed).
// The wiring lives in internal/app, which the end-to-end tests run too.
package main

import (
	"context"
	"embed"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/joho/godotenv"

	"ms-identity-go-webapp/internal/app"
	"ms-identity-go-webapp/internal/healthcheck"
)

// files holds the templates and static files, built into the binary. The
// embed directive lives here because embed cannot reach a parent directory.
//
//go:embed templates static
var files embed.FS

func main() {
	demo := flag.Bool("demo", false, "sign in against the local Entra ID emulator, started in this process (no tenant needed)")
	emulatorAddr := flag.String("emulator-addr", "127.0.0.1:5001", "address of the emulator in -demo mode (loopback)")
	healthCheck := flag.Bool("healthcheck", false, "check that the app on HOST and PORT answers /healthz, and exit 0 if it does, 1 if not (the container's HEALTHCHECK)")
	flag.Parse()

	// Ctrl-C stops at once; SIGTERM, what platforms send before replacing
	// an instance, drains first (see app.Serve).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)

	// .env is optional: the environment may already hold the settings. Values
	// already in the environment win over .env, as with python-dotenv.
	err := godotenv.Load()
	if errors.Is(err, os.ErrNotExist) {
		err = nil
	} else if err != nil {
		err = fmt.Errorf(".env: %w", err)
	}
	if err == nil && *healthCheck {
		os.Exit(healthcheck.Main(os.LookupEnv, os.Stderr))
	}
	if err == nil {
		err = app.Run(ctx, term, app.RunOptions{Lookup: os.LookupEnv, Files: files, Demo: *demo, EmulatorAddr: *emulatorAddr})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}
