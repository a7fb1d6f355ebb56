// An External ID server: its names reach it on loopback, nothing else is
// dialled, and SignUp creates an account.

package emulatortest

import (
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"

	"ms-identity-go-webapp/emulator"
)

func TestExternalIDServer(t *testing.T) {
	s := NewServer(t, emulator.Config{ExternalID: true})
	if len(s.Names) != 3 {
		t.Fatalf("Names = %v", s.Names)
	}
	c := s.Client()
	for _, name := range s.Names {
		resp, err := c.Get("https://" + name + "/" + s.Tenant() + "/v2.0/.well-known/openid-configuration")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: status %d", name, resp.StatusCode)
		}
	}
	for _, addr := range []string{"example.com:443", "demo.ciamlogin.com:8443", "other.ciamlogin.com:443"} {
		if conn, err := s.DialContext(t.Context(), "tcp", addr); err == nil {
			conn.Close()
			t.Errorf("DialContext(%s) connected", addr)
		}
	}

	jar, _ := cookiejar.New(nil)
	browser := s.Client()
	browser.Jar = jar
	q := url.Values{
		"client_id": {emulator.DemoClientID}, "redirect_uri": {emulator.DemoRedirectURIs[0]},
		"response_type": {"code"}, "scope": {"openid profile User.Read"}, "state": {"s"}, "prompt": {"create"},
	}
	auth := "https://" + CustomDomain + "/" + s.Tenant() + "/oauth2/v2.0/authorize?" + q.Encode()
	p, err := SignUp(t.Context(), browser, auth, "new@example.com", "Str0ng-password")
	if err != nil {
		t.Fatal(err)
	}
	if p.Status != http.StatusFound || !strings.HasPrefix(p.Location, emulator.DemoRedirectURIs[0]+"?code=") {
		t.Fatalf("SignUp ended on %d %s:\n%.500s", p.Status, p.Location, p.Body)
	}
	if s.Stats()[emulator.StatSignUps] != 1 {
		t.Errorf("sign_ups = %d", s.Stats()[emulator.StatSignUps])
	}
}
