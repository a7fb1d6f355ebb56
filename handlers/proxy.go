// Behind a proxy: the request's public origin and client address, and the redirect to the one configured origin.

package handlers

import (
	"net"
	"net/http"
	"net/url"
	"strings"

	"ms-identity-go-webapp/internal/forwarded"
)

// resolveProxy works out what the browser used to reach the app (scheme,
// host, its address) from the connection and, only when the peer is a
// trusted proxy, from the forwarding headers. The request itself is left as
// it came; the rest of the app reads the result with publicRequest.
func (app *Application) resolveProxy(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st, r := withState(r)
		st.public, st.resolved = app.TrustedProxies.Resolve(r), true
		next.ServeHTTP(w, r)
	})
}

// publicRequest returns what resolveProxy found; without it, the connection's
// own scheme, host and peer.
func publicRequest(r *http.Request) forwarded.Request {
	if st := stateOf(r.Context()); st != nil && st.resolved {
		return st.public
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
func (app *Application) oneOrigin(next http.Handler) http.Handler {
	want := canonicalOrigin(app.Origin)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if want == "" || (r.Method != http.MethodGet && r.Method != http.MethodHead) || isProbe(r) {
			next.ServeHTTP(w, r)
			return
		}
		pub := publicRequest(r)
		if canonicalOrigin(pub.Scheme+"://"+pub.Host) == want {
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
		target := strings.TrimSuffix(app.Origin, "/") + path
		if !pub.ViaProxy && forwardingHeaders(r) {
			// Behind a proxy that TRUSTED_PROXIES misses, every page
			// redirects to itself: say why.
			app.logger.Warn("forwarding headers ignored: the peer is not in TRUSTED_PROXIES",
				"client", pub.Client.String(), "request_id", requestIDFrom(r.Context()))
		}
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, target, http.StatusPermanentRedirect)
	})
}

// canonicalOrigin lowercases an origin and drops its scheme's default port,
// so that https://App.example.com:443 and https://app.example.com compare
// equal. It returns "" for anything that is not scheme://host[:port].
func canonicalOrigin(origin string) string {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return ""
	}
	scheme, host := strings.ToLower(u.Scheme), strings.ToLower(u.Host)
	if h, port, err := net.SplitHostPort(host); err == nil &&
		(scheme == "https" && port == "443" || scheme == "http" && port == "80") {
		host = h
		if strings.Contains(h, ":") {
			host = "[" + h + "]"
		}
	}
	return scheme + "://" + host
}

// isProbe reports whether r is a platform's health probe.
func isProbe(r *http.Request) bool {
	return r.URL.Path == healthPath || r.URL.Path == readyPath
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
