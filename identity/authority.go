// Authority: which kind of tenant the configured authority names, and the
// authority MSAL Go is given for it.

package identity

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// AuthorityKind tells an Entra ID authority from an External ID one.
type AuthorityKind int

const (
	// EntraID is a workforce tenant's authority,
	// https://login.microsoftonline.com/{tenant}, or any other host given
	// as the authority that is not External ID's (the local emulator's).
	// MSAL Go is given it as configured.
	EntraID AuthorityKind = iota
	// ExternalID is an External ID tenant on its ciamlogin.com host:
	// https://{sub}.ciamlogin.com/{sub}.onmicrosoft.com,
	// https://{tenant-id}.ciamlogin.com/{tenant-id}, or the bare
	// https://{sub}.ciamlogin.com.
	ExternalID
	// ExternalIDCustomDomain is an External ID tenant on a custom URL
	// domain, https://login.contoso.com/{tenant-id}/v2.0
	// (Config.OIDCAuthority, the identity library's oidc_authority).
	ExternalIDCustomDomain
)

// Authority is a configured authority, checked and in the form MSAL Go
// takes.
type Authority struct {
	// URL is https://{host}/{tenant}, with no trailing slash and no /v2.0.
	// A bare https://{sub}.ciamlogin.com becomes
	// https://{sub}.ciamlogin.com/{sub}.onmicrosoft.com, as MSAL.NET and
	// MSAL Python make it (MSAL Go refuses an authority without a tenant).
	URL  string
	Kind AuthorityKind
}

// ExternalID reports whether the authority is an External ID tenant's,
// on ciamlogin.com or a custom URL domain. Its user flows offer sign-up
// (SignIn.Prompt "create").
func (a Authority) ExternalID() bool { return a.Kind != EntraID }

// ciamSuffix is the parent domain of External ID tenants' hosts.
const ciamSuffix = ".ciamlogin.com"

var tenantIDPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// ParseAuthority checks a configured authority and returns it in the form
// MSAL Go takes. authority is an Entra ID or External ID authority
// (Config.Authority); oidcAuthority an External ID tenant's on a custom URL
// domain (Config.OIDCAuthority), https://{domain}/{tenant-id}/v2.0 or
// without /v2.0. Exactly one of the two is set. A form that cannot work is
// refused with an error that names the form to use instead. It makes no
// network request.
func ParseAuthority(authority, oidcAuthority string) (Authority, error) {
	switch {
	case authority != "" && oidcAuthority != "":
		return Authority{}, fmt.Errorf("identity: set the authority (%s) or the OIDC authority (%s), not both", authority, oidcAuthority)
	case oidcAuthority != "":
		return parseCustomDomain(oidcAuthority)
	}
	u, err := url.Parse(authority)
	if err == nil && u.Scheme == "https" && strings.HasSuffix(strings.ToLower(u.Hostname()), ciamSuffix) {
		return parseCIAMLogin(u, authority)
	}
	// Entra ID, checked as it always was.
	if err != nil || u.Scheme != "https" || u.Host == "" || strings.Trim(u.Path, "/") == "" {
		return Authority{}, fmt.Errorf("identity: authority %q must look like https://login.microsoftonline.com/<tenant>", authority)
	}
	return Authority{URL: strings.TrimSuffix(authority, "/"), Kind: EntraID}, nil
}

// parseCIAMLogin checks an External ID authority on its ciamlogin.com host.
func parseCIAMLogin(u *url.URL, raw string) (Authority, error) {
	sub := strings.TrimSuffix(strings.ToLower(u.Hostname()), ciamSuffix)
	tenant := sub + ".onmicrosoft.com"
	if tenantIDPattern.MatchString(sub) {
		tenant = sub
	}
	want := "https://" + strings.ToLower(u.Host) + "/" + tenant
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.Contains(sub, ".") {
		return Authority{}, fmt.Errorf("identity: authority %q is not an External ID authority: use https://<subdomain>.ciamlogin.com/<subdomain>.onmicrosoft.com", raw)
	}
	segments := strings.Split(strings.Trim(u.Path, "/"), "/")
	switch {
	case segments[0] == "":
		// The bare host: its own subdomain names the tenant.
		return Authority{URL: want, Kind: ExternalID}, nil
	case len(segments) == 1:
		return Authority{URL: "https://" + u.Host + "/" + segments[0], Kind: ExternalID}, nil
	}
	return Authority{}, fmt.Errorf("identity: authority %q has more than the tenant in its path: use https://%s/%s (MSAL adds /v2.0 itself)", raw, u.Host, segments[0])
}

// parseCustomDomain checks an External ID authority on a custom URL domain.
func parseCustomDomain(raw string) (Authority, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return Authority{}, fmt.Errorf("identity: OIDC authority %q must look like https://login.contoso.com/<tenant-id>/v2.0", raw)
	}
	host := strings.ToLower(u.Hostname())
	if microsoftHost(host) || strings.HasSuffix(host, ciamSuffix) {
		return Authority{}, fmt.Errorf("identity: OIDC authority %q is for a custom URL domain: for %s set it as the authority, https://%s/<tenant>", raw, u.Host, u.Host)
	}
	path := strings.Trim(u.Path, "/")
	if p, ok := strings.CutSuffix(strings.ToLower(path), "/v2.0"); ok {
		path = path[:len(p)]
	}
	tenant := strings.ToLower(path)
	if !tenantIDPattern.MatchString(tenant) {
		return Authority{}, fmt.Errorf("identity: OIDC authority %q must be https://%s/<tenant-id>/v2.0: on a custom URL domain External ID names the tenant by its ID, which its issuer repeats", raw, u.Host)
	}
	return Authority{URL: "https://" + u.Host + "/" + tenant, Kind: ExternalIDCustomDomain}, nil
}

// tenantIssuerAuthority returns the authority that issuer names, when
// issuer is External ID's tenant issuer and may stand for a: ok is false
// for an Entra ID authority, an issuer on a's own host (MSAL Go accepts it
// as it is), and every other issuer (MSAL Go then judges it against a with
// its own rules).
//
// External ID's tenant issuer is https://{tenant-id}.ciamlogin.com/{tenant-id}/v2.0,
// on the port of the authority (none in production). It stands for a
// custom URL domain whose path names that same tenant ID, as MSAL Python
// requires, and for an authority on ciamlogin.com, whose document
// External ID itself served over TLS; when that authority names the tenant
// by its ID, the IDs must match too. MSAL Go's check has no such rule, and
// refuses these issuers because their host is not the authority's.
func (a Authority) tenantIssuerAuthority(issuer string) (string, bool) {
	if !a.ExternalID() {
		return "", false
	}
	iu, err := url.Parse(issuer)
	au, aerr := url.Parse(a.URL)
	if err != nil || aerr != nil || iu.Scheme != "https" || iu.User != nil || iu.RawQuery != "" || iu.Fragment != "" ||
		strings.EqualFold(iu.Host, au.Host) || iu.Port() != au.Port() {
		return "", false
	}
	tenant, ok := strings.CutSuffix(strings.ToLower(iu.Hostname()), ciamSuffix)
	if !ok || !tenantIDPattern.MatchString(tenant) || strings.ToLower(strings.TrimSuffix(iu.Path, "/")) != "/"+tenant+"/v2.0" {
		return "", false
	}
	configured := strings.ToLower(strings.Trim(au.Path, "/"))
	switch {
	case tenantIDPattern.MatchString(configured) && configured != tenant:
		return "", false
	case a.Kind == ExternalIDCustomDomain && configured != tenant:
		return "", false
	}
	return "https://" + strings.ToLower(iu.Host) + "/" + tenant, true
}

// msalAuthority returns the authority MSAL Go is given. For Entra ID it is
// the configured one, with no request made.
//
// For External ID it reads the configured authority's discovery document
// over TLS (once: the shared transport keeps it, and MSAL's own read of the
// same document is then answered from memory). When that document names
// External ID's tenant issuer on another host (tenantIssuerAuthority),
// MSAL Go is given the authority the issuer names, so that its issuer
// check compares the issuer with its own authority; and its request for
// that authority's discovery document is answered with the configured
// authority's, the document just checked. The endpoints stay the
// configured authority's (a custom URL domain keeps its sign-in pages),
// the ID token's iss is still checked against that issuer (checkIDToken),
// and should the document later name another issuer, MSAL Go refuses it.
// Any other issuer leaves MSAL Go the configured authority, and its check
// as it is.
func (c *Client) msalAuthority(ctx context.Context) (string, error) {
	if !c.auth.ExternalID() {
		return c.auth.URL, nil
	}
	meta, err := c.Metadata(ctx)
	if err != nil {
		return "", err
	}
	issuerAuthority, ok := c.auth.tenantIssuerAuthority(meta.Issuer)
	if !ok {
		return c.auth.URL, nil
	}
	c.transport.alias(metadataURL(issuerAuthority), metadataURL(c.auth.URL))
	return issuerAuthority, nil
}
