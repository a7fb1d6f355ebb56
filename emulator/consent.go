// Consent: which delegated permissions a user has granted each app, the
// tenant-wide (administrator) consent, and how each permission is worded on
// the consent page.

package emulator

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// DefaultAdminConsented is what Config.AdminConsented defaults to: the
// permission the demo app's registration has been granted for the whole
// tenant, as an administrator's "Grant admin consent" does.
var DefaultAdminConsented = []string{"User.Read"}

// adminConsentedScopes validates Config.AdminConsented and returns the
// lower-case Graph permission names. OpenID Connect scopes are accepted and
// ignored, since they never need consent.
func adminConsentedScopes(in []string, tenant string) ([]string, error) {
	if in == nil {
		in = DefaultAdminConsented
	}
	var out []string
	for _, s := range in {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		g, a := parseScope(s, tenant, nil)
		if a != nil {
			return nil, fmt.Errorf("admin-consented permission %q is not a Microsoft Graph permission name such as User.Read", s)
		}
		for _, p := range g.scp {
			if p = strings.ToLower(p); !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	return out, nil
}

func consentKey(username, clientID string) string {
	return strings.ToLower(username) + " " + strings.ToLower(clientID)
}

// missingConsent returns the Graph permissions in g that neither the
// administrator nor the user has granted app a, in request order. Consent
// is per app: what a user granted one app, another app must ask for again.
func (e *Emulator) missingConsent(username string, a *app, g grant) []string {
	if a.preAuthorized {
		return nil
	}
	e.mu.Lock()
	granted := e.consents[consentKey(username, a.clientID)]
	e.mu.Unlock()
	var missing []string
	for _, p := range g.scp {
		lp := strings.ToLower(p)
		// The tenant-wide consent is the configured apps': an app
		// registered through Graph starts with none.
		admin := !a.directory && slices.Contains(e.adminConsented, lp)
		if !admin && !slices.Contains(granted, lp) {
			missing = append(missing, p)
		}
	}
	return missing
}

// recordConsent remembers that the user granted app a permissions. Like
// Entra's, a user's consent lasts until it is revoked: here, until the
// emulator stops.
func (e *Emulator) recordConsent(username string, a *app, permissions []string) {
	key := consentKey(username, a.clientID)
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, p := range permissions {
		if lp := strings.ToLower(p); !slices.Contains(e.consents[key], lp) {
			e.consents[key] = append(e.consents[key], lp)
		}
	}
}

// consentGrantError is the token endpoint's answer to a code or refresh
// grant for a permission the user has not consented to, as Entra answers
// an app that asks silently for more than it was given.
func (e *Emulator) consentGrantError(username string, a *app, g grant) *aadError {
	if len(e.missingConsent(username, a, g)) == 0 {
		return nil
	}
	x := errConsentRequired(a, "invalid_grant")
	return &x
}

// errConsentRequired is AADSTS65001. It goes to the redirect URI as
// error=consent_required after prompt=none, and is the token endpoint's
// invalid_grant with suberror consent_required.
func errConsentRequired(a *app, oauthErr string) aadError {
	return aadError{http.StatusBadRequest, oauthErr, 65001,
		fmt.Sprintf("The user or administrator has not consented to use the application with ID '%s' named '%s'. Send an interactive authorization request for this user and resource.", a.clientID, a.displayName)}
}

// suberrors are the suberror values Entra adds to some token endpoint
// errors; MSAL libraries read them to decide whether to ask the user.
var suberrors = map[int]string{65001: "consent_required"}

// appDisplayName is the name of an app registered without one, as the
// consent page and the tokens' app_displayname show it.
const appDisplayName = "Entra emulator demo app"

// permissionWords are Microsoft Graph's user-facing consent descriptions
// for the delegated permissions a sample is likely to ask for.
var permissionWords = map[string]string{
	"user.read":           "Sign you in and read your profile",
	"user.readwrite":      "Read and update your profile",
	"user.readbasic.all":  "Read all users’ basic profiles",
	"user.read.all":       "Read all users’ full profiles",
	"calendars.read":      "Read your calendars",
	"calendars.readbasic": "Read basic details of your calendars",
	"calendars.readwrite": "Have full access to your calendars",
	"mail.read":           "Read your mail",
	"mail.readbasic":      "Read basic details of your mail",
	"mail.readwrite":      "Read and write access to your mail",
	"mail.send":           "Send mail as you",
	"contacts.read":       "Read your contacts",
	"contacts.readwrite":  "Have full access to your contacts",
	"files.read":          "Read your files",
	"files.read.all":      "Read all files that you have access to",
	"files.readwrite":     "Have full access to your files",
	"tasks.read":          "Read your tasks and task lists",
	"tasks.readwrite":     "Create, read, update and delete your tasks and task lists",
	"people.read":         "Read your relevant people list",
	"presence.read":       "Read your presence information",
	"group.read.all":      "Read all groups",
	"directory.read.all":  "Read directory data",
	"openid":              "Sign you in",
	"profile":             "View your basic profile",
	"email":               "View your email address",
	"offline_access":      "Maintain access to data you have given it access to",
}

// permission is one line of the consent page.
type permission struct {
	Words string // "Read your calendars"
	Name  string // "Calendars.Read"
}

func describePermissions(names []string) []permission {
	out := make([]permission, 0, len(names))
	for _, n := range names {
		words, ok := permissionWords[strings.ToLower(n)]
		if !ok {
			words = "Use the Microsoft Graph permission " + n + " on your behalf"
		}
		out = append(out, permission{Words: words, Name: n})
	}
	return out
}
