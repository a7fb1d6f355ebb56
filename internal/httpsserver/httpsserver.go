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

// readHeaderTimeout is how long a client may take to send a request's
// headers.
const readHeaderTimeout = 5 * time.Second

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
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		// ReadHeaderTimeout bounds HTTP/1.1 only. Go's HTTP/2 server reads
		// a header block (HEADERS, then CONTINUATION frames until
		// END_HEADERS) with no deadline of its own, so a client that never
		// ends one would hold its connection for IdleTimeout. A health
		// check bounds it instead: after SendPingTimeout without a whole
		// frame read, the server sends a PING, and closes the connection
		// if no answer comes within PingTimeout. A client cannot answer in
		// the middle of a header block (any frame but CONTINUATION there is
		// a protocol error), so such a connection is cut after about ten
		// seconds; a browser or HTTP client that is merely idle answers the
		// PING and keeps its connection.
		HTTP2: &http.HTTP2Config{
			SendPingTimeout: readHeaderTimeout,
			PingTimeout:     5 * time.Second,
		},
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
