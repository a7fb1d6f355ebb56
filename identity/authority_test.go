package identity

import (
	"strings"
	"testing"
)

const tid = "c0ffee00-0000-4000-a000-000000000001"

func TestParseAuthority(t *testing.T) {
	for _, tc := range []struct {
		authority, oidc string
		want            Authority
	}{
		// Entra ID, as it always was: the emulator's host too.
		{"https://login.microsoftonline.com/contoso.onmicrosoft.com/", "", Authority{"https://login.microsoftonline.com/contoso.onmicrosoft.com", EntraID}},
		{"https://127.0.0.1:5001/" + tid, "", Authority{"https://127.0.0.1:5001/" + tid, EntraID}},
		// External ID on ciamlogin.com: each documented form.
		{"https://contoso.ciamlogin.com/", "", Authority{"https://contoso.ciamlogin.com/contoso.onmicrosoft.com", ExternalID}},
		{"https://Contoso.ciamlogin.com", "", Authority{"https://contoso.ciamlogin.com/contoso.onmicrosoft.com", ExternalID}},
		{"https://contoso.ciamlogin.com/contoso.onmicrosoft.com", "", Authority{"https://contoso.ciamlogin.com/contoso.onmicrosoft.com", ExternalID}},
		{"https://" + tid + ".ciamlogin.com/" + tid + "/", "", Authority{"https://" + tid + ".ciamlogin.com/" + tid, ExternalID}},
		{"https://" + tid + ".ciamlogin.com", "", Authority{"https://" + tid + ".ciamlogin.com/" + tid, ExternalID}},
		// A custom URL domain, as the identity library's oidc_authority.
		{"", "https://login.contoso.com/" + tid + "/v2.0", Authority{"https://login.contoso.com/" + tid, ExternalIDCustomDomain}},
		{"", "https://login.contoso.com/" + strings.ToUpper(tid) + "/V2.0/", Authority{"https://login.contoso.com/" + tid, ExternalIDCustomDomain}},
		{"", "https://login.contoso.com:8443/" + tid, Authority{"https://login.contoso.com:8443/" + tid, ExternalIDCustomDomain}},
	} {
		got, err := ParseAuthority(tc.authority, tc.oidc)
		if err != nil || got != tc.want {
			t.Errorf("ParseAuthority(%q, %q) = %+v, %v; want %+v", tc.authority, tc.oidc, got, err, tc.want)
		}
		if got.ExternalID() != (tc.want.Kind != EntraID) {
			t.Errorf("%+v: ExternalID() = %v", got, got.ExternalID())
		}
	}
}

// A form that cannot work is refused with one line that names the form to
// use instead.
func TestParseAuthorityRefuses(t *testing.T) {
	for _, tc := range []struct{ authority, oidc, want string }{
		{"", "", "must look like https://login.microsoftonline.com/<tenant>"},
		{"https://login.microsoftonline.com/", "", "must look like https://login.microsoftonline.com/<tenant>"},
		{"https://contoso.ciamlogin.com/contoso.onmicrosoft.com", "https://login.contoso.com/" + tid + "/v2.0", "not both"},
		{"https://contoso.ciamlogin.com/contoso.onmicrosoft.com/v2.0", "", "use https://contoso.ciamlogin.com/contoso.onmicrosoft.com (MSAL adds /v2.0 itself)"},
		{"https://contoso.ciamlogin.com/contoso.onmicrosoft.com?p=1", "", "use https://<subdomain>.ciamlogin.com/<subdomain>.onmicrosoft.com"},
		{"https://a.b.ciamlogin.com/x", "", "use https://<subdomain>.ciamlogin.com/<subdomain>.onmicrosoft.com"},
		{"", "https://login.contoso.com/contoso.onmicrosoft.com/v2.0", "must be https://login.contoso.com/<tenant-id>/v2.0"},
		{"", "https://login.contoso.com/", "must be https://login.contoso.com/<tenant-id>/v2.0"},
		{"", "https://login.contoso.com/" + tid + "/b2c_1_signin/v2.0", "must be https://login.contoso.com/<tenant-id>/v2.0"},
		{"", "http://login.contoso.com/" + tid + "/v2.0", "must look like https://login.contoso.com/<tenant-id>/v2.0"},
		{"", "https://contoso.ciamlogin.com/" + tid + "/v2.0", "set it as the authority, https://contoso.ciamlogin.com/<tenant>"},
		{"", "https://login.microsoftonline.com/" + tid + "/v2.0", "set it as the authority"},
	} {
		_, err := ParseAuthority(tc.authority, tc.oidc)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("ParseAuthority(%q, %q) = %v, want one line with %q", tc.authority, tc.oidc, err, tc.want)
		}
	}
}

// The one issuer MSAL Go refuses that External ID names, and what may not
// pass for it.
func TestTenantIssuerAuthority(t *testing.T) {
	const other = "c0ffee00-0000-4000-a000-0000000000ff"
	ciamIssuer := "https://" + tid + ".ciamlogin.com/" + tid + "/v2.0"
	ciamAuthority := "https://" + tid + ".ciamlogin.com/" + tid
	sub := Authority{"https://contoso.ciamlogin.com/contoso.onmicrosoft.com", ExternalID}
	subByID := Authority{"https://contoso.ciamlogin.com/" + tid, ExternalID}
	guid := Authority{"https://" + tid + ".ciamlogin.com/" + tid, ExternalID}
	custom := Authority{"https://login.contoso.com/" + tid, ExternalIDCustomDomain}
	customPort := Authority{"https://login.contoso.com:5001/" + tid, ExternalIDCustomDomain}
	entra := Authority{"https://login.microsoftonline.com/" + tid, EntraID}
	for _, tc := range []struct {
		name   string
		a      Authority
		issuer string
		want   string // "" = not substituted: MSAL Go judges the configured authority
	}{
		{"subdomain", sub, ciamIssuer, ciamAuthority},
		{"subdomain naming the tenant by ID", subByID, ciamIssuer, ciamAuthority},
		// External ID serves the subdomain's document itself: a tenant ID
		// cannot be matched against a domain name.
		{"subdomain, any tenant ID", sub, "https://" + other + ".ciamlogin.com/" + other + "/v2.0", "https://" + other + ".ciamlogin.com/" + other},
		{"custom domain", custom, ciamIssuer, ciamAuthority},
		{"upper case", custom, strings.ToUpper(ciamIssuer[:8]) + ciamIssuer[8:], ciamAuthority},
		{"custom domain on a port", customPort, "https://" + tid + ".ciamlogin.com:5001/" + tid + "/v2.0", "https://" + tid + ".ciamlogin.com:5001/" + tid},
		{"own host: MSAL accepts it", guid, ciamIssuer, ""},
		{"Entra ID is left alone", entra, ciamIssuer, ""},
		{"unrelated host", sub, "https://login.unrelated.test/" + tid + "/v2.0", ""},
		{"another tenant for a custom domain", custom, "https://" + other + ".ciamlogin.com/" + other + "/v2.0", ""},
		{"another tenant for a tenant ID", subByID, "https://" + other + ".ciamlogin.com/" + other + "/v2.0", ""},
		{"host and path disagree", sub, "https://" + tid + ".ciamlogin.com/" + other + "/v2.0", ""},
		{"not a tenant ID", sub, "https://contoso.ciamlogin.com.evil.test/" + tid + "/v2.0", ""},
		{"named host, not a tenant ID", custom, "https://evil.ciamlogin.com/evil/v2.0", ""},
		{"look-alike domain", custom, "https://" + tid + ".ciamlogin.com.evil.test/" + tid + "/v2.0", ""},
		{"plain http", sub, "http://" + tid + ".ciamlogin.com/" + tid + "/v2.0", ""},
		{"another port", custom, "https://" + tid + ".ciamlogin.com:8443/" + tid + "/v2.0", ""},
		{"extra path", sub, "https://" + tid + ".ciamlogin.com/" + tid + "/v2.0/x", ""},
		{"query", sub, ciamIssuer + "?x=1", ""},
		{"user info", sub, "https://u@" + tid + ".ciamlogin.com/" + tid + "/v2.0", ""},
	} {
		got, ok := tc.a.tenantIssuerAuthority(tc.issuer)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("%s: %+v with issuer %s: %q, %v; want %q", tc.name, tc.a, tc.issuer, got, ok, tc.want)
		}
	}
}
