// Package webserver serves a web app the way production needs it: the
// request id and the request log, panic recovery, security headers, the
// browser's view of the request behind trusted proxies and the redirect to
// the one configured origin, health and readiness probes, and the drain
// before a shutdown. The app's pages and its sign-in sit inside Handler.
package webserver

import (
	"context"
	"crypto/tls"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5/middleware"

	"ms-identity-go-webapp/internal/forwarded"
	"ms-identity-go-webapp/internal/httpsserver"
	"ms-identity-go-webapp/internal/reqstate"
)

// The health routes, outside the one-origin redirect and the sign-in.
const (
	HealthPath = "/healthz"
	ReadyPath  = "/readyz"
)

// Options are what the server needs of the app.
type Options struct {
	Logger *slog.Logger
	// Origin is where users reach the app (REDIRECT_URI's scheme and
	// host). A GET or HEAD that reached it under another origin is
	// redirected there. Empty turns the redirect off.
	Origin string
	// TrustedProxies are the peers whose forwarding headers are believed.
	TrustedProxies *forwarded.Proxies
	// ContentSecurityPolicy is every page's policy.
	ContentSecurityPolicy string
	// ErrorPage answers a request with the page for err: the 500 page after
	// a panic.
	ErrorPage func(w http.ResponseWriter, r *http.Request, err error)
	// Ready reports whether the instance can serve users; its error is a
	// short reason, shown by /readyz. Nil: always ready.
	Ready func(ctx context.Context) error
}

// Server is the app's HTTP side.
type Server struct {
	opts   Options
	logger *slog.Logger
	// draining is set on SIGTERM: /readyz answers 503 from then on.
	draining atomic.Bool
}

// New returns a server with opts.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Server{opts: opts, logger: opts.Logger}
}

// Handler wraps the app: every request gets an id, a log line, panic
// recovery and the security headers, and is seen as the browser sent it
// through the trusted proxies; the probes are answered here; a page
// requested under another origin is redirected to the configured one.
func (s *Server) Handler(app http.Handler) http.Handler {
	h := http.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == HealthPath && getOrHead(r):
			s.healthz(w, r)
		case r.URL.Path == ReadyPath && getOrHead(r):
			s.readyz(w, r)
		default:
			app.ServeHTTP(w, r)
		}
	}))
	h = s.oneOrigin(h)
	h = s.secureHeaders(h)
	h = s.recoverPanic(h)
	h = s.logRequest(h)
	h = s.requestID(h)
	return s.resolveProxy(h)
}

// StartDrain makes /readyz answer 503 from now on, while every other route
// keeps serving: the load balancer takes the instance out of rotation before
// it stops accepting connections.
func (s *Server) StartDrain() { s.draining.Store(true) }

// Serve serves h on ln, over HTTPS with cert (plain HTTP when cert is nil:
// behind a TLS-terminating proxy), until ctx ends, which stops it at once,
// or a signal arrives on term (SIGTERM), which drains first: /readyz answers
// 503 and keep-alive connections are closed after their current response,
// while new requests are still served for the drain period, so that the load
// balancer stops sending requests before the listener closes. Then the
// server stops accepting and gives requests in flight up to 10 s to finish.
// A second signal during the drain ends it early. term may be nil.
func (s *Server) Serve(ctx context.Context, ln net.Listener, h http.Handler, cert *tls.Certificate, term <-chan os.Signal, drain time.Duration) error {
	// The write timeout is long enough for the slowest page: a discovery
	// fetch and a token refresh at their 30 s timeouts, then an API at its
	// timeout.
	var c tls.Certificate
	if cert != nil {
		c = *cert
	}
	srv := httpsserver.New(h, c, 75*time.Second, s.logger)
	if cert == nil {
		srv.TLSConfig = nil // plain HTTP for the TLS-terminating proxy in front
	}
	serveCtx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		select {
		case <-term:
		case <-serveCtx.Done():
			return
		}
		s.StartDrain()
		srv.SetKeepAlivesEnabled(false)
		s.logger.Info("draining before shutdown", "period", drain)
		timer := time.NewTimer(drain)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-term:
		case <-serveCtx.Done():
		}
		s.logger.Info("shutting down: no new connections")
		stop()
	}()
	return httpsserver.Serve(serveCtx, srv, ln, 10*time.Second)
}

// healthz answers 200 while the process serves. It touches no session and
// no dependency: a platform restarts an instance whose liveness probe fails,
// and a Redis outage is no reason to restart every instance.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	plain(w, http.StatusOK, "ok")
}

// readyTimeout bounds the checks of one /readyz, well within the probe
// timeouts platforms use, so that a hanging store reports itself instead of
// failing the probe by timing out.
const readyTimeout = 2 * time.Second

// readyz answers 200 when the instance can serve users: not shutting down,
// and the app ready. Otherwise 503 with a one-line reason; the detail goes
// to the log, never to the caller, since a proxy may expose this route to
// anyone.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.draining.Load() {
		plain(w, http.StatusServiceUnavailable, "not ready: shutting down")
		return
	}
	if s.opts.Ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		if err := s.opts.Ready(ctx); err != nil {
			plain(w, http.StatusServiceUnavailable, "not ready: "+err.Error())
			return
		}
	}
	plain(w, http.StatusOK, "ready")
}

// plain writes a one-line text answer that no cache keeps.
func plain(w http.ResponseWriter, status int, line string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	fmt.Fprintln(w, line)
}

// recoverPanic turns a panic into the 500 page. The stack goes to the log,
// never to the browser.
func (s *Server) recoverPanic(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v) // net/http's way to abort a response; let it do so
				}
				s.logger.Error("panic", "method", r.Method, "path", r.URL.Path,
					"request_id", reqstate.ID(r.Context()), "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				w.Header().Set("Connection", "close")
				if s.opts.ErrorPage == nil {
					http.Error(w, "Something went wrong", http.StatusInternalServerError)
					return
				}
				s.opts.ErrorPage(w, r, errPanic)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// errPanic is what ErrorPage gets after a panic, which was logged.
var errPanic = &PanicError{}

// PanicError is the error of a request whose handler panicked; the panic
// and its stack are in the log already.
type PanicError struct{}

func (*PanicError) Error() string { return "the handler panicked" }

// requestID gives every request a random id (reqstate.NewID), shown on
// error pages and in every log line about the request.
func (s *Server) requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st, r := reqstate.With(r)
		st.ID = reqstate.NewID()
		w.Header()["X-Request-Id"] = []string{st.ID}
		next.ServeHTTP(w, r)
	})
}

// logRequest logs one line per request. It logs the path without the query
// string: the sign-in callback's query carries the authorization code. The
// client is the browser's address as the nearest trusted proxy saw it, or
// the peer's. Successful health probes, which platforms send every few
// seconds, are logged at debug level only.
func (s *Server) logRequest(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		next.ServeHTTP(ww, r)
		level := slog.LevelInfo
		if isProbe(r) && ww.Status() == http.StatusOK {
			level = slog.LevelDebug
		}
		client := ""
		if addr := publicRequest(r).Client; addr.IsValid() {
			client = addr.String()
		}
		// LogAttrs with typed attributes: the same line as Log's key-value
		// pairs, without boxing each value for every request.
		s.logger.LogAttrs(r.Context(), level, "request", slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", ww.Status()), slog.Int("bytes", ww.BytesWritten()),
			slog.Duration("duration", time.Since(start).Round(time.Microsecond)),
			slog.String("client", client), slog.String("request_id", reqstate.ID(r.Context())))
	})
}

// secureHeaders sets the security headers, and Cache-Control: no-store, on
// every response; the front-channel logout alone replaces the framing ones. The values are
// built once and shared by every response: a header is only ever replaced,
// never changed in place, and each slice is full (appending copies it).
func (s *Server) secureHeaders(next http.Handler) http.Handler {
	fields := []struct {
		name   string
		values []string
	}{
		{"Content-Security-Policy", []string{s.opts.ContentSecurityPolicy}},
		{"Strict-Transport-Security", []string{"max-age=31536000"}},
		{"X-Content-Type-Options", []string{"nosniff"}},
		{"X-Frame-Options", []string{"DENY"}},
		// The sign-in callback's URL holds the authorization code: never
		// send it on as a Referer.
		{"Referrer-Policy", []string{"no-referrer"}},
		{"Cross-Origin-Opener-Policy", []string{"same-origin"}},
		// No cache keeps an answer, whoever it is for: pages show a user's
		// data, and error pages (404, 405, the panic page) may too. The
		// static files replace it with their own.
		{"Cache-Control", []string{"no-store"}},
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		for _, f := range fields {
			h[f.name] = f.values
		}
		next.ServeHTTP(w, r)
	})
}

// resolveProxy works out what the browser used to reach the app (scheme,
// host, its address) from the connection and, only when the peer is a
// trusted proxy, from the forwarding headers. The request itself is left as
// it came; the rest of the server reads the result with publicRequest.
func (s *Server) resolveProxy(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st, r := reqstate.With(r)
		st.Public, st.Resolved = s.opts.TrustedProxies.Resolve(r), true
		next.ServeHTTP(w, r)
	})
}

// publicRequest returns what resolveProxy found; without it, the
// connection's own scheme, host and peer.
func publicRequest(r *http.Request) forwarded.Request {
	if st := reqstate.From(r.Context()); st != nil && st.Resolved {
		return st.Public
	}
	return (*forwarded.Proxies)(nil).Resolve(r)
}

// oneOrigin redirects a GET or HEAD that reached the app under another
// origin than REDIRECT_URI's (https://127.0.0.1:5000 instead of
// https://localhost:5000, a platform's default host name instead of the
// custom domain) to the same path and query on the configured origin. The
// session cookie belongs to one origin: a sign-in started on another would
// set its cookie where Entra ID never returns, and end in a state mismatch
// or a login loop. The target is always the configured origin, never a
// request header, so a forged Host cannot redirect anyone elsewhere.
//
// Other methods pass: a redirect would lose a form's body, and their
// cookies are checked like any other. So do the health probes, which reach
// an instance by its own address.
func (s *Server) oneOrigin(next http.Handler) http.Handler {
	want := forwarded.CanonicalOrigin(s.opts.Origin)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if want == "" || (r.Method != http.MethodGet && r.Method != http.MethodHead) || isProbe(r) {
			next.ServeHTTP(w, r)
			return
		}
		pub := publicRequest(r)
		if forwarded.CanonicalOrigin(pub.Scheme+"://"+pub.Host) == want {
			next.ServeHTTP(w, r)
			return
		}
		// A request line in absolute or opaque form ("GET http:x") has a
		// RequestURI without the leading slash, which would run into the
		// host: only a path may follow the origin.
		path := r.URL.RequestURI()
		if !strings.HasPrefix(path, "/") {
			path = "/"
		}
		target := strings.TrimSuffix(s.opts.Origin, "/") + path
		if !pub.ViaProxy && forwardingHeaders(r) {
			// Behind a proxy that TRUSTED_PROXIES misses, every page
			// redirects to itself: say why.
			s.logger.Warn("forwarding headers ignored: the peer is not in TRUSTED_PROXIES",
				"client", pub.Client.String(), "request_id", reqstate.ID(r.Context()))
		}
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, target, http.StatusPermanentRedirect)
	})
}

func getOrHead(r *http.Request) bool {
	return r.Method == http.MethodGet || r.Method == http.MethodHead
}

// isProbe reports whether r is a platform's health probe.
func isProbe(r *http.Request) bool {
	return r.URL.Path == HealthPath || r.URL.Path == ReadyPath
}

// forwardingHeaders reports whether r carries any header a proxy adds.
func forwardingHeaders(r *http.Request) bool {
	for _, name := range []string{"X-Forwarded-Proto", "X-Forwarded-Host", "X-Forwarded-For", "Forwarded"} {
		if len(r.Header.Values(name)) > 0 {
			return true
		}
	}
	return false
}

// Static serves an app's embedded CSS and images. They change only with a new
// build, so browsers may keep them for an hour. A missing file or a
// directory gets notFound, not a listing or a plain-text 404.
func Static(fsys fs.FS, notFound http.HandlerFunc) http.Handler {
	files := http.FileServerFS(fsys)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/")
		if info, err := fs.Stat(fsys, name); name == "" || err != nil || info.IsDir() {
			notFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	})
}
