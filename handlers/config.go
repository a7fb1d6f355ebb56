// The pages' settings, read from the environment with the Python samples' names.

package handlers

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"ms-identity-go-webapp/entra"
)

// graphBaseURL is Microsoft Graph's v1.0 endpoint in the global cloud.
const graphBaseURL = "https://graph.microsoft.com/v1.0"

// authContextPattern is Entra ID's authentication context IDs: c1 to c99.
var authContextPattern = regexp.MustCompile(`^c[1-9][0-9]?$`)

// ConfigFromLookup reads the pages' settings through lookup, and returns
// every malformed one. signInScopes are the scopes asked at sign-in (SCOPE),
// which /graph's token needs.
//
// One Graph setting drives every Graph page, as Microsoft.Identity.Web
// describes a downstream API: a base URL plus scopes. GRAPH_BASE_URL names
// it (a national cloud, the emulator); without it, the base of the Python
// samples' GRAPH_ENDPOINT (…/v1.0/me) does, so that pointing GRAPH_ENDPOINT
// at another Graph points /calendar there too. GRAPH_ENDPOINT and
// CALENDAR_ENDPOINT still override their page's URL.
func ConfigFromLookup(lookup func(string) (string, bool), signInScopes []string) (Config, []error) {
	get := func(name, def string) string {
		if v, _ := lookup(name); strings.TrimSpace(v) != "" {
			return strings.TrimSpace(v)
		}
		return def
	}
	var errs []error
	c := Config{
		Graph:            entra.API{Name: "Microsoft Graph", BaseURL: get("GRAPH_BASE_URL", ""), Scopes: signInScopes},
		MeEndpoint:       get("GRAPH_ENDPOINT", "/me"),
		CalendarEndpoint: get("CALENDAR_ENDPOINT", "/me/events"),
		CalendarScopes:   strings.Fields(get("CALENDAR_SCOPE", "Calendars.Read")),
		AdminRole:        get("ADMIN_ROLE", "admin"),
		AdminAuthContext: get("ADMIN_AUTH_CONTEXT", ""),
	}
	if c.Graph.BaseURL == "" {
		c.Graph.BaseURL = graphBaseURL
		if base, ok := strings.CutSuffix(strings.TrimSuffix(c.MeEndpoint, "/"), "/me"); ok && base != "" {
			c.Graph.BaseURL = base
		}
	}
	for _, s := range []struct{ name, value string }{{"GRAPH_BASE_URL", c.Graph.BaseURL},
		{"GRAPH_ENDPOINT", c.Graph.URL(c.MeEndpoint)}, {"CALENDAR_ENDPOINT", c.Graph.URL(c.CalendarEndpoint)}} {
		if u, err := url.Parse(s.value); err != nil || u.Host == "" || u.Scheme != "https" {
			errs = append(errs, fmt.Errorf("%s must be an absolute https URL, not %q", s.name, s.value))
		}
	}
	var err error
	if c.Graph.Timeout, err = time.ParseDuration(get("GRAPH_TIMEOUT", "10s")); err != nil || c.Graph.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("GRAPH_TIMEOUT must be a duration such as 10s, not %q", get("GRAPH_TIMEOUT", "")))
	}
	if a := c.AdminAuthContext; a != "" && !authContextPattern.MatchString(a) {
		errs = append(errs, fmt.Errorf("ADMIN_AUTH_CONTEXT must be an authentication context ID from c1 to c99 (Entra admin center → Conditional Access → Authentication contexts), or empty for none, not %q", a))
	}
	return c, errs
}
