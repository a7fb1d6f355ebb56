// Serving: the log format, the session store's readiness check, the start-up line, and the drain on SIGTERM.

package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"ms-identity-go-webapp/internal/httpsserver"
)

// newLogger returns the app's logger: slog's text handler, or its JSON
// handler (LOG_FORMAT=json) for log pipelines. Both carry the same fields.
func newLogger(format string, w io.Writer) *slog.Logger {
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, nil))
	}
	return slog.New(slog.NewTextHandler(w, nil))
}

// printListening says where the app listens and where to open it.
func printListening(cfg Config) {
	if cfg.TLS {
		fmt.Printf("Listening on %s over HTTPS: open %s (redirect URI %s, %s sessions)\n",
			cfg.ListenAddr(), cfg.Origin(), cfg.RedirectURI, cfg.SessionType)
		return
	}
	fmt.Printf("Listening on %s over plain HTTP behind the proxies %s: open %s (redirect URI %s, %s sessions)\n",
		cfg.ListenAddr(), cfg.TrustedProxies, cfg.Origin(), cfg.RedirectURI, cfg.SessionType)
}

// serve serves srv on ln until ctx ends, which stops it at once, or a signal
// arrives on term (SIGTERM), which drains first: onDrain makes /readyz answer
// 503 and keep-alive connections are closed after their current response,
// while new requests are still served for the drain period, so that the load
// balancer stops sending requests before the listener closes. Then the
// server stops accepting and gives requests in flight up to 10 s to finish.
// A second signal during the drain ends it early.
func serve(ctx context.Context, srv *http.Server, ln net.Listener, term <-chan os.Signal, drain time.Duration, onDrain func(), logger *slog.Logger) error {
	serveCtx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		select {
		case <-term:
		case <-serveCtx.Done():
			return
		}
		onDrain()
		srv.SetKeepAlivesEnabled(false)
		logger.Info("draining before shutdown", "period", drain)
		timer := time.NewTimer(drain)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-term:
		case <-serveCtx.Done():
		}
		logger.Info("shutting down: no new connections")
		stop()
	}()
	return httpsserver.Serve(serveCtx, srv, ln, 10*time.Second)
}
