// Tests of the pages' settings: one Graph setting drives every Graph page.

package handlers

import (
	"net/http"
	"strings"
	"testing"

	"ms-identity-go-webapp/emulator"
)

func lookupEnv(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// GRAPH_BASE_URL names the Graph every page calls; without it, the base of
// GRAPH_ENDPOINT does, so that pointing the Python samples' GRAPH_ENDPOINT
// at another Graph points /calendar there too. GRAPH_ENDPOINT and
// CALENDAR_ENDPOINT still override their page's URL.
func TestGraphBaseURL(t *testing.T) {
	for _, tt := range []struct {
		name          string
		env           map[string]string
		base, me, cal string
	}{
		{"defaults", nil,
			"https://graph.microsoft.com/v1.0", "https://graph.microsoft.com/v1.0/me", "https://graph.microsoft.com/v1.0/me/events"},
		{"the Python samples' GRAPH_ENDPOINT", map[string]string{"GRAPH_ENDPOINT": "https://graph.microsoft.com/v1.0/me"},
			"https://graph.microsoft.com/v1.0", "https://graph.microsoft.com/v1.0/me", "https://graph.microsoft.com/v1.0/me/events"},
		{"GRAPH_ENDPOINT alone, another Graph", map[string]string{"GRAPH_ENDPOINT": "https://127.0.0.1:9/v1.0/me"},
			"https://127.0.0.1:9/v1.0", "https://127.0.0.1:9/v1.0/me", "https://127.0.0.1:9/v1.0/me/events"},
		{"GRAPH_ENDPOINT with a trailing slash", map[string]string{"GRAPH_ENDPOINT": "https://127.0.0.1:9/v1.0/me/"},
			"https://127.0.0.1:9/v1.0", "https://127.0.0.1:9/v1.0/me/", "https://127.0.0.1:9/v1.0/me/events"},
		{"GRAPH_BASE_URL alone", map[string]string{"GRAPH_BASE_URL": "https://graph.microsoft.us/v1.0"},
			"https://graph.microsoft.us/v1.0", "https://graph.microsoft.us/v1.0/me", "https://graph.microsoft.us/v1.0/me/events"},
		{"GRAPH_BASE_URL with a trailing slash", map[string]string{"GRAPH_BASE_URL": "https://graph.microsoft.us/v1.0/"},
			"https://graph.microsoft.us/v1.0/", "https://graph.microsoft.us/v1.0/me", "https://graph.microsoft.us/v1.0/me/events"},
		{"GRAPH_BASE_URL wins over GRAPH_ENDPOINT's base",
			map[string]string{"GRAPH_BASE_URL": "https://graph.microsoft.us/v1.0", "GRAPH_ENDPOINT": "https://127.0.0.1:9/v1.0/me"},
			"https://graph.microsoft.us/v1.0", "https://127.0.0.1:9/v1.0/me", "https://graph.microsoft.us/v1.0/me/events"},
		{"CALENDAR_ENDPOINT still overrides",
			map[string]string{"GRAPH_ENDPOINT": "https://127.0.0.1:9/v1.0/me", "CALENDAR_ENDPOINT": "https://calendar.example/v1.0/me/events"},
			"https://127.0.0.1:9/v1.0", "https://127.0.0.1:9/v1.0/me", "https://calendar.example/v1.0/me/events"},
		{"CALENDAR_ENDPOINT over GRAPH_BASE_URL",
			map[string]string{"GRAPH_BASE_URL": "https://127.0.0.1:9/beta", "CALENDAR_ENDPOINT": "https://calendar.example/v1.0/me/events"},
			"https://127.0.0.1:9/beta", "https://127.0.0.1:9/beta/me", "https://calendar.example/v1.0/me/events"},
		{"empty settings are unset", map[string]string{"GRAPH_BASE_URL": " ", "GRAPH_ENDPOINT": "", "CALENDAR_ENDPOINT": ""},
			"https://graph.microsoft.com/v1.0", "https://graph.microsoft.com/v1.0/me", "https://graph.microsoft.com/v1.0/me/events"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg, errs := ConfigFromLookup(lookupEnv(tt.env), []string{"User.Read"})
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			if cfg.Graph.BaseURL != tt.base {
				t.Errorf("Graph.BaseURL = %q, want %q", cfg.Graph.BaseURL, tt.base)
			}
			if got := cfg.Graph.URL(cfg.MeEndpoint); got != tt.me {
				t.Errorf("/graph calls %q, want %q", got, tt.me)
			}
			if got := cfg.Graph.URL(cfg.CalendarEndpoint); got != tt.cal {
				t.Errorf("/calendar calls %q, want %q", got, tt.cal)
			}
			if strings.Join(cfg.Graph.Scopes, " ") != "User.Read" || cfg.Graph.Name != "Microsoft Graph" {
				t.Errorf("Graph = %+v", cfg.Graph)
			}
		})
	}
}

// Each Graph URL is checked, and the error names the setting.
func TestGraphSettingsRejected(t *testing.T) {
	for _, tc := range []struct{ key, value string }{
		{"GRAPH_BASE_URL", "http://graph.microsoft.com/v1.0"},
		{"GRAPH_BASE_URL", "graph.microsoft.com/v1.0"},
		{"GRAPH_ENDPOINT", "http://graph.microsoft.com/v1.0/me"},
		{"CALENDAR_ENDPOINT", "http://graph.microsoft.com/v1.0/me/events"},
		{"GRAPH_TIMEOUT", "soon"},
	} {
		_, errs := ConfigFromLookup(lookupEnv(map[string]string{tc.key: tc.value}), nil)
		named := false
		for _, err := range errs {
			named = named || strings.HasPrefix(err.Error(), tc.key)
		}
		if !named {
			t.Errorf("%s=%q: errors %v do not name it", tc.key, tc.value, errs)
		}
	}
}

// In the app: with only GRAPH_ENDPOINT pointed at another Graph (the
// emulator's), /calendar calls that Graph's /me/events.
func TestCalendarFollowsGraphEndpoint(t *testing.T) {
	ba := newBenchApp(t, emulator.Config{AdminConsented: []string{"User.Read", "Calendars.Read"}})
	rec := get(ba.h, "/calendar", []*http.Cookie{ba.cookie})
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), strings.TrimSuffix(ba.graph, "/me")+"/me/events?") {
		t.Fatalf("/calendar: %d, want 200 from %s/events:\n%s", rec.Code, ba.graph, excerptOf(rec.Body.String()))
	}
	if n := ba.emu.Stats()[emulator.StatGraphEvents]; n != 1 {
		t.Errorf("the emulator's Graph answered %d /me/events calls, want 1", n)
	}
}
