// Scope handling: which scopes are OpenID Connect's, which are Graph's, and
// what the token response echoes back.

package emulator

import (
	"regexp"
	"slices"
	"strings"
)

// grant is the outcome of one scope parameter.
type grant struct {
	resource []string // resource scopes as the client wrote them (echoed back, so MSAL finds none declined)
	scp      []string // their short Graph names, for the access token's scp claim
	openid   bool
	profile  bool
	email    bool
	offline  bool
}

var graphPrefixes = []string{"https://graph.microsoft.com/", GraphResourceID + "/"}

// graphScopeName is the shape of a Graph permission name, e.g. User.Read.
var graphScopeName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9._-]{0,127}$`)

// defaultGraphScopes is what "https://graph.microsoft.com/.default" grants:
// the permissions the emulator's app registration is configured with.
var defaultGraphScopes = []string{"User.Read"}

// parseScope splits a space-separated scope parameter. OpenID Connect scopes
// (openid, profile, email, offline_access) are flags; every other scope
// must be a Microsoft Graph permission, written short ("User.Read") or
// qualified ("https://graph.microsoft.com/User.Read"), as the emulator
// knows no other resource. defaults is what the app's ".default" grants
// (nil = defaultGraphScopes).
func parseScope(raw, tenant string, defaults []string) (grant, *aadError) {
	if defaults == nil {
		defaults = defaultGraphScopes
	}
	var g grant
	for _, s := range strings.Fields(raw) {
		switch strings.ToLower(s) {
		case "openid":
			g.openid = true
			continue
		case "profile":
			g.profile = true
			continue
		case "email":
			g.email = true
			continue
		case "offline_access":
			g.offline = true
			continue
		}
		name := s
		qualified := false
		for _, p := range graphPrefixes {
			if len(s) > len(p) && strings.EqualFold(s[:len(p)], p) {
				name, qualified = s[len(p):], true
				break
			}
		}
		switch {
		case qualified && strings.EqualFold(name, ".default"):
			for _, d := range defaults {
				g.addScp(d)
			}
		case graphScopeName.MatchString(name):
			g.addScp(name)
		case !qualified && strings.Contains(s, "/"):
			resource := s[:strings.LastIndex(s, "/")]
			a := errResourceNotFound(resource, tenant)
			return grant{}, &a
		default:
			a := errInvalidScope(s)
			return grant{}, &a
		}
		if !slices.ContainsFunc(g.resource, func(r string) bool { return strings.EqualFold(r, s) }) {
			g.resource = append(g.resource, s)
		}
	}
	if len(g.resource) == 0 && !g.openid && !g.profile && !g.email {
		if raw = strings.TrimSpace(raw); raw == "" {
			a := errMissingParam("scope")
			return grant{}, &a
		}
		a := errInvalidScope(raw)
		return grant{}, &a
	}
	return g, nil
}

func (g *grant) addScp(name string) {
	if !slices.ContainsFunc(g.scp, func(s string) bool { return strings.EqualFold(s, name) }) {
		g.scp = append(g.scp, name)
	}
}

// oidcEcho lists the OpenID Connect scopes Entra echoes: profile and openid
// as requested, and email whenever any of them was. It never echoes
// offline_access, which is why MSAL refuses to be asked for it.
func (g grant) oidcEcho() []string {
	var out []string
	if g.profile {
		out = append(out, "profile")
	}
	if g.openid {
		out = append(out, "openid")
	}
	if g.openid || g.profile || g.email {
		out = append(out, "email")
	}
	return out
}

// echo is the token response's "scope": e.g. "User.Read profile openid email".
func (g grant) echo() string {
	return strings.Join(append(slices.Clone(g.resource), g.oidcEcho()...), " ")
}

// scpClaim is the Graph access token's scp: short names, space separated.
func (g grant) scpClaim() string {
	return strings.Join(append(slices.Clone(g.scp), g.oidcEcho()...), " ")
}

// meScopes are the delegated permissions that allow GET /me in Graph.
var meScopes = []string{"User.Read", "User.ReadWrite", "User.ReadBasic.All", "User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}

func allowsMe(scp string) bool {
	for _, s := range strings.Fields(scp) {
		if slices.ContainsFunc(meScopes, func(m string) bool { return strings.EqualFold(m, s) }) {
			return true
		}
	}
	return false
}
