package entra

import (
	"strings"
	"testing"
)

const tenantID = "c0ffee00-0000-4000-a000-000000000001"

// Every External ID form Microsoft documents is accepted: AUTHORITY for
// ciamlogin.com, OIDC_AUTHORITY for a custom URL domain.
func TestLoadConfigExternalIDAuthorities(t *testing.T) {
	for _, tt := range []struct {
		name            string
		set             map[string]string
		authority, oidc string
	}{
		{"bare subdomain", map[string]string{"AUTHORITY": "https://contoso.ciamlogin.com/"}, "https://contoso.ciamlogin.com", ""},
		{"tenant id host", map[string]string{"AUTHORITY": "https://" + tenantID + ".ciamlogin.com/" + tenantID}, "https://" + tenantID + ".ciamlogin.com/" + tenantID, ""},
		{"custom domain", map[string]string{"AUTHORITY": "", "OIDC_AUTHORITY": "https://login.contoso.com/" + tenantID + "/v2.0"}, "", "https://login.contoso.com/" + tenantID + "/v2.0"},
		{"custom domain wins over TENANT_ID", map[string]string{"AUTHORITY": "", "TENANT_ID": tenantID, "OIDC_AUTHORITY": "https://login.contoso.com/" + tenantID}, "", "https://login.contoso.com/" + tenantID},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := validEnv()
			for k, v := range tt.set {
				e[k] = v
			}
			cfg, err := ConfigFromLookup(lookupEnv(e))
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Authority != tt.authority || cfg.OIDCAuthority != tt.oidc {
				t.Errorf("Authority %q, OIDCAuthority %q", cfg.Authority, cfg.OIDCAuthority)
			}
		})
	}
}

// A form that cannot work stops start-up with one line naming the
// variable and the form to use.
func TestLoadConfigRefusesExternalIDForms(t *testing.T) {
	for _, tt := range []struct {
		name    string
		set     map[string]string
		mention []string
	}{
		{"both", map[string]string{"OIDC_AUTHORITY": "https://login.contoso.com/" + tenantID + "/v2.0"}, []string{"AUTHORITY and OIDC_AUTHORITY are both set"}},
		{"custom domain by name", map[string]string{"AUTHORITY": "", "OIDC_AUTHORITY": "https://login.contoso.com/contoso.onmicrosoft.com/v2.0"}, []string{"OIDC_AUTHORITY", "https://login.contoso.com/<tenant-id>/v2.0"}},
		{"custom domain placeholder", map[string]string{"AUTHORITY": "", "OIDC_AUTHORITY": "https://<your_custom_domain>/<tenant id>/v2.0"}, []string{"OIDC_AUTHORITY", "placeholder"}},
		{"ciamlogin as custom domain", map[string]string{"AUTHORITY": "", "OIDC_AUTHORITY": "https://contoso.ciamlogin.com/" + tenantID + "/v2.0"}, []string{"OIDC_AUTHORITY", "set it as the authority"}},
		{"ciamlogin with v2.0", map[string]string{"AUTHORITY": "https://contoso.ciamlogin.com/contoso.onmicrosoft.com/v2.0"}, []string{"AUTHORITY", "only path segment"}},
		{"ciamlogin nested host", map[string]string{"AUTHORITY": "https://a.b.ciamlogin.com/x"}, []string{"AUTHORITY", "https://<subdomain>.ciamlogin.com/<subdomain>.onmicrosoft.com"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := validEnv()
			for k, v := range tt.set {
				e[k] = v
			}
			_, err := ConfigFromLookup(lookupEnv(e))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, m := range tt.mention {
				if !strings.Contains(err.Error(), m) || strings.Contains(err.Error(), "\n") {
					t.Errorf("error %q: want one line with %q", err, m)
				}
			}
		})
	}
}
