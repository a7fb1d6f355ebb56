// Command register creates or updates the sample's app registration in
// your Microsoft Entra tenant, and writes the app's settings to .env, so that
// ./run.dev.sh works at once; `register cleanup` deletes it again.
//
//	go run ./cmd/register                  # sign in with a browser, register, write .env
//	go run ./cmd/register -auth device     # sign in with a code (SSH, containers)
//	go run ./cmd/register cleanup          # delete the registration, remove its keys from .env
//	go run ./cmd/register -h               # every flag
//
// The work is done by package internal/register; docs/02-register-your-app.md explains
// what it creates and which permissions it needs.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"ms-identity-go-webapp/internal/register"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := register.Main(ctx, os.Args[1:], register.Env{})
	stop()
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.Is(err, register.ErrUsage):
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "register:", err)
		os.Exit(1)
	}
}
