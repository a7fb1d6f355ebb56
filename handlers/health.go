// Health: /healthz (the process serves) and /readyz (it can sign users in), and the drain before a shutdown.

package handlers

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// The health routes, outside the one-origin redirect.
const (
	healthPath = "/healthz"
	readyPath  = "/readyz"
)

// readyTimeout bounds the checks of one /readyz, well within the probe
// timeouts platforms use, so that a hanging store reports itself instead of
// failing the probe by timing out.
const readyTimeout = 2 * time.Second

// StartDrain makes /readyz answer 503 from now on, while every other route
// keeps serving: the load balancer takes the instance out of rotation before
// it stops accepting connections.
func (app *Application) StartDrain() { app.draining.Store(true) }

// healthz answers 200 while the process serves. It touches no session and
// no dependency: a platform restarts an instance whose liveness probe fails,
// and a Redis outage is no reason to restart every instance.
func (app *Application) healthz(w http.ResponseWriter, r *http.Request) {
	plain(w, http.StatusOK, "ok")
}

// readyz answers 200 when the instance can serve users: not shutting down,
// configured, the session store answering and the tenant's metadata fetched
// (it is cached, so only the first call costs a request). Otherwise 503 with
// a one-line reason; the detail goes to the log, never to the caller, since
// a proxy may expose this route to anyone.
func (app *Application) readyz(w http.ResponseWriter, r *http.Request) {
	if reason := app.notReady(r); reason != "" {
		plain(w, http.StatusServiceUnavailable, "not ready: "+reason)
		return
	}
	plain(w, http.StatusOK, "ready")
}

func (app *Application) notReady(r *http.Request) string {
	if app.draining.Load() {
		return "shutting down"
	}
	if len(app.ConfigProblems) > 0 {
		return "configuration incomplete"
	}
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	if app.SessionsReady != nil {
		if err := app.SessionsReady(ctx); err != nil {
			app.logger.Warn("not ready: session store", "request_id", requestIDFrom(r.Context()), "err", err)
			return "session store not answering"
		}
	}
	if _, err := app.Identity.Metadata(ctx); err != nil {
		app.logger.Warn("not ready: tenant metadata", "request_id", requestIDFrom(r.Context()), "err", err)
		return "tenant metadata not fetched"
	}
	return ""
}

// plain writes a one-line text answer that no cache keeps.
func plain(w http.ResponseWriter, status int, line string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	fmt.Fprintln(w, line)
}
