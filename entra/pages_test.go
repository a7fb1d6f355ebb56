// Tests of the package's pages: each, rendered with its layout kept from an earlier page, is the page its base template renders, byte for byte.

package entra

import (
	"bytes"
	"io/fs"
	"testing"

	"ms-identity-go-webapp/identity"
	"ms-identity-go-webapp/internal/webpage"
)

// Every page of the package, in its own layout and in the sample's (with the
// sample's versions of the pages), rendered with its layout kept from an
// earlier page, is exactly what its "base" template writes for the same
// data: escaped alike, and with this request's user, heading and App
// values, never an earlier one's. A layout that came to show a value the
// cache is not keyed by (the request id, a page's own field) fails here.
func TestLayoutCache(t *testing.T) {
	full := func(name string) Page {
		return Page{
			Layout: Layout{User: PageUser{Name: name, Username: "user@contoso.test"}, SignedIn: true,
				Heading: "Heading <" + name + ">", App: testLayout{Year: 2031, AppVersion: "v1.2.3", MSALVersion: "v1.10.1"},
				LoginPath: "/login?x=<1>", LogoutPath: "/logout"},
			RequestID:   "req-" + name,
			AuthURL:     "https://login.example/authorize?a=1&b=2",
			AuthError:   &identity.AuthError{Code: "access_denied", Description: "AADSTS65004: <declined>", CorrelationID: "c0rr"},
			Permissions: []Permission{{"Calendars.Read", "read your calendars"}}, Next: "/calendar?x=<1>",
			Blocked: &Blocked{Resource: "Microsoft Graph", Status: "401", AuthContext: "c1", AnsweredAt: "<now>"},
			Status:  500, Message: "Message <" + name + ">", Detail: "Detail",
		}
	}
	variants := map[string]func() Page{
		"alice":  func() Page { return full("Alice Smith") },
		"markup": func() Page { return full(`<script>alert("x")</script> & 'Co'`) },
		"demo": func() Page {
			d := full("Bob")
			d.App = testLayout{Demo: true, Year: 2031, AppVersion: "v1.2.3", MSALVersion: "v1.10.1"}
			return d
		},
		"signed out":   func() Page { d := full(""); d.User, d.SignedIn = PageUser{}, false; return d },
		"no heading":   func() Page { d := full("Carol"); d.Heading = ""; return d },
		"another year": func() Page { d := full("Alice Smith"); d.App = testLayout{Year: 2032}; return d },
		"other paths":  func() Page { d := full("Alice Smith"); d.LoginPath, d.LogoutPath = "/auth/in", "/auth/out"; return d },
	}
	for _, set := range []struct {
		name      string
		templates fs.FS
	}{{"the package's own pages", nil}, {"the sample's pages", sampleTemplates()}} {
		pages, err := parsePages(set.templates, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, page := range pageNames {
			tmpl := pages.Template(page)
			if tmpl.Lookup("layout_top") == nil {
				t.Fatalf("%s, %s: no layout_top: the layout cache is not used", set.name, page)
			}
			compared := false
			for round := range 2 { // the layout is rendered, then kept
				for name, data := range variants {
					d := data()
					var want, got bytes.Buffer
					wantErr := tmpl.ExecuteTemplate(&want, "base", &d)
					gotErr := pages.Execute(&got, page, &d, d.Layout)
					if (wantErr != nil) != (gotErr != nil) {
						t.Fatalf("%s, %s, %s: base says %v, Execute %v", set.name, page, name, wantErr, gotErr)
					}
					compared = compared || wantErr == nil
					if wantErr == nil && !bytes.Equal(got.Bytes(), want.Bytes()) {
						t.Errorf("%s, %s, %s (round %d): Execute wrote\n%s\nbase writes\n%s", set.name, page, name, round, got.Bytes(), want.Bytes())
					}
				}
			}
			if !compared {
				t.Errorf("%s, %s: no variant rendered, nothing compared", set.name, page)
			}
		}
	}
	if n := webpage.KeptLayouts(); n == 0 || n > webpage.MaxLayouts {
		t.Errorf("%d layouts kept", n)
	}
}
