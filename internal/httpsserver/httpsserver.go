// Package httpsserver builds the HTTPS servers of the app, the emulator and
// the benchmark's baseline with the same TLS settings, and runs them until
// their context ends (the app behind a TLS-terminating proxy over plain
// HTTP, with the same timeouts).
package httpsserver

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// New returns a server for h with modern TLS settings and timeouts that keep
// slow clients from holding connections. writeTimeout bounds a whole
// response: long enough for the slowest page the handler serves.
func New(h http.Handler, cert tls.Certificate, writeTimeout time.Duration, logger *slog.Logger) *http.Server {
	srv := &http.Server{
		Handler: h,
		TLSConfig: &tls.Config{
			Certificates:     []tls.Certificate{cert},
			MinVersion:       tls.VersionTLS12,
			CurvePreferences: []tls.CurveID{tls.X25519, tls.CurveP256},
		},
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	if logger != nil {
		srv.ErrorLog = slog.NewLogLogger(logger.Handler(), slog.LevelWarn)
	}
	return srv
}

// Serve serves HTTPS on ln until ctx ends, then shuts down gracefully,
// giving requests in flight up to grace to finish. A server whose TLSConfig
// was set to nil serves plain HTTP: the app behind a proxy that terminates
// TLS.
func Serve(ctx context.Context, srv *http.Server, ln net.Listener, grace time.Duration) error {
	errc := make(chan error, 1)
	go func() {
		if srv.TLSConfig == nil {
			errc <- srv.Serve(ln)
			return
		}
		errc <- srv.ServeTLS(ln, "", "")
	}()
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}
