// The app's settings, as the Python sample's app_config.py: the downstream
// APIs and their scopes, the admin role, where sessions live and why, read
// from the environment (and .env) with the Python samples' names.

package main

import (
	"errors"

	"ms-identity-go-webapp/entra"
	"ms-identity-go-webapp/handlers"
	"ms-identity-go-webapp/internal/webserver"
)

// config is every setting of the app.
type config struct {
	// Sign-in (entra.ConfigFromLookup): AUTHORITY, CLIENT_ID, the
	// credential, REDIRECT_URI, SCOPE, CLIENT_CAPABILITIES, and the
	// sessions. SESSION_TYPE defaults to filesystem: one instance, nothing
	// else to run. Several instances share SESSION_TYPE=redis, so that a
	// sign-in started on one completes on another.
	Entra entra.Config
	// Missing are the sign-in settings not set yet: the app then shows
	// them on every page instead of signing anyone in.
	Missing []string
	// The pages' own settings (handlers.ConfigFromLookup): Microsoft
	// Graph as one downstream API, a base URL plus scopes, as
	// Microsoft.Identity.Web describes it (GRAPH_BASE_URL; GRAPH_ENDPOINT
	// and CALENDAR_ENDPOINT override a page's URL), CALENDAR_SCOPE,
	// GRAPH_TIMEOUT, ADMIN_ROLE and ADMIN_AUTH_CONTEXT.
	Pages handlers.Config
	// Where and how the app serves: HOST, PORT, TLS, TRUSTED_PROXIES, ...
	Server webserver.Config
}

// loadConfig reads the settings through lookup (os.LookupEnv, after .env).
// A malformed value is an error naming the variable; all of them are named
// at once.
func loadConfig(lookup func(string) (string, bool)) (config, error) {
	var cfg config
	var errs []error
	var cerr *entra.ConfigError
	var err error
	if cfg.Entra, err = entra.ConfigFromLookup(lookup); errors.As(err, &cerr) {
		errs, cfg.Missing = append(errs, cerr.Invalid...), cerr.Missing
	}
	var serverErrs []error
	cfg.Server, serverErrs = webserver.ConfigFromLookup(lookup)
	errs = append(errs, serverErrs...)

	var pageErrs []error
	cfg.Pages, pageErrs = handlers.ConfigFromLookup(lookup, cfg.Entra.Scopes)
	errs = append(errs, pageErrs...)
	return cfg, errors.Join(errs...)
}
